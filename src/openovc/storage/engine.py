"""Engine creation: SQLite pragmas and PostgreSQL pool settings, and schema migration at start."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    create_engine,
    event,
)
from sqlalchemy import inspect as inspect_schema
from sqlalchemy.engine import make_url

from openovc.storage.tables import metadata

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r'^revision = "([^"]+)"$', re.MULTILINE)
_DOWN_REVISION = re.compile(r'^down_revision = (?:"([^"]+)"|None)$', re.MULTILINE)
# Alembic's own version table, as it creates it.
_VERSIONS = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


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
    # A page cache of 32 MiB per connection, not SQLite's 2 MiB: a schedule's transactions walk the backups
    # table's indexes, and every page missed is a system call and a copy. It grows only as pages are read.
    cursor.execute("PRAGMA cache_size=-32768")
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
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def migrate(engine: Engine) -> None:
    """Bring the schema up to date (idempotent; safe for several servers at once on PostgreSQL).

    An empty database gets the final schema at once, stamped with the newest revision: running the
    migrations one by one cost a fresh start a tenth of a second and Alembic's import. A store already
    at that revision is left alone without Alembic; any other is upgraded by it.
    """
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Serialise concurrent first starts of several controllers on one database.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7243001)")
        tables = set(inspect_schema(connection).get_table_names())
        if not tables:
            create_schema(connection)
            return
        if _VERSIONS.name in tables and _revisions(connection) == [head_revision()]:
            return
        from alembic import command

        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def create_schema(connection: Connection) -> None:
    """The newest schema, made from the declared tables in an empty database, and stamped as migrated."""
    metadata.create_all(connection)
    _VERSIONS.create(connection)
    connection.execute(_VERSIONS.insert().values(version_num=head_revision()))


@functools.cache
def head_revision() -> str:
    """The newest migration's revision, read from the migration files as Alembic reads them, without it.

    Each file names its revision and the one it revises; the head is the one no other revises.
    """
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.search(source), _DOWN_REVISION.search(source)
        if revision is None or down is None:
            raise RuntimeError(f"{path.name}: no plain revision and down_revision")
        revisions.add(revision[1])
        if down[1] is not None:
            revised.add(down[1])
    heads = revisions - revised
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def _revisions(connection: Connection) -> list[str]:
    return [str(v) for v in connection.execute(_VERSIONS.select()).scalars()]
