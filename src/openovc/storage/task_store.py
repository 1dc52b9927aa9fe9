"""Tasks in the database: queueing, claiming with object locks, atomic completion, recovery."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache, partial
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    insert,
    select,
    text,
    update,
)

from openovc.domain.ports.federation import Record, Txn
from openovc.domain.task_listing import TaskListing
from openovc.domain.tasks import AffectedObject, TaskState
from openovc.storage import tables
from openovc.storage.engine import reads
from openovc.storage.group_commit import GroupCommit
from openovc.storage.prepared import Prepared
from openovc.storage.transaction import SqlTxn, write_transaction

_T = tables.tasks
_L = tables.task_locks
_S = tables.server_instances

Work = Callable[[Txn, Record], list[AffectedObject]]
# Every poll's read: prepared (see storage/prepared.py).
_GET = Prepared(select(_T).where(_T.c.id == bindparam("id")))


def _eligible() -> ColumnElement[bool]:
    """Queued, due at :now, and no earlier unfinished task holds one of its objects."""
    mine, theirs, other = _L.alias(), _L.alias(), _T.alias()
    blocked = exists(
        select(1)
        .select_from(
            mine.join(theirs, theirs.c.object_id == mine.c.object_id).join(
                other, other.c.id == theirs.c.task_id
            )
        )
        .where(
            mine.c.task_id == _T.c.id,
            other.c.id != _T.c.id,
            other.c.state == TaskState.QUEUED.value,
            other.c.seq < _T.c.seq,
        )
    )
    return and_(
        _T.c.state == TaskState.QUEUED.value,
        _T.c.not_before_ms <= bindparam("now"),
        _T.c.polls_left <= 0,
        ~blocked,
    )


# Built once: the worker and every poll run these.
_RUNNABLE = select(_T).where(_T.c.id == bindparam("id"), _eligible())
_DUE = select(_T.c.id).where(_eligible()).order_by(_T.c.seq).limit(bindparam("limit"))
# Only unfinished tasks hold objects: their lock rows go when they end.
_HELD_ONE = Prepared(select(exists().where(_L.c.object_id == bindparam("object_id")).label("held")))


# What a listing shows of a task (GET /api/tasks/{id}'s body and its progress), not what it is to do.
_LISTED = select(*(c for c in _T.c if c.name not in ("payload", "owner")))


def _listing(listing: TaskListing) -> Select[Any]:
    """Newest first: by the federation's time of submission, then `seq`, the order of submission across
    controllers within one instant (ix_tasks_created_seq serves both this order and `since`)."""
    stmt = _LISTED
    if listing.states:
        stmt = stmt.where(_T.c.state.in_(listing.states))
    if listing.operation is not None:
        stmt = stmt.where(_T.c.operation == listing.operation)
    if listing.since_ms is not None:
        stmt = stmt.where(_T.c.created_ms >= listing.since_ms)
    return stmt.order_by(_T.c.created_ms.desc(), _T.c.seq.desc()).limit(listing.limit)


@lru_cache(maxsize=8)
def _insert_task(columns: tuple[str, ...]) -> Prepared:
    return Prepared(insert(_T), columns)


# PostgreSQL binds any number of objects as one array, so one prepared statement serves every count.
_HELD_ANY = Prepared(
    text("SELECT 1 FROM task_locks WHERE object_id = ANY(CAST(:objects AS VARCHAR[])) LIMIT 1")
)


def _held(conn: Connection, locks: Sequence[str]) -> bool:
    """Whether an unfinished task holds one of these objects (prepared statements only)."""
    if conn.dialect.name == "postgresql":
        return bool(_HELD_ANY.tuples(conn, {"objects": list(locks)}))
    # One prepared lookup per object: an expanding IN list, rendered anew by SQLAlchemy each time, took
    # 44 us for a move's two objects; the two lookups take 8 us.
    return any(_HELD_ONE.tuples(conn, {"object_id": o})[0][0] for o in locks)


class SqlTaskStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = reads(engine)
        # SQLite has one writer at a time: tasks run at once share its turns and commits. PostgreSQL runs
        # tasks on other objects side by side (write_transaction's `objects`), each in its own transaction.
        self._group: GroupCommit[Record | None] | None = (
            GroupCommit(engine) if engine.dialect.name == "sqlite" else None
        )

    def insert(self, task: Record, locks: Sequence[str]) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            self._queue(conn, task, locks)

    @staticmethod
    def _queue(conn: Connection, task: Record, locks: Sequence[str]) -> None:
        conn.execute(insert(_T), task)
        if locks:
            conn.execute(insert(_L), [{"task_id": task["id"], "object_id": o} for o in dict.fromkeys(locks)])

    def insert_and_run(
        self,
        task: Record,
        locks: Sequence[str],
        end_time: str,
        work: Callable[[str, Txn, Record], list[AffectedObject]],
        *,
        scope: Sequence[str] | None = None,
    ) -> Record | None:
        """Run a new task and record it COMPLETED in one transaction: the task as it ended, or None when it
        was queued behind an earlier task instead.

        `scope`: everything it reads and writes, when it names it all: only that is locked. On SQLite it
        runs in a savepoint of a transaction shared with the tasks submitted meanwhile (GroupCommit).
        """

        def run(conn: Connection) -> Record | None:
            if locks and _held(conn, locks):
                self._queue(conn, task, locks)
                return None
            txn = SqlTxn(conn)
            affected = work(str(task["operation"]), txn, orjson.loads(task["payload"]))
            txn.finish()
            ended = {
                **task,
                "state": TaskState.COMPLETED.value,
                "percent_complete": 100,
                "end_time": end_time,
                "affected_objects": orjson.dumps([a.as_dict() for a in affected]).decode(),
            }
            _insert_task(tuple(ended)).run(conn, ended)
            return ended

        if self._group is not None:
            return self._group.run(run)
        with write_transaction(self.engine, objects=scope) as conn:
            return run(conn)

    def insert_ended(self, task: Record) -> None:
        """Record a task that ended before it was ever queued (it failed where it ran at once)."""
        if self._group is not None:
            self._group.run(partial(self._record, task))
            return
        with write_transaction(self.engine, exclusive=False) as conn:
            conn.execute(insert(_T), task)

    @staticmethod
    def _record(task: Record, conn: Connection) -> None:
        conn.execute(insert(_T), task)

    def get(self, task_id: str) -> Record | None:
        with self._reads.connect() as conn:
            rows = _GET.rows(conn, {"id": task_id})
        return rows[0] if rows else None

    def recent(self, listing: TaskListing) -> list[Record]:
        with self._reads.connect() as conn:
            return [dict(row) for row in conn.execute(_listing(listing)).mappings()]

    def note_poll(self, task_id: str) -> None:
        """A client polled: tasks paced by polls come one poll closer to running."""
        with write_transaction(self.engine, exclusive=False) as conn:
            conn.execute(
                update(_T)
                .where(_T.c.id == task_id, _T.c.state == TaskState.QUEUED.value, _T.c.polls_left > 0)
                .values(polls_left=_T.c.polls_left - 1)
            )

    def due(self, now_ms: int, limit: int) -> list[str]:
        with self._reads.connect() as conn:
            return [str(r[0]) for r in conn.execute(_DUE, {"now": now_ms, "limit": limit})]

    def run(
        self,
        task_id: str,
        now_ms: int,
        end_time: str,
        work: Callable[[str, Txn, Record], list[AffectedObject]],
    ) -> bool:
        """Run a due task and complete it in one transaction; False when it was not runnable."""
        with write_transaction(self.engine) as conn:
            row = conn.execute(_RUNNABLE, {"id": task_id, "now": now_ms}).first()
            if row is None:
                return False
            txn = SqlTxn(conn)
            affected = work(str(row.operation), txn, orjson.loads(row.payload))
            txn.finish()
            done = conn.execute(
                update(_T)
                .where(_T.c.id == task_id, _T.c.state == TaskState.QUEUED.value)
                .values(
                    state=TaskState.COMPLETED.value,
                    percent_complete=100,
                    end_time=end_time,
                    affected_objects=orjson.dumps([a.as_dict() for a in affected]).decode(),
                )
            ).rowcount
            if done != 1:
                raise RuntimeError(f"task {task_id} changed state while it ran")
            conn.execute(delete(_L).where(_L.c.task_id == task_id))
        return True

    def fail(self, task_id: str, error_code: int, message: str, end_time: str) -> bool:
        """End a queued task FAILED (compare-and-set: a final state is never overwritten)."""
        with write_transaction(self.engine, exclusive=False) as conn:
            changed = conn.execute(
                update(_T)
                .where(_T.c.id == task_id, _T.c.state == TaskState.QUEUED.value)
                .values(
                    state=TaskState.FAILED.value, error_code=error_code, message=message, end_time=end_time
                )
            ).rowcount
            conn.execute(delete(_L).where(_L.c.task_id == task_id))
        return bool(changed)

    def beat(self, instance_id: str, now_ms: int) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            if not conn.execute(
                update(_S).where(_S.c.id == instance_id).values(heartbeat_ms=now_ms)
            ).rowcount:
                conn.execute(insert(_S).values(id=instance_id, started_ms=now_ms, heartbeat_ms=now_ms))

    def leave(self, instance_id: str) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            conn.execute(delete(_S).where(_S.c.id == instance_id))

    def orphans(self, live_since_ms: int) -> list[str]:
        """Queued tasks whose accepting server has stopped beating (or is gone)."""
        alive = select(_S.c.id).where(_S.c.heartbeat_ms >= live_since_ms)
        with self.engine.connect() as conn:
            stmt = select(_T.c.id).where(_T.c.state == TaskState.QUEUED.value, _T.c.owner.not_in(alive))
            return [str(r[0]) for r in conn.execute(stmt)]

    def forget_dead_servers(self, live_since_ms: int) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            conn.execute(delete(_S).where(_S.c.heartbeat_ms < live_since_ms))
