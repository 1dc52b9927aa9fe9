"""Browsing a backup's virtual disks, partitions and files: the read side of file-level restore."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Protocol

import orjson

from openovc.domain import timefmt
from openovc.domain.catalog import BACKUPS, VIRTUAL_MACHINES
from openovc.domain.errors import InvalidParameter
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import FederationReader, Record
from openovc.domain.ports.operations import OperationsState, OperationsStore
from openovc.domain.query import parse_int
from openovc.services import reads
from openovc.simulator import guest_files
from openovc.simulator.guest_files import GuestVm

BROWSABLE_STATE = "PROTECTED"


def virtual_disks(reader: FederationReader, backup_id: str) -> list[str]:
    vm, _ = _open(reader, backup_id)
    return [d.name for d in vm.disks()]


def partitions(
    reader: FederationReader, backup_id: str, params: Mapping[str, str]
) -> list[dict[str, object]]:
    disk_name = _required(params, "virtual_disk")
    vm, _ = _open(reader, backup_id)
    return [p.as_json() for p in vm.partitions(vm.disk(disk_name))]


def files(
    reader: FederationReader, store: OperationsStore, backup_id: str, params: Mapping[str, str]
) -> list[dict[str, object]]:
    # Parameters are checked before the backup is looked up, as Spring binds them before the handler runs.
    disk_name = _required(params, "virtual_disk")
    number = parse_int("partition_number", _required(params, "partition_number"))
    file_path = _required(params, "file_path")
    vm, taken = _open(reader, backup_id)
    with store.reading() as state:
        vm = with_restored(vm, state)
    return [e.as_json() for e in guest_files.list_files(vm, disk_name, number, file_path, taken)]


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise InvalidParameter(f"Missing required parameter '{name}'")
    return value


def _open(reader: FederationReader, backup_id: str) -> tuple[GuestVm, datetime]:
    """The VM as the backup holds it, and when it was taken; only a PROTECTED backup can be opened."""
    backup = reads.get_object(reader, BACKUPS, backup_id)
    state, created = backup.get("state"), backup.get("created_at")
    if state != BROWSABLE_STATE:
        raise InvalidParameter(f"Backup {backup_id} cannot be browsed: it is {state}, not {BROWSABLE_STATE}")
    if not isinstance(created, str):
        raise InvalidParameter(f"Backup {backup_id} cannot be browsed: it has no creation time")
    return guest_vm(reader, backup), timefmt.from_text(created)


class Rows(Protocol):
    """Gets an object by id: the reader and a transaction both can."""

    def get(self, coll: Collection, key: str) -> Record | None: ...


def guest_vm(rows: Rows, backup: Record) -> GuestVm:
    """The backed-up VM's disks come from its row (a deleted VM keeps one); its name from the backup,
    since vSphere names disk files once, when they are created."""
    vm_id = str(backup["virtual_machine_id"])
    name = str(backup["virtual_machine_name"])
    row = rows.get(VIRTUAL_MACHINES, vm_id)
    if row is None:
        # No row at all (an import that dropped it): one disk the size of the backup, whole GiB.
        size = _int(backup.get("size"))
        allocated = max(guest_files.GiB, -(-size // guest_files.GiB) * guest_files.GiB)
        return GuestVm(vm_id, name, guest_files.guest_os(vm_id, name, None, ()), 1, allocated)
    return guest_of(row, name)


def with_restored(vm: GuestVm, state: OperationsState) -> GuestVm:
    """The VM's guest with what restore_files wrote into it (a backup's time decides what it shows)."""
    return replace(vm, restored=tuple(state.restored_files(vm.id)))


def guest_of(row: Record, name: str | None = None) -> GuestVm:
    """A VM's guest as its row shows it (`name`: the name its disk files were given, if not its own)."""
    vm_id = str(row["id"])
    name = str(row["name"]) if name is None else name
    os_family = guest_files.guest_os(
        vm_id, name, _str(row.get("app_aware_vm_status")), _adapter_types(row.get("network_interfaces"))
    )
    return GuestVm(
        vm_id,
        name,
        os_family,
        _int(row.get("hypervisor_virtual_disk_count")),
        _int(row.get("hypervisor_allocated_capacity")),
    )


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
