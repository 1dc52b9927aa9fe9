"""GET routes of /backups: the collection, one backup, and browsing a backup's disks and files."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ...domain.catalog import BACKUPS
from ...services import backup_files
from ..collection import get_openapi, get_response, list_openapi, list_response
from ..deps import ReaderDep
from ..responses import JSON

router = APIRouter(prefix="/backups", tags=["backups"])


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


@router.get("", operation_id="listBackups", openapi_extra=list_openapi(BACKUPS))
def list_backups(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, BACKUPS)


@router.get("/{bkpId}", operation_id="getBackup", openapi_extra=get_openapi(BACKUPS))
def get_backup(bkpId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, BACKUPS, bkpId)


@router.get("/{bkpId}/virtual_disks", operation_id="getVirtualDisksFromBackup")
def get_virtual_disks(bkpId: str, reader: ReaderDep) -> JSON:
    return JSON({"virtual_disks": backup_files.virtual_disks(reader, bkpId)})


@router.get(
    "/{bkpId}/virtual_disk_partitions",
    operation_id="getBackupPartitions",
    openapi_extra={"parameters": [_DISK]},
)
def get_partitions(bkpId: str, request: Request, reader: ReaderDep) -> JSON:
    return JSON({"partitions": backup_files.partitions(reader, bkpId, request.query_params)})


@router.get(
    "/{bkpId}/virtual_disk_partition_files",
    operation_id="getBackupFiles",
    openapi_extra={"parameters": [_DISK, _PARTITION, _PATH]},
)
def get_files(bkpId: str, request: Request, reader: ReaderDep) -> JSON:
    return JSON({"virtual_disk_partition_files": backup_files.files(reader, bkpId, request.query_params)})
