"""Group commit on SQLite: the tasks that wait for the writers' turn run in one transaction, one commit."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from sqlalchemy import Connection, Engine

from openovc.storage.transaction import write_transaction

T = TypeVar("T")

# Enough to share a commit among every client a server process serves at once; few enough that the
# first of them does not wait long for the last.
BATCH_LIMIT = 16


class _Request(Generic[T]):
    """One caller's work, and what became of it."""

    __slots__ = ("context", "done", "error", "lead", "ready", "result", "work")

    def __init__(self, work: Callable[[Connection], T]) -> None:
        self.work = work
        # The work runs on whichever thread leads: in its caller's context (a request's context variables).
        self.context = contextvars.copy_context()
        self.ready = threading.Event()  # set when done, or when asked to lead
        self.lead = False
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None


class GroupCommit(Generic[T]):
    """Runs each caller's work in a savepoint of a write transaction shared with the callers that queued
    meanwhile, and commits once for all of them.

    On SQLite one writer runs at a time, and a task's transaction waited for the writers' turn much longer
    than it took: whoever gets the turn now runs the queued work too, so a turn and a commit (its log
    writes, its share of checkpoints) serve several tasks. Each work still succeeds or fails alone: one
    that raises is rolled back to its savepoint and its caller gets the exception; the others commit. A
    caller returns only once the commit that holds its work is done, so what it answers is durable as a
    transaction of its own would be. Callers are served in the order they came.
    """

    def __init__(self, engine: Engine, limit: int = BATCH_LIMIT) -> None:
        self._engine = engine
        self._limit = limit
        self._lock = threading.Lock()
        self._queue: list[_Request[T]] = []
        self._leading = False
        self._local = threading.local()

    def run(self, work: Callable[[Connection], T]) -> T:
        """work(conn) inside a shared write transaction; its result once committed, or its exception."""
        if getattr(self._local, "leading", False):
            # It would wait for the batch it is part of (as a second write transaction of a thread waits
            # for its first on SQLite).
            raise RuntimeError("a write transaction's work cannot start another")
        request = _Request(work)
        with self._lock:
            self._queue.append(request)
            leads = not self._leading
            self._leading = True
        if leads:
            self._lead()
        while not request.done:
            request.ready.wait()
            request.ready.clear()
            if request.lead and not request.done:
                request.lead = False
                self._lead()
        if request.error is not None:
            raise request.error
        return request.result  # type: ignore[return-value]  # done without an error: the work's result

    def _lead(self) -> None:
        """Take the writers' turn, run the queued work (what queues meanwhile too, up to the limit), commit,
        then hand the lead to the next caller waiting, if any."""
        batch: list[_Request[T]] = []
        self._local.leading = True
        try:
            while len(batch) < self._limit and self._transaction(batch):
                pass  # the first work of that transaction failed, and it was rolled back: another one
        except BaseException as exc:
            # No turn, or the commit failed: nothing of the batch holds. With no batch yet, the waiting
            # callers get the failure rather than a turn that cannot be had.
            batch += self._take(self._limit - len(batch))
            for request in batch:
                request.error = request.error or exc
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and the like stop the thread that leads (the finally runs)
        finally:
            self._local.leading = False
            with self._lock:
                for request in batch:
                    request.done = True
                    request.ready.set()
                if self._queue:
                    following = self._queue[0]
                    following.lead = True
                    following.ready.set()
                else:
                    self._leading = False

    def _transaction(self, batch: list[_Request[T]]) -> bool:
        """One transaction of the batch; True when it ended early, its first work failed and rolled back.

        The first work runs without a savepoint (it costs SQLite a copy of each page it changes, a tenth
        of a millisecond per task): should it fail, nothing else is in the transaction yet.
        """
        try:
            with write_transaction(self._engine) as conn:
                first = True
                while len(batch) < self._limit:
                    taken = self._take(1)
                    if not taken:
                        break
                    batch += taken
                    if not first:
                        _attempt(conn, taken[0])
                        continue
                    first = False
                    try:
                        taken[0].result = taken[0].context.run(taken[0].work, conn)
                    except Exception as exc:
                        taken[0].error = exc
                        raise _FirstFailed from exc
        except _FirstFailed:
            return True
        return False

    def _take(self, count: int) -> list[_Request[T]]:
        with self._lock:
            taken = self._queue[:count]
            del self._queue[:count]
        return taken


class _FirstFailed(Exception):
    """Rolls back a transaction whose first work failed."""


def _attempt(conn: Connection, request: _Request[T]) -> None:
    """The request's work in a savepoint of its own, on the driver's connection: SQLAlchemy's nested
    transactions cost a task a tenth of a millisecond more, and the work never ends this one itself."""
    driver = conn.connection.dbapi_connection
    assert driver is not None, "an open connection"
    driver.execute("SAVEPOINT task")
    try:
        request.result = request.context.run(request.work, conn)
    except Exception as exc:
        request.error = exc
        driver.execute("ROLLBACK TO task")
    driver.execute("RELEASE task")
