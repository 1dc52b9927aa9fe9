"""The clock's store, reading with the clock how many restores the store has seen, in the same statement.

Every process re-reads the shared clock at most every 50 ms whenever something asks the time
(services/clock.py), and a restore waits twice that before it answers, as a clock change does. Reading the
restores' count with the clock then costs no extra statement, and each process learns of a restore made
by another before it next answers from what it remembers of the federation (ended tasks, the
controller's id, the simulator's lookups): it forgets them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import orjson
from sqlalchemy import Engine, bindparam, select

from openovc.domain.clock import ClockState
from openovc.storage import tables
from openovc.storage.clock_store import CLOCK_KEY, SqlClockStore
from openovc.storage.prepared import Prepared
from openovc.storage.snapshots import RESTORES_KEY

_KV = tables.settings_kv
_KEYS = {"clock": CLOCK_KEY, "restores": RESTORES_KEY}


class WatchedClockStore(SqlClockStore):
    """SqlClockStore whose load() also notices a restore, and then calls `forget` (once per restore)."""

    def __init__(self, engine: Engine, forget: Callable[[], None]) -> None:
        super().__init__(engine)
        self._forget = forget
        self._both = Prepared(
            select(_KV.c.key, _KV.c.value).where(_KV.c.key.in_([bindparam("clock"), bindparam("restores")]))
        )
        self._seen: int | None = None
        self._lock = threading.Lock()

    def load(self) -> ClockState | None:
        with self.engine.connect() as conn:
            values = dict(self._both.tuples(conn, _KEYS))
        self.noticed(int(values.get(RESTORES_KEY) or 0))
        clock = values.get(CLOCK_KEY)
        return None if clock is None else ClockState(**orjson.loads(clock))

    def noticed(self, restores: int) -> None:
        """The store has seen `restores` restores: forget what was remembered if that is news."""
        with self._lock:
            news = self._seen is not None and restores != self._seen
            self._seen = restores
        if news:
            self._forget()
