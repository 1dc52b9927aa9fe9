"""Write transactions: serialised across threads and controllers, and the Txn port over them."""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, cast

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Table,
    bindparam,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from openovc.domain.catalog import BY_PLURAL
from openovc.domain.fields import Collection, Kind
from openovc.domain.ports.federation import Page, R, Record, Txn
from openovc.domain.ports.operations import OperationsState
from openovc.domain.query import CollectionQuery
from openovc.simulator.content.model import ContentModel
from openovc.storage import libpq, querying, tables, upkeep
from openovc.storage.content_store import SqlPieceLedger
from openovc.storage.operations_state import SqlOperationsState
from openovc.storage.prepared import Prepared, array_type, equal_to_binds, in_json_array, json_array

# One advisory lock serialises read-modify-write transactions on PostgreSQL, as SQLite's single
# writer does, so invariants that span objects (unique names, capacity) hold across controllers.
# Transactions that name every object they read-modify-write hold it shared, and their objects'
# locks (two-integer keys of class _PG_OBJECT_CLASS: a key space apart from the one-bigint lock).
_PG_WRITE_LOCK = 7243002
_PG_OBJECT_CLASS = 7243


def _object_lock_key(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "big", signed=True)


@lru_cache(maxsize=16)
def _object_locks_text(count: int) -> bytes:
    calls = ["pg_advisory_xact_lock_shared($1::bigint)"]
    calls += [f"pg_advisory_xact_lock(${2 * i + 2}::int, ${2 * i + 3}::int)" for i in range(count)]
    return ("SELECT " + ", ".join(calls)).encode()


def _object_locks_statement(keys: Sequence[str]) -> tuple[bytes, list[int]]:
    """Shared federation lock, then each object's lock in one order for all (no deadlock between them).

    The keys are parameters: the text depends only on how many there are, so it is prepared once.
    """
    ordered = sorted({_object_lock_key(k) for k in keys})
    params = [_PG_WRITE_LOCK]
    for key in ordered:
        params += [_PG_OBJECT_CLASS, key]
    return _object_locks_text(len(ordered)), params


class _SqliteWriters:
    """Queues the writers of one SQLite database: threads on a lock, server processes on a file lock.

    Both wake the next writer the moment the previous one commits, where SQLite's own busy handler
    would sleep 1 to 100 ms at a time between retries.
    """

    def __init__(self, database: str | None) -> None:
        self._threads = threading.RLock()
        self._depth = 0
        self._fd: int | None = None
        if database and database != ":memory:":
            self._fd = os.open(f"{database}-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._threads:
            self._depth += 1
            try:
                if self._depth == 1 and self._fd is not None:
                    fcntl.flock(self._fd, fcntl.LOCK_EX)  # releases the GIL while it waits
                try:
                    yield
                finally:
                    if self._depth == 1 and self._fd is not None:
                        fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                self._depth -= 1


_WRITERS: dict[str, _SqliteWriters] = {}
_WRITERS_GUARD = threading.Lock()


def _sqlite_writers(engine: Engine) -> _SqliteWriters:
    key = engine.url.render_as_string(hide_password=True)
    with _WRITERS_GUARD:
        if key not in _WRITERS:
            _WRITERS[key] = _SqliteWriters(engine.url.database)
        return _WRITERS[key]


@contextmanager
def write_transaction(
    engine: Engine, *, exclusive: bool = True, objects: Sequence[str] | None = None
) -> Iterator[Connection]:
    """A transaction that writes; `exclusive`: it reads first, and no other writer may come between.

    On SQLite every writer queues first (see _SqliteWriters), across the threads and the server processes
    sharing the database. On PostgreSQL an exclusive transaction takes the federation-wide advisory lock,
    or, given the `objects` it reads and writes (ids, name keys), only theirs: it then runs beside others
    on other objects. A plain write (a task record, a heartbeat) relies on the database's own row locks.
    """
    if engine.dialect.name == "sqlite":
        with _sqlite_writers(engine).hold(), engine.connect() as conn:
            with conn.execution_options(sqlite_begin="IMMEDIATE").begin():
                yield conn
        return
    with engine.connect() as conn, conn.begin():
        if objects is not None:
            session = libpq.session(conn)
            assert session is not None, "a new transaction is not in pipeline mode"
            session.execute(*_object_locks_statement(objects))
        elif exclusive:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_WRITE_LOCK})")
        yield conn
    upkeep.after_write(engine)


# Collection tables hold only text, integers, booleans and floats, which both drivers bind as they
# are: their hot statements run prepared (storage/prepared.py). Only SQLite's booleans come back as
# integers, so rows are mended where they are read.


