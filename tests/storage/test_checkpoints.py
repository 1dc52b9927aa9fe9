"""SQLite's write-ahead log is copied back by the worker's chore, not by the commit that fills it."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from openovc.storage.engine import WAL_AUTOCHECKPOINT_PAGES, checkpoint, make_engine
from openovc.storage.transaction import write_transaction
from tests.support.databases import fresh_postgres_database

ROWS = 700


def test_commits_leave_the_log_to_the_worker_until_its_bound(tmp_path: Path) -> None:
    database, wal = tmp_path / "openovc.db", tmp_path / "openovc.db-wal"
    engine = make_engine(f"sqlite:///{database}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == WAL_AUTOCHECKPOINT_PAGES
        with write_transaction(engine) as conn:
            conn.execute(text("CREATE TABLE marks (n INTEGER, pad TEXT)"))
        for i in range(ROWS):  # two pages each: past SQLite's default bound of 1,000 pages of log
            with write_transaction(engine) as conn:
                conn.execute(text("INSERT INTO marks VALUES (:n, :pad)"), {"n": i, "pad": "x" * 8000})
        # No commit copied the log back: the pages are in the log, and the database file has not grown.
        written = wal.stat().st_size
        assert written > ROWS * 8000 and database.stat().st_size < ROWS * 8000
        assert checkpoint(engine) == 0
        # The chore copied them into the database file (the log stays, to be written over from its start).
        assert database.stat().st_size > ROWS * 8000
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM marks").scalar_one() == ROWS
    finally:
        engine.dispose()


def test_checkpoint_is_nothing_to_do_on_postgresql() -> None:
    # PostgreSQL checkpoints on its own; the chore must not fail there (the worker runs it on any store).
    with fresh_postgres_database() as url:
        engine = make_engine(url)
        try:
            assert checkpoint(engine) == 0
        finally:
            engine.dispose()
