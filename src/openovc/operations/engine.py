"""Submits operations as tasks, runs them when due (on a poll or from the worker), and recovers orphans."""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import orjson

from openovc.domain.clock import Clock
from openovc.domain.ports.federation import Record, Txn
from openovc.domain.ports.tasks import TaskStore
from openovc.domain.tasks import AffectedObject, Codes, PacingMode, PacingTable, TaskFailure, TaskState
from openovc.domain.timefmt import epoch_ms, to_text

log = logging.getLogger(__name__)

Handler = Callable[[Txn, Mapping[str, Any], datetime], list[AffectedObject]]

# A server that has not beaten for this long is taken for dead, and the tasks it accepted fail.
HEARTBEAT_MS = 2_000
DEAD_AFTER_MS = 15_000
ORPHAN_MESSAGE = (
    "The Virtual Controller that accepted this task stopped before the task finished; nothing was changed."
)

# Fault rules' task errors (api/faults.py sets this around a request): asked at each submit, it gives the
# failure the task is to end with, if a rule fires. The task then runs as usual and ends FAILED with it,
# having changed nothing; the failure travels in the stored payload, under FAULT_KEY, so that whichever
# process runs the task fails it.
TASK_FAULT: ContextVar[Callable[[], TaskFailure | None] | None] = ContextVar("task_fault", default=None)
FAULT_KEY = "_openovc_fault"


