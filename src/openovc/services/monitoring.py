"""What the server's own metrics read from the store: tasks by state and operation, the queue, the schedule's lag."""

from __future__ import annotations

from dataclasses import dataclass

from openovc.domain.ports.task_census import TaskCensus
from openovc.domain.tasks import TaskState
from openovc.services.clock import SharedClock
from openovc.services.schedule import PolicyScheduler


@dataclass(frozen=True)
class Census:
    """One reading: figures of the whole store, the same whichever server process takes it."""

    tasks: dict[tuple[str, str], int]  # (state as clients see it, operation) -> tasks
    queued: int  # tasks IN_PROGRESS: accepted, not yet run
    due: int  # of those, the ones whose pacing lets them run now, waiting for the engine
    scheduler_lag_s: float  # simulated seconds from the schedule's earliest unfired due slot to now


class Monitoring:
    """Takes a census of the store for /_openovc/metrics."""

    def __init__(self, census: TaskCensus, clock: SharedClock, scheduler: PolicyScheduler) -> None:
        self._census = census
        self._clock = clock
        self._scheduler = scheduler

    def census(self) -> Census:
        tasks: dict[tuple[str, str], int] = {}
        for found in self._census.by_state_and_operation():
            key = (TaskState(found.state).wire, found.operation)
            tasks[key] = tasks.get(key, 0) + found.count
        queued = sum(n for (state, _), n in tasks.items() if state == TaskState.QUEUED.wire)
        return Census(
            tasks=tasks,
            queued=queued,
            due=self._census.due(self._clock.now_ms()),
            scheduler_lag_s=self._scheduler.lag_ms() / 1000,
        )
