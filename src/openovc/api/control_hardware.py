"""The control API's hardware faults (/_openovc/hardware): drives, hosts and Virtual Controllers failing and
coming back, each answered with what changed, in figures (services/hardware.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from openovc.api.deps import RuntimeDep, session
from openovc.api.responses import JSON
from openovc.api.schemas import ERROR

router = APIRouter(default_response_class=JSON, dependencies=[Depends(session)], tags=["hardware"])

_INT, _STR = {"type": "integer"}, {"type": "string"}
_CHANGED = {
    "type": "object",
    "properties": {
        "drive": {
            "type": "object",
            "description": "drive operations only: the drive as the hardware document now shows it, and when "
            "a new drive's rebuild ends",
            "properties": {
                "slot": _INT,
                "drive_position": _STR,
                "capacity": _INT,
                "health": {"type": "string", "enum": ["HEALTHY", "REBUILDING", "FAILED"]},
                "status": {"type": "string", "enum": ["GREEN", "YELLOW", "RED"]},
                "percent_rebuilt": _INT,
                "serial_number": _STR,
                "rebuilt_at": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "host": {
            "type": "object",
            "properties": {
                "id": _STR,
                "name": _STR,
                "state": {"type": "string", "enum": ["ALIVE", "FAULTY"]},
                "hardware_status": {"type": "string", "enum": ["GREEN", "YELLOW", "RED"]},
                "virtual_controller_shutdown_status": _STR,
                "allocated_capacity": _INT,
                "free_space": _INT,
            },
        },
        "omnistack_cluster": {
            "type": "object",
            "properties": {"id": _STR, "name": _STR, "allocated_capacity": _INT, "free_space": _INT},
        },
        "capacity_change": {"type": "integer", "description": "bytes the host's allocated capacity moved by"},
        "virtual_machines": {
            "type": "object",
            "description": "VMs whose ha_status became each of these; VMs restarted on another host",
            "properties": dict.fromkeys(("safe", "syncing", "degraded", "defunct", "failed_over"), _INT),
        },
        "resync": {
            "type": "object",
            "description": "replicas that began to catch up, the bytes they catch up, when the last is done",
            "properties": {
                "virtual_machines": _INT,
                "bytes": _INT,
                "done_at": {"type": ["string", "null"], "format": "date-time"},
            },
        },
    },
}


def _doc(conflict: str, drive: bool = False) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": ERROR}}}
    missing = "Unknown host" + (" or drive slot" if drive else "")
    return {
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": _CHANGED}}},
            "404": {"description": missing, **error},
            "409": {"description": conflict, **error},
        }
    }


_DRIVE = "/hardware/hosts/{hostId}/drives/{slot}"
_HOST = "/hardware/hosts/{hostId}"


@router.post(
    f"{_DRIVE}/fail", operation_id="failDrive", openapi_extra=_doc("The drive has failed already", True)
)
async def fail_drive(hostId: str, slot: str, rt: RuntimeDep) -> JSON:
    """A physical drive fails: the array degrades (past parity, the host's storage is lost) and the host's
    capacity shrinks by what the drive gave."""
    return JSON(await run_in_threadpool(rt.hardware.fail_drive, hostId, slot))


@router.post(
    f"{_DRIVE}/repair", operation_id="repairDrive", openapi_extra=_doc("The drive has not failed", True)
)
async def repair_drive(hostId: str, slot: str, rt: RuntimeDep) -> JSON:
    """The failed drive is replaced by a new one. In an array that held it rebuilds on the simulated clock
    (REBUILDING until `rebuilt_at`), then the array and the host's capacity come back; an array that was
    lost is made anew at once, its data resynced from the partners' replicas."""
    return JSON(await run_in_threadpool(rt.hardware.repair_drive, hostId, slot))


@router.post(f"{_HOST}/fail", operation_id="failHost", openapi_extra=_doc("The host is FAULTY already"))
async def fail_host(hostId: str, rt: RuntimeDep) -> JSON:
    """The host fails: FAULTY, its replicas unserved, the VMs that ran there restarted on their partner."""
    return JSON(await run_in_threadpool(rt.hardware.fail_host, hostId))


@router.post(f"{_HOST}/repair", operation_id="repairHost", openapi_extra=_doc("The host has not failed"))
async def repair_host(hostId: str, rt: RuntimeDep) -> JSON:
    """The host is back: ALIVE, its replicas resyncing what their VMs wrote while it was down."""
    return JSON(await run_in_threadpool(rt.hardware.repair_host, hostId))


@router.post(
    f"{_HOST}/controller/shutdown",
    operation_id="shutdownController",
    openapi_extra=_doc("The controller is shut down already, or its host is FAULTY"),
)
async def shutdown_controller(hostId: str, rt: RuntimeDep) -> JSON:
    """The host's Virtual Controller stops at once (its VM powered off); its shutdown status is SUCCESS."""
    return JSON(await run_in_threadpool(rt.hardware.shutdown_controller, hostId))


@router.post(
    f"{_HOST}/controller/restart",
    operation_id="restartController",
    openapi_extra=_doc("The controller runs, or its shutdown is still in progress"),
)
async def restart_controller(hostId: str, rt: RuntimeDep) -> JSON:
    """A Virtual Controller that shut down runs again: ALIVE, its replicas resyncing."""
    return JSON(await run_in_threadpool(rt.hardware.restart_controller, hostId))
