"""services/backups restores against the in-memory fakes and the simulator: a backup to a new VM (in its
own cluster and another), over its original VM, and some of its files into a VM; with every quick-check
refusal, and FAILED tasks that changed nothing. Figures are checked against the brute force."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from openovc.domain.catalog import BACKUPS, DATASTORES, HOSTS, OMNISTACK_CLUSTERS, VIRTUAL_MACHINES
from openovc.domain.errors import InvalidBody, ObjectNotFound, TaskError
from openovc.domain.ports.operations import RestoredFile
from openovc.domain.timefmt import from_text, to_text
from openovc.services import backups
from openovc.simulator.content.pieces import HOT_CLASS, SIZE_CLASSES
from tests.support.fakes import START, Ended, Services
from tests.support.memory_content import mirror, problems, unchanged

Row = dict[str, Any]
VM = "virtual_machine"
TS = to_text(START)


@pytest.fixture
def s() -> Services:
    return Services.start(simulated=[backups])


def _used(vm: Row) -> int:
    return int(vm["hypervisor_allocated_capacity"]) - int(vm["hypervisor_free_space"])


def _kept(s: Services, vm: Row) -> list[Row]:
    """The VM's backups kept in its own cluster, oldest first."""
    return sorted(
        (b for b in s.federation.rows(BACKUPS)
         if b["virtual_machine_id"] == vm["id"] and b["omnistack_cluster_id"] == vm["omnistack_cluster_id"]),
        key=lambda b: str(b["created_at"]),
    )  # fmt: skip


def _backed_up(s: Services, **wanted: object) -> list[tuple[Row, list[Row]]]:
    return [(vm, kept) for vm in s.live_vms(**wanted) if (kept := _kept(s, vm))]


def _free(s: Services, ds_id: object) -> int:
    return int(s.federation.row(DATASTORES, str(ds_id))["hypervisor_free_space"])


def _restore(s: Services, backup: Row, *, original: bool = False, name: str | None = None,
             datastore: str | None = None) -> Row:  # fmt: skip
    return backups.restore(s.reader, s.tasks, s.sim, str(backup["id"]), original=original, name=name,
                           datastore_id=datastore)  # fmt: skip


def _outlives(backup: Row, when: datetime) -> bool:
    return backup["expiration_time"] is None or from_text(str(backup["expiration_time"])) > when


def _refused(error: pytest.ExceptionInfo[TaskError]) -> tuple[str | None, str]:
    return error.value.error_code, error.value.message


# ---- restore to a new VM ------------------------------------------------------------------------------


