"""How many tasks the store holds, by state and operation, for the server's own metrics; storage implements it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class TaskCount:
    """The tasks of one operation in one stored state (QUEUED, COMPLETED or FAILED)."""

    state: str
    operation: str
    count: int


class TaskCensus(Protocol):
    def by_state_and_operation(self) -> list[TaskCount]:
        """Every (state, operation) pair the store holds, with its count."""
        ...

    def due(self, now_ms: int) -> int:
        """Queued tasks that are due at `now_ms` (their pacing allows them to run), not yet run."""
        ...
