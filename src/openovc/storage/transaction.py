"""Write transactions: serialised across threads and controllers, and the Txn port over them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Select, bindparam, delete, func, insert, select, update

from ..domain.catalog import BY_PLURAL
from ..domain.fields import Collection, Kind
from ..domain.operations_ports import OperationsState
from ..domain.ports import Record
from . import tables
from .rows import as_record

# One advisory lock serialises read-modify-write transactions on PostgreSQL, as SQLite's single
# writer does, so invariants that span objects (unique names, capacity) hold across controllers.
_PG_WRITE_LOCK = 7243002


_PROCESS_LOCKS: dict[str, threading.RLock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


def _process_lock(engine: Engine) -> threading.RLock:
    key = engine.url.render_as_string(hide_password=True)
    with _PROCESS_LOCKS_GUARD:
        return _PROCESS_LOCKS.setdefault(key, threading.RLock())


@contextmanager
def write_transaction(engine: Engine, *, exclusive: bool = True) -> Iterator[Connection]:
    """A transaction that writes; `exclusive`: it reads first, and no other writer may come between.

    On SQLite the writers of one process queue on a lock first: a thread then wakes the moment the
    previous writer commits, instead of sleeping in SQLite's busy handler (1 to 100 ms at a time).
    On PostgreSQL only exclusive transactions take the federation-wide advisory lock; a plain write
    (a task record, a heartbeat) relies on the database's own row locks.
    """
    sqlite = engine.dialect.name == "sqlite"
    with _process_lock(engine) if sqlite else nullcontext(), engine.connect() as conn:
        if sqlite:
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if exclusive and not sqlite:
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_WRITE_LOCK})")
            yield conn


@lru_cache(maxsize=256)
def find_statement(plural: str, key: str, fields: tuple[str, ...]) -> Select[Any]:
    """SELECT * WHERE each field = :field, built once: tasks run the same few lookups over and over."""
    table = tables.COLLECTION_TABLES[plural]
    return select(table).where(*(table.c[f] == bindparam(f) for f in fields)).order_by(table.c[key])


@lru_cache(maxsize=64)
def _json_fields_of(plural: str) -> frozenset[str]:
    return frozenset(f.name for f in BY_PLURAL[plural].fields if f.kind is Kind.JSON)


def _json_fields(coll: Collection) -> frozenset[str]:
    return _json_fields_of(coll.plural)


class SqlTxn:
    """The Txn port on one open connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def _decode(self, coll: Collection, record: Record) -> Record:
        for name in _json_fields(coll):
            value = record.get(name)
            if isinstance(value, str):
                record[name] = orjson.loads(value)
        return record

    def _encode(self, coll: Collection, values: Record) -> Record:
        json_fields = _json_fields(coll)
        return {
            k: (orjson.dumps(v).decode() if k in json_fields and v is not None else v)
            for k, v in values.items()
        }

    def get(self, coll: Collection, key: str) -> Record | None:
        found = self.find(coll, **{coll.key: key})
        return found[0] if found else None

    def find(self, coll: Collection, **equals: object) -> list[Record]:
        stmt = find_statement(coll.plural, coll.key, tuple(sorted(equals)))
        return [self._decode(coll, as_record(row)) for row in self.conn.execute(stmt, equals)]

    def count(self, coll: Collection, **equals: object) -> int:
        table = tables.COLLECTION_TABLES[coll.plural]
        stmt = select(func.count()).select_from(table).where(*(table.c[k] == v for k, v in equals.items()))
        return int(self.conn.execute(stmt).scalar_one())

    def insert(self, coll: Collection, record: Record) -> None:
        self.conn.execute(insert(tables.COLLECTION_TABLES[coll.plural]).values(**self._encode(coll, record)))

    def update(self, coll: Collection, key: str, values: Record) -> None:
        self.update_where(coll, {coll.key: key}, values)

    def update_where(self, coll: Collection, equals: Record, values: Record) -> int:
        table = tables.COLLECTION_TABLES[coll.plural]
        stmt = (
            update(table)
            .where(*(table.c[k] == v for k, v in equals.items()))
            .values(**self._encode(coll, values))
        )
        return int(self.conn.execute(stmt).rowcount)

    def state(self) -> OperationsState:
        # Imported here: operations_state builds on this module's transactions.
        from .operations_state import SqlOperationsState

        return SqlOperationsState(self.conn)

    def delete(self, coll: Collection, key: str) -> bool:
        table = tables.COLLECTION_TABLES[coll.plural]
        return bool(self.conn.execute(delete(table).where(table.c[coll.key] == key)).rowcount)
