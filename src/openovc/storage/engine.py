"""Engine creation: SQLite pragmas and PostgreSQL pool settings, and schema migration at start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 here; SQLAlchemy would otherwise pick psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLAlchemy, not the sqlite3 module, decides when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode survives a process crash; only an OS crash can lose the last commits.
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Checkpoints (each an fsync of the database) every 64 MiB of log, not every 4 MiB: a slot of a policy
    # writes megabytes, and a checkpoint after each of its transactions cost a tenth of a schedule's time.
    cursor.execute("PRAGMA wal_autocheckpoint=16384")
    cursor.execute("PRAGMA foreign_keys=ON")
    # The API's wildcards and filters are case-sensitive unless the client asks otherwise.
    cursor.execute("PRAGMA case_sensitive_like=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    """Writers that read first take the write lock at BEGIN: no upgrade deadlock between two of them."""
    conn.exec_driver_sql(f"BEGIN {conn.get_execution_options().get('sqlite_begin', 'DEFERRED')}")


def make_engine(url: str) -> Engine:
    """An engine for a `sqlite:///` or `postgresql://` URL."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=8,
            max_overflow=16,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # No pre-ping: it costs a round trip per checkout; a connection broken by a database restart
    # fails one request, and the pool then replaces it. No automatic preparation by psycopg: the hot
    # statements are prepared by storage/libpq.py, whose prepared statements psycopg's would deallocate.
    # A connect timeout: a database host that drops packets makes requests and health checks fail, not hang.
    connect: dict[str, object] = {"prepare_threshold": None}
    if "connect_timeout" not in make_url(url).query:  # the URL's own wins
        connect["connect_timeout"] = 10
    return create_engine(url, pool_size=10, max_overflow=20, connect_args=connect)


def reads(engine: Engine) -> Engine:
    """The engine for plain reads: on PostgreSQL without BEGIN/ROLLBACK round trips."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema up to date (idempotent; safe for several servers at once on PostgreSQL)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Serialise concurrent first starts of several controllers on one database.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7243001)")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
