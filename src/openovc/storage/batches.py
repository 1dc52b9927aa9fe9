"""Inserting many rows: in batches, each one statement of many rows, so that memory stays flat."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, Table, insert

from openovc.domain.ports.progress import SILENT, Progress

BATCH = 5000  # rows per INSERT: large enough to amortise a statement, small enough for both engines


def insert_batched(
    conn: Connection, table: Table, rows: Iterable[dict[str, object]], progress: Progress = SILENT
) -> None:
    batch: list[dict[str, object]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            conn.execute(insert(table), batch)
            progress.advance(len(batch))
            batch = []
    if batch:
        conn.execute(insert(table), batch)
        progress.advance(len(batch))
