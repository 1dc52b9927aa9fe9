"""Fault rules (table fault_rules) and run-time task pacing (server_state): implements domain.ports.faults."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, bindparam, delete, func, insert, select, update

from openovc.domain.ports.faults import StoredRule
from openovc.storage import tables
from openovc.storage.engine import reads
from openovc.storage.prepared import upsert_statement
from openovc.storage.transaction import write_transaction

_F = tables.fault_rules
_KV = tables.settings_kv
GENERATION_KEY = "faults"
PACING_KEY = "task_pacing"
_MAY_FIRE = (_F.c.limit_count.is_(None)) | (_F.c.fired < _F.c.limit_count)


class SqlFaultStore:
    """The rules every process applies; a generation in server_state says when they last changed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reads = reads(engine)
        self._generation = select(_KV.c.value).where(_KV.c.key == GENERATION_KEY)
        self._claim = (
            update(_F)
            .where(_F.c.id == bindparam("rule_id"), _MAY_FIRE)
            .values(seen=_F.c.seen + 1)
            .returning(_F.c.seen)
        )
        self._fire = update(_F).where(_F.c.id == bindparam("rule_id"), _MAY_FIRE).values(fired=_F.c.fired + 1)

    def generation(self) -> str | None:
        with self.reads.connect() as conn:
            return conn.execute(self._generation).scalar_one_or_none()

    def load(self) -> list[StoredRule]:
        with self.reads.connect() as conn:
            rows = conn.execute(select(_F.c.id, _F.c.rule, _F.c.fired).order_by(_F.c.position)).all()
        return [StoredRule(r.id, orjson.loads(r.rule), int(r.fired)) for r in rows]

    def add(self, rule_id: str, rule: dict[str, Any], count: int | None) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            self._insert(conn, [(rule_id, rule, count)])
            self._changed(conn)

    def remove(self, rule_id: str) -> StoredRule | None:
        with write_transaction(self.engine, exclusive=False) as conn:
            row = conn.execute(
                delete(_F).where(_F.c.id == rule_id).returning(_F.c.id, _F.c.rule, _F.c.fired)
            ).first()
            if row is None:
                return None
            self._changed(conn)
        return StoredRule(row.id, orjson.loads(row.rule), int(row.fired))

    def replace(self, rules: Sequence[tuple[str, dict[str, Any], int | None]]) -> int:
        with write_transaction(self.engine, exclusive=False) as conn:
            removed = conn.execute(delete(_F)).rowcount
            self._insert(conn, rules)
            self._changed(conn)
        return removed

    def claim(self, rule_id: str) -> int | None:
        with write_transaction(self.engine, exclusive=False) as conn:
            seen = conn.execute(self._claim, {"rule_id": rule_id}).scalar_one_or_none()
        return None if seen is None else int(seen)

    def fire(self, rule_id: str) -> bool:
        with write_transaction(self.engine, exclusive=False) as conn:
            return conn.execute(self._fire, {"rule_id": rule_id}).rowcount == 1

    def _insert(self, conn: Connection, rules: Sequence[tuple[str, dict[str, Any], int | None]]) -> None:
        if not rules:
            return
        # Positions follow the newest rule's: the table's order is the order rules were added.
        last = conn.execute(select(func.max(_F.c.position))).scalar_one_or_none() or 0
        conn.execute(
            insert(_F),
            [
                {"id": rule_id, "position": last + n, "rule": orjson.dumps(rule).decode(), "seen": 0,
                 "fired": 0, "limit_count": count}
                for n, (rule_id, rule, count) in enumerate(rules, start=1)
            ],
        )  # fmt: skip

    @staticmethod
    def _changed(conn: Connection) -> None:
        upsert = upsert_statement(conn.dialect.name, _KV, ("key", "value"))
        upsert.run(conn, {"key": GENERATION_KEY, "value": uuid.uuid4().hex})


class SqlPacingStore:
    """The task pacing set at run time (GET/PUT /_openovc/pacing), one row of server_state."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reads = reads(engine)
        self._read = select(_KV.c.value).where(_KV.c.key == PACING_KEY)

    def load(self) -> str | None:
        with self.reads.connect() as conn:
            return conn.execute(self._read).scalar_one_or_none()

    def save(self, table: str | None) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            if table is None:
                conn.execute(delete(_KV).where(_KV.c.key == PACING_KEY))
            else:
                upsert_statement(conn.dialect.name, _KV, ("key", "value")).run(
                    conn, {"key": PACING_KEY, "value": table}
                )
