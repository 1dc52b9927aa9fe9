"""Statements compiled once per database dialect and run on the driver's own cursor: the hot path.

An operation runs tens of small statements; SQLAlchemy's work around each execution (cache keys,
parameter and result processing, result metadata) costs more than the database does for each of them.
These statements bind and return only text, integers, floats, booleans and bytes, which both drivers
take and give as they are (but SQLite's booleans, which come back as integers: see
transaction.found_records), so nothing is lost by skipping it. They run inside the caller's
transaction, on its connection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from operator import itemgetter
from typing import Any, cast

import orjson
from sqlalchemy import Column, ColumnElement, Connection, Table, bindparam, insert, text
from sqlalchemy.dialects.postgresql import dml as postgresql_dml
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.postgresql import psycopg as postgresql_psycopg
from sqlalchemy.dialects.sqlite import dml as sqlite_dml
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

from openovc.storage import libpq

# PostgreSQL's text as libpq prepares it: numbered parameters ($1, $2, ...).
_LIBPQ_DIALECT = postgresql_psycopg.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]


def equal_to_binds(table: Table, keys: Sequence[str]) -> list[ColumnElement[bool]]:
    """`column = :column` for each of `keys`: the WHERE of a lookup by those columns."""
    return [table.c[k] == bindparam(k) for k in keys]


class Prepared:
    """A Core statement with named bind parameters; `columns`: an INSERT's columns, in order."""

    def __init__(self, statement: ClauseElement, columns: Sequence[str] | None = None) -> None:
        self.statement = statement
        self.columns = list(columns) if columns is not None else None
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None]] = {}
        self._libpq: tuple[bytes, tuple[str, ...]] | None = None
        # A SELECT's column names, known before it runs: reading them off each result costs PostgreSQL's
        # driver an object per column.
        selected = getattr(statement, "selected_columns", None)
        self.names = [str(c.name) for c in selected] if selected is not None else []

    def _sql(self, conn: Connection) -> tuple[str, tuple[str, ...] | None]:
        dialect = conn.dialect
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect, column_keys=self.columns)
            assert isinstance(compiled, SQLCompiler)
            # A positional driver (SQLite's qmark) takes a tuple in the compiled order of the names.
            order = tuple(compiled.positiontup or ()) if dialect.positional else None
            found = self._compiled[dialect.name] = (compiled.string, order)
        return found

    def _bound(self, order: tuple[str, ...] | None, params: Mapping[str, Any]) -> Any:
        return _getter(order)(params) if order is not None else params

    def _direct(
        self, conn: Connection, params: Mapping[str, Any]
    ) -> tuple[libpq.Session, bytes, list[Any]] | None:
        """On PostgreSQL, what runs the statement on libpq directly: the session, the text, the values."""
        if conn.dialect.name != "postgresql":
            return None
        session = libpq.session(conn)
        if session is None:
            return None
        if self._libpq is None:
            compiled = self.statement.compile(dialect=_LIBPQ_DIALECT, column_keys=self.columns)
            assert isinstance(compiled, SQLCompiler)
            self._libpq = (compiled.string.encode(), tuple(compiled.positiontup or ()))
        sql, order = self._libpq
        return session, sql, [params[name] for name in order]

    def tuples(self, conn: Connection, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows a SELECT finds, as tuples in the order of its columns."""
        direct = self._direct(conn, params)
        if direct is not None:
            session, text, values = direct
            return session.tuples(text, values)
        sql, order = self._sql(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, self._bound(order, params))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def rows(self, conn: Connection, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The rows a SELECT finds, by column name."""
        names = self.names
        return [dict(zip(names, row, strict=True)) for row in self.tuples(conn, params)]

    def run(self, conn: Connection, params: Mapping[str, Any]) -> int:
        """Run an INSERT, UPDATE or DELETE; the rows it changed."""
        direct = self._direct(conn, params)
        if direct is not None:
            session, text, values = direct
            return session.execute(text, values).command_tuples or 0
        sql, order = self._sql(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, self._bound(order, params))
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def run_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        sql, order = self._sql(conn)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            # One C-level getter for every row: executemany binds thousands (a slot's backups).
            cursor.executemany(sql, list(map(_getter(order), rows)) if order is not None else rows)
        finally:
            cursor.close()


@lru_cache(maxsize=1024)
def _getter(order: tuple[str, ...]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """A row's values in a positional statement's order, as a tuple."""
    if len(order) == 1:
        name = order[0]
        return lambda params: (params[name],)
    if not order:
        return lambda _params: ()
    return cast(Callable[[Mapping[str, Any]], tuple[Any, ...]], itemgetter(*order))


def in_json_array(column_sql: str, param: str) -> str:
    """SQLite: `column IN` the JSON array bound as :param (json_each), so one prepared statement serves
    lists of any length; an IN list of binds is compiled anew for each length. The column's index is used."""
    return f"{column_sql} IN (SELECT value FROM json_each(:{param}))"


def json_array(values: Sequence[object]) -> str:
    """A list bound for `in_json_array`."""
    return orjson.dumps(list(values)).decode()


def array_type(column: Column[Any]) -> str:
    """The PostgreSQL array type of a column's values (a collation is the column's, not the array's)."""
    return column.type.compile(dialect=_LIBPQ_DIALECT).replace(' COLLATE "C"', "") + "[]"


@lru_cache(maxsize=16)
def _insert_arrays(table: Table, columns: tuple[str, ...]) -> Prepared:
    arrays = ", ".join(f"CAST(:v_{i} AS {array_type(table.c[c])})" for i, c in enumerate(columns))
    names = ", ".join(f'"{c}"' for c in columns)
    return Prepared(text(f'INSERT INTO "{table.name}" ({names}) SELECT * FROM unnest({arrays})'))


@lru_cache(maxsize=16)
def _insert_row(table: Table, columns: tuple[str, ...]) -> Prepared:
    return Prepared(insert(table), columns)


def insert_rows(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert rows (mappings holding these columns, in order): on PostgreSQL one statement binding each
    column's values as an array, where executemany makes the server run one per row (a slot's thousand
    backups); on SQLite, whose statements cost no round trip, executemany."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        arrays = {f"v_{i}": [row[c] for row in rows] for i, c in enumerate(columns)}
        _insert_arrays(table, columns).run(conn, arrays)
        return
    _insert_row(table, columns).run_many(conn, rows)


def _insert(dialect: str, table: Table) -> postgresql_dml.Insert | sqlite_dml.Insert:
    # Both engines speak INSERT ... ON CONFLICT, each through its own dialect's construct.
    return sqlite_insert(table) if dialect == "sqlite" else postgresql_insert(table)


@lru_cache(maxsize=64)
def upsert_statement(dialect: str, table: Table, columns: tuple[str, ...]) -> Prepared:
    """INSERT of a row, or UPDATE of its other columns where its key exists: built once per engine,
    table and set of columns."""
    keys = [c.name for c in table.primary_key.columns]
    upsert = _insert(dialect, table)
    changed = {c: upsert.excluded[c] for c in columns if c not in keys}
    if not changed:
        return Prepared(upsert.on_conflict_do_nothing(index_elements=keys), columns)
    return Prepared(upsert.on_conflict_do_update(index_elements=keys, set_=changed), columns)


@lru_cache(maxsize=16)
def new_row_statement(dialect: str, table: Table, columns: tuple[str, ...]) -> Prepared:
    """INSERT of a row unless its key is taken (then nothing, and no row counted): a first write wins."""
    return Prepared(_insert(dialect, table).on_conflict_do_nothing(), columns)
