"""Routes of /hosts: reads, Virtual Controller shutdown (direct answers) and removal (a task)."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Body, Request

from openovc.api.bodies import Body as BodyModel
from openovc.api.collection import get_openapi, get_response, list_openapi, list_response
from openovc.api.deps import ReaderDep, RuntimeDep, api_router, media_type
from openovc.api.responses import JSON
from openovc.api.schemas import CANCELLATION, HARDWARE, SHUTDOWN, SHUTDOWN_STATUS, answer
from openovc.api.tasking import accepted
from openovc.domain.catalog import HOSTS
from openovc.domain.errors import ObjectNotFound
from openovc.services import hosts

router = api_router("/hosts", tags=["hosts"])


class ShutdownVirtualController(BodyModel):
    ha_wait: bool = True


class RemoveFromFederation(BodyModel):
    force: bool = False


@router.get("", operation_id="listHosts", openapi_extra=list_openapi(HOSTS))
def list_hosts(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, HOSTS)


@router.get("/{hostId}", operation_id="getHost", openapi_extra=get_openapi(HOSTS))
def get_host(hostId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, HOSTS, hostId)


@router.get("/{hostId}/hardware", operation_id="getHostHardware", openapi_extra=answer(HARDWARE))
def get_host_hardware(hostId: str, reader: ReaderDep) -> JSON:
    document = reader.hardware(hostId)
    if document is None:
        raise ObjectNotFound("host", hostId)
    return JSON({"host": orjson.Fragment(document)})


@router.get(
    "/{hostId}/virtual_controller_shutdown_status",
    operation_id="getVirtualControllerShutdownStatusUsingGET",
    openapi_extra=answer(SHUTDOWN_STATUS),
)
def get_shutdown_status(hostId: str, rt: RuntimeDep) -> JSON:
    status = hosts.shutdown_status(rt.operations, rt.reader, hostId, rt.tasks.now_ms())
    return JSON({"shutdown_status": {"status": status}})


# The two shutdown POSTs consume plain application/json in the spec: no vendor media type is checked,
# and the body may be absent (ha_wait then defaults to true).
@router.post(
    "/{hostId}/shutdown_virtual_controller",
    operation_id="shutdownVirtualControllerUsingPOST",
    openapi_extra=answer(SHUTDOWN),
)
def shutdown_virtual_controller(
    hostId: str, rt: RuntimeDep, body: Annotated[ShutdownVirtualController | None, Body()] = None
) -> JSON:
    ha_wait = body.ha_wait if body is not None else True
    status = hosts.shutdown(rt.operations, rt.reader, rt.simulator, hostId, ha_wait, rt.tasks.now_ms())
    return JSON({"shutdown_status": {"status": status}})


@router.post(
    "/{hostId}/cancel_virtual_controller_shutdown",
    operation_id="cancelShutdownVirtualControllerUsingPOST",
    openapi_extra=answer(CANCELLATION),
)
def cancel_virtual_controller_shutdown(hostId: str, rt: RuntimeDep) -> JSON:
    status = hosts.cancel_shutdown(rt.operations, rt.reader, rt.simulator, hostId, rt.tasks.now_ms())
    return JSON({"cancellation_status": {"status": status}})


@router.post(
    "/{hostId}/remove_from_federation",
    operation_id="removeHostFromFederation",
    status_code=202,
    dependencies=[media_type(9)],
)
def remove_from_federation(
    hostId: str, rt: RuntimeDep, body: Annotated[RemoveFromFederation | None, Body()] = None
) -> JSON:
    force = body.force if body is not None else False
    return accepted(rt.tasks, hosts.remove_from_federation(rt.reader, rt.tasks, hostId, force))