@lru_cache(maxsize=256)
def find_statement(plural: str, key: str, fields: tuple[str, ...]) -> Prepared:
    """SELECT * WHERE each field = :field, built once: tasks run the same few lookups over and over."""
    table = tables.COLLECTION_TABLES[plural]
    return Prepared(select(table).where(*equal_to_binds(table, fields)).order_by(table.c[key]))


@lru_cache(maxsize=256)
def insert_statement(plural: str, columns: tuple[str, ...]) -> Prepared:
    """INSERT of one row of these columns, built once."""
    return Prepared(insert(tables.COLLECTION_TABLES[plural]), columns)


@lru_cache(maxsize=64)
def delete_statement(plural: str, key: str) -> Prepared:
    """DELETE of one object by its key, built once: expiry removes backups by the thousand."""
    table = tables.COLLECTION_TABLES[plural]
    return Prepared(delete(table).where(table.c[key] == bindparam("key")))


@lru_cache(maxsize=512)
def update_statement(plural: str, where: tuple[str, ...], columns: tuple[str, ...]) -> Prepared:
    """UPDATE ... SET each column = :set_column WHERE each field = :where_field, built once: an operation
    updates the same few shapes of row (a datastore's free space, a host's capacity) over and over."""
    table = tables.COLLECTION_TABLES[plural]
    return Prepared(
        update(table)
        .where(*(table.c[k] == bindparam(f"where_{k}") for k in where))
        .values({c: bindparam(f"set_{c}") for c in columns})
    )


@lru_cache(maxsize=64)
def update_each_statement(plural: str, key: str, columns: tuple[str, ...]) -> Prepared:
    """PostgreSQL: one UPDATE of many rows, each to its own values, from arrays (:keys and :set_<column>,
    in the same order); one statement where executemany runs one per row."""
    table = tables.COLLECTION_TABLES[plural]
    arrays = ", ".join(
        f"CAST(:{name} AS {array_type(table.c[column])})"
        for name, column in [("keys", key), *((f"set_{c}", c) for c in columns)]
    )
    names = ", ".join(["key_", *(f"v_{i}" for i in range(len(columns)))])
    sets = ", ".join(f'"{c}" = u.v_{i}' for i, c in enumerate(columns))
    return Prepared(
        text(
            f'UPDATE "{table.name}" SET {sets} FROM unnest({arrays}) AS u({names})'
            f' WHERE "{table.name}"."{key}" = u.key_ COLLATE "C"'
        )
    )


@lru_cache(maxsize=64)
def insert_each_statement(plural: str, columns: tuple[str, ...]) -> Prepared:
    """PostgreSQL: one INSERT of many rows from arrays (:v_0, :v_1, ... one per column, in order); one
    statement where executemany sends, and the server runs, one per row."""
    table = tables.COLLECTION_TABLES[plural]
    arrays = ", ".join(f"CAST(:v_{i} AS {array_type(table.c[c])})" for i, c in enumerate(columns))
    names = ", ".join(f'"{c}"' for c in columns)
    return Prepared(text(f'INSERT INTO "{table.name}" ({names}) SELECT * FROM unnest({arrays})'))


def _any_key(table_name: str, key: Column[Any]) -> str:
    return f'"{table_name}"."{key.name}" = ANY(CAST(:keys AS {array_type(key)}))'


@lru_cache(maxsize=64)
def get_each_statement(plural: str, key: str) -> Prepared:
    """PostgreSQL: the rows whose keys are in an array (:keys), in one prepared statement for any number."""
    table = tables.COLLECTION_TABLES[plural]
    return Prepared(select(table).where(text(_any_key(table.name, table.c[key]))))


@lru_cache(maxsize=64)
def delete_each_statement(plural: str, key: str) -> Prepared:
    """PostgreSQL: DELETE of the rows whose keys are in an array (:keys), returning the keys it found."""
    table = tables.COLLECTION_TABLES[plural]
    return Prepared(
        text(f'DELETE FROM "{table.name}" WHERE {_any_key(table.name, table.c[key])} RETURNING "{key}"')
    )


def _keys_in(table: Table, key: str, dialect: str) -> str:
    """The rows whose keys are in :keys: an array on PostgreSQL, a JSON array on SQLite (one prepared
    statement for any number: an IN list of binds would be compiled anew for each length)."""
    if dialect == "postgresql":
        return _any_key(table.name, table.c[key])
    return in_json_array(f'"{table.name}"."{key}"', "keys")


