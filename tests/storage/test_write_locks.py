"""Who waits for whom among writers: object-scoped and federation-wide locks on PostgreSQL, and SQLite's
writers across server processes."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Iterator, Sequence
from multiprocessing.connection import Connection as Pipe
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from openovc.storage.engine import make_engine, normalise_url
from openovc.storage.transaction import write_transaction
from tests.support.databases import fresh_postgres_database


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture
def engines(pg_url: str) -> Iterator[tuple[Engine, Engine]]:
    """The engine that holds locks, and one whose lock waits give up after 200 ms."""
    holder = make_engine(pg_url)
    impatient = create_engine(normalise_url(pg_url), connect_args={"options": "-c lock_timeout=200"})
    yield holder, impatient
    holder.dispose()
    impatient.dispose()


def _gets_in(engine: Engine, objects: Sequence[str] | None, *, exclusive: bool = True) -> bool:
    """Whether a write transaction gets its locks while the holder holds its own."""
    try:
        with write_transaction(engine, exclusive=exclusive, objects=objects) as conn:
            conn.execute(text("SELECT 1"))
        return True
    except OperationalError as exc:
        assert "lock timeout" in str(exc)
        return False


def test_object_scoped_writers_wait_only_for_their_objects(engines: tuple[Engine, Engine]) -> None:
    holder, impatient = engines
    with write_transaction(holder, objects=["vm-a", "datastore-1", "virtual_machine name x"]):
        assert _gets_in(impatient, ["vm-b", "datastore-2"])
        assert _gets_in(impatient, ["virtual_machine name y"])
        assert not _gets_in(impatient, ["vm-c", "datastore-1"])
        assert not _gets_in(impatient, ["virtual_machine name x"])
        assert not _gets_in(impatient, None)  # a federation-wide writer waits for every scoped one
        assert _gets_in(impatient, None, exclusive=False)  # a plain write takes no advisory lock
    assert _gets_in(impatient, ["vm-c", "datastore-1"])
    assert _gets_in(impatient, None)


def test_a_federation_wide_writer_excludes_every_other(engines: tuple[Engine, Engine]) -> None:
    holder, impatient = engines
    with write_transaction(holder):
        assert not _gets_in(impatient, ["vm-b"])
        assert not _gets_in(impatient, None)
        assert _gets_in(impatient, None, exclusive=False)
    assert _gets_in(impatient, ["vm-b"])


def _hold_sqlite_writer(database: str, ready: Pipe, release: Pipe) -> None:
    engine = make_engine(f"sqlite:///{database}")
    with write_transaction(engine) as conn:
        conn.execute(text("INSERT INTO marks VALUES ('other process')"))
        ready.send("holding")
        release.recv()


def test_sqlite_writers_of_two_processes_take_turns(tmp_path: Path) -> None:
    database = str(tmp_path / "openovc.db")
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE marks (who TEXT)"))
    context = multiprocessing.get_context("spawn")
    ready_in, ready_out = context.Pipe(duplex=False)
    release_in, release_out = context.Pipe(duplex=False)
    other = context.Process(target=_hold_sqlite_writer, args=(database, ready_out, release_in))
    other.start()
    try:
        assert ready_in.poll(60) and ready_in.recv() == "holding"
        entered = threading.Event()

        def write() -> None:
            with write_transaction(engine) as conn:
                entered.set()
                conn.execute(text("INSERT INTO marks VALUES ('this process')"))

        writer = threading.Thread(target=write)
        writer.start()
        # It queues on the other process's turn (rather than failing with "database is locked")...
        assert not entered.wait(0.5)
        release_out.send("go")
        writer.join(60)
        # ...and gets its turn once that one has committed.
        assert entered.is_set()
    finally:
        other.join(60)
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT who FROM marks ORDER BY rowid"))] == [
            "other process",
            "this process",
        ]
    engine.dispose()
