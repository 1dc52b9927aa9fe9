"""The federation clock's state in the server_state table (key `clock`), changed by compare-and-set."""

from __future__ import annotations

import dataclasses

import orjson
from sqlalchemy import Engine, select, update

from openovc.domain.clock import ClockState
from openovc.storage import tables
from openovc.storage.prepared import new_row_statement

CLOCK_KEY = "clock"
_KV = tables.settings_kv


def _encoded(state: ClockState) -> str:
    return orjson.dumps(dataclasses.asdict(state), option=orjson.OPT_SORT_KEYS).decode()


class SqlClockStore:
    """ClockStore over an engine: one small row, read by every process that asks the time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = select(_KV.c.value).where(_KV.c.key == CLOCK_KEY)

    def load(self) -> ClockState | None:
        with self.engine.connect() as conn:
            value = conn.execute(self._read).scalar_one_or_none()
        return None if value is None else ClockState(**orjson.loads(value))

    def save(self, state: ClockState, expected: ClockState | None) -> bool:
        with self.engine.begin() as conn:
            if expected is None:
                new = new_row_statement(conn.dialect.name, _KV, ("key", "value"))
                return new.run(conn, {"key": CLOCK_KEY, "value": _encoded(state)}) == 1
            where = (_KV.c.key == CLOCK_KEY, _KV.c.value == _encoded(expected))
            return conn.execute(update(_KV).where(*where).values(value=_encoded(state))).rowcount == 1