def _keys_bound(keys: Sequence[str], dialect: str) -> object:
    """:keys as `_keys_in` reads it."""
    return list(keys) if dialect == "postgresql" else json_array(keys)


@lru_cache(maxsize=16)
def delete_at_most_statement(plural: str, key: str, field: str, dialect: str) -> Prepared:
    """DELETE of the rows whose keys are in :keys and whose `field` is at most :upto, returning their
    keys: expiry's check and delete in one statement, where it read whole rows."""
    table = tables.COLLECTION_TABLES[plural]
    chosen = _keys_in(table, key, dialect)
    return Prepared(
        text(
            f'DELETE FROM "{table.name}" WHERE {chosen} AND "{table.name}"."{field}" <= :upto RETURNING "{key}"'
        )
    )


@lru_cache(maxsize=16)
def present_statement(plural: str, key: str, dialect: str) -> Prepared:
    """The keys of :keys that rows have, read from the key's index alone."""
    table = tables.COLLECTION_TABLES[plural]
    return Prepared(text(f'SELECT "{key}" FROM "{table.name}" WHERE {_keys_in(table, key, dialect)}'))


@lru_cache(maxsize=64)
def _booleans(plural: str) -> tuple[str, ...]:
    return tuple(c.name for c in tables.COLLECTION_TABLES[plural].columns if isinstance(c.type, Boolean))


def found_records(conn: Connection, plural: str, records: list[Record]) -> list[Record]:
    """Rows of a collection read through a prepared statement, SQLite's booleans mended."""
    if conn.dialect.name == "sqlite":
        booleans = _booleans(plural)
        for record in records:
            for name in booleans:
                value = record.get(name)
                if value is not None:
                    record[name] = bool(value)
    return records


@lru_cache(maxsize=64)
def _json_fields_of(plural: str) -> frozenset[str]:
    return frozenset(f.name for f in BY_PLURAL[plural].fields if f.kind is Kind.JSON)


def _json_fields(coll: Collection[Any]) -> frozenset[str]:
    return _json_fields_of(coll.plural)


