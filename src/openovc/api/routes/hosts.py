"""GET routes of /hosts."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request

from ...domain.catalog import HOSTS
from ...domain.errors import ObjectNotFound
from ...services import reads
from ..collection import get_openapi, get_response, list_openapi, list_response
from ..deps import ReaderDep
from ..responses import JSON

router = APIRouter(prefix="/hosts", tags=["hosts"])


@router.get("", operation_id="listHosts", openapi_extra=list_openapi(HOSTS))
def list_hosts(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, HOSTS)


@router.get("/{hostId}", operation_id="getHost", openapi_extra=get_openapi(HOSTS))
def get_host(hostId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, HOSTS, hostId)


@router.get("/{hostId}/hardware", operation_id="getHostHardware")
def get_host_hardware(hostId: str, reader: ReaderDep) -> JSON:
    document = reader.hardware(hostId)
    if document is None:
        raise ObjectNotFound("host", hostId)
    return JSON({"host": orjson.Fragment(document)})


@router.get(
    "/{hostId}/virtual_controller_shutdown_status", operation_id="getVirtualControllerShutdownStatusUsingGET"
)
def get_shutdown_status(hostId: str, reader: ReaderDep) -> JSON:
    host = reads.get_object(reader, HOSTS, hostId)
    # A Virtual Controller that is shut down no longer answers; one that is up reports no shutdown.
    status = "NONE" if host["state"] != "FAULTY" else "IN_PROGRESS"
    return JSON({"shutdown_status": {"status": status}})
