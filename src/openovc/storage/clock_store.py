"""The federation clock's state in the server_state table (key `clock`), changed by compare-and-set."""

from __future__ import annotations

import dataclasses

import orjson
from sqlalchemy import Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from openovc.domain.clock import ClockState
from openovc.storage import tables

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
                dialect_insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
                stmt = (
                    dialect_insert(_KV).values(key=CLOCK_KEY, value=_encoded(state)).on_conflict_do_nothing()
                )
                return conn.execute(stmt).rowcount == 1
            where = (_KV.c.key == CLOCK_KEY, _KV.c.value == _encoded(expected))
            return conn.execute(update(_KV).where(*where).values(value=_encoded(state))).rowcount == 1
