"""The lean path's reads on SQLite: an object by key without the pool, a page's rows on the driver's cursor,
and answers remembered until the store next changes.

An object by key runs on a plain sqlite3 connection of the calling thread's own (the event loop's), with
no transaction left open: each SELECT is its own read, so in WAL mode it sees every commit made before it
and holds back no checkpoint. SQLAlchemy's checkout, reset and rollback around such a read cost more than
the read. A page's 20,000 values come as the driver's tuples: SQLAlchemy's rows and result processing
cost about as much as the statement. SQLite's `PRAGMA data_version` (2 us) moves with every commit of any
other connection, of any process: an answer made since it last moved is still the answer.

A page of a collection with a change feed (storage/change_feed.py: the VMs) keeps each object's rendered
JSON, per column set, across commits that do not change it: each read asks the feed, in the page's own
read transaction, which keys changed since the sequence the kept objects were made at, forgets exactly
those, reads the page's keys in order (the page's composition always comes from the store) and reads
and renders only the objects it does not keep. PostgreSQL keeps none: concurrent writers take their
sequences in one order and commit in another, so "every change after N" is not a prefix a reader could
trust without tracking transaction ids.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Hashable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from openovc.domain.catalog import BY_PLURAL
from openovc.domain.fields import Collection, Kind, Op
from openovc.domain.ports.federation import Page, Record
from openovc.domain.query import CollectionQuery
from openovc.storage import change_feed, querying, tables
from openovc.storage.engine import reads
from openovc.storage.prepared import in_json_array, json_array
from openovc.storage.repositories import SqlFederationReader
from openovc.storage.transaction import find_statement

# The answers kept per thread, in bytes: past this, none is added until the store changes.
MAX_KEPT_BYTES = 64 * 1024 * 1024
# The objects' JSON kept per collection with a change feed, in bytes, and column sets (the clients'
# `fields` choose them): past either, everything kept is forgotten and kept again as read.
MAX_OBJECT_BYTES = 64 * 1024 * 1024
MAX_COLUMN_SETS = 16

# Each object's JSON from its stored row: (columns, rows) -> one `bytes` per row (api.render's).
Render = Callable[[Sequence[str], Sequence[Sequence[object]]], list[bytes]]


class _Reading:
    """One thread's connection, the data_version it last saw, and the answers kept since."""

    __slots__ = ("conn", "kept", "kept_bytes", "version")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.version = -1
        self.kept: dict[Hashable, bytes] = {}
        self.kept_bytes = 0


class _Objects:
    """One collection's kept objects, per column set, as they were at the feed's sequence `seq`."""

    __slots__ = ("by_columns", "lock", "nbytes", "seq")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seq = -1  # none kept yet
        self.by_columns: dict[tuple[str, ...], dict[str, bytes]] = {}
        self.nbytes = 0

    def forget(self) -> None:
        self.by_columns.clear()
        self.nbytes = 0

    def sync(self, conn: sqlite3.Connection, feed: str, seq: int) -> None:
        """Forget what changed between `self.seq` and `seq`, as the read transaction of `conn` sees the
        feed (under the lock). Behind by more than the feed keeps, or a gap in the sequences (a feed
        emptied; SQLite gives them in turn otherwise): everything."""
        if seq == self.seq:
            return
        behind = seq - self.seq
        if self.seq < 0 or behind < 0 or behind > change_feed.FEED_ROWS:
            # behind < 0: this read's snapshot is older than what is kept (or the feed began again).
            self.forget()
        else:
            changed = conn.execute(f"SELECT * FROM {feed} WHERE seq > ?", (self.seq,)).fetchall()
            if len(changed) != behind:
                self.forget()
            else:
                for kept in self.by_columns.values():
                    for _, key in changed:
                        gone = kept.pop(key, None)
                        if gone is not None:
                            self.nbytes -= len(gone)
        self.seq = seq

    def add(self, seq: int, columns: tuple[str, ...], made: dict[str, bytes]) -> None:
        """Keep objects made in a read at `seq`, unless what is kept has moved past it since."""
        size = sum(map(len, made.values()))
        with self.lock:
            if self.seq != seq:
                return
            kept = self.by_columns.get(columns)
            if self.nbytes + size > MAX_OBJECT_BYTES or (
                kept is None and len(self.by_columns) >= MAX_COLUMN_SETS
            ):
                self.forget()
                kept = None
                if size > MAX_OBJECT_BYTES:
                    return
            if kept is None:
                kept = self.by_columns[columns] = {}
            for key, json in made.items():
                old = kept.get(key)
                self.nbytes += len(json) - (len(old) if old is not None else 0)
                kept[key] = json


