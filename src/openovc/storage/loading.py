"""Bulk-loads a generated federation into an empty store."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain, islice
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, func, select, text
from sqlalchemy.exc import DBAPIError

from openovc.domain.fields import Kind
from openovc.domain.metrics import CAPACITY_METRICS
from openovc.domain.ports.progress import SILENT, Progress
from openovc.domain.snapshots import EncodedTable
from openovc.simulator.federation import Federation
from openovc.storage import tables
from openovc.storage.content_rows import ledger_row_count, ledger_rows
from openovc.storage.snapshot_ahead import encode_ahead

BATCH = 5000  # rows per executemany, or per progress step of a COPY
# A table given more rows than this has its secondary indexes built after its rows, in one pass each,
# rather than grown a row at a time in random key order (backups: 300,000 rows, nine indexes).
DEFERRED_INDEXES_FROM = 20_000
# The SQLite page cache of the loading connection (KiB): the indexes of the largest federation's tables fit.
LOAD_CACHE_KIB = 256 * 1024


def _table(name: str) -> Table:
    # Not `or`: a Table's truth value is undefined in SQLAlchemy and raises TypeError.
    table = tables.COLLECTION_TABLES.get(name)
    return table if table is not None else tables.metadata.tables[name]


def _json_columns(name: str) -> set[str]:
    from openovc.domain.catalog import BY_PLURAL

    coll = BY_PLURAL.get(name)
    if coll is None:
        return {"document"} if name == "host_hardware" else set()
    return {f.name for f in coll.fields if f.kind is Kind.JSON}


def _encoded(rows: Iterable[dict[str, object]], json_cols: set[str]) -> Iterable[dict[str, object]]:
    if not json_cols:
        yield from rows
        return
    for row in rows:
        # A copy with the JSON columns replaced: the federation's rows stay as generated.
        row = dict(row)
        for name in json_cols & row.keys():
            row[name] = orjson.dumps(row[name]).decode()
        yield row


def is_empty(engine: Engine) -> bool:
    """True when no federation has been stored yet."""
    with engine.connect() as conn:
        clusters = tables.COLLECTION_TABLES["omnistack_clusters"]
        return conn.execute(select(func.count()).select_from(clusters)).scalar_one() == 0


def _batches(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    while batch := list(islice(rows, BATCH)):
        yield batch


def bulk_insert(
    conn: Connection, table: Table, rows: Iterable[Mapping[str, object]], progress: Progress = SILENT
) -> None:
    """Insert rows that all have the first one's keys: through the driver's executemany on SQLite (no
    SQLAlchemy statement per batch), COPY on PostgreSQL; each column's value bound as SQLAlchemy would.

    The driver's errors are raised as SQLAlchemy's, as an ordinary insert raises them.
    """
    given = iter(rows)
    first = next(given, None)
    if first is None:
        return
    names = [name for name in first if name in table.c]
    pick = itemgetter(*names)
    if len(names) == 1:
        values: Iterator[tuple[Any, ...]] = ((pick(row),) for row in chain((first,), given))
    else:
        values = map(pick, chain((first,), given))
    dbapi: Any = conn.dialect.loaded_dbapi
    try:
        if conn.dialect.name == "postgresql":
            _copy(conn, table, names, values, progress)
        else:
            _executemany(conn, table, names, values, progress)
    except dbapi.Error as exc:
        raise DBAPIError.instance(f"bulk insert into {table.name}", None, exc, dbapi.Error) from exc


def _copy(
    conn: Connection, table: Table, names: list[str], values: Iterator[tuple[Any, ...]], progress: Progress
) -> None:
    columns = ", ".join(f'"{name}"' for name in names)
    raw: Any = conn.connection.dbapi_connection
    # psycopg adapts each Python value to its column's text form itself.
    with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for batch in _batches(values):
            for row in batch:
                copy.write_row(row)
            progress.advance(len(batch))


def _executemany(
    conn: Connection, table: Table, names: list[str], values: Iterator[tuple[Any, ...]], progress: Progress
) -> None:
    processors = [table.c[name].type.bind_processor(conn.dialect) for name in names]
    binds = [(i, bind) for i, bind in enumerate(processors) if bind is not None]
    if binds:
        values = _bound(values, binds)
    columns = ", ".join(f'"{name}"' for name in names)
    statement = f'INSERT INTO "{table.name}" ({columns}) VALUES ({", ".join("?" * len(names))})'
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        for batch in _batches(values):
            cursor.executemany(statement, batch)
            progress.advance(len(batch))
    finally:
        cursor.close()


def _bound(
    values: Iterator[tuple[Any, ...]], binds: Sequence[tuple[int, Callable[[Any], Any]]]
) -> Iterator[tuple[Any, ...]]:
    """Each row with the columns that have a bind processor passed through it (the others as they are)."""
    for row in values:
        bound = list(row)
        for i, bind in binds:
            bound[i] = bind(bound[i])
        yield tuple(bound)


def _secondary_indexes(conn: Connection, table: Table) -> list[tuple[str, str]]:
    """(name, the statement that creates it) of each index of the table that no constraint owns."""
    if conn.dialect.name == "postgresql":
        found = conn.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename = :table AND indexname NOT IN"
                " (SELECT conname FROM pg_constraint WHERE conrelid = CAST(:table AS regclass))"
            ),
            {"table": table.name},
        )
    else:
        found = conn.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :table AND sql IS NOT NULL"
            ),
            {"table": table.name},
        )
    return [(str(name), str(sql)) for name, sql in found]


@contextmanager
def _indexes_built_after(conn: Connection, big: Iterable[Table]) -> Iterator[None]:
    """Drop the big tables' secondary indexes, and make them again as they were once the rows are in.

    In the load's transaction: a load that fails leaves them as they were.
    """
    dropped = [index for table in big for index in _secondary_indexes(conn, table)]
    for name, _ in dropped:
        conn.exec_driver_sql(f'DROP INDEX "{name}"')
    yield
    for _, create in dropped:
        conn.exec_driver_sql(create)


def federation_inserts(federation: Federation) -> Iterator[tuple[Table, Iterable[Mapping[str, object]]]]:
    """Every row load_federation inserts, table by table, in its order (each call makes them anew)."""
    for name, rows in federation.rows.items():
        if name == "backups":
            # In key order, which is their creation time's (domain/ids.py): the table's pages then hold
            # them as the schedule adds and expires them, together by time, not a VM's on its own pages.
            rows = sorted(rows, key=itemgetter("id"))
        yield _table(name), _encoded(rows, _json_columns(name))
    yield from ledger_rows(federation.content)
    # Each host's figures as generated hold from the beginning until they first change.
    yield (
        tables.capacity_history,
        (
            {
                "host_id": h["id"],
                "at_ms": 0,
                "fields": orjson.dumps({n: h.get(n) for n in CAPACITY_METRICS}).decode(),
            }
            for h in federation.rows.get("hosts", [])
        ),
    )


def load_federation(
    engine: Engine, federation: Federation, progress: Progress = SILENT
) -> dict[str, EncodedTable]:
    """Insert every row in one transaction: a crash mid-load leaves the store empty.

    Returns the tables a forked process encoded as a snapshot's frames meanwhile (snapshot_ahead), for
    the initial snapshot; empty for a small federation.
    """
    hosts = len(federation.rows.get("hosts", []))
    rows_total = sum(map(len, federation.rows.values())) + ledger_row_count(federation.content) + hosts
    ahead = encode_ahead(federation_inserts(federation), rows_total)
    try:
        _insert_all(engine, federation, rows_total, progress)
        _analyze(engine, progress)
    except BaseException:
        if ahead is not None:
            ahead.cancel()
        raise
    return ahead.result() if ahead is not None else {}


def _insert_all(engine: Engine, federation: Federation, rows_total: int, progress: Progress) -> None:
    big = [_table(name) for name, rows in federation.rows.items() if len(rows) > DEFERRED_INDEXES_FROM]
    big += [tables.content_holders] if len(federation.content.holders) > DEFERRED_INDEXES_FROM else []
    sqlite = engine.dialect.name == "sqlite"
    progress.phase("Loading the tables (rows)", rows_total)
    with engine.connect() as conn, _rollback_journal(conn, sqlite), conn.begin():
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA cache_size=-{LOAD_CACHE_KIB}")
        else:
            conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")  # for the index builds
        try:
            with _indexes_built_after(conn, big):
                for table, rows in federation_inserts(federation):
                    bulk_insert(conn, table, rows, progress)
                if big:
                    progress.phase("Building the indexes")
            progress.phase("Committing")
        finally:
            if sqlite:  # the connection goes back to the pool: its cache back to the default
                conn.exec_driver_sql("PRAGMA cache_size=-2000")


@contextmanager
def _rollback_journal(conn: Connection, sqlite: bool) -> Iterator[None]:
    """On SQLite, the load's transaction with a rollback journal when no other connection has the store
    open, then the log (WAL) again.

    In WAL mode every page of the load is written twice, to the log and then into the database by the
    checkpoint. A rollback journal of an empty store holds next to nothing, and the pages are written
    once (docs/architecture.md, Start-up). The journal keeps the load atomic: after a crash, the next
    connection rolls it back. Another connection to the store (a server process, another pooled
    connection) keeps the log, and the load runs with it as before.
    """
    raw = conn.connection.driver_connection if sqlite else None
    if raw is None:
        yield
        return
    (waits,) = raw.execute("PRAGMA busy_timeout").fetchone()
    raw.execute("PRAGMA busy_timeout=0")  # another connection's lock refuses the switch at once
    try:
        (mode,) = raw.execute("PRAGMA journal_mode=DELETE").fetchone()
    except sqlite3.OperationalError:  # "database is locked": not alone
        mode = "wal"
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(waits)}")
    try:
        yield
    finally:
        if mode != "wal":
            raw.execute("PRAGMA journal_mode=WAL")


def _analyze(engine: Engine, progress: Progress) -> None:
    """Fresh statistics, or the planners pick sorts over index scans until autovacuum (or never, on SQLite)."""
    progress.phase("Updating the index statistics")
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            # Sampled statistics are enough for the planner and take a fraction of a full scan.
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE")
