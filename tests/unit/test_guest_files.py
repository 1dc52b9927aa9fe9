"""The derived contents of a backup's virtual disks: determinism, sizes, paths, times and every refusal."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openovc.domain.catalog import BACKUPS, VIRTUAL_MACHINES
from openovc.domain.errors import InvalidParameter, ObjectNotFound, TypeMismatch
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import FederationReader, Record
from openovc.domain.ports.operations import RestoredFile
from openovc.domain.ports.operations_store import OperationsStore
from openovc.services import backups
from openovc.simulator import guest_files as gf
from openovc.simulator import guests
from openovc.simulator.content.ledger import MemoryLedger
from openovc.simulator.content.model import ContentModel
from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.simulator.generator.plan import IMAGES, ROLES, image_for
from openovc.simulator.guest_files import DAY, LINUX, WINDOWS, Entry, GiB, GuestVm, MiB
from openovc.simulator.simulated import SimulatedFederation

TAKEN = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
WIN = GuestVm("0b9e6a4c-1f00-4d7e-9c1a-5b2f3e4d5a60", "sql-01", WINDOWS, 3, 200 * GiB)
LIN = GuestVm("7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e", "web-01", LINUX, 1, 40 * GiB)


def _walk(entry: Entry, path: str = "") -> Iterator[tuple[str, Entry]]:
    for child in entry.children:
        sub = f"{path}/{child.name}"
        yield sub, child
        yield from _walk(child, sub)


def _tree(vm: GuestVm, disk: int, partition: int, taken: datetime = TAKEN) -> Entry:
    return vm.tree(vm.disks()[disk], partition, taken)


def _names(entries: Sequence[Entry]) -> list[str]:
    return [e.name for e in entries]


# ---- disks -------------------------------------------------------------------------------------


def test_disk_names_follow_vsphere() -> None:
    assert [d.name for d in WIN.disks()] == ["sql-01.vmdk", "sql-01_1.vmdk", "sql-01_2.vmdk"]
    assert [d.name for d in LIN.disks()] == ["web-01.vmdk"]
    assert gf.disk_names("x", 0) == [] and gf.disk_sizes(10 * GiB, 0) == []


def test_disk_sizes_give_the_system_disk_two_shares() -> None:
    assert [d.size for d in WIN.disks()] == [100 * GiB, 50 * GiB, 50 * GiB]
    assert gf.disk_sizes(120 * GiB, 2) == [80 * GiB, 40 * GiB]
    assert gf.disk_sizes(40 * GiB, 1) == [40 * GiB]


@given(st.integers(min_value=0, max_value=2**50), st.integers(min_value=1, max_value=8))
def test_disk_sizes_sum_to_the_allocated_capacity(allocated: int, count: int) -> None:
    sizes = gf.disk_sizes(allocated, count)
    assert len(sizes) == count and sum(sizes) == allocated and min(sizes) >= 0


# ---- partitions --------------------------------------------------------------------------------


def test_windows_system_disk_is_gpt_with_an_unmountable_reserved_partition() -> None:
    parts = WIN.partitions(WIN.disks()[0])
    assert [p.as_json() for p in parts] == [
        {"partition_number": 1, "size": 500 * MiB, "disk_type": "GPT", "mountable": False},
        {"partition_number": 2, "size": 100 * GiB - 502 * MiB, "disk_type": "GPT", "mountable": True},
    ]
    data = WIN.partitions(WIN.disks()[1])
    assert [p.as_json() for p in data] == [
        {"partition_number": 1, "size": 50 * GiB - 2 * MiB, "disk_type": "GPT", "mountable": True}
    ]


def test_linux_system_disk_is_mbr_with_boot_and_root() -> None:
    parts = LIN.partitions(LIN.disks()[0])
    assert [p.as_json() for p in parts] == [
        {"partition_number": 1, "size": GiB, "disk_type": "BIOS", "mountable": True},
        {"partition_number": 2, "size": 39 * GiB - MiB, "disk_type": "BIOS", "mountable": True},
    ]
    assert [p.as_json() for p in gf.partitions(LINUX, 1, 10 * GiB)] == [
        {"partition_number": 1, "size": 10 * GiB - MiB, "disk_type": "BIOS", "mountable": True}
    ]


@given(
    st.sampled_from([WINDOWS, LINUX]),
    st.integers(min_value=0, max_value=3),
    st.integers(min_value=0, max_value=2**44),
)
def test_partitions_fit_on_their_disk(os_family: gf.OsFamily, index: int, size: int) -> None:
    parts = gf.partitions(os_family, index, size)
    assert [p.number for p in parts] == list(range(1, len(parts) + 1))
    assert sum(p.size for p in parts) <= size and all(p.size >= 0 for p in parts)


# ---- trees -------------------------------------------------------------------------------------


def test_the_tree_is_a_pure_function_of_its_inputs() -> None:
    first = gf.partition_tree(WIN.id, WIN.name, WINDOWS, 0, 100 * GiB, 2, TAKEN)
    again = gf.partition_tree(WIN.id, WIN.name, WINDOWS, 0, 100 * GiB, 2, TAKEN)
    assert first == again == _tree(WIN, 0, 2)
    assert len(list(_walk(first))) >= 30


def test_clones_share_the_image_files_but_not_their_own() -> None:
    other = GuestVm("11111111-2222-4333-8444-555555555555", "sql-02", WINDOWS, 1, 100 * GiB)
    mine = dict(_walk(_tree(WIN, 0, 2)))
    theirs = dict(_walk(_tree(other, 0, 2)))
    assert mine["/Windows/System32/ntdll.dll"] == theirs["/Windows/System32/ntdll.dll"]
    assert mine["/Windows/System32/drivers/etc/hosts"] != theirs["/Windows/System32/drivers/etc/hosts"]


def test_windows_linux_and_data_trees() -> None:
    assert _names(_tree(WIN, 0, 2).children) == [
        "$Recycle.Bin", "Documents and Settings", "pagefile.sys", "Program Files", "Program Files (x86)",
        "ProgramData", "swapfile.sys", "System Volume Information", "Users", "Windows",
    ]  # fmt: skip
    assert _names(_tree(WIN, 1, 1).children) == ["$RECYCLE.BIN", "data", "System Volume Information"]
    assert _names(_tree(LIN, 0, 1).children)[:3] == [
        "config-5.15.0-119-generic",
        "grub",
        "initrd.img-5.15.0-119-generic",
    ]
    paths = dict(_walk(_tree(LIN, 0, 2)))
    assert {"/etc/hostname", "/etc/hosts", "/var/log/messages", "/usr/bin/bash"} <= set(paths)
    assert any(p.startswith("/home/") and p.endswith("/notes.txt") for p in paths)
    assert paths["/etc/hostname"].size == len("web-01\n")
    # Role files: a SQL Server's data, a web server's content.
    assert "/Program Files/Microsoft SQL Server/MSSQL16.MSSQLSERVER/MSSQL/DATA/master.mdf" in dict(
        _walk(_tree(WIN, 0, 2))
    )
    assert "/var/www/html/index.html" in paths


def test_entry_flags_and_json() -> None:
    entries = dict(_walk(_tree(WIN, 0, 2)))
    assert entries["/Windows"].as_json() == {
        "name": "Windows",
        "directory": True,
        "symbolic_link": False,
        "size": 0,
        "last_modified": entries["/Windows"].as_json()["last_modified"],
        "file_level_restore_available": True,
    }
    link = entries["/Documents and Settings"]
    assert (link.symbolic_link, link.directory, link.restorable) == (True, False, False)
    assert entries["/pagefile.sys"].restorable is False
    assert entries["/System Volume Information"].restorable is False
    assert entries["/Windows/System32/cmd.exe"].restorable is True
    assert str(entries["/Windows/System32/cmd.exe"].as_json()["last_modified"]).endswith("Z")


@pytest.mark.parametrize(("vm", "disk", "partition"), [(WIN, 0, 2), (WIN, 1, 1), (LIN, 0, 1), (LIN, 0, 2)])
def test_files_fit_in_their_partition(vm: GuestVm, disk: int, partition: int) -> None:
    for size in (vm.disks()[disk].size, 64 * MiB, 3 * GiB):
        root = gf.partition_tree(vm.id, vm.name, vm.os_family, disk, size, partition, TAKEN)
        part = gf.partitions(vm.os_family, disk, size)[partition - 1]
        assert sum(e.size for _, e in _walk(root) if not e.directory) <= part.size


# ---- times -------------------------------------------------------------------------------------


@pytest.mark.parametrize("taken", [TAKEN, datetime(2024, 1, 1, tzinfo=UTC), datetime(2019, 6, 1, tzinfo=UTC)])
def test_nothing_is_modified_after_the_backup(taken: datetime) -> None:
    limit = int(taken.timestamp())
    for vm, disk, part in ((WIN, 0, 2), (WIN, 2, 1), (LIN, 0, 1), (LIN, 0, 2)):
        root = _tree(vm, disk, part, taken)
        assert all(e.last_modified <= limit for _, e in _walk(root))


def test_some_files_changed_shortly_before_the_backup() -> None:
    limit = int(TAKEN.timestamp())
    recent = [p for p, e in _walk(_tree(LIN, 0, 2)) if limit - e.last_modified <= 3600]
    assert "/var/log/audit/audit.log" in recent and "/var/log/messages" in recent
    assert "/usr/bin/bash" not in recent


def test_backups_taken_at_different_times_differ_in_a_few_files() -> None:
    before = dict(_walk(_tree(WIN, 0, 2, TAKEN)))
    after = dict(_walk(_tree(WIN, 0, 2, TAKEN + timedelta(hours=4))))
    assert before.keys() == after.keys()
    changed = {p for p in before if before[p].as_json() != after[p].as_json()}
    assert "/Windows/System32/config/SOFTWARE" in changed
    assert before["/Windows/System32/config/SOFTWARE"].size != after["/Windows/System32/config/SOFTWARE"].size
    assert 3 <= len(changed) <= len(before) // 3
    # A file that changes daily looks the same to two backups a second apart.
    assert (
        dict(_walk(_tree(WIN, 0, 2, TAKEN + timedelta(seconds=1))))["/Users/Administrator/NTUSER.DAT"]
        == (before["/Users/Administrator/NTUSER.DAT"])
    )


def test_directories_change_when_entries_are_created_not_when_files_are_rewritten() -> None:
    before = dict(_walk(_tree(WIN, 0, 2, TAKEN)))
    after = dict(_walk(_tree(WIN, 0, 2, TAKEN + timedelta(days=2))))
    assert before["/Windows/System32/config"].as_json() == after["/Windows/System32/config"].as_json()
    config = before["/Windows/System32/config"]
    assert config.last_modified < min(c.last_modified for c in config.children)


# ---- paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "segments"),
    [
        ("/", ()),
        ("", ()),
        ("\\", ()),
        ("/Windows/System32", ("Windows", "System32")),
        ("Windows/System32", ("Windows", "System32")),
        ("/Windows/System32/", ("Windows", "System32")),
        ("\\Windows\\System32\\", ("Windows", "System32")),
        ("//Windows//./System32", ("Windows", "System32")),
        ("/Windows/../Users", ("Users",)),
        ("/../..", ()),
        ("Program Files (x86)", ("Program Files (x86)",)),
    ],
)
def test_split_path(raw: str, segments: tuple[str, ...]) -> None:
    assert gf.split_path(raw) == segments


@pytest.mark.parametrize(
    "path", ["/Windows/System32", "Windows/System32", "\\windows\\SYSTEM32\\", "WINDOWS/system32/"]
)
def test_windows_paths_ignore_case(path: str) -> None:
    listed = gf.list_files(WIN, "sql-01.vmdk", 2, path, TAKEN)
    assert {"cmd.exe", "config", "drivers", "ntdll.dll"} <= set(_names(listed))


def test_a_file_path_lists_the_file_itself() -> None:
    (entry,) = gf.list_files(LIN, "web-01.vmdk", 2, "/etc/hostname", TAKEN)
    assert (entry.name, entry.directory, entry.size) == ("hostname", False, 7)
    (link,) = gf.list_files(LIN, "web-01.vmdk", 2, "bin", TAKEN)
    assert link.symbolic_link


# ---- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vm", "disk", "partition", "path", "message"),
    [
        (WIN, "nope.vmdk", 1, "/",
         "Invalid value 'nope.vmdk' for parameter 'virtual_disk': "
         "expected one of sql-01.vmdk, sql-01_1.vmdk, sql-01_2.vmdk"),
        (WIN, "SQL-01.vmdk", 2, "/",
         "Invalid value 'SQL-01.vmdk' for parameter 'virtual_disk': "
         "expected one of sql-01.vmdk, sql-01_1.vmdk, sql-01_2.vmdk"),
        (WIN, "sql-01.vmdk", 1, "/", "partition 1 of sql-01.vmdk cannot be mounted"),
        (WIN, "sql-01.vmdk", 3, "/",
         "Invalid value '3' for parameter 'partition_number': sql-01.vmdk has partitions 1, 2"),
        (WIN, "sql-01_1.vmdk", 0, "/",
         "Invalid value '0' for parameter 'partition_number': sql-01_1.vmdk has partitions 1"),
        (WIN, "sql-01.vmdk", 2, "/Windows/Nope",
         "Invalid value '/Windows/Nope' for parameter 'file_path': "
         "no such file or directory in partition 2 of sql-01.vmdk"),
        (LIN, "web-01.vmdk", 2, "/ETC",
         "Invalid value '/ETC' for parameter 'file_path': no such file or directory in partition 2 of web-01.vmdk"),
        (LIN, "web-01.vmdk", 2, "etc/hostname/x",
         "Invalid value 'etc/hostname/x' for parameter 'file_path': "
         "no such file or directory in partition 2 of web-01.vmdk"),
        (LIN, "web-01.vmdk", 2, "/bin/bash",
         "Invalid value '/bin/bash' for parameter 'file_path': "
         "no such file or directory in partition 2 of web-01.vmdk"),
        (GuestVm("x", "empty", LINUX, 0, 0), "empty.vmdk", 1, "/",
         "Invalid value 'empty.vmdk' for parameter 'virtual_disk': "
         "expected one of none (the VM has no virtual disk)"),
    ],
)  # fmt: skip
def test_refusals(vm: GuestVm, disk: str, partition: int, path: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        gf.list_files(vm, disk, partition, path, TAKEN)
    assert caught.value.message == message


# ---- the guest OS ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "adapters", "expected"),
    [
        ("web-01", "CAPABLE", [], WINDOWS),  # Tools know better than the name
        ("sql-01", "INVALID_OS", [], LINUX),
        ("sql-01", "VALID_CREDS", [], WINDOWS),
        ("web-01", "INVALID_CREDS", [], WINDOWS),
        ("web-01", "VMWARE_TOOLS_UNAVAILABLE", ["E1000E"], WINDOWS),
        ("web-01", "UNKNOWN", ["VMXNET3"], LINUX),
        ("sql-01", None, [], WINDOWS),
        ("tmpl-rhel9", "UNKNOWN", [], LINUX),
        ("tmpl-win2019", "UNKNOWN", [], WINDOWS),
        ("Winbox", None, [], WINDOWS),
        ("centos-builder", None, [], LINUX),
    ],
)
def test_guest_os_signals(name: str, status: str | None, adapters: list[str], expected: str) -> None:
    assert gf.guest_os("id", name, status, adapters) == expected


def test_guest_os_falls_back_to_the_id_hash() -> None:
    ids = [f"vm-{i}" for i in range(500)]
    families = [gf.guest_os(i, "mystery", None, []) for i in ids]
    assert families == [gf.guest_os(i, "mystery", None, []) for i in ids]
    assert 250 < families.count(WINDOWS) < 350  # about three in five


def test_names_read_as_the_generator_reads_them() -> None:
    for prefix, image_name in ROLES:
        assert gf.os_from_name(f"{prefix}-07") == (WINDOWS if IMAGES[image_name].windows else LINUX), prefix
    for image in IMAGES.values():
        assert gf.os_from_name(f"tmpl-{image.name}") == (WINDOWS if image.windows else LINUX)


def test_every_demo_vm_gets_the_os_of_its_image() -> None:
    federation = generate(FederationSpec.demo(), TAKEN)
    for row in federation.rows["virtual_machines"]:
        name = str(row["name"])
        # Every demo name names its image, so the generator's random fallback never runs.
        image = IMAGES[image_for(name, random.Random(0))]
        nics = row["network_interfaces"]
        assert isinstance(nics, list)
        family = gf.guest_os(
            str(row["id"]), name, str(row["app_aware_vm_status"]), [n["adapter_type"] for n in nics]
        )
        assert family == (WINDOWS if image.windows else LINUX), name


# ---- the service, with a reader that holds a few rows -------------------------------------------


class _Reader:
    """A reader over a few records: browsing needs only `get`."""

    def __init__(self, *records: tuple[Collection[Any], Record]) -> None:
        self.records = records

    def get(self, coll: Collection[Any], key: str) -> Record | None:
        return next((r for c, r in self.records if c is coll and r.get(coll.key) == key), None)


_BACKUP: Record = {
    "id": "b1", "state": "PROTECTED", "created_at": "2026-11-20T12:00:00Z", "size": 5 * GiB + 1,
    "virtual_machine_id": "vm1", "virtual_machine_name": "web-01",
}  # fmt: skip
_VM: Record = {
    "id": "vm1", "name": "web-01-renamed", "app_aware_vm_status": "CAPABLE",
    "network_interfaces": '[{"adapter_type": "VMXNET3"}]',
    "hypervisor_virtual_disk_count": 2, "hypervisor_allocated_capacity": 120 * GiB,
}  # fmt: skip


_FILES = {"virtual_disk": "web-01.vmdk", "partition_number": "2", "file_path": "/"}


def _service(*records: tuple[Collection[Any], Record]) -> FederationReader:
    # Only `get` is called; the cast spares the stub the rest of a growing protocol.
    return cast(FederationReader, _Reader(*records))


class _State:
    def __init__(self, restored: dict[str, list[RestoredFile]]) -> None:
        self.restored = restored

    def restored_files(self, vm_id: str) -> list[RestoredFile]:
        return self.restored.get(vm_id, [])

    def guest_facts(self, vm_id: str) -> None:
        del vm_id  # nothing recorded for any VM: the guest is read from its row


class _Store:
    def __init__(self, **restored: list[RestoredFile]) -> None:
        self.state = _State(restored)

    @contextmanager
    def reading(self) -> Iterator[_State]:
        yield self.state


def _simulator() -> SimulatedFederation:
    """Browsing needs neither the content model nor the workload chore."""
    ledger = MemoryLedger()
    return SimulatedFederation(lambda _txn: ContentModel(ledger), ledger, _store())


def _store(**restored: list[RestoredFile]) -> OperationsStore:
    # Only `reading` and `restored_files` are called.
    return cast(OperationsStore, _Store(**restored))


_SIM = _simulator()


def test_service_reads_disks_from_the_vm_and_names_from_the_backup() -> None:
    reader = _service((BACKUPS, _BACKUP), (VIRTUAL_MACHINES, _VM))
    assert backups.virtual_disks(reader, _SIM, "b1") == ["web-01.vmdk", "web-01_1.vmdk"]
    vm = guests.guest_vm(reader, _BACKUP)
    assert vm == GuestVm("vm1", "web-01", WINDOWS, 2, 120 * GiB)


def test_service_without_a_vm_row_shows_one_disk_the_size_of_the_backup() -> None:
    reader = _service((BACKUPS, _BACKUP))
    vm = guests.guest_vm(reader, _BACKUP)
    assert vm == GuestVm("vm1", "web-01", LINUX, 1, 6 * GiB)


@pytest.mark.parametrize(
    ("backup", "params", "error", "message"),
    [
        ({**_BACKUP, "state": "FAILED"}, _FILES, InvalidParameter,
         "Backup b1 cannot be browsed: it is FAILED, not PROTECTED"),
        ({**_BACKUP, "created_at": None}, _FILES, InvalidParameter,
         "Backup b1 cannot be browsed: it has no creation time"),
        (_BACKUP, {}, InvalidParameter, "Missing required parameter 'virtual_disk'"),
        (_BACKUP, {"virtual_disk": "web-01.vmdk", "file_path": "/"}, InvalidParameter,
         "Missing required parameter 'partition_number'"),
        (_BACKUP, {"virtual_disk": "web-01.vmdk", "partition_number": "1"}, InvalidParameter,
         "Missing required parameter 'file_path'"),
        (_BACKUP, {"virtual_disk": "web-01.vmdk", "partition_number": "one", "file_path": "/"}, TypeMismatch,
         "Invalid value 'one' for parameter 'partition_number': expected an integer"),
        (_BACKUP, {"virtual_disk": "web-01.vmdk", "partition_number": "", "file_path": "/"}, TypeMismatch,
         "Invalid value '' for parameter 'partition_number': expected an integer"),
    ],
)  # fmt: skip
def test_service_refusals(
    backup: Record, params: dict[str, str], error: type[Exception], message: str
) -> None:
    reader = _service((BACKUPS, backup), (VIRTUAL_MACHINES, _VM))
    with pytest.raises(error) as caught:
        backups.files(reader, _store(), _SIM, "b1", params)
    assert str(caught.value) == message


def test_service_unknown_backup() -> None:
    with pytest.raises(ObjectNotFound) as caught:
        backups.virtual_disks(_service(), _SIM, "nope")
    assert caught.value.message == "Object type: backup id: nope could not be found"


def test_service_lists_a_partition_and_its_files() -> None:
    reader = _service((BACKUPS, _BACKUP), (VIRTUAL_MACHINES, _VM))
    parts = backups.partitions(reader, _SIM, "b1", {"virtual_disk": "web-01_1.vmdk"})
    assert parts == [
        {"partition_number": 1, "size": 40 * GiB - 2 * MiB, "disk_type": "GPT", "mountable": True}
    ]
    params = {"virtual_disk": "web-01_1.vmdk", "partition_number": "1", "file_path": ""}
    listed = backups.files(reader, _store(), _SIM, "b1", params)
    assert [e["name"] for e in listed] == ["$RECYCLE.BIN", "data", "System Volume Information"]
    # What was restored into the VM by the backup's time is in it.
    put = RestoredFile(1, 1, "data/x.txt", False, 9, 0, int(TAKEN.timestamp()) - 400 * DAY)
    listed = backups.files(reader, _store(vm1=[put]), _SIM, "b1", {**params, "file_path": "data"})
    assert {"name": "x.txt", "size": 9} == {k: v for k, v in listed[-1].items() if k in ("name", "size")}


# ---- restored files ----------------------------------------------------------------------------

T = int(TAKEN.timestamp())


def _restored(vm: GuestVm, *files: RestoredFile) -> GuestVm:
    return GuestVm(vm.id, vm.name, vm.os_family, vm.disk_count, vm.allocated, files)


def test_a_restored_file_shows_from_its_restore_until_the_guest_rewrites_it() -> None:
    messages = RestoredFile(0, 2, "var/log/messages", False, 123, T - 30 * DAY, T)
    vm = _restored(LIN, messages)
    own = dict(_walk(_tree(LIN, 0, 2, TAKEN)))["/var/log/messages"]
    assert (own.size, own.last_modified) != (123, T - 30 * DAY)
    shown = dict(_walk(_tree(vm, 0, 2, TAKEN)))["/var/log/messages"]
    assert (shown.size, shown.last_modified, shown.restorable) == (123, T - 30 * DAY, True)
    # A backup from before the restore does not hold it; one after the hourly rewrite holds the guest's.
    assert dict(_walk(_tree(vm, 0, 2, TAKEN - timedelta(seconds=1))))["/var/log/messages"].size != 123
    later = TAKEN + timedelta(hours=2)
    assert (
        dict(_walk(_tree(vm, 0, 2, later)))["/var/log/messages"]
        == (dict(_walk(_tree(LIN, 0, 2, later)))["/var/log/messages"])
    )
    # Another disk or partition is not touched.
    assert _tree(vm, 0, 1, TAKEN) == _tree(LIN, 0, 1, TAKEN)


def test_the_last_restore_of_a_path_wins() -> None:
    first = RestoredFile(0, 2, "etc/crontab", False, 100, T - 9 * DAY, T - 60)
    second = RestoredFile(0, 2, "etc/crontab", False, 200, T - 8 * DAY, T - 30)
    shown = dict(_walk(_tree(_restored(LIN, first, second), 0, 2, TAKEN)))["/etc/crontab"]
    assert (shown.size, shown.last_modified) == (200, T - 8 * DAY)
    between = dict(_walk(_tree(_restored(LIN, first, second), 0, 2, TAKEN - timedelta(seconds=45))))
    assert between["/etc/crontab"].size == 100


def test_a_restored_path_that_was_not_there_is_created_with_its_directories() -> None:
    made = [
        RestoredFile(0, 2, "restored", True, 0, T - DAY, T - 10),
        RestoredFile(0, 2, "restored/notes", True, 0, T - DAY, T - 10),
        RestoredFile(0, 2, "restored/notes/a.txt", False, 42, T - 2 * DAY, T - 10),
    ]
    before = _tree(LIN, 0, 2, TAKEN)
    after = _tree(_restored(LIN, *made), 0, 2, TAKEN)
    walked = dict(_walk(after))
    assert walked["/restored/notes/a.txt"].as_json()["size"] == 42
    assert walked["/restored/notes"].directory and walked["/restored/notes"].last_modified == T - 10
    # Creating an entry changes its parent's time; overwriting one does not.
    assert after.last_modified == T - 10 != before.last_modified
    overwritten = _tree(_restored(LIN, RestoredFile(0, 2, "etc/fstab", False, 1, 0, T - 10)), 0, 2, TAKEN)
    assert dict(_walk(overwritten))["/etc"].as_json() == dict(_walk(before))["/etc"].as_json()
    assert dict(_walk(overwritten))["/etc/fstab"].size == 1


def test_files_land_in_place_when_the_vm_has_the_same_partition_and_elsewhere_under_restored() -> None:
    win_disks = WIN.disks()
    system = WIN.partitions(win_disks[0])[1]
    data = WIN.partitions(win_disks[1])[0]
    assert gf.landing(win_disks[0], system, WIN) == (0, 2, ())
    assert gf.landing(win_disks[1], data, WIN) == (1, 1, ())
    other_windows = GuestVm("1", "file-02", WINDOWS, 1, 80 * GiB)
    assert gf.landing(win_disks[0], system, other_windows) == (0, 2, ())
    assert gf.landing(win_disks[1], data, other_windows) == (0, 2, ("restored", "sql-01_1.vmdk", "1"))
    assert gf.landing(win_disks[0], system, LIN) == (0, 2, ("restored", "sql-01.vmdk", "2"))
    no_disk = GuestVm("2", "empty", LINUX, 0, 0)
    with pytest.raises(InvalidParameter) as caught:
        gf.landing(win_disks[0], system, no_disk)
    assert str(caught.value) == "The virtual machine empty has no virtual disk to restore files to"


def test_restoring_a_directory_writes_it_and_its_restorable_entries() -> None:
    root = _tree(WIN, 0, 2, TAKEN)
    trail = gf.find_trail(root, ("users", "ADMINISTRATOR"), fold_case=True)
    assert trail is not None and [e.name for e in trail] == ["Users", "Administrator"]
    written = gf.restored_files(trail, (0, 2, ("restored", "sql-01.vmdk", "2")), T)
    paths = [w.path for w in written]
    assert paths[0] == "restored/sql-01.vmdk/2/Users/Administrator"
    assert "restored/sql-01.vmdk/2/Users/Administrator/Documents/report.docx" in paths
    assert all(w.restored_at == T and w.disk_index == 0 and w.partition_number == 2 for w in written)
    assert gf.find_trail(root, (), fold_case=True) == []
    assert gf.find_trail(root, ("users",), fold_case=False) is None
    # What cannot be restored stays behind.
    locked = Entry("pagefile.sys", False, False, 10, 0, restorable=False)
    kept = Entry("a.txt", False, False, 5, 0, restorable=True)
    folder = Entry("dir", True, False, 0, 0, True, (kept, locked))
    assert [w.path for w in gf.restored_files([folder], (0, 2, ()), T)] == ["dir", "dir/a.txt"]


def test_a_restore_over_the_vm_undoes_later_restored_files_from_then_on() -> None:
    undone = RestoredFile(0, 2, "etc/crontab", False, 100, T - 9 * DAY, T - 60, undone_at=T - 10)
    kept = RestoredFile(0, 2, "etc/fstab", False, 7, T - 9 * DAY, T - 60)
    vm = _restored(LIN, undone, kept)
    between = dict(_walk(_tree(vm, 0, 2, TAKEN - timedelta(seconds=30))))
    assert (between["/etc/crontab"].size, between["/etc/fstab"].size) == (100, 7)
    now = dict(_walk(_tree(vm, 0, 2, TAKEN)))
    assert now["/etc/crontab"] == dict(_walk(_tree(LIN, 0, 2, TAKEN)))["/etc/crontab"]
    assert now["/etc/fstab"].size == 7
