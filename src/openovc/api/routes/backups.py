"""GET routes of /backups."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...domain.catalog import BACKUPS
from ..collection import get_openapi, get_response, list_openapi, list_response
from ..deps import ReaderDep
from ..responses import JSON

router = APIRouter(prefix="/backups", tags=["backups"])


@router.get("", operation_id="listBackups", openapi_extra=list_openapi(BACKUPS))
def list_backups(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, BACKUPS)


@router.get("/{bkpId}", operation_id="getBackup", openapi_extra=get_openapi(BACKUPS))
def get_backup(bkpId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, BACKUPS, bkpId)