class EndedTasks:
    """The tasks that ended lately, as they ended: a final state never changes, so a poll of one is answered
    from memory (a client polls the server that accepted its task, which also ran it)."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._tasks: dict[str, Record] = {}
        self._lock = threading.Lock()
        # Called before each answer from memory: the composition root's notices a snapshot restored by
        # any server process, and then clears this memory (a restore replaces the stored tasks).
        self.fresh: Callable[[], object] = lambda: None

    def remember(self, task: Record) -> None:
        assert task["state"] != TaskState.QUEUED.value, "only a final state never changes"
        with self._lock:
            self._tasks[str(task["id"])] = task
            if len(self._tasks) > self._capacity:
                del self._tasks[next(iter(self._tasks))]  # the oldest: dicts keep insertion order

    def get(self, task_id: str) -> Record | None:
        self.fresh()
        return self._tasks.get(task_id)

    def clear(self) -> None:
        with self._lock:
            self._tasks.clear()


class TaskEngine:
    """The one way state changes: submit() queues a task, run() performs it atomically."""

    def __init__(
        self,
        store: TaskStore,
        clock: Clock,
        pacing: PacingTable,
        controller_id: Callable[[], str],
        wall: Clock | None = None,
    ) -> None:
        """`clock`: the federation's time (task times, pacing); `wall`: real time, by which servers beat
        and are found dead, whatever the federation's clock does (the same clock unless given)."""
        self.store = store
        self.clock = clock
        self.wall = wall or clock
        self.pacing = pacing
        self.instance_id = str(uuid.uuid4())
        self._controller_id = controller_id
        self._handlers: dict[str, Handler] = {}
        self._rng = random.Random()
        self._seq_lock = threading.Lock()
        self._last_seq = 0
        self.wake = threading.Event()
        self.ended = EndedTasks()

    def register(self, operation: str, handler: Handler) -> None:
        self._handlers[operation] = handler

    def operations(self) -> list[str]:
        """The operations it runs as tasks."""
        return sorted(self._handlers)

    def now_ms(self) -> int:
        return epoch_ms(self.clock.now())

    def _next_seq(self) -> int:
        # Wall-clock nanoseconds order tasks across controllers; the lock keeps them unique here.
        with self._seq_lock:
            self._last_seq = max(self._last_seq + 1, time.time_ns())
            return self._last_seq

    def submit(
        self,
        operation: str,
        payload: Mapping[str, Any],
        locks: Sequence[str],
        *,
        scope: Sequence[str] | None = None,
    ) -> Record:
        """Queue an operation (its quick checks already passed) and return the new task.

        `locks`: the objects it works on; tasks on one object run one after another, in order.
        `scope`: when given, every object (and name key, see services.common.name_key) its handler reads
        and then writes; when it runs at once it then runs beside tasks on other objects (on PostgreSQL;
        SQLite has one writer). Without it, it excludes every other operation while it runs.
        """
        assert operation in self._handlers, f"no handler for {operation}"
        fault = TASK_FAULT.get()
        injected = None if fault is None else fault()
        if injected is not None:
            payload = {**payload, FAULT_KEY: [injected.error_code, injected.message]}
        pacing = self.pacing.for_operation(operation)
        now = self.now_ms()
        delay_ms = int(pacing.delay(self._rng) * 1000)
        vc = self._controller_id()
        task: Record = {
            "id": f"{vc}:{vc}:{uuid.uuid4()}",
            "state": TaskState.QUEUED.value,
            "percent_complete": 0,
            "start_time": to_text(self.clock.now()),
            "end_time": None,
            "error_code": 0,
            "message": None,
            "affected_objects": "[]",
            "operation": operation,
            "payload": orjson.dumps(payload).decode(),
            "seq": self._next_seq(),
            "owner": self.instance_id,
            "created_ms": now,
            "not_before_ms": now + delay_ms,
            "duration_ms": delay_ms,
            "polls_left": pacing.polls if pacing.mode is PacingMode.POLLS else 0,
        }
        # Either way the 202 shows the task as submitted, IN_PROGRESS, as the real one does.
        if delay_ms > 0 or task["polls_left"] > 0:
            self.store.insert(task, locks)
            self.wake.set()
        elif not self._ran_at_once(task, locks, scope):
            self.wake.set()
        return task

    def _ran_at_once(self, task: Record, locks: Sequence[str], scope: Sequence[str] | None) -> bool:
        """A task due at once runs in the transaction that records it, unless an earlier one holds its objects.

        False: it was queued behind that earlier task instead. Either way it is stored before the 202 is sent.
        """
        end = to_text(self.clock.now())
        try:
            ended = self.store.insert_and_run(task, locks, end, self._work, scope=scope)
        except TaskFailure as failure:
            code, message = failure.error_code, failure.message
        except Exception:
            log.exception("task %s crashed", task["id"])
            code, message = Codes.SERVER_DIED, "An internal error occurred while running the task."
        else:
            if ended is None:
                return False
            self.ended.remember(ended)
            return True
        # What the operation wrote was rolled back with its transaction; the failure is recorded apart.
        failed = {
            **task,
            "state": TaskState.FAILED.value,
            "error_code": code,
            "message": message,
            "end_time": end,
        }
        self.store.insert_ended(failed)
        self.ended.remember(failed)
        return True

    def poll(self, task_id: str) -> Record | None:
        """A client reads a task: count the poll, run it first if it is due, then answer."""
        task = self.ended.get(task_id)
        if task is not None:
            return task
        task = self.store.get(task_id)
        if task is None:
            return None
        if task["state"] != TaskState.QUEUED.value:
            self.ended.remember(task)
            return task
        if task["polls_left"] > 0:
            self.store.note_poll(task_id)
        elif task["not_before_ms"] > self.now_ms():
            return task  # not due yet: nothing to try
        ran = self.run(task_id)
        # Re-read only when something changed: it ran, or its poll count went down.
        if not ran and task["polls_left"] <= 0:
            return task
        after = self.store.get(task_id)
        if after is not None and after["state"] != TaskState.QUEUED.value:
            self.ended.remember(after)
        return after

    def run(self, task_id: str) -> bool:
        """Run one task if it is due and its objects are free; True when it ended."""
        now = self.now_ms()
        end = to_text(self.clock.now())
        try:
            return self.store.run(task_id, now, end, self._work)
        except TaskFailure as failure:
            return self.store.fail(task_id, failure.error_code, failure.message, end)
        except Exception:
            log.exception("task %s crashed", task_id)
            return self.store.fail(
                task_id, Codes.SERVER_DIED, "An internal error occurred while running the task.", end
            )

    def _work(self, operation: str, txn: Txn, payload: Record) -> list[AffectedObject]:
        fault = payload.get(FAULT_KEY)
        if fault is not None:
            raise TaskFailure(int(fault[0]), str(fault[1]))
        handler = self._handlers.get(operation)
        if handler is None:
            raise TaskFailure(Codes.INVALID_ARGUMENT, f"This server cannot run {operation} tasks.")
        return handler(txn, payload, self.clock.now())

    def run_due(self, limit: int = 50) -> int:
        """Run the tasks that are due now, and those they unblock (the worker's loop body); returns how many ended."""
        ended = 0
        while ended < limit:
            ran = sum(self.run(task_id) for task_id in self.store.due(self.now_ms(), limit - ended))
            if not ran:
                break
            ended += ran
        return ended

    def due_by(self, at_ms: int) -> bool:
        """Whether a task is due to run by `at_ms` (simulated epoch ms)."""
        return bool(self.store.due(at_ms, 1))

    def wall_ms(self) -> int:
        return epoch_ms(self.wall.now())

    def beat(self) -> None:
        self.store.beat(self.instance_id, self.wall_ms())

    def recover(self, *, alone: bool = False) -> int:
        """Fail the queued tasks of servers that stopped; they had changed nothing.

        `alone`: no other server shares this store (SQLite), so every other server is dead now.
        """
        live_since = self.wall_ms() if alone else self.wall_ms() - DEAD_AFTER_MS
        end = to_text(self.clock.now())
        failed = sum(
            self.store.fail(t, Codes.SERVER_DIED, ORPHAN_MESSAGE, end) for t in self.store.orphans(live_since)
        )
        self.store.forget_dead_servers(live_since)
        return failed

    def percent_complete(self, task: Record) -> int:
        """Progress of a queued task from its pacing: elapsed share of its duration."""
        if task["state"] != TaskState.QUEUED.value:
            return int(task["percent_complete"])
        duration = int(task["duration_ms"])
        if duration <= 0:
            return 0
        elapsed = self.now_ms() - int(task["created_ms"])
        return max(0, min(99, elapsed * 100 // duration))
