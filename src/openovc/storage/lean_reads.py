"""The lean path's reads on SQLite: an object by key without the pool, a page's rows on the driver's cursor,
and answers remembered until the store next changes.

An object by key runs on a plain sqlite3 connection of the calling thread's own (the event loop's), with
no transaction left open: each SELECT is its own read, so in WAL mode it sees every commit made before it
and holds back no checkpoint. SQLAlchemy's checkout, reset and rollback around such a read cost more than
the read. A page's 20,000 values come as the driver's tuples: SQLAlchemy's rows and result processing
cost about as much as the statement. SQLite's `PRAGMA data_version` (2 us) moves with every commit of any
other connection, of any process: an answer made since it last moved is still the answer.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Hashable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import sqlite

from openovc.domain.catalog import BY_PLURAL
from openovc.domain.fields import Collection, Kind
from openovc.domain.ports.federation import Page, Record
from openovc.domain.query import CollectionQuery
from openovc.storage import querying, tables
from openovc.storage.engine import reads
from openovc.storage.repositories import SqlFederationReader
from openovc.storage.transaction import find_statement

# The answers kept per thread, in bytes: past this, none is added until the store changes.
MAX_KEPT_BYTES = 64 * 1024 * 1024


class _Reading:
    """One thread's connection, the data_version it last saw, and the answers kept since."""

    __slots__ = ("conn", "kept", "kept_bytes", "version")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.version = -1
        self.kept: dict[Hashable, bytes] = {}
        self.kept_bytes = 0


class LeanReads:
    """What the lean path reads through; on PostgreSQL (or an in-memory SQLite) nothing of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = reads(engine)
        self._path = _database_file(engine)
        self._local = threading.local()

    def inline(self) -> bool:
        """Whether `record` may run on the event loop: a local file, read on a connection of its own."""
        return self._path is not None

    def record(self, coll: Collection[Any], key: str) -> Record | None:
        """The object of `key` with every field (SQLite's booleans as bools), as the reader's `get`."""
        if coll.key == "hash":  # thumbprints match in any case: the reader's own lookup
            return SqlFederationReader(self.engine).get(coll, key)
        sql, names, booleans = _by_key(coll.plural, coll.key)
        rows = self._reading().conn.execute(sql, (key,)).fetchall()
        if not rows:
            return None
        record = dict(zip(names, rows[0], strict=True))
        for name in booleans:
            value = record[name]
            if value is not None:
                record[name] = bool(value)
        return record

    def stamp(self) -> int:
        """The store's data_version as this thread's connection sees it now; the answers kept on this
        thread are forgotten when it has moved. Read before the data an answer is made of, so that a
        commit between the two is never missed: the answer is then kept under the older stamp."""
        reading = self._reading()
        version: int = reading.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != reading.version:
            reading.kept.clear()
            reading.kept_bytes = 0
            reading.version = version
        return version

    def recall(self, key: Hashable) -> bytes | None:
        """What `keep` kept under `key` on this thread since the last stamp that moved."""
        return self._reading().kept.get(key)

    def keep(self, stamp: int, key: Hashable, answer: bytes) -> None:
        """Keep `answer`, made after `stamp` was read, unless a later stamp has already moved."""
        reading = self._reading()
        if reading.version == stamp and reading.kept_bytes + len(answer) <= MAX_KEPT_BYTES:
            reading.kept[key] = answer
            reading.kept_bytes += len(answer)

    def view(self, coll: Collection[Any], key: str, make: Callable[[Record], bytes]) -> bytes | None:
        """`make` of the object of `key` (None: no such object), kept until the store next changes."""
        stamp = self.stamp()
        kept_as = (coll.plural, key)
        made = self.recall(kept_as)
        if made is not None:
            return made
        record = self.record(coll, key)
        if record is None:
            return None
        made = make(record)
        self.keep(stamp, kept_as, made)
        return made

    def page(self, coll: Collection[Any], query: CollectionQuery, columns: Sequence[str]) -> Page | None:
        """One page, as the reader's `page` finds it but for SQLite's booleans, left as integers (the
        renderer makes them booleans); None on PostgreSQL, where the reader's own is used."""
        if self.engine.dialect.name != "sqlite":
            return None
        with self.engine.connect() as conn, conn.begin():  # the page and its count from one snapshot
            stmt, where = querying.page_select(conn, coll, query, columns)
            # Executed by SQLAlchemy, whose compiled cache covers every filter and sort; fetched from the
            # driver's cursor, which makes no Row object and runs no result processor.
            result = conn.execute(stmt)
            try:
                rows = result.cursor.fetchall()
            finally:
                result.close()
            if query.offset == 0 and len(rows) < query.limit:
                count = len(rows)  # the page holds every match: no need to count again
            else:
                count = int(conn.execute(querying.count_select(coll, where)).scalar_one())
        return Page(count=count, columns=tuple(columns), rows=rows)

    def _reading(self) -> _Reading:
        reading: _Reading | None = getattr(self._local, "reading", None)
        if reading is None:
            assert self._path is not None
            # Autocommit (isolation_level None): no statement leaves a read transaction open.
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA query_only=ON")
            reading = self._local.reading = _Reading(conn)
        return reading


def _database_file(engine: Engine) -> str | None:
    """The SQLite database's file, or None where another connection would not see the same database."""
    url = engine.url
    if engine.dialect.name != "sqlite" or url.query.get("uri") or not url.database:
        return None
    return None if url.database == ":memory:" else url.database


@lru_cache(maxsize=64)
def _by_key(plural: str, key: str) -> tuple[str, list[str], list[str]]:
    """find_statement's SELECT by key as SQLite's text, its column names, and its boolean columns."""
    prepared = find_statement(plural, key, (key,))
    sql = str(prepared.statement.compile(dialect=sqlite.dialect()))
    table = tables.COLLECTION_TABLES[plural]
    booleans = [c.name for c in table.columns if c.name in _booleans(plural)]
    return sql, prepared.names, booleans


def _booleans(plural: str) -> frozenset[str]:
    return frozenset(f.name for f in BY_PLURAL[plural].fields if f.kind is Kind.BOOL)
