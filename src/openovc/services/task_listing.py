"""Listing the federation's tasks (GET /_openovc/tasks): HPE's API reads one task by id, never a list."""

from __future__ import annotations

from collections.abc import Mapping

from openovc.domain.ports.federation import Record
from openovc.domain.task_listing import parse_task_listing
from openovc.operations.engine import TaskEngine


def recent_tasks(engine: TaskEngine, params: Mapping[str, str]) -> list[Record]:
    """The newest tasks of every server on the store that the query string asks for, newest first.

    A read only: unlike a poll of one task, it neither counts as a poll nor runs a task that is due.
    """
    listing = parse_task_listing(params, engine.operations())
    return engine.store.recent(listing)
