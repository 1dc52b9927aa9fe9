"""Bulk-loads a generated federation into an empty store."""

from __future__ import annotations

from collections.abc import Iterable

import orjson
from sqlalchemy import Engine, Table, func, select

from openovc.domain.fields import Kind
from openovc.domain.metrics import CAPACITY_METRICS
from openovc.domain.ports.progress import SILENT, Progress
from openovc.simulator.federation import Federation
from openovc.storage import tables
from openovc.storage.batches import insert_batched
from openovc.storage.content_rows import bulk_load, ledger_row_count


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
    for row in rows:
        if json_cols:
            row = {k: (orjson.dumps(v).decode() if k in json_cols else v) for k, v in row.items()}
        yield row


def is_empty(engine: Engine) -> bool:
    """True when no federation has been stored yet."""
    with engine.connect() as conn:
        clusters = tables.COLLECTION_TABLES["omnistack_clusters"]
        return conn.execute(select(func.count()).select_from(clusters)).scalar_one() == 0


def load_federation(engine: Engine, federation: Federation, progress: Progress = SILENT) -> None:
    """Insert every row in one transaction: a crash mid-load leaves the store empty."""
    hosts = len(federation.rows.get("hosts", []))
    rows_total = sum(map(len, federation.rows.values())) + ledger_row_count(federation.content) + hosts
    progress.phase("Loading the tables (rows)", rows_total)
    with engine.begin() as conn:
        for name, rows in federation.rows.items():
            insert_batched(conn, _table(name), _encoded(rows, _json_columns(name)), progress)
        bulk_load(conn, federation.content, progress)
        # Each host's figures as generated hold from the beginning until they first change.
        baseline = [
            {
                "host_id": h["id"],
                "at_ms": 0,
                "fields": orjson.dumps({n: h.get(n) for n in CAPACITY_METRICS}).decode(),
            }
            for h in federation.rows.get("hosts", [])
        ]
        insert_batched(conn, tables.capacity_history, baseline, progress)
        progress.phase("Committing")
    # Fresh statistics, or the planners pick sorts over index scans until autovacuum (or never, on SQLite).
    progress.phase("Updating the index statistics")
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            # Sampled statistics are enough for the planner and take a fraction of a full scan.
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        conn.exec_driver_sql("ANALYZE")
