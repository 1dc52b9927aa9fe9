"""Routes of /backups: the reads (the collection, one backup, its disks and files) and every operation."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from openovc.api.bodies import BackupIds, CopyBackup, RenameBackup, RestoreBackup, RestoreFiles, SetRetention
from openovc.api.collection import get_openapi, get_response, list_openapi, list_response
from openovc.api.deps import ReaderDep, RuntimeDep, api_router, media_type
from openovc.api.render import envelope, render_record
from openovc.api.responses import JSON
from openovc.api.schemas import FILES, PARTITIONS, RETENTION_REFUSED, VIRTUAL_DISKS, answer, merged
from openovc.api.tasking import accepted
from openovc.domain.catalog import BACKUPS
from openovc.domain.query import parse_bool
from openovc.services import backups as ops
from openovc.services import persistent_volumes

router = api_router("/backups", tags=["backups"])


def _query(name: str, typ: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": True,
        "schema": {"type": typ},
        "description": description,
    }


_DISK = _query("virtual_disk", "string", "The name of the virtual hard disk, e.g. vm.vmdk")
_PARTITION = _query("partition_number", "integer", "The partition number (from 1)")
_PATH = _query("file_path", "string", "The path in the partition; '/' is its root")
_ORIGINAL = {**_query("restore_original", "boolean", "Restore over the original virtual machine"),
             "required": False, "schema": {"type": "boolean", "default": False}}  # fmt: skip


@router.get("", operation_id="listBackups", openapi_extra=list_openapi(BACKUPS))
def list_backups(request: Request, reader: ReaderDep) -> JSON:
    pv = request.query_params.get("pv")
    if pv and pv.strip():  # the Go SDK's filter: the backups of the persistent volume of that name
        page, query = persistent_volumes.list_backups(reader, request.query_params, pv)
        return JSON(envelope(BACKUPS, page, query.offset, query.limit))
    return list_response(request, reader, BACKUPS)


@router.post("/delete", operation_id="deleteBackups", status_code=202, dependencies=[media_type(0)])
def delete_backups(body: BackupIds, rt: RuntimeDep) -> JSON:
    task = ops.delete(rt.reader, rt.tasks, rt.simulator, body.backup_id or [], body.cluster_group_id)
    return accepted(rt.tasks, task)


@router.post(
    "/set_retention",
    operation_id="setBackupRetention",
    status_code=202,
    dependencies=[media_type(0)],
    openapi_extra=answer(RETENTION_REFUSED, description=RETENTION_REFUSED["description"]),
)
def set_retention(body: SetRetention, rt: RuntimeDep) -> JSON:
    task, doomed = ops.set_retention(
        rt.reader, rt.tasks, rt.simulator, body.backup_id or [], retention=body.retention, force=bool(body.force),
        forever=bool(body.forever), cluster_group_id=body.cluster_group_id,
    )  # fmt: skip
    if task is None:
        # Refused without force: nothing changed, and the answer lists what the change would remove.
        return JSON({"backups": [render_record(BACKUPS, b) for b in doomed]})
    return accepted(rt.tasks, task)


@router.get("/{bkpId}", operation_id="getBackup", openapi_extra=get_openapi(BACKUPS))
def get_backup(bkpId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, BACKUPS, bkpId)


@router.delete("/{bkpId}", operation_id="deleteBackup", status_code=202)
def delete_backup(bkpId: str, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, ops.delete(rt.reader, rt.tasks, rt.simulator, [bkpId]))


@router.post("/{bkpId}/rename", operation_id="renameBackup", status_code=202, dependencies=[media_type(0)])
def rename_backup(bkpId: str, body: RenameBackup, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, ops.rename(rt.reader, rt.tasks, rt.simulator, bkpId, body.backup_name))


@router.post("/{bkpId}/lock", operation_id="lockBackup", status_code=202, dependencies=[media_type(0)])
def lock_backup(bkpId: str, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, ops.lock(rt.reader, rt.tasks, rt.simulator, bkpId))


@router.post("/{bkpId}/cancel", operation_id="cancelBackup", status_code=202, dependencies=[media_type(0)])
def cancel_backup(bkpId: str, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, ops.cancel(rt.reader, rt.tasks, rt.simulator, bkpId))


@router.post(
    "/{bkpId}/calculate_unique_size",
    operation_id="calculateUniqueSize",
    status_code=202,
    dependencies=[media_type(0)],
)
def calculate_unique_size(bkpId: str, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, ops.calculate_unique_size(rt.reader, rt.tasks, rt.simulator, bkpId))


@router.post("/{bkpId}/copy", operation_id="copyBackup", status_code=202, dependencies=[media_type(0)])
def copy_backup(bkpId: str, body: CopyBackup, rt: RuntimeDep) -> JSON:
    task = ops.copy(rt.reader, rt.tasks, rt.simulator, bkpId, body.destination_id, body.external_store_name)
    return accepted(rt.tasks, task)


@router.post(
    "/{bkpId}/restore",
    operation_id="restoreFromBackup",
    status_code=202,
    dependencies=[media_type(0)],
    openapi_extra={"parameters": [_ORIGINAL]},
)
def restore_backup(bkpId: str, request: Request, rt: RuntimeDep, body: RestoreBackup | None = None) -> JSON:
    raw = request.query_params.get("restore_original", "").strip()
    original = parse_bool("restore_original", raw) if raw else False
    given = body or RestoreBackup()
    task = ops.restore(
        rt.reader, rt.tasks, rt.simulator, bkpId, original=original, name=given.virtual_machine_name,
        datastore_id=given.datastore_id,
    )  # fmt: skip
    return accepted(rt.tasks, task)


@router.post(
    "/{bkpId}/restore_files", operation_id="restoreFiles", status_code=202, dependencies=[media_type(9)]
)
def restore_files(bkpId: str, body: RestoreFiles, rt: RuntimeDep) -> JSON:
    store = rt.operations
    task = ops.restore_files(
        rt.reader, store, rt.tasks, rt.simulator, bkpId, body.virtual_machine_id, body.paths or []
    )
    return accepted(rt.tasks, task)


@router.get(
    "/{bkpId}/virtual_disks", operation_id="getVirtualDisksFromBackup", openapi_extra=answer(VIRTUAL_DISKS)
)
def get_virtual_disks(bkpId: str, rt: RuntimeDep) -> JSON:
    return JSON({"virtual_disks": ops.virtual_disks(rt.reader, rt.simulator, bkpId)})


@router.get(
    "/{bkpId}/virtual_disk_partitions",
    operation_id="getBackupPartitions",
    openapi_extra=merged({"parameters": [_DISK]}, answer(PARTITIONS)),
)
def get_partitions(bkpId: str, request: Request, rt: RuntimeDep) -> JSON:
    return JSON({"partitions": ops.partitions(rt.reader, rt.simulator, bkpId, request.query_params)})


@router.get(
    "/{bkpId}/virtual_disk_partition_files",
    operation_id="getBackupFiles",
    openapi_extra=merged({"parameters": [_DISK, _PARTITION, _PATH]}, answer(FILES)),
)
def get_files(bkpId: str, request: Request, rt: RuntimeDep) -> JSON:
    found = ops.files(rt.reader, rt.operations, rt.simulator, bkpId, request.query_params)
    return JSON({"virtual_disk_partition_files": found})