def test_restore_to_a_new_vm_and_to_another_cluster(s: Services) -> None:
    vm, kept = _backed_up(s, hypervisor_virtual_machine_power_state="ON")[1]
    backup = kept[0]
    free = _free(s, vm["datastore_id"])
    ended = s.poll(_restore(s, backup, name="restored-1"))
    ((new_id, kind),) = ended.affected
    assert (ended.state, kind) == ("COMPLETED", VM) and new_id != vm["id"]
    new = s.federation.row(VIRTUAL_MACHINES, new_id)
    datastore = s.federation.row(DATASTORES, vm["datastore_id"])
    allocated = max(int(vm["hypervisor_allocated_capacity"]), int(backup["size"]))
    assert {k: new[k] for k in ("name", "state", "datastore_id", "omnistack_cluster_id", "created_at", "policy_id",
                                "hypervisor_virtual_machine_power_state", "host_id", "hypervisor_allocated_capacity",
                                "hypervisor_free_space")} == {
        "name": "restored-1", "state": "ALIVE", "datastore_id": vm["datastore_id"],
        "omnistack_cluster_id": vm["omnistack_cluster_id"], "created_at": TS, "policy_id": datastore["policy_id"],
        "hypervisor_virtual_machine_power_state": "OFF", "host_id": vm["host_id"],
        "hypervisor_allocated_capacity": allocated, "hypervisor_free_space": allocated - backup["size"],
    }  # fmt: skip
    assert free - _free(s, vm["datastore_id"]) == backup["size"]
    assert s.federation.ledger.workload_due(new_id) is None
    target = next(
        d for d in s.federation.rows(DATASTORES) if d["omnistack_cluster_id"] != vm["omnistack_cluster_id"]
    )
    far_free = _free(s, target["id"])
    ended = s.poll(_restore(s, backup, name="restored-2", datastore=str(target["id"])))
    far = s.federation.row(VIRTUAL_MACHINES, ended.affected[0][0])
    cluster = s.federation.row(OMNISTACK_CLUSTERS, target["omnistack_cluster_id"])
    assert (far["datastore_id"], far["omnistack_cluster_id"], far["policy_id"]) == (
        target["id"], target["omnistack_cluster_id"], target["policy_id"],
    )  # fmt: skip
    assert far["host_id"] in cluster["members"] and {r["id"] for r in far["replica_set"]} <= set(
        cluster["members"]
    )
    assert (far["ha_status"], far["ha_resynchronization_progress"]) == (
        ("SAFE", 100) if len(far["replica_set"]) > 1 else ("OUT_OF_SCOPE" if target["single_replica"] else "DEGRADED", 0)
    )  # fmt: skip
    assert far_free - _free(s, target["id"]) == backup["size"]
    slots = mirror(s.federation)
    assert slots.place[str(far["id"])] == target["omnistack_cluster_id"]
    assert slots.maps[str(far["id"])] == slots.maps[new_id] == slots.maps[str(backup["id"])]
    assert problems(s.federation, slots=slots) == []


def test_a_restored_vm_is_placed_anew_when_its_host_is_gone(s: Services) -> None:
    vm, kept = _backed_up(s)[0]
    with s.federation.writing() as txn:
        txn.update(HOSTS, str(vm["host_id"]), {"state": "FAULTY"})
    ended = s.poll(_restore(s, kept[0], name="re-homed"))
    new = s.federation.row(VIRTUAL_MACHINES, ended.affected[0][0])
    assert new["host_id"] != vm["host_id"] and vm["host_id"] not in {r["id"] for r in new["replica_set"]}
    assert problems(s.federation) == []


def test_restore_refusals(s: Services) -> None:
    vm, kept = _backed_up(s)[0]
    backup = kept[0]
    with pytest.raises(TaskError) as duplicate:
        _restore(s, backup, name=str(vm["name"]))
    assert _refused(duplicate) == ("13", "Duplicate name exists.")
    for name, message in (
        (None, "Invalid body: virtual_machine_name: Field required"),
        ("a/b", "Invalid body: The virtual machine name contains characters that are not allowed: '/'."),
    ):
        with pytest.raises(InvalidBody) as bad:
            _restore(s, backup, name=name)
        assert bad.value.message == message
    with pytest.raises(ObjectNotFound) as missing:
        _restore(s, backup, name="ok", datastore="nope")
    assert missing.value.message == "Object type: datastore id: nope could not be found"
    with pytest.raises(ObjectNotFound) as missing:
        backups.restore(s.reader, s.tasks, s.sim, "nope", original=False, name="ok", datastore_id=None)
    assert missing.value.message == "Object type: backup id: nope could not be found"
    assert s.store.tasks == {}


def test_a_restore_that_does_not_fit_fails_and_makes_nothing(s: Services) -> None:
    vm, kept = _backed_up(s)[0]
    backup = kept[0]
    with s.federation.writing() as txn:
        txn.update(DATASTORES, str(vm["datastore_id"]), {"hypervisor_free_space": 10})
    before = unchanged(s.federation)
    assert s.poll(_restore(s, backup, name="no-room")) == Ended(
        "FAILED",
        50,
        f"Datastore {vm['datastore_name']} has 10 bytes free; {backup['size']} bytes are needed.",
    )
    assert unchanged(s.federation) == before


