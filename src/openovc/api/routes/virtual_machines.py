"""GET routes of /virtual_machines."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...domain.catalog import BACKUPS, VIRTUAL_MACHINES
from ...services import reads
from ..collection import get_openapi, get_response, list_openapi, list_response
from ..deps import ReaderDep
from ..responses import JSON

router = APIRouter(prefix="/virtual_machines", tags=["virtual_machines"])


@router.get("", operation_id="listVms", openapi_extra=list_openapi(VIRTUAL_MACHINES))
def list_vms(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, VIRTUAL_MACHINES)


@router.get("/{vmId}", operation_id="getVm", openapi_extra=get_openapi(VIRTUAL_MACHINES))
def get_vm(vmId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, VIRTUAL_MACHINES, vmId)


@router.get("/{vmId}/backups", operation_id="listVMBackups", openapi_extra=list_openapi(BACKUPS))
def list_vm_backups(vmId: str, request: Request, reader: ReaderDep) -> JSON:
    reads.get_object(reader, VIRTUAL_MACHINES, vmId)
    return list_response(request, reader, BACKUPS, fixed={"virtual_machine_id": vmId})
