"""Tasks as stored: inserted, run in their own transaction, ended, and claimed by live servers; storage implements it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from openovc.domain.ports.federation import Record, Txn
from openovc.domain.task_listing import TaskListing
from openovc.domain.tasks import AffectedObject


class TaskStore(Protocol):
    def insert(self, task: Record, locks: Sequence[str]) -> None: ...

    def insert_and_run(
        self,
        task: Record,
        locks: Sequence[str],
        end_time: str,
        work: Callable[[str, Txn, Record], list[AffectedObject]],
        *,
        scope: Sequence[str] | None = None,
    ) -> Record | None: ...

    def insert_ended(self, task: Record) -> None: ...

    def get(self, task_id: str) -> Record | None: ...

    def recent(self, listing: TaskListing) -> list[Record]:
        """The newest tasks the listing asks for, newest first (those of every server on the store)."""
        ...

    def note_poll(self, task_id: str) -> None: ...

    def due(self, now_ms: int, limit: int) -> list[str]: ...

    def run(
        self,
        task_id: str,
        now_ms: int,
        end_time: str,
        work: Callable[[str, Txn, Record], list[AffectedObject]],
    ) -> bool: ...

    def fail(self, task_id: str, error_code: int, message: str, end_time: str) -> bool: ...

    def beat(self, instance_id: str, now_ms: int) -> None: ...

    def leave(self, instance_id: str) -> None: ...

    def orphans(self, live_since_ms: int) -> list[str]: ...

    def forget_dead_servers(self, live_since_ms: int) -> None: ...