def test_a_restore_fails_when_its_name_was_taken_meanwhile(s: Services) -> None:
    s.run_on_poll()
    (_, kept), (other, _) = _backed_up(s)[:2]
    task = _restore(s, kept[0], name="taken-later")
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, str(other["id"]), {"name": "taken-later"})
    before = unchanged(s.federation)
    assert s.poll(task) == Ended("FAILED", 13, "Duplicate name exists.")
    assert unchanged(s.federation) == before


# ---- restore over the original VM ---------------------------------------------------------------------


def test_restore_over_the_original_vm(s: Services) -> None:
    vm, backup = next((v, b) for v, k in _backed_up(s, hypervisor_virtual_machine_power_state="ON") for b in k
                      if b["size"] != _used(v) and _outlives(b, START + timedelta(days=1)))  # fmt: skip
    free = _free(s, vm["datastore_id"])
    # Its workload's due steps need not be written: the content is replaced whole.
    s.clock.advance(timedelta(hours=6))
    assert s.poll(_restore(s, backup, original=True)) == Ended("COMPLETED", affected=((str(vm["id"]), VM),))
    after = s.federation.row(VIRTUAL_MACHINES, vm["id"])
    allocated = max(int(vm["hypervisor_allocated_capacity"]), int(backup["size"]))
    assert after == {
        **vm, "hypervisor_allocated_capacity": allocated, "hypervisor_free_space": allocated - backup["size"],
        "hypervisor_virtual_machine_power_state": "OFF", "hypervisor_consumed_cpu": 0,
        "hypervisor_consumed_memory": 0, "app_aware_vm_status": "VMWARE_TOOLS_UNAVAILABLE",
    }  # fmt: skip
    assert _free(s, vm["datastore_id"]) == free + _used(vm) - backup["size"]
    assert s.federation.ledger.workload_due(str(vm["id"])) is None
    slots = mirror(s.federation)
    assert slots.maps[str(vm["id"])] == slots.maps[str(backup["id"])]
    assert problems(s.federation, slots=slots) == []


def test_restore_over_the_original_refusals(s: Services) -> None:
    stored = next(b for b in s.federation.rows(BACKUPS) if b["external_store_name"])
    with pytest.raises(TaskError) as refused:
        _restore(s, stored, original=True)
    assert _refused(refused) == (
        "30", "A backup kept in an external store cannot be restored over its original virtual machine; "
              "restore it to a new virtual machine.",
    )  # fmt: skip
    deleted = next(v for v in s.federation.rows(VIRTUAL_MACHINES) if v["state"] == "DELETED")
    orphan = next(b for b in s.federation.rows(BACKUPS)
                  if b["virtual_machine_id"] == deleted["id"] and not b["external_store_name"])  # fmt: skip
    with pytest.raises(TaskError) as refused:
        _restore(s, orphan, original=True)
    assert _refused(refused) == ("60", f"The virtual machine {deleted['name']} is DELETED.")
    assert s.store.tasks == {}


def test_a_restore_over_fails_when_the_vm_went_meanwhile(s: Services) -> None:
    s.run_on_poll()
    vm, kept = _backed_up(s)[0]
    task = _restore(s, kept[0], original=True)
    with s.federation.writing() as txn:
        txn.delete(VIRTUAL_MACHINES, str(vm["id"]))
    before = unchanged(s.federation)
    assert s.poll(task) == Ended(
        "FAILED", 20, f"Object type: virtual_machine id: {vm['id']} could not be found"
    )
    assert unchanged(s.federation) == before


# ---- restore_files ------------------------------------------------------------------------------------


def _windows_backup(s: Services) -> tuple[Row, Row]:
    """A Windows VM's backup (its system disk's partition 2 holds the Windows tree)."""
    vm, kept = _backed_up(s, app_aware_vm_status="CAPABLE")[0]
    return vm, kept[-1]