class SqlTxn:
    """The Txn port on one open connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._content: ContentModel | None = None
        self._ledger: SqlPieceLedger | None = None
        self._before_commit: dict[str, Callable[[], None]] = {}

    def _decode(self, coll: Collection[Any], record: Record) -> Record:
        for name in _json_fields(coll):
            value = record.get(name)
            if isinstance(value, str):
                record[name] = orjson.loads(value)
        return record

    def _encode(self, coll: Collection[Any], values: Record) -> Record:
        json_fields = _json_fields(coll)
        return {
            k: (orjson.dumps(v).decode() if k in json_fields and v is not None else v)
            for k, v in values.items()
        }

    def page(self, coll: Collection[Any], query: CollectionQuery, columns: Sequence[str]) -> Page:
        return querying.read_page(self.conn, coll, query, columns)

    def get(self, coll: Collection[R], key: str) -> R | None:
        found = self.find(coll, **{coll.key: key})
        return found[0] if found else None

    def get_many(self, coll: Collection[R], keys: Sequence[str]) -> list[R]:
        table = tables.COLLECTION_TABLES[coll.plural]
        found: list[Record] = []
        if self.conn.dialect.name == "postgresql":
            found = get_each_statement(coll.plural, coll.key).rows(self.conn, {"keys": list(keys)})
            return cast(list[R], [self._decode(coll, record) for record in found])
        for i in range(0, len(keys), 500):  # well under both engines' parameter limits
            stmt = select(table).where(table.c[coll.key].in_(list(keys[i : i + 500])))
            found += found_records(
                self.conn, coll.plural, [dict(r) for r in self.conn.execute(stmt).mappings()]
            )
        return cast(list[R], [self._decode(coll, record) for record in found])

    def present(self, coll: Collection[Any], keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        dialect = self.conn.dialect.name
        statement = present_statement(coll.plural, coll.key, dialect)
        return {str(key) for (key,) in statement.tuples(self.conn, {"keys": _keys_bound(keys, dialect)})}

    def find(self, coll: Collection[R], **equals: object) -> list[R]:
        stmt = find_statement(coll.plural, coll.key, tuple(sorted(equals)))
        found = found_records(self.conn, coll.plural, stmt.rows(self.conn, equals))
        return cast(list[R], [self._decode(coll, record) for record in found])

    def count(self, coll: Collection[Any], **equals: object) -> int:
        table = tables.COLLECTION_TABLES[coll.plural]
        stmt = select(func.count()).select_from(table).where(*(table.c[k] == v for k, v in equals.items()))
        return int(self.conn.execute(stmt).scalar_one())

    def insert(self, coll: Collection[Any], record: Record) -> None:
        values = self._encode(coll, record)
        insert_statement(coll.plural, tuple(values)).run(self.conn, values)

    def insert_many(self, coll: Collection[Any], records: Sequence[Record]) -> None:
        if not records:
            return
        encoded = [self._encode(coll, record) for record in records]
        columns = tuple(encoded[0])
        assert all(tuple(values) == columns for values in encoded), "every record has the same fields"
        if self.conn.dialect.name == "postgresql":
            arrays = {f"v_{i}": [values[c] for values in encoded] for i, c in enumerate(columns)}
            insert_each_statement(coll.plural, columns).run(self.conn, arrays)
            return
        insert_statement(coll.plural, columns).run_many(self.conn, encoded)

    def update(self, coll: Collection[Any], key: str, values: Record) -> None:
        self.update_where(coll, {coll.key: key}, values)

    def update_where(self, coll: Collection[Any], equals: Record, values: Record) -> int:
        stmt = update_statement(coll.plural, tuple(equals), tuple(values))
        params = {f"where_{k}": v for k, v in equals.items()}
        params.update((f"set_{k}", v) for k, v in self._encode(coll, values).items())
        return stmt.run(self.conn, params)

    def update_each(self, coll: Collection[Any], changes: Sequence[tuple[str, Record]]) -> None:
        if not changes:
            return
        columns = tuple(changes[0][1])
        assert all(tuple(values) == columns for _, values in changes), "every change sets the same fields"
        keys = [key for key, _ in changes]
        encoded = [self._encode(coll, values) for _, values in changes]
        if self.conn.dialect.name == "postgresql":
            arrays: dict[str, Any] = {"keys": keys}
            arrays.update((f"set_{c}", [values[c] for values in encoded]) for c in columns)
            update_each_statement(coll.plural, coll.key, columns).run(self.conn, arrays)
            return
        rows = [
            {f"where_{coll.key}": key, **{f"set_{c}": v for c, v in values.items()}}
            for key, values in zip(keys, encoded, strict=True)
        ]
        update_statement(coll.plural, (coll.key,), columns).run_many(self.conn, rows)

    def before_commit(self, key: str, hook: Callable[[], None]) -> None:
        self._before_commit.setdefault(key, hook)

    def finish(self) -> None:
        """The work is done: run the hooks it left (one may leave another), then write what the content
        ledger kept, before the caller commits."""
        while self._before_commit:
            key = next(iter(self._before_commit))
            self._before_commit.pop(key)()
        if self._ledger is not None:
            self._ledger.flush()

    def state(self) -> OperationsState:
        return SqlOperationsState(self.conn)

    def content(self) -> ContentModel:
        """The simulator's content model over this transaction's ledger (see content_of)."""
        # One model for the transaction, so that what its ledger remembers stays true; its writes are kept
        # until finish(), then written a statement per table and kind of change (storage/content_writes.py).
        if self._content is None:
            self._ledger = SqlPieceLedger(self.conn, deferred=True)
            self._content = ContentModel(self._ledger)
        return self._content

    def delete(self, coll: Collection[Any], key: str) -> bool:
        return bool(delete_statement(coll.plural, coll.key).run(self.conn, {"key": key}))

    def delete_many(self, coll: Collection[Any], keys: Sequence[str]) -> list[str]:
        if self.conn.dialect.name == "postgresql":
            found = delete_each_statement(coll.plural, coll.key).tuples(self.conn, {"keys": list(keys)})
            return [str(key) for (key,) in found]
        table = tables.COLLECTION_TABLES[coll.plural]
        column = table.c[coll.key]
        gone: list[str] = []
        for i in range(0, len(keys), 500):  # well under both engines' parameter limits
            stmt = delete(table).where(column.in_(list(keys[i : i + 500]))).returning(column)
            gone += [str(key) for key in self.conn.execute(stmt).scalars()]
        return gone

    def delete_at_most(
        self, coll: Collection[Any], keys: Sequence[str], field: str, value: object
    ) -> list[str]:
        dialect = self.conn.dialect.name
        statement = delete_at_most_statement(coll.plural, coll.key, field, dialect)
        found = statement.tuples(self.conn, {"keys": _keys_bound(keys, dialect), "upto": value})
        return [str(key) for (key,) in found]


def content_of(txn: Txn) -> ContentModel:
    """The content model of a transaction this storage opened: how the simulator reaches its ledger."""
    if not isinstance(txn, SqlTxn):
        raise TypeError(f"not a transaction of this store: {txn!r}")
    return txn.content()
