"""Loading a federation reports its phases, and counts every row it inserts, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.storage import tables
from openovc.storage.content_rows import ledger_row_count
from openovc.storage.engine import make_engine, migrate
from openovc.storage.loading import load_federation
from tests.support.databases import BACKENDS, database_url
from tests.support.inprocess import START
from tests.support.progress import Recorder

CONTENT_TABLES = (
    tables.content_lineages, tables.content_holders, tables.content_held, tables.content_segments,
    tables.content_shared, tables.content_totals,
)  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
def test_loading_counts_each_row_it_inserts(backend: str, tmp_path: Path) -> None:
    federation = generate(FederationSpec(vms=25, backups=100, seed=9), START)
    with database_url(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            recorder = Recorder()
            load_federation(engine, federation, recorder)
            with engine.connect() as conn:
                content_rows = sum(
                    conn.execute(select(func.count()).select_from(t)).scalar_one() for t in CONTENT_TABLES
                )
                history = conn.execute(select(func.count()).select_from(tables.capacity_history)).scalar_one()
        finally:
            engine.dispose()
    collection_rows = sum(map(len, federation.rows.values()))
    rows = collection_rows + content_rows + history
    assert content_rows == ledger_row_count(federation.content)
    assert recorder.summary() == [
        ("Loading the tables (rows)", rows, rows),
        ("Committing", None, 0),
        ("Updating the index statistics", None, 0),
    ]