def _listing(s: Services, backup: Row, disk: str, path: str) -> list[dict[str, Any]]:
    params = {"virtual_disk": disk, "partition_number": "2", "file_path": path}
    return backups.files(s.reader, s.federation, s.sim, str(backup["id"]), params)


def _restore_files(s: Services, backup: Row, vm: Row | str, paths: list[str]) -> Row:
    vm_id = vm if isinstance(vm, str) else str(vm["id"])
    return backups.restore_files(s.reader, s.federation, s.tasks, s.sim, str(backup["id"]), vm_id, paths)


def test_restore_files_writes_them_into_the_target_vm(s: Services) -> None:
    vm, backup = _windows_backup(s)
    disk = f"{vm['name']}.vmdk"
    ini = next(e for e in _listing(s, backup, disk, "/Windows") if e["name"] == "win.ini")
    documents = _listing(s, backup, disk, "/Users/Administrator/Documents")
    target = next(
        v
        for v in s.live_vms(hypervisor_virtual_machine_power_state="OFF")
        if v["datastore_id"] != vm["datastore_id"]
    )
    free_ds = _free(s, target["datastore_id"])
    before = mirror(s.federation)
    paths = [
        f"{disk}/2/Windows/win.ini",
        f"{disk}/2/users/administrator/documents",
        f"{disk}/2/Windows/win.ini",
    ]
    assert s.poll(_restore_files(s, backup, target, paths)) == Ended(
        "COMPLETED", affected=((str(target["id"]), VM),)
    )
    restored = int(ini["size"]) + sum(int(e["size"]) for e in documents if e["file_level_restore_available"])
    assert restored > 0
    # The files overwrite the guest's: as many of its hot pieces as they fill (at least one) rewritten.
    slots = mirror(s.federation)
    target_id = str(target["id"])
    rewritten = sum(a != b for a, b in zip(slots.maps[target_id], before.maps[target_id], strict=True))
    assert rewritten == max(1, round(restored / SIZE_CLASSES[HOT_CLASS]))
    now_used = slots.size(target_id)
    assert s.federation.row(VIRTUAL_MACHINES, target_id) == {
        **target, "hypervisor_free_space": target["hypervisor_allocated_capacity"] - now_used,
    }  # fmt: skip
    assert _free(s, target["datastore_id"]) == free_ds - (now_used - before.size(target_id))
    assert problems(s.federation, slots=slots) == []
    # What was written is recorded for later backups of the VM to show, under restored/ (another OS layout
    # or not, the source's disk 0 partition 2 maps onto the target's own when it has one of that kind).
    with s.federation.reading() as state:
        files = state.restored_files(target_id)
    at = int(s.clock.now().timestamp())
    assert files and all(isinstance(f, RestoredFile) and f.restored_at == at for f in files)
    assert sum(f.size for f in files if not f.directory) == restored


def test_restore_files_that_do_not_fit_the_vms_disks_fail(s: Services) -> None:
    vm, backup = _windows_backup(s)
    target = next(v for v in s.live_vms(hypervisor_virtual_machine_power_state="OFF") if v["id"] != vm["id"])
    with s.federation.writing() as txn:
        txn.update(
            VIRTUAL_MACHINES,
            str(target["id"]),
            {"hypervisor_allocated_capacity": 1000, "hypervisor_free_space": 10},
        )
    before = unchanged(s.federation)
    ended = s.poll(_restore_files(s, backup, target, [f"{vm['name']}.vmdk/2/Windows/win.ini"]))
    found = re.fullmatch(rf"The virtual machine {re.escape(str(target['name']))} has 10 bytes free on its disks; "
                         r"(\d+) more bytes are needed\.", ended.message or "")  # fmt: skip
    assert (ended.state, ended.error_code) == ("FAILED", 50) and found is not None, ended
    assert int(found[1]) > 0
    assert unchanged(s.federation) == before


