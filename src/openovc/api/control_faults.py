"""The control API's fault rules (/_openovc/faults) and run-time task pacing (/_openovc/pacing)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from openovc.api.control import _json_object
from openovc.api.deps import RuntimeDep, session
from openovc.api.responses import JSON

router = APIRouter(default_response_class=JSON, dependencies=[Depends(session)], tags=["faults"])

_EFFECT = {
    "type": "object",
    "description": "one of: http, task_error, delay_ms (with jitter_ms), drop_connection",
    "properties": {
        "http": {
            "type": "object",
            "properties": {
                "status": {"type": "integer", "example": 503},
                "exception": {"type": "string"},
                "message": {"type": "string"},
                "error_code": {"type": "string"},
            },
        },
        "task_error": {
            "type": "object",
            "properties": {"error_code": {"type": "integer", "example": 130}, "message": {"type": "string"}},
        },
        "delay_ms": {"type": "integer", "example": 2000},
        "jitter_ms": {"type": "integer", "example": 500},
        "drop_connection": {"type": "boolean", "enum": [True]},
    },
}
_RULE = {
    "type": "object",
    "required": ["match", "effect"],
    "properties": {
        "match": {
            "type": "object",
            "description": "an HPE operationId, or a method and a path template",
            "properties": {
                "operation": {"type": "string", "example": "cloneVm"},
                "method": {"type": "string", "example": "POST"},
                "path": {"type": "string", "example": "/api/virtual_machines/{vmId}/clone"},
            },
        },
        "object_id": {"type": "string", "description": "the path's id, or an id in the body"},
        "name": {"type": "string", "description": "a glob on the object's name", "example": "web-*"},
        "effect": _EFFECT,
        "probability": {"type": "number", "minimum": 0, "maximum": 1, "default": 1},
        "count": {
            "type": "integer",
            "minimum": 1,
            "description": "fire at most this often (default: no limit)",
        },
        "skip": {"type": "integer", "minimum": 0, "default": 0, "description": "matches let through first"},
        "seed": {"type": "integer", "description": "draws the probability (default: the server's)"},
    },
}
_SHOWN = {
    "type": "object",
    "properties": {
        **_RULE["properties"],  # type: ignore[dict-item]
        "id": {"type": "string"},
        "fired": {"type": "integer"},
    },
}
_PACING = {
    "type": "object",
    "required": ["default"],
    "properties": {
        "default": {"type": "string", "example": "immediate"},
        "operations": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "example": {"virtual_machine.clone": "duration:20:0.3"},
        },
    },
}


def _doc(status: str, schema: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    extra: dict[str, Any] = {"responses": {status: answer}}
    if body is not None:
        extra["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return extra


_ONE = {"type": "object", "properties": {"fault": _SHOWN}}
_ALL = {"type": "object", "properties": {"faults": {"type": "array", "items": _SHOWN}}}
_REMOVED = {"type": "object", "properties": {"removed": {"type": "integer"}}}


@router.get("/faults", operation_id="getFaults", openapi_extra=_doc("200", _ALL))
def get_faults(rt: RuntimeDep) -> JSON:
    """Every fault rule, oldest first, with how often it has fired."""
    return JSON(rt.faults.show())


@router.post("/faults", operation_id="addFault", status_code=201, openapi_extra=_doc("201", _ONE, _RULE))
async def add_fault(request: Request, rt: RuntimeDep) -> JSON:
    """Add a rule; every server process applies it to HPE's API from when this answers."""
    body = await _json_object(request)
    return JSON(await run_in_threadpool(rt.faults.add, body), status_code=201)


@router.delete("/faults", operation_id="clearFaults", openapi_extra=_doc("200", _REMOVED))
async def clear_faults(rt: RuntimeDep) -> JSON:
    """Remove every rule."""
    return JSON(await run_in_threadpool(rt.faults.clear))


@router.delete("/faults/{faultId}", operation_id="removeFault", openapi_extra=_doc("200", _ONE))
async def remove_fault(faultId: str, rt: RuntimeDep) -> JSON:
    """Remove one rule (404 for an unknown id); answers it as it was, with how often it fired."""
    return JSON(await run_in_threadpool(rt.faults.remove, faultId))


@router.get("/pacing", operation_id="getPacing", openapi_extra=_doc("200", _PACING))
def get_pacing(rt: RuntimeDep) -> JSON:
    """How long tasks take: a default pacing, and the operations with their own."""
    return JSON(rt.pacing.show())


@router.put("/pacing", operation_id="setPacing", openapi_extra=_doc("200", _PACING, _PACING))
async def set_pacing(request: Request, rt: RuntimeDep) -> JSON:
    """Replace the pacing of the tasks submitted from now on, in every server process."""
    body = await _json_object(request)
    return JSON(await run_in_threadpool(rt.pacing.put, body, rt.tasks.operations()))


@router.delete("/pacing", operation_id="resetPacing", openapi_extra=_doc("200", _PACING))
async def reset_pacing(rt: RuntimeDep) -> JSON:
    """Back to the pacing the servers started with (OPENOVC_TASK_PACING)."""
    return JSON(await run_in_threadpool(rt.pacing.reset))
