"""Browsing a backup's virtual disks, partitions and files over HTTP, with every refusal's exact body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update

from openovc.domain.timefmt import from_text
from openovc.simulator import guest_files as gf
from openovc.storage import tables
from tests.support.inprocess import Env
from tests.support.spec import validate

TS = "2026-11-20T12:00:00Z"
PKG = "com.simplivity.restapi.exceptions."
Row = dict[str, Any]


def _error(exception: str, path: str, message: str, status: int = 400) -> dict[str, Any]:
    return {"exception": exception, "path": path, "message": message, "timestamp": TS, "status": str(status)}


def _vm(env: Env, wanted: Callable[[Row], bool]) -> Row:
    """The first demo VM that has backups and matches; ids and names are never hard-coded."""
    backed_up = {b["virtual_machine_id"] for b in env.federation.rows["backups"]}
    return next(v for v in env.federation.rows["virtual_machines"] if v["id"] in backed_up and wanted(v))


def _backups(env: Env, vm: Row) -> list[Row]:
    return sorted(
        (b for b in env.federation.rows["backups"] if b["virtual_machine_id"] == vm["id"]),
        key=lambda b: str(b["created_at"]),
    )


def _windows(env: Env) -> tuple[Row, Row]:
    """A running Windows VM with three disks (VMware Tools report it VSS-capable) and its backup."""
    vm = _vm(env, lambda v: v["hypervisor_virtual_disk_count"] == 3 and v["app_aware_vm_status"] == "CAPABLE")
    return vm, _backups(env, vm)[0]


def _linux(env: Env) -> tuple[Row, Row]:
    vm = _vm(
        env, lambda v: v["app_aware_vm_status"] == "INVALID_OS" and v["hypervisor_virtual_disk_count"] == 1
    )
    return vm, _backups(env, vm)[0]


def _get(env: Env, headers: dict[str, str], path: str, **params: str) -> Any:
    resp = env.client.get(path, headers=headers, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _url(backup: Row, what: str) -> str:
    return f"/api/backups/{backup['id']}/{what}"


# ---- answers -----------------------------------------------------------------------------------


def test_virtual_disks_are_named_after_the_vm(env: Env, admin: dict[str, str]) -> None:
    vm, backup = _windows(env)
    body = _get(env, admin, _url(backup, "virtual_disks"))
    name = vm["name"]
    assert body == {"virtual_disks": [f"{name}.vmdk", f"{name}_1.vmdk", f"{name}_2.vmdk"]}
    # The spec types the items as objects; real systems send names and PowerShell iterates strings
    # (reference 3.1), so the shape is checked here rather than against BackupVirtualDiskMO.
    assert list(body) == ["virtual_disks"] and all(isinstance(d, str) for d in body["virtual_disks"])


def test_windows_partitions(env: Env, admin: dict[str, str]) -> None:
    vm, backup = _windows(env)
    sizes = gf.disk_sizes(vm["hypervisor_allocated_capacity"], 3)
    system = _get(env, admin, _url(backup, "virtual_disk_partitions"), virtual_disk=f"{vm['name']}.vmdk")
    assert system == {
        "partitions": [
            {"partition_number": 1, "size": 500 * gf.MiB, "disk_type": "GPT", "mountable": False},
            {"partition_number": 2, "size": sizes[0] - 502 * gf.MiB, "disk_type": "GPT", "mountable": True},
        ]
    }
    data = _get(env, admin, _url(backup, "virtual_disk_partitions"), virtual_disk=f"{vm['name']}_2.vmdk")
    assert data == {
        "partitions": [
            {"partition_number": 1, "size": sizes[2] - 2 * gf.MiB, "disk_type": "GPT", "mountable": True}
        ]
    }
    for item in system["partitions"] + data["partitions"]:
        validate("BackupPartitionDataMO", item)
    assert sum(sizes) == vm["hypervisor_allocated_capacity"]


def test_linux_partitions(env: Env, admin: dict[str, str]) -> None:
    vm, backup = _linux(env)
    body = _get(env, admin, _url(backup, "virtual_disk_partitions"), virtual_disk=f"{vm['name']}.vmdk")
    assert body == {
        "partitions": [
            {"partition_number": 1, "size": gf.GiB, "disk_type": "BIOS", "mountable": True},
            {
                "partition_number": 2,
                "size": vm["hypervisor_allocated_capacity"] - gf.GiB - gf.MiB,
                "disk_type": "BIOS",
                "mountable": True,
            },
        ]
    }


def test_windows_files(env: Env, admin: dict[str, str]) -> None:
    vm, backup = _windows(env)
    url = _url(backup, "virtual_disk_partition_files")
    root = _get(env, admin, url, virtual_disk=f"{vm['name']}.vmdk", partition_number="2", file_path="/")
    assert list(root) == ["virtual_disk_partition_files"]
    names = [f["name"] for f in root["virtual_disk_partition_files"]]
    assert {"Windows", "Users", "Program Files", "pagefile.sys"} <= set(names)
    for item in root["virtual_disk_partition_files"]:
        validate("BackupFileDataMO", item)
        assert item["last_modified"] <= backup["created_at"]
    data = _get(env, admin, url, virtual_disk=f"{vm['name']}_1.vmdk", partition_number="1", file_path="/data")
    assert [f["name"] for f in data["virtual_disk_partition_files"]] == [
        "archive",
        "exports",
        "reports",
        "shared",
        "tmp",
    ]
    assert all(
        f["directory"] and f["file_level_restore_available"] for f in data["virtual_disk_partition_files"]
    )


def test_linux_boot_partition_holds_grub(env: Env, admin: dict[str, str]) -> None:
    vm, backup = _linux(env)
    url = _url(backup, "virtual_disk_partition_files")
    body = _get(env, admin, url, virtual_disk=f"{vm['name']}.vmdk", partition_number="1", file_path="/")
    grub = next(f for f in body["virtual_disk_partition_files"] if f["name"] == "grub")
    assert (grub["directory"], grub["symbolic_link"], grub["size"], grub["file_level_restore_available"]) == (
        True, False, 0, True,
    )  # fmt: skip
    hostname = _get(
        env, admin, url, virtual_disk=f"{vm['name']}.vmdk", partition_number="2", file_path="/etc/hostname"
    )["virtual_disk_partition_files"]
    assert [(f["name"], f["size"]) for f in hostname] == [("hostname", len(vm["name"]) + 1)]


def test_answers_are_the_domain_model_of_the_backup(env: Env, admin: dict[str, str]) -> None:
    vm, backup = _linux(env)
    guest = gf.GuestVm(
        vm["id"], backup["virtual_machine_name"], gf.LINUX, 1, vm["hypervisor_allocated_capacity"]
    )
    expected = gf.list_files(guest, f"{vm['name']}.vmdk", 2, "/var/log", from_text(backup["created_at"]))
    body = _get(
        env, admin, _url(backup, "virtual_disk_partition_files"),
        virtual_disk=f"{vm['name']}.vmdk", partition_number="2", file_path="/var/log",
    )  # fmt: skip
    assert body == {"virtual_disk_partition_files": [e.as_json() for e in expected]}


@pytest.mark.parametrize(
    "path",
    [
        "/Windows/System32",
        "Windows/System32",
        "/Windows/System32/",
        "\\Windows\\System32",
        "windows\\SYSTEM32\\",
    ],
)
def test_path_spellings_list_the_same_directory(env: Env, admin: dict[str, str], path: str) -> None:
    vm, backup = _windows(env)
    url = _url(backup, "virtual_disk_partition_files")
    canonical = _get(
        env,
        admin,
        url,
        virtual_disk=f"{vm['name']}.vmdk",
        partition_number="2",
        file_path="/Windows/System32",
    )
    assert (
        _get(env, admin, url, virtual_disk=f"{vm['name']}.vmdk", partition_number="2", file_path=path)
        == canonical
    )
    assert {"cmd.exe", "config", "drivers"} <= {f["name"] for f in canonical["virtual_disk_partition_files"]}


def test_backups_of_one_vm_differ_in_a_few_files(env: Env, admin: dict[str, str]) -> None:
    vm, _ = _linux(env)
    first, last = _backups(env, vm)[0], _backups(env, vm)[-1]
    assert first["created_at"] < last["created_at"]
    params = {"virtual_disk": f"{vm['name']}.vmdk", "partition_number": "2"}
    for directory, changes in (("/var/log", True), ("/usr/bin", False)):
        old = _get(env, admin, _url(first, "virtual_disk_partition_files"), file_path=directory, **params)
        new = _get(env, admin, _url(last, "virtual_disk_partition_files"), file_path=directory, **params)
        assert (old != new) is changes, directory


def test_a_deleted_vms_backup_can_be_browsed(env: Env, admin: dict[str, str]) -> None:
    vm = _vm(env, lambda v: v["state"] == "DELETED")
    backup = _backups(env, vm)[0]
    disks = _get(env, admin, _url(backup, "virtual_disks"))["virtual_disks"]
    assert disks == gf.disk_names(vm["name"], vm["hypervisor_virtual_disk_count"])
    parts = _get(env, admin, _url(backup, "virtual_disk_partitions"), virtual_disk=disks[0])["partitions"]
    number = str(next(p["partition_number"] for p in parts if p["mountable"]))
    files = _get(
        env,
        admin,
        _url(backup, "virtual_disk_partition_files"),
        virtual_disk=disks[0],
        partition_number=number,
        file_path="/",
    )
    assert files["virtual_disk_partition_files"]


def test_a_read_only_user_can_browse(env: Env, reader: dict[str, str]) -> None:
    _, backup = _linux(env)
    assert _get(env, reader, _url(backup, "virtual_disks"))["virtual_disks"]


def test_the_vendor_media_type_is_echoed(env: Env, admin: dict[str, str]) -> None:
    _, backup = _linux(env)
    resp = env.client.get(
        _url(backup, "virtual_disks"), headers={**admin, "Accept": "application/vnd.simplivity.v1.9+json"}
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/vnd.simplivity.v1.9+json"


# ---- refusals ----------------------------------------------------------------------------------

UNKNOWN = "4ab3b3c2-0000-4000-8000-000000000000"


@pytest.mark.parametrize(
    ("what", "params"),
    [
        ("virtual_disks", {}),
        ("virtual_disk_partitions", {"virtual_disk": "x.vmdk"}),
        (
            "virtual_disk_partition_files",
            {"virtual_disk": "x.vmdk", "partition_number": "1", "file_path": "/"},
        ),
    ],
)
def test_unknown_backup_is_404(env: Env, admin: dict[str, str], what: str, params: dict[str, str]) -> None:
    path = f"/api/backups/{UNKNOWN}/{what}"
    resp = env.client.get(path, headers=admin, params=params)
    assert (resp.status_code, resp.json()) == (
        404, _error(PKG + "ObjectNotFoundException", path, f"Object type: backup id: {UNKNOWN} could not be found", 404),
    )  # fmt: skip


def test_parameters_are_checked_before_the_backup_is_looked_up(env: Env, admin: dict[str, str]) -> None:
    # Spring binds (and refuses) request parameters before the handler looks anything up.
    path = f"/api/backups/{UNKNOWN}/virtual_disk_partitions"
    resp = env.client.get(path, headers=admin)
    assert (resp.status_code, resp.json()) == (
        400, _error(PKG + "InvalidParameterException", path, "Missing required parameter 'virtual_disk'"),
    )  # fmt: skip


# (endpoint, params, exception, message); {disk} is the Windows VM's system disk, {name} its name.
_REFUSALS: list[tuple[str, dict[str, str], str, str]] = [
    ("virtual_disk_partitions", {}, "InvalidParameterException", "Missing required parameter 'virtual_disk'"),
    ("virtual_disk_partitions", {"virtual_disk": "nope.vmdk"}, "InvalidParameterException",
     "Invalid value 'nope.vmdk' for parameter 'virtual_disk': expected one of {name}.vmdk, {name}_1.vmdk, {name}_2.vmdk"),
    ("virtual_disk_partitions", {"virtual_disk": ""}, "InvalidParameterException",
     "Invalid value '' for parameter 'virtual_disk': expected one of {name}.vmdk, {name}_1.vmdk, {name}_2.vmdk"),
    ("virtual_disk_partition_files", {"partition_number": "2", "file_path": "/"}, "InvalidParameterException",
     "Missing required parameter 'virtual_disk'"),
    ("virtual_disk_partition_files", {"virtual_disk": "{disk}", "file_path": "/"}, "InvalidParameterException",
     "Missing required parameter 'partition_number'"),
    ("virtual_disk_partition_files", {"virtual_disk": "{disk}", "partition_number": "2"}, "InvalidParameterException",
     "Missing required parameter 'file_path'"),
    ("virtual_disk_partition_files", {"virtual_disk": "{disk}", "partition_number": "two", "file_path": "/"},
     "TypeMismatchException", "Invalid value 'two' for parameter 'partition_number': expected an integer"),
    ("virtual_disk_partition_files", {"virtual_disk": "{disk}", "partition_number": "1.5", "file_path": "/"},
     "TypeMismatchException", "Invalid value '1.5' for parameter 'partition_number': expected an integer"),
    ("virtual_disk_partition_files", {"virtual_disk": "nope.vmdk", "partition_number": "1", "file_path": "/"},
     "InvalidParameterException",
     "Invalid value 'nope.vmdk' for parameter 'virtual_disk': expected one of {name}.vmdk, {name}_1.vmdk, {name}_2.vmdk"),
    ("virtual_disk_partition_files", {"virtual_disk": "{disk}", "partition_number": "9", "file_path": "/"},
     "InvalidParameterException",
     "Invalid value '9' for parameter 'partition_number': {disk} has partitions 1, 2"),
    ("virtual_disk_partition_files", {"virtual_disk": "{disk}", "partition_number": "1", "file_path": "/"},
     "InvalidParameterException", "partition 1 of {disk} cannot be mounted"),
    ("virtual_disk_partition_files", {"virtual_disk": "{disk}", "partition_number": "2", "file_path": "/Windows/Nope"},
     "InvalidParameterException",
     "Invalid value '/Windows/Nope' for parameter 'file_path': no such file or directory in partition 2 of {disk}"),
]  # fmt: skip


@pytest.mark.parametrize(("what", "params", "exception", "message"), _REFUSALS)
def test_refusals(
    env: Env, admin: dict[str, str], what: str, params: dict[str, str], exception: str, message: str
) -> None:
    vm, backup = _windows(env)
    fill = {"disk": f"{vm['name']}.vmdk", "name": vm["name"]}
    path = _url(backup, what)
    resp = env.client.get(path, headers=admin, params={k: v.format(**fill) for k, v in params.items()})
    assert (resp.status_code, resp.json()) == (400, _error(PKG + exception, path, message.format(**fill)))


def test_only_a_protected_backup_can_be_browsed(own_env: Env) -> None:
    headers = own_env.headers()
    backup = own_env.federation.rows["backups"][0]
    disk = f"{backup['virtual_machine_name']}.vmdk"
    backups = tables.COLLECTION_TABLES["backups"]
    requests = [
        ("virtual_disks", {}),
        ("virtual_disk_partitions", {"virtual_disk": disk}),
        ("virtual_disk_partition_files", {"virtual_disk": disk, "partition_number": "2", "file_path": "/"}),
    ]
    for state in ("FAILED", "SAVING", "DELETED", "DEGRADED"):
        with own_env.runtime.storage.engine.begin() as conn:
            conn.execute(update(backups).where(backups.c.id == backup["id"]).values(state=state))
        for what, params in requests:
            path = _url(backup, what)
            resp = own_env.client.get(path, headers=headers, params=params)
            message = f"Backup {backup['id']} cannot be browsed: it is {state}, not PROTECTED"
            assert (resp.status_code, resp.json()) == (
                400,
                _error(PKG + "InvalidParameterException", path, message),
            )
