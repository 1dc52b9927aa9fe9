"""The snapshot controls under /_openovc: /snapshots (save, list, restore, delete, export, import) and /reset.

Any user lists and reads snapshots; the administrator saves, restores, deletes, exports (a file holds the
whole federation, password hashes included) and imports them, and resets the federation.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from openovc.api.control import _json_object as json_object
from openovc.api.deps import RuntimeDep, SessionDep, session
from openovc.api.responses import JSON
from openovc.api.schemas import ERROR
from openovc.domain.auth import Role
from openovc.domain.errors import PermissionDenied

router = APIRouter(default_response_class=JSON, dependencies=[Depends(session)], tags=["snapshots"])

FILE_TYPE = "application/vnd.openovc.snapshot"
FILE_SUFFIX = ".openovc-snapshot"

_CLOCK = {"type": "object", "properties": {"mode": {"type": "string"}, "now": {"type": "string"}}}
_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
_SNAPSHOT = {
    "type": "object",
    "title": "snapshot",
    "properties": {
        "name": {"type": "string", "example": "clean"},
        "created_at": {"type": "string", "format": "date-time"},
        "clock": {**_CLOCK, "description": "the federation's clock as the snapshot holds it"},
        "counts": {**_COUNTS, "description": "objects per collection, and tasks"},
        "rows": {"type": "integer", "description": "rows of every table the snapshot holds"},
        "size": {"type": "integer", "description": "bytes of the snapshot file"},
        "schema_revision": {"type": "string"},
        "format_version": {"type": "integer"},
    },
}
_LIST = {"type": "object", "properties": {"snapshots": {"type": "array", "items": _SNAPSHOT}}}
_RESTORED = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "counts": _COUNTS,
        "rows": {"type": "integer", "description": "rows written in place of the federation's"},
        "clock": {**_CLOCK, "description": "the clock after the restore"},
    },
}
_NAME = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", "example": "clean"}
    },
}


def _answer(status: str, schema: dict[str, Any], conflict: str | None = None) -> dict[str, Any]:
    answers: dict[str, Any] = {
        status: {"description": "OK", "content": {"application/json": {"schema": schema}}}
    }
    if conflict is not None:
        answers["409"] = {"description": conflict, "content": {"application/json": {"schema": ERROR}}}
    return {"responses": answers}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _administrator(found: SessionDep) -> None:
    """Reads that hand out the whole federation are the administrator's too."""
    if found.role is not Role.ADMINISTRATOR:
        raise PermissionDenied(
            f"User {found.token.username} has a read-only role and may not perform this operation"
        )


@router.get("/snapshots", operation_id="listSnapshots", openapi_extra=_answer("200", _LIST))
async def list_snapshots(rt: RuntimeDep) -> JSON:
    """The saved snapshots, by name."""
    return JSON(await run_in_threadpool(rt.snapshots.saved))


@router.post(
    "/snapshots",
    operation_id="saveSnapshot",
    status_code=201,
    openapi_extra={**_body(_NAME), **_answer("201", _SNAPSHOT, "A snapshot of this name exists")},
)
async def save_snapshot(request: Request, rt: RuntimeDep) -> JSON:
    """Save the whole federation (its objects, tasks and clock) under a name."""
    body = await json_object(request)
    return JSON(await run_in_threadpool(rt.snapshots.save, body), status_code=201)


_IMPORT = {
    "requestBody": {
        "required": True,
        "content": {FILE_TYPE: {"schema": {"type": "string", "format": "binary"}}},
    },
    "parameters": [
        {
            "name": "name",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "the name to keep it under (default: the name it was saved under)",
        }
    ],
}


@router.post(
    "/snapshots/import",
    operation_id="importSnapshot",
    status_code=201,
    dependencies=[Depends(_administrator)],
    openapi_extra={**_IMPORT, **_answer("201", _SNAPSHOT, "A snapshot of this name exists")},
)
async def import_snapshot(request: Request, rt: RuntimeDep) -> JSON:
    """Keep a snapshot file exported by this or another server (SQLite or PostgreSQL); the body is the file."""
    data = await request.body()
    name = request.query_params.get("name")
    return JSON(await run_in_threadpool(rt.snapshots.import_file, data, name), status_code=201)


@router.get("/snapshots/{name}", operation_id="getSnapshot", openapi_extra=_answer("200", _SNAPSHOT))
async def get_snapshot(name: str, rt: RuntimeDep) -> JSON:
    """One saved snapshot."""
    return JSON(await run_in_threadpool(rt.snapshots.show, name))


@router.delete("/snapshots/{name}", operation_id="deleteSnapshot", openapi_extra=_answer("200", _SNAPSHOT))
async def delete_snapshot(name: str, rt: RuntimeDep) -> JSON:
    """Delete a saved snapshot; answers with what it was."""
    return JSON(await run_in_threadpool(rt.snapshots.delete, name))


@router.post(
    "/snapshots/{name}/restore", operation_id="restoreSnapshot", openapi_extra=_answer("200", _RESTORED)
)
async def restore_snapshot(name: str, rt: RuntimeDep) -> JSON:
    """Replace the federation by the snapshot's, in one transaction; users and their tokens stay."""
    return JSON(await run_in_threadpool(rt.snapshots.restore, name))


_FILE = {
    "responses": {
        "200": {
            "description": "The snapshot file",
            "content": {FILE_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


@router.get(
    "/snapshots/{name}/export",
    operation_id="exportSnapshot",
    dependencies=[Depends(_administrator)],
    openapi_extra=_FILE,
)
async def export_snapshot(name: str, rt: RuntimeDep) -> Response:
    """The snapshot as a file: versioned, compressed, checksummed, readable by any OpenOVC of its version."""
    data = await run_in_threadpool(rt.snapshots.export, name)
    disposition = f'attachment; filename="{name}{FILE_SUFFIX}"'  # a name holds no quote (domain/snapshots.py)
    return Response(data, media_type=FILE_TYPE, headers={"Content-Disposition": disposition})


@router.post(
    "/reset",
    operation_id="resetFederation",
    openapi_extra=_answer("200", _RESTORED, "No initial federation is kept"),
)
async def reset_federation(rt: RuntimeDep) -> JSON:
    """Back to the federation init or the first start generated or loaded, as restore does."""
    return JSON(await run_in_threadpool(rt.snapshots.reset))
