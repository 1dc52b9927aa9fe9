"""GET /tasks/{taskId}: polling runs a due task first; tasks stay readable after they end."""

from __future__ import annotations

import orjson
from starlette.concurrency import run_in_threadpool

from openovc.api.deps import RuntimeDep, api_router
from openovc.api.responses import JSON
from openovc.api.schemas import TASK_ANSWER, answer
from openovc.domain.errors import ObjectNotFound
from openovc.domain.ports.federation import Record
from openovc.domain.tasks import TaskState
from openovc.domain.timefmt import EPOCH_TEXT
from openovc.operations.engine import TaskEngine

router = api_router("/tasks", tags=["tasks"])


def task_body(engine: TaskEngine, task: Record) -> dict[str, object]:
    """The TaskMO as every client reads it: a failed task carries both message and error_message."""
    state = TaskState(task["state"])
    body: dict[str, object] = {
        "id": task["id"],
        "state": state.wire,
        "affected_objects": orjson.Fragment(str(task["affected_objects"])),
        "error_code": task["error_code"],
        "start_time": task["start_time"],
        "end_time": task["end_time"] or EPOCH_TEXT,
        "percent_complete": engine.percent_complete(task),
    }
    if state is TaskState.FAILED:
        body["message"] = body["error_message"] = task["message"] or ""
    return body


@router.get("/{taskId}", operation_id="getTask", openapi_extra=answer(TASK_ANSWER))
async def get_task(taskId: str, rt: RuntimeDep) -> JSON:
    # A task that ended here lately is answered on the event loop; any other poll may run it, in the pool.
    task = rt.tasks.ended.get(taskId) or await run_in_threadpool(rt.tasks.poll, taskId)
    if task is None:
        raise ObjectNotFound("task", taskId)
    return JSON({"task": task_body(rt.tasks, task)})
