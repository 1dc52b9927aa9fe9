"""PostgreSQL's direct path (storage/libpq.py): values, errors and transactions as psycopg's cursor has them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Float,
    LargeBinary,
    MetaData,
    Table,
    Text,
    bindparam,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, ProgrammingError

from openovc.storage import libpq
from openovc.storage.engine import make_engine, reads
from openovc.storage.prepared import Prepared
from openovc.storage.transaction import write_transaction
from tests.support.databases import fresh_postgres_database

_META = MetaData()
_THINGS = Table(
    "things",
    _META,
    Column("id", Text, primary_key=True),
    Column("count", BigInteger),
    Column("ratio", Float),
    Column("flag", Boolean),
    Column("blob", LargeBinary),
)
_INSERT = Prepared(insert(_THINGS), ["id", "count", "ratio", "flag", "blob"])
_GET = Prepared(select(_THINGS).where(_THINGS.c.id == bindparam("id")))
_ANY = Prepared(text("SELECT id FROM things WHERE count = ANY(CAST(:counts AS bigint[])) ORDER BY id"))
_ECHO_TEXTS = Prepared(text("SELECT CAST(:texts AS VARCHAR[]), CAST(:counts AS bigint[])"))

ROWS: list[dict[str, Any]] = [
    {"id": "plain", "count": 2**62, "ratio": 0.1, "flag": True, "blob": b"\x00\xffbytes"},
    {"id": "nulls", "count": None, "ratio": None, "flag": None, "blob": None},
    {"id": "quotes ' \" \\ é 漢", "count": -5, "ratio": -1e300, "flag": False, "blob": b""},
]


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    with fresh_postgres_database() as url:
        built = make_engine(url)
        _META.create_all(built)
        yield built
        built.dispose()


@pytest.fixture(autouse=True)
def empty(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(_THINGS.delete())


def _cursor_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(_THINGS).order_by(_THINGS.c.id))]


def test_values_go_in_and_come_back_as_the_cursor_has_them(engine: Engine) -> None:
    with write_transaction(engine, objects=["things"]) as conn:
        assert libpq.session(conn) is not None  # the direct path, not the cursor
        for row in ROWS:
            assert _INSERT.run(conn, row) == 1
    assert sorted(_cursor_rows(engine)) == sorted(tuple(row.values()) for row in ROWS)
    with reads(engine).connect() as conn:
        for row in ROWS:
            assert _GET.rows(conn, {"id": row["id"]}) == [row]
        assert _ANY.tuples(conn, {"counts": [-5, 2**62, 7]}) == [("plain",), ("quotes ' \" \\ é 漢",)]
        assert _GET.rows(conn, {"id": "absent"}) == []


@pytest.mark.parametrize(
    "texts",
    [
        [],
        [None],
        ["plain", "", "NULL", None, "with space", "a,b", "{braces}", 'quote " here', "back\\slash", "é 漢"],
        ["\\", '"', '\\"', " lead", "trail "],
        ["plain", "", "NULL", "with space", "a,b", "{braces}", "é 漢"],  # only text, nothing escaped
        ["plain", 'a","b'],  # only text, a quote
    ],
)
def test_lists_of_text_and_integers_arrive_as_the_cursor_sends_them(
    engine: Engine, texts: list[str | None]
) -> None:
    counts: list[int | None] = [2**62, -1, None, 0]
    with reads(engine).connect() as conn:
        assert libpq.session(conn) is not None
        direct = _ECHO_TEXTS.tuples(conn, {"texts": texts, "counts": counts})
        by_cursor = conn.exec_driver_sql(
            "SELECT CAST(%(texts)s AS VARCHAR[]), CAST(%(counts)s AS bigint[])",
            {"texts": texts, "counts": counts},
        ).all()
    assert direct == [(texts, counts)] == [tuple(row) for row in by_cursor]


def test_a_failed_statement_raises_what_sqlalchemy_raises_and_its_transaction_rolls_back(
    engine: Engine,
) -> None:
    with pytest.raises(IntegrityError) as raised, write_transaction(engine, objects=["things"]) as conn:
        _INSERT.run(conn, ROWS[0])
        _INSERT.run(conn, ROWS[0])
    assert isinstance(raised.value.orig, psycopg.errors.UniqueViolation)
    assert "INSERT INTO things" in str(raised.value)
    assert _cursor_rows(engine) == []
    with pytest.raises(ProgrammingError), reads(engine).connect() as conn:
        Prepared(text("SELECT no_such_column FROM things")).tuples(conn, {})


def test_prepared_statements_outlive_a_rollback(engine: Engine) -> None:
    with engine.connect() as conn:
        transaction = conn.begin()
        session = libpq.session(conn)  # begins the transaction in the database, as the cursor would
        assert session is not None
        pgconn = conn.connection.dbapi_connection.pgconn  # type: ignore[union-attr]
        assert pgconn.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        _INSERT.run(conn, ROWS[0])
        prepared = dict(session.names)
        transaction.rollback()
        assert _cursor_rows(engine) == []  # what began here was rolled back
        with conn.begin():
            assert libpq.session(conn) is session and session.names == prepared
            _INSERT.run(conn, ROWS[1])  # the statement prepared before the rollback still runs
    assert [row[0] for row in _cursor_rows(engine)] == ["nulls"]


def test_pipeline_mode_is_left_to_the_cursor(engine: Engine) -> None:
    with engine.connect() as conn, conn.begin():
        driver = conn.connection.dbapi_connection
        assert isinstance(driver, psycopg.Connection)
        with driver.pipeline():
            assert libpq.session(conn) is None
            _INSERT.run(conn, ROWS[0])  # through psycopg's cursor
    assert [row[0] for row in _cursor_rows(engine)] == ["plain"]
