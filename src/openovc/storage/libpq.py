"""PostgreSQL's hot path: statements prepared once per connection and run on psycopg's libpq connection.

psycopg's cursor spends much more CPU than libpq itself on a small statement (query conversion, its
prepared-statement bookkeeping, result objects; measured in docs/architecture.md, Performance notes);
an operation runs tens of them. Here the text is prepared once per connection, the values go through
psycopg's own adapters (in text form, their types left to the server, which knows them from the
statement), and the rows come back through psycopg's own loaders, so values are what the cursor would
give. libpq releases the GIL while it waits.

This module owns the connection's server-side prepared statements: psycopg's automatic preparation is
turned off on these connections (see engine.make_engine), since it deallocates every prepared statement
of the session whenever a transaction rolls back.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    import psycopg
    from psycopg import pq

_NAMES = itertools.count()
_INFO_KEY = "openovc.libpq"


class Session:
    """One database connection's prepared statements, and the adapters for its values."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        # psycopg is imported only once a PostgreSQL connection exists: a SQLite server never loads it.
        import psycopg
        from psycopg import pq
        from psycopg.adapt import PyFormat, Transformer

        self.connection = connection
        self.pgconn = connection.pgconn
        self.adapters = Transformer(connection)
        self.names: dict[bytes, bytes] = {}
        self._ok = (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK)
        self._error_from_result = psycopg.errors.error_from_result
        self._error = psycopg.Error
        self._text = PyFormat.TEXT

    def _check(self, result: pq.abc.PGresult, sql: bytes, values: Sequence[Any] = ()) -> pq.abc.PGresult:
        if result.status not in self._ok:
            error = self._error_from_result(result, encoding=self.connection.info.encoding)
            # As SQLAlchemy raises what the driver raised on its own statements.
            raise DBAPIError.instance(sql.decode(), list(values), error, self._error) from error
        return result

    def execute(self, sql: bytes, values: Sequence[Any]) -> pq.abc.PGresult:
        name = self.names.get(sql)
        if name is None:
            name = b"openovc_%d" % next(_NAMES)
            self._check(self.pgconn.prepare(name, sql), sql)
            self.names[sql] = name
        # Only lists need a look: a call per value would cost more than the literal saves.
        literal = [_array_literal(v) if type(v) is list else v for v in values]
        params = self.adapters.dump_sequence(literal, [self._text] * len(values))
        # A None is a NULL to libpq, as psycopg's own cursor passes it (its annotation omits it).
        return self._check(self.pgconn.exec_prepared(name, cast(Sequence[bytes], params)), sql, values)

    def tuples(self, sql: bytes, values: Sequence[Any]) -> list[tuple[Any, ...]]:
        result = self.execute(sql, values)
        self.adapters.set_pgresult(result)
        return self.adapters.load_rows(0, result.ntuples, tuple)


def _quoted(item: str) -> str:
    return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _bytea(item: bytes) -> str:
    return '"\\\\x' + item.hex() + '"'  # bytea's hex form, its backslash escaped


def _boolean(item: bool) -> str:
    return "t" if item else "f"


def _null(_item: None) -> str:
    return "NULL"


# Each element's text in an array literal, by its type. Floats: only finite ones (see _array_literal),
# whose shortest repr PostgreSQL reads back exactly.
_ELEMENTS: dict[type, Callable[[Any], str]] = {
    int: str,
    str: _quoted,
    bytes: _bytea,
    bool: _boolean,
    float: repr,
    type(None): _null,
}


def _array_literal(value: list[Any]) -> Any:
    """A list of integers, strings, bytes, booleans, finite floats and NULLs as PostgreSQL's array literal
    (the statement casts the text): psycopg's general list adapter costs far more (docs/architecture.md,
    Performance notes), and the content ledger and many-row statements bind lists of thousands of values.
    Other lists are left to psycopg."""
    kinds = set(map(type, value))
    if not kinds <= _ELEMENTS.keys() or (float in kinds and not all(map(_finite, value))):
        return value
    if kinds == {str}:
        whole = "".join(value)
        if '"' not in whole and "\\" not in whole:  # ids and names, most often: nothing to escape
            return '{"' + '","'.join(value) + '"}'
    if len(kinds) == 1:  # a column's values, most often: one conversion for all
        return "{" + ",".join(map(_ELEMENTS[kinds.pop()], value)) + "}"
    elements = _ELEMENTS
    return "{" + ",".join([elements[type(item)](item) for item in value]) + "}"


def _finite(item: object) -> bool:
    return not isinstance(item, float) or math.isfinite(item)


def _begin(connection: psycopg.Connection[Any]) -> bytes:
    """The BEGIN psycopg's cursor would send first, with the connection's transaction characteristics."""
    words = [b"BEGIN"]
    if connection.isolation_level is not None:
        words.append(b"ISOLATION LEVEL " + connection.isolation_level.name.replace("_", " ").encode())
    if connection.read_only is not None:
        words.append(b"READ ONLY" if connection.read_only else b"READ WRITE")
    if connection.deferrable is not None:
        words.append(b"DEFERRABLE" if connection.deferrable else b"NOT DEFERRABLE")
    return b" ".join(words)


def session(conn: Connection) -> Session | None:
    """The direct path for this connection, or None when its statement must go through a cursor: in
    pipeline mode, where psycopg sends statements without waiting for each answer.

    Outside autocommit mode, the transaction begins here if none is open, as psycopg's cursor would
    begin it (psycopg reads the state from libpq: it commits or rolls back what began here).
    """
    dbapi = conn.connection.dbapi_connection
    # Not imported yet: no connection can be psycopg's (see Session).
    driver = sys.modules.get("psycopg")
    if driver is None or not isinstance(dbapi, driver.Connection):
        return None
    pgconn = dbapi.pgconn
    if pgconn.pipeline_status != driver.pq.PipelineStatus.OFF:
        return None
    # Kept with the pooled connection: it lives as long as the prepared statements do.
    info = conn.connection.info
    found = info.get(_INFO_KEY)
    if found is None or found.pgconn is not pgconn:
        found = info[_INFO_KEY] = Session(dbapi)
    assert isinstance(found, Session)
    if not dbapi.autocommit and pgconn.transaction_status == driver.pq.TransactionStatus.IDLE:
        begin = _begin(dbapi)
        found._check(pgconn.exec_(begin), begin)
    return found
