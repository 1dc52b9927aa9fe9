"""A federation loaded into a SQLite store alone goes through a rollback journal, then the store logs again
(WAL); with another connection open it keeps the log; a load killed midway leaves the store empty."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, Table, func, select

from openovc.simulator.federation import Federation, FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.storage import loading
from openovc.storage.engine import make_engine, migrate
from openovc.storage.loading import federation_inserts, load_federation
from tests.support.inprocess import START

SPEC = FederationSpec(clusters=1, hosts_per_cluster=2, datastores=2, vms=30, backups=300)


@pytest.fixture(scope="module")
def federation() -> Federation:
    return generate(SPEC, START)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'openovc.db'}")
    migrate(made)
    yield made
    made.dispose()


@pytest.fixture
def modes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The journal mode of the load's connection as it inserts each table."""
    seen: list[str] = []
    insert = loading.bulk_insert

    def recording(conn: Connection, table: Table, rows: Any, progress: Any) -> None:
        seen.append(str(conn.exec_driver_sql("PRAGMA journal_mode").scalar()))
        insert(conn, table, rows, progress)

    monkeypatch.setattr(loading, "bulk_insert", recording)
    return seen


def _counts(engine: Engine, federation: Federation) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table, _ in federation_inserts(federation)
        }


def _expected(federation: Federation) -> dict[str, int]:
    return {table.name: sum(1 for _ in rows) for table, rows in federation_inserts(federation)}


def _mode(path: str) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def test_a_store_alone_loads_through_a_rollback_journal_then_logs_again(
    engine: Engine, federation: Federation, modes: list[str]
) -> None:
    load_federation(engine, federation)
    assert modes and set(modes) == {"delete"}
    assert _counts(engine, federation) == _expected(federation)
    assert _mode(str(engine.url.database)) == "wal"
    with engine.connect() as conn:  # the pool's connections log too
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_another_connection_open_keeps_the_log(
    engine: Engine, federation: Federation, modes: list[str]
) -> None:
    other = sqlite3.connect(str(engine.url.database))
    try:
        assert other.execute("SELECT count(*) FROM hosts").fetchone() == (0,)
        load_federation(engine, federation)
        assert modes and set(modes) == {"wal"}
        assert other.execute("SELECT count(*) FROM hosts").fetchone() == (len(federation.rows["hosts"]),)
    finally:
        other.close()
    assert _counts(engine, federation) == _expected(federation)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def _killed_midway(path: str, federation: Federation) -> None:
    """In a child process: load, and die without a word at the third table."""
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    calls = 0
    insert = loading.bulk_insert

    def dying(conn: Connection, table: Table, rows: Any, progress: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            os._exit(9)
        insert(conn, table, rows, progress)

    loading.bulk_insert = dying  # type: ignore[assignment]  # this child's own module
    load_federation(engine, federation)
    os._exit(0)


def test_a_load_killed_midway_leaves_the_store_empty(tmp_path: Path, federation: Federation) -> None:
    path = str(tmp_path / "openovc.db")
    child = multiprocessing.get_context("fork").Process(target=_killed_midway, args=(path, federation))
    child.start()
    child.join(60)
    assert child.exitcode == 9
    assert os.path.exists(f"{path}-journal")  # the load's rollback journal, hot
    engine = make_engine(f"sqlite:///{path}")
    try:
        assert set(_counts(engine, federation).values()) == {0}
        assert not os.path.exists(f"{path}-journal")  # rolled back by the first connection
        assert _mode(path) == "wal"
        load_federation(engine, federation)  # and the store takes a load again
        assert _counts(engine, federation) == _expected(federation)
    finally:
        engine.dispose()
