"""The task census over the tasks table (domain/ports/task_census.py): counted in the database, so that every
server process sharing the store reports the same figures."""

from __future__ import annotations

from sqlalchemy import Engine, and_, bindparam, func, select

from openovc.domain.ports.task_census import TaskCount
from openovc.domain.tasks import TaskState
from openovc.storage import tables
from openovc.storage.engine import reads

_T = tables.tasks
_BY_STATE = select(_T.c.state, _T.c.operation, func.count()).group_by(_T.c.state, _T.c.operation)
_DUE = select(func.count()).where(
    and_(
        _T.c.state == TaskState.QUEUED.value,
        _T.c.not_before_ms <= bindparam("now"),
        _T.c.polls_left <= 0,
    )
)


class SqlTaskCensus:
    def __init__(self, engine: Engine) -> None:
        self._reads = reads(engine)

    def by_state_and_operation(self) -> list[TaskCount]:
        with self._reads.connect() as conn:
            return [TaskCount(str(s), str(o), int(n)) for s, o, n in conn.execute(_BY_STATE)]

    def due(self, now_ms: int) -> int:
        with self._reads.connect() as conn:
            return int(conn.execute(_DUE, {"now": now_ms}).scalar_one())
