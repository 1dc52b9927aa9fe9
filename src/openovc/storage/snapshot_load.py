"""Replaces the rows of the snapshot's tables inside one open write transaction, as fast as each engine allows.

Both engines: the indexes of the tables that receive many rows are dropped first and built again once
the rows are in (building an index from sorted rows beats updating it row by row: 300,000 backups with
ten indexes took 16 s on SQLite one row at a time, 4 s this way). SQLite: DELETE, then one executemany
per frame on the driver's cursor. PostgreSQL: one TRUNCATE of the large tables (DELETE
for the others), then COPY per frame (FREEZE into a table truncated in this very transaction: its rows
are written frozen, so nothing revisits them later), and the sequences moved past the ids it brought.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

from openovc.storage import change_feed
from openovc.storage.snapshot_file import SnapshotFile

REBUILD_ROWS = 5_000  # from this many rows on, a table's indexes are built again rather than kept up


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def replace_tables(conn: Connection, file: SnapshotFile, ours: Sequence[Table]) -> int:
    """Empty every table of `ours` and write the file's rows into them; how many rows were written."""
    big = [t.name for t in ours if file.tables.get(t.name, {}).get("rows", 0) >= REBUILD_ROWS]
    raw: Any = conn.connection.dbapi_connection
    cursor = raw.cursor()
    try:
        if conn.dialect.name == "postgresql":
            return _postgresql(cursor, file, [t.name for t in ours], big)
        return _sqlite(cursor, file, [t.name for t in ours], big)
    finally:
        cursor.close()


def _sqlite(cursor: Any, file: SnapshotFile, names: list[str], big: list[str]) -> int:
    (cache,) = cursor.execute("PRAGMA cache_size").fetchone()
    # A larger page cache while the keys go in and the indexes are built; the connection's own after.
    cursor.execute(f"PRAGMA cache_size={-256 * 1024}")
    try:
        return _sqlite_rows(cursor, file, names, big)
    finally:
        cursor.execute(f"PRAGMA cache_size={int(cache)}")


def _sqlite_rows(cursor: Any, file: SnapshotFile, names: list[str], big: list[str]) -> int:
    marks = ", ".join("?" * len(big))
    indexes = cursor.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name IN ({marks})",
        big,
    ).fetchall()
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {_quoted(name)}")
    # The change feeds' triggers too: a restore changes everything, so their readers forget it all at once
    # (change_feed.forget_all) rather than a row at a time (each trigger a write: 10,000 VMs' took 0.5 s).
    every = ", ".join("?" * len(names))
    triggers = cursor.execute(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({every})", names
    ).fetchall()
    for name, _ in triggers:
        cursor.execute(f"DROP TRIGGER {_quoted(name)}")
    for name in names:
        cursor.execute(f"DELETE FROM {_quoted(name)}")
    written = 0
    for frame in file.frames():
        columns = ", ".join(map(_quoted, frame.columns))
        values = ", ".join("?" * len(frame.columns))
        cursor.executemany(f"INSERT INTO {_quoted(frame.table)} ({columns}) VALUES ({values})", frame.rows)
        written += len(frame.rows)
    for _, sql in [*indexes, *triggers]:
        cursor.execute(sql)
    if triggers:
        change_feed.forget_all(cursor)
    if big:
        # Dropping an index dropped its statistics: sampled ones again, as a loaded federation has them.
        cursor.execute("PRAGMA analysis_limit=1000")
        for name in big:
            cursor.execute(f"ANALYZE {_quoted(name)}")
    return written


_PG_INDEXES = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
"""
_PG_SEQUENCES = """
SELECT table_name, column_name, pg_get_serial_sequence(quote_ident(table_name), column_name)
FROM information_schema.columns
WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%%'
"""


_PG_LARGE = """
SELECT relname FROM pg_class
WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r' AND relname = ANY(%s) AND relpages > 64
"""


def _postgresql(cursor: Any, file: SnapshotFile, names: list[str], big: list[str]) -> int:
    # TRUNCATE gives a table new files, which costs milliseconds per table even when empty: only the
    # tables that hold or will hold many rows are truncated, the others emptied by DELETE.
    large = {str(r[0]) for r in cursor.execute(_PG_LARGE, [names]).fetchall()} | set(big)
    truncated = [n for n in names if n in large]
    if truncated:
        cursor.execute("TRUNCATE " + ", ".join(map(_quoted, truncated)))
    for name in names:
        if name not in large:
            cursor.execute(f"DELETE FROM {_quoted(name)}")
    cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")  # each index built in one sort in memory
    indexes = cursor.execute(_PG_INDEXES, [big]).fetchall()
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {_quoted(name)}")
    written = 0
    for frame in file.frames():
        columns = ", ".join(map(_quoted, frame.columns))
        freeze = " (FREEZE)" if frame.table in large else ""  # only a table truncated here may be frozen
        with cursor.copy(f"COPY {_quoted(frame.table)} ({columns}) FROM STDIN{freeze}") as copy:
            for row in frame.rows:
                copy.write_row(row)
        written += len(frame.rows)
    for _, sql in indexes:
        cursor.execute(sql)
    for table, column, sequence in cursor.execute(_PG_SEQUENCES).fetchall():
        if table in names and sequence:
            cursor.execute(
                f"SELECT setval(%s, COALESCE((SELECT max({_quoted(column)}) FROM {_quoted(table)}), 0) + 1, false)",
                [sequence],
            )
    return written
