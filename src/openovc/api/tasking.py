"""The 202 answer of every operation that runs as a task."""

from __future__ import annotations

from openovc.api.responses import JSON
from openovc.api.routes.tasks import task_body
from openovc.domain.ports.federation import Record
from openovc.operations.engine import TaskEngine


def accepted(engine: TaskEngine, task: Record) -> JSON:
    return JSON({"task": task_body(engine, task)}, status_code=202)