class LeanReads:
    """What the lean path reads through; on PostgreSQL (or an in-memory SQLite) nothing of its own."""

    def __init__(self, engine: Engine) -> None:
        self.engine = reads(engine)
        self._path = _database_file(engine)
        self._local = threading.local()
        self._objects = {plural: _Objects() for plural in change_feed.FEEDS}

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

    def page_objects(
        self, coll: Collection[Any], query: CollectionQuery, columns: Sequence[str], render: Render
    ) -> tuple[int, list[bytes]] | None:
        """One page as (the count of matches, each object's JSON from `render`), the objects no commit
        has changed since they were rendered kept; None where there is no change feed (PostgreSQL, an
        in-memory SQLite, a collection without one) or for a filter by cluster group (its SQL reads the
        store): `page` then reads it."""
        objects = self._objects.get(coll.plural)
        if objects is None or self._path is None or not _plain(query):
            return None
        names = tuple(columns)
        statements = _page_sql(coll.plural, query, names)
        # This thread's own connection, in one read transaction: keys, objects, feed and count agree.
        conn = self._reading().conn
        conn.execute("BEGIN")
        try:
            feed = change_feed.feed_table(coll.plural)
            found = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (feed,)).fetchone()
            seq = found[0] if found else 0
            with objects.lock:
                objects.sync(conn, feed, seq)
                warm = bool(objects.by_columns.get(names))
            kept: dict[str, bytes] = {}
            if warm:
                keys = [row[0] for row in conn.execute(*statements.keys)]
                with objects.lock:  # as of this read's snapshot, unless another read has moved them on
                    if objects.seq == seq:
                        have = objects.by_columns.get(names, {})
                        kept = {k: json for k in keys if (json := have.get(k)) is not None}
                made = _objects_by_key(conn, coll, names, [k for k in keys if k not in kept], render)
            else:  # nothing kept for these columns: the page's rows at once, with their keys
                rows = conn.execute(*statements.rows).fetchall()
                keys = [row[0] for row in rows]
                made = dict(zip(keys, render(names, [row[1:] for row in rows]), strict=True))
            if query.offset == 0 and len(keys) < query.limit:
                count = len(keys)  # the page holds every match: no need to count again
            else:
                count = int(conn.execute(*statements.count).fetchone()[0])
        finally:
            conn.execute("COMMIT")  # a read: ends its snapshot
        if made:
            objects.add(seq, names, made)
        return count, [kept.get(k) or made[k] for k in keys]

    def _reading(self) -> _Reading:
        reading: _Reading | None = getattr(self._local, "reading", None)
        if reading is None:
            assert self._path is not None
            # Autocommit (isolation_level None): no statement leaves a read transaction open.
            conn = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=True)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA case_sensitive_like=ON")  # as the engine's connections (a page's filters)
            reading = self._local.reading = _Reading(conn)
        return reading


class _PageSql:
    """A page's statements as SQLite's text and values: its keys, its rows with their keys, its count."""

    __slots__ = ("count", "keys", "rows")

    def __init__(self, keys: _Sql, rows: _Sql, count: _Sql) -> None:
        self.keys, self.rows, self.count = keys, rows, count


_Sql = tuple[str, tuple[object, ...]]
_SQLITE = sqlite.dialect()
# The values a filter binds that sqlite3 takes as SQLAlchemy's SQLite types would bind them.
_PLAIN_VALUES = (str, int, float)


def _plain(query: CollectionQuery) -> bool:
    """Whether the query's SQL is known from the query alone, with values sqlite3 binds as they are."""
    return all(
        c.op is not Op.CLUSTER_GROUP and all(isinstance(v, _PLAIN_VALUES) for v in c.values)
        for c in query.conditions
    )


@lru_cache(maxsize=256)
def _page_sql(plural: str, query: CollectionQuery, names: tuple[str, ...]) -> _PageSql:
    """querying's SELECTs of a page (as the engine path runs them), compiled once per query: SQLAlchemy's
    statement building, compiled cache lookup and execution cost about as much as SQLite's work here."""
    coll = BY_PLURAL[plural]
    keys, where = querying.page_select(None, coll, query, (coll.key,))
    rows, _ = querying.page_select(None, coll, query, (coll.key, *names))
    return _PageSql(_qmark(keys), _qmark(rows), _qmark(querying.count_select(coll, where)))


def _qmark(stmt: ClauseElement) -> _Sql:
    compiled = stmt.compile(dialect=_SQLITE)
    assert isinstance(compiled, SQLCompiler)
    params = compiled.construct_params()
    return compiled.string, tuple(params[name] for name in compiled.positiontup or ())


def _objects_by_key(
    conn: sqlite3.Connection, coll: Collection[Any], names: tuple[str, ...], keys: list[str], render: Render
) -> dict[str, bytes]:
    """The objects of `keys`, read (their key first) and rendered, by key."""
    if not keys:
        return {}
    selected = ", ".join(f'"{name}"' for name in (coll.key, *names))
    where = in_json_array(f'"{coll.key}"', "keys")
    rows = conn.execute(f'SELECT {selected} FROM "{coll.plural}" WHERE {where}', {"keys": json_array(keys)})
    found = rows.fetchall()
    return dict(zip((row[0] for row in found), render(names, [row[1:] for row in found]), strict=True))


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
