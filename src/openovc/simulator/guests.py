"""A VM's guest as the rows show it, and the files a backup of it holds: browsing and restoring them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson

from openovc.domain import timefmt
from openovc.domain.catalog import VIRTUAL_MACHINES
from openovc.domain.errors import InvalidBody, InvalidParameter
from openovc.domain.ports.operations import GuestFacts, OperationsState, RestoredFile
from openovc.domain.ports.simulator import Rows
from openovc.domain.records import Backup, VirtualMachine
from openovc.domain.tasks import Codes, TaskFailure
from openovc.simulator import guest_files
from openovc.simulator.guest_files import GuestVm


def guest_vm(rows: Rows, backup: Mapping[str, Any], state: OperationsState | None = None) -> GuestVm:
    """The backed-up VM's disks come from its row (a deleted VM keeps one); its name from the backup,
    since vSphere names disk files once, when they are created; its OS as guest_of reads it."""
    vm_id = str(backup["virtual_machine_id"])
    name = str(backup["virtual_machine_name"])
    row = rows.get(VIRTUAL_MACHINES, vm_id)
    if row is None:
        # No row at all (an import that dropped it): one disk the size of the backup, whole GiB.
        size = _int(backup.get("size"))
        allocated = max(guest_files.GiB, -(-size // guest_files.GiB) * guest_files.GiB)
        return GuestVm(vm_id, name, guest_files.guest_os(vm_id, name, None, ()), 1, allocated)
    return guest_of(row, state.guest_facts(vm_id) if state is not None else None, name)


def with_restored(vm: GuestVm, state: OperationsState) -> GuestVm:
    """The VM's guest with what restore_files wrote into it (a backup's time decides what it shows)."""
    return replace(vm, restored=tuple(state.restored_files(vm.id)))


def guest_of(row: Mapping[str, Any], facts: GuestFacts | None = None, name: str | None = None) -> GuestVm:
    """A VM's guest as its row and the simulator's facts of it show it (`name`: the name its disk files
    were given, if not its own). A recorded OS wins: the row's hints are lost when the guest stops
    (VMware Tools no longer reports) or when a VM is made from another (new id and name)."""
    vm_id = str(row["id"])
    name = str(row["name"]) if name is None else name
    os_family = os_of(row, facts)
    return GuestVm(
        vm_id,
        name,
        os_family,
        _int(row.get("hypervisor_virtual_disk_count")),
        _int(row.get("hypervisor_allocated_capacity")),
    )


def os_of(row: Mapping[str, Any], facts: GuestFacts | None) -> guest_files.OsFamily:
    """The guest OS family of a VM: recorded in its facts, or read from its row."""
    if facts is not None and facts.os_family in (guest_files.WINDOWS, guest_files.LINUX):
        return guest_files.WINDOWS if facts.os_family == guest_files.WINDOWS else guest_files.LINUX
    return guest_files.guest_os(
        str(row["id"]),
        str(row["name"]),
        _str(row.get("app_aware_vm_status")),
        _adapter_types(row.get("network_interfaces")),
    )


def taken_at(backup: Mapping[str, Any]) -> datetime:
    return timefmt.from_text(str(backup["created_at"]))


def resolve(
    guest: GuestVm, taken: datetime, raw: str
) -> tuple[guest_files.VirtualDisk, guest_files.Partition, list[guest_files.Entry]]:
    """The disk, partition and entries down to what `disk/partition/path` names in the backup;
    InvalidBody naming what is wrong with it."""

    def refuse(problem: str) -> InvalidBody:
        return InvalidBody(f"Invalid body: paths: '{raw}' {problem}")

    disk_name, _, rest = raw.lstrip("/").partition("/")
    number_text, _, inside = rest.partition("/")
    segments = guest_files.split_path(inside)
    if not disk_name or not number_text.strip().isdigit() or not segments:
        raise refuse("is not <virtual disk>/<partition number>/<path of a file or directory>")
    disk = next((d for d in guest.disks() if d.name == disk_name), None)
    if disk is None:
        raise refuse(f"names virtual disk {disk_name}, which the backup does not hold")
    number = int(number_text)
    partition = next((p for p in guest.partitions(disk) if p.number == number), None)
    if partition is None or not partition.mountable:
        raise refuse(f"names partition {number} of {disk_name}, which cannot be mounted")
    root = guest.tree(disk, number, taken)
    trail = guest_files.find_trail(root, segments, fold_case=guest.os_family == guest_files.WINDOWS)
    if not trail:
        raise refuse("names no file or directory in the backup")
    if not trail[-1].restorable:
        raise refuse("cannot be restored (a symbolic link or a file the guest keeps locked)")
    return disk, partition, trail


def check_landing(
    rows: Rows, state: OperationsState, backup: Backup, vm: VirtualMachine, paths: Sequence[str]
) -> None:
    """Each path resolves in the backup and has a place to land in the VM."""
    guest = with_restored(guest_vm(rows, backup, state), state)
    taken = taken_at(backup)
    resolved = [resolve(guest, taken, p) for p in paths]
    into = guest_of(vm, state.guest_facts(vm["id"]))
    for disk, partition, _ in resolved:
        guest_files.landing(disk, partition, into)


def written(
    rows: Rows,
    state: OperationsState,
    backup: Backup,
    vm: VirtualMachine,
    paths: Sequence[str],
    now: datetime,
) -> list[RestoredFile]:
    """The files and directories restoring `paths` writes into the VM, in the order written."""
    guest = with_restored(guest_vm(rows, backup, state), state)
    target = guest_of(vm, state.guest_facts(vm["id"]))
    taken = taken_at(backup)
    at = int(now.timestamp())
    files: list[RestoredFile] = []
    for raw in paths:
        disk, partition, trail = resolve(guest, taken, raw)
        try:
            landing = guest_files.landing(disk, partition, target)
        except InvalidParameter as refused:
            # Checked when the task was accepted; the VM changed since: the task fails, saying why.
            raise TaskFailure(Codes.INVALID_ARGUMENT, refused.message) from None
        files += guest_files.restored_files(trail, landing, at)
    return files


def _adapter_types(value: object) -> list[str]:
    """NIC adapter types from the stored JSON text (or an already decoded list)."""
    nics = orjson.loads(value) if isinstance(value, str | bytes) else value
    if not isinstance(nics, list):
        return []
    return [str(n["adapter_type"]) for n in nics if isinstance(n, dict) and "adapter_type" in n]


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
