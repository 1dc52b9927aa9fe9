"""Browsing a backup's virtual disks, partitions and files: the read side of file-level restore."""

from __future__ import annotations

from collections.abc import Mapping

from openovc.domain.backups import PROTECTED
from openovc.domain.catalog import BACKUPS
from openovc.domain.errors import InvalidParameter
from openovc.domain.ports.federation import FederationReader
from openovc.domain.ports.operations_store import OperationsStore
from openovc.domain.ports.simulator import Simulator
from openovc.domain.query import parse_int
from openovc.domain.records import Backup
from openovc.services import reads


def virtual_disks(reader: FederationReader, sim: Simulator, backup_id: str) -> list[str]:
    return sim.backup_disks(reader, _browsable(reader, backup_id))


def partitions(
    reader: FederationReader, sim: Simulator, backup_id: str, params: Mapping[str, str]
) -> list[dict[str, object]]:
    disk_name = _required(params, "virtual_disk")
    return sim.backup_partitions(reader, _browsable(reader, backup_id), disk_name)


def files(
    reader: FederationReader,
    store: OperationsStore,
    sim: Simulator,
    backup_id: str,
    params: Mapping[str, str],
) -> list[dict[str, object]]:
    # Parameters are checked before the backup is looked up, as Spring binds them before the handler runs.
    disk_name = _required(params, "virtual_disk")
    number = parse_int("partition_number", _required(params, "partition_number"))
    file_path = _required(params, "file_path")
    backup = _browsable(reader, backup_id)
    with store.reading() as state:
        return sim.backup_files(reader, state, backup, disk_name, number, file_path)


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if value is None:
        raise InvalidParameter(f"Missing required parameter '{name}'")
    return value


def _browsable(reader: FederationReader, backup_id: str) -> Backup:
    """Only a PROTECTED backup with a creation time can be opened."""
    backup = reads.get_object(reader, BACKUPS, backup_id)
    state, created = backup.get("state"), backup.get("created_at")
    if state != PROTECTED:
        raise InvalidParameter(f"Backup {backup_id} cannot be browsed: it is {state}, not {PROTECTED}")
    if not isinstance(created, str):
        raise InvalidParameter(f"Backup {backup_id} cannot be browsed: it has no creation time")
    return backup
