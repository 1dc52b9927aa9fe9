"""GET /tasks/{taskId}: tasks stay readable after they end."""

from __future__ import annotations

import orjson
from fastapi import APIRouter

from ...domain.errors import ObjectNotFound
from ...domain.timefmt import EPOCH_TEXT
from ..deps import ReaderDep
from ..responses import JSON

router = APIRouter(prefix="/tasks", tags=["tasks"])


@router.get("/{taskId}", operation_id="getTask")
def get_task(taskId: str, reader: ReaderDep) -> JSON:
    task = reader.task(taskId)
    if task is None:
        raise ObjectNotFound("task", taskId)
    body: dict[str, object] = {
        "id": task["id"],
        "state": task["state"],
        "affected_objects": orjson.Fragment(str(task["affected_objects"])),
        "error_code": task["error_code"],
        "start_time": task["start_time"],
        "end_time": task["end_time"] or EPOCH_TEXT,
        "percent_complete": task["percent_complete"],
    }
    if task["state"] == "FAILED":
        body["message"] = body["error_message"] = task["message"] or ""
    return JSON({"task": body})
