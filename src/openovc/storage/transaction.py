"""Write transactions: serialised across threads and controllers, and the Txn port over them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that reads and then writes without another writer in between."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            if engine.dialect.name == "postgresql":
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
