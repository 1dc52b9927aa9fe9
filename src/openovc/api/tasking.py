"""The 202 answer of every operation that runs as a task."""

from __future__ import annotations

from ..domain.ports import Record
from ..operations.engine import TaskEngine
from .responses import JSON
from .routes.tasks import task_body


def accepted(engine: TaskEngine, task: Record) -> JSON:
    return JSON({"task": task_body(engine, task)}, status_code=202)
