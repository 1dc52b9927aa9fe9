"""GET /_openovc/tasks: the federation's tasks, newest first, as GET /api/tasks/{taskId} shows each, with
the operation each performs.

HPE's API has no task listing: a client polls the ids its own calls were answered with. This read shows
every task of every server on the store, to any valid user; a task some other client started is known
only by its id, so each also names its operation (never in HPE's own task answers).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from openovc.api.deps import RuntimeDep, session
from openovc.api.responses import JSON
from openovc.api.routes.tasks import task_body
from openovc.api.schemas import ERROR, LISTED_TASK
from openovc.domain.ports.federation import Record
from openovc.domain.task_listing import DEFAULT_LIMIT, MAX_LIMIT, WIRE_STATES
from openovc.operations.engine import TaskEngine
from openovc.services.task_listing import recent_tasks

router = APIRouter(default_response_class=JSON, dependencies=[Depends(session)], tags=["tasks"])


def _parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_LISTING = {
    # The route reads its query string itself (services/task_listing.py), so the document names it here.
    "parameters": [
        _parameter(
            "state",
            {"type": "string", "example": "IN_PROGRESS,FAILED"},
            f"a comma list of {', '.join(WIRE_STATES)} (default: any)",
        ),
        _parameter(
            "operation",
            {"type": "string", "example": "virtual_machine.clone"},
            "the operation the task performs, as task pacing names it",
        ),
        _parameter(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            "how many tasks at most",
        ),
        _parameter(
            "since",
            {"type": "string", "format": "date-time"},
            "only tasks submitted at or after this instant of the federation's clock",
        ),
    ],
    "responses": {
        "200": {
            "description": "OK",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"tasks": {"type": "array", "items": LISTED_TASK}},
                        "required": ["tasks"],
                        "title": "task_listing",
                    }
                }
            },
        },
        "400": {"description": "A bad parameter", "content": {"application/json": {"schema": ERROR}}},
    },
}


def listed(engine: TaskEngine, task: Record) -> dict[str, object]:
    """A task as a poll of it shows it, and the operation it performs (as the `operation` filter names it)."""
    return {**task_body(engine, task), "operation": task["operation"]}


@router.get("/tasks", operation_id="listTasks", openapi_extra=_LISTING)
async def list_tasks(request: Request, rt: RuntimeDep) -> JSON:
    """Every server's tasks, newest first; reading them neither counts as a poll nor runs a due task."""
    found = await run_in_threadpool(recent_tasks, rt.tasks, request.query_params)
    return JSON({"tasks": [listed(rt.tasks, task) for task in found]})