def test_restore_files_refusals(s: Services) -> None:
    vm, backup = _windows_backup(s)
    disk = f"{vm['name']}.vmdk"
    target = s.live_vms()[0]
    bad = "Invalid body: paths: '{}' {}"
    shape = "is not <virtual disk>/<partition number>/<path of a file or directory>"
    for paths, message in [
        (["junk"], bad.format("junk", shape)),
        ([f"{disk}/2/"], bad.format(f"{disk}/2/", shape)),
        (["other.vmdk/2/Windows"], bad.format("other.vmdk/2/Windows", "names virtual disk other.vmdk, which the backup does not hold")),
        ([f"{disk}/1/x"], bad.format(f"{disk}/1/x", f"names partition 1 of {disk}, which cannot be mounted")),
        ([f"{disk}/2/Windows/none.txt"], bad.format(f"{disk}/2/Windows/none.txt", "names no file or directory in the backup")),
        ([f"{disk}/2/pagefile.sys"], bad.format(
            f"{disk}/2/pagefile.sys", "cannot be restored (a symbolic link or a file the guest keeps locked)")),
        ([], "Invalid body: paths: Specify at least one file or directory to restore."),
    ]:  # fmt: skip
        with pytest.raises(InvalidBody) as refused:
            _restore_files(s, backup, target, paths)
        assert refused.value.message == message
    with pytest.raises(ObjectNotFound) as missing:
        _restore_files(s, backup, "nope", [f"{disk}/2/Windows"])
    assert missing.value.message == "Object type: virtual_machine id: nope could not be found"
    with pytest.raises(ObjectNotFound) as missing:
        backups.restore_files(s.reader, s.federation, s.tasks, s.sim, "nope", str(target["id"]), ["x"])
    assert missing.value.message == "Object type: backup id: nope could not be found"
    deleted = next(v for v in s.federation.rows(VIRTUAL_MACHINES) if v["state"] == "DELETED")
    with pytest.raises(TaskError) as dead:
        _restore_files(s, backup, deleted, [f"{disk}/2/Windows"])
    assert _refused(dead) == ("60", f"The virtual machine {deleted['name']} is DELETED.")
    assert s.store.tasks == {}


def test_restored_files_are_undone_by_a_restore_over_from_an_older_backup(s: Services) -> None:
    vm, old = _windows_backup(s)
    disk = f"{vm['name']}.vmdk"
    s.clock.advance(timedelta(seconds=1))
    assert s.poll(_restore_files(s, old, vm, [f"{disk}/2/Windows/win.ini"])).state == "COMPLETED"
    s.clock.advance(timedelta(seconds=1))
    assert s.poll(_restore(s, old, original=True)).state == "COMPLETED"
    with s.federation.reading() as state:
        files = state.restored_files(str(vm["id"]))
    assert files and {f.undone_at for f in files} == {int(s.clock.now().timestamp())}
    assert problems(s.federation) == []


def test_restore_files_into_a_vm_that_lost_its_disks_meanwhile_fails_with_the_reason(s: Services) -> None:
    """guest_files.landing raises InvalidParameter (an API error, not a TaskFailure) when the VM has no
    disk to write to: at run time the engine takes it for a crash (500, "An internal error ...")."""
    s.run_on_poll()
    vm, backup = _windows_backup(s)
    target = next(v for v in s.live_vms() if v["id"] != vm["id"])
    task = _restore_files(s, backup, target, [f"{vm['name']}.vmdk/2/Windows/win.ini"])
    with s.federation.writing() as txn:
        txn.update(VIRTUAL_MACHINES, str(target["id"]), {"hypervisor_virtual_disk_count": 0})
    before = unchanged(s.federation)
    ended = s.poll(task)
    assert unchanged(s.federation) == before
    assert (ended.state, ended.message) == (
        "FAILED", f"The virtual machine {target['name']} has no virtual disk to restore files to",
    )  # fmt: skip
