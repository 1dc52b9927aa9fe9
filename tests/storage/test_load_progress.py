"""Loading a federation reports its phases, counts every row it inserts, and builds large tables' indexes
after their rows, on both engines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, MetaData, Table, Text, func, select, text
from sqlalchemy.exc import IntegrityError

from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.storage import loading, tables
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


def _indexes(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            found = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'index'"))
        else:
            found = conn.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
            )
        return sorted((str(name), str(sql)) for name, sql in found)


def _rows(engine: Engine, table: str) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return sorted((tuple(row) for row in conn.execute(text(f'SELECT * FROM "{table}"'))), key=repr)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_large_table_gets_its_indexes_back_once_loaded(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The backups and the content holders (100 and 25 + 100 rows) count as large here.
    monkeypatch.setattr(loading, "DEFERRED_INDEXES_FROM", 20)
    federation = generate(FederationSpec(vms=25, backups=100, seed=9), START)
    with database_url(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            before = _indexes(engine)
            recorder = Recorder()
            load_federation(engine, federation, recorder)
            assert _indexes(engine) == before
            assert len([name for name, _ in before if name.startswith("ix_backups_")]) == 9
            backups = _rows(engine, "backups")
            with engine.connect() as conn:
                # The planner finds the rebuilt index.
                plan = conn.execute(
                    text(
                        ("EXPLAIN QUERY PLAN " if backend == "sqlite" else "EXPLAIN ")
                        + "SELECT id FROM backups WHERE virtual_machine_id = 'x'"
                    )
                ).all()
        finally:
            engine.dispose()
    assert len(backups) == 100
    assert sorted(b["id"] for b in federation.rows["backups"]) == sorted(str(row[0]) for row in backups)
    assert "ix_backups_virtual_machine_id" in " ".join(map(str, plan))
    assert [name for name, _, _ in recorder.summary()] == [
        "Loading the tables (rows)",
        "Building the indexes",
        "Committing",
        "Updating the index statistics",
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_load_that_fails_leaves_the_tables_empty_and_their_indexes_in_place(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loading, "DEFERRED_INDEXES_FROM", 20)
    federation = generate(FederationSpec(vms=25, backups=100, seed=9), START)
    backups = federation.rows["backups"]
    backups.append(dict(backups[0]))  # the same id twice: the primary key refuses the load
    with database_url(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            before = _indexes(engine)
            with pytest.raises(IntegrityError):
                load_federation(engine, federation)
            assert _indexes(engine) == before
            assert _rows(engine, "backups") == []
            assert _rows(engine, "virtual_machines") == []
        finally:
            engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_loading_stores_json_fields_as_text_and_leaves_the_rows_as_generated(
    backend: str, tmp_path: Path
) -> None:
    federation = generate(FederationSpec(vms=25, backups=100, seed=9), START)
    vm = federation.rows["virtual_machines"][0]
    replicas = [dict(entry) for entry in vm["replica_set"]]
    with database_url(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            load_federation(engine, federation)
            with engine.connect() as conn:
                stored = conn.execute(
                    text("SELECT replica_set, hypervisor_is_template FROM virtual_machines WHERE id = :id"),
                    {"id": vm["id"]},
                ).one()
        finally:
            engine.dispose()
    assert vm["replica_set"] == replicas  # still the generated list, not its text
    assert json.loads(stored[0]) == replicas
    assert bool(stored[1]) is vm["hypervisor_is_template"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_bulk_insert_takes_a_single_column_and_only_the_tables_columns(backend: str, tmp_path: Path) -> None:
    one = Table("one_column", MetaData(), Column("name", Text, primary_key=True))
    rows = [{"name": f"n{i}", "not_a_column": i} for i in range(3)]
    with database_url(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            with engine.begin() as conn:
                one.create(conn)
                loading.bulk_insert(conn, one, rows)
                loading.bulk_insert(conn, one, [])
            stored = _rows(engine, "one_column")
        finally:
            engine.dispose()
    assert stored == [("n0",), ("n1",), ("n2",)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_backups_are_stored_in_the_order_of_their_ids_and_so_of_their_creation(
    backend: str, tmp_path: Path
) -> None:
    federation = generate(FederationSpec(vms=25, backups=300, seed=9), START)
    generated = [str(b["id"]) for b in federation.rows["backups"]]
    assert generated != sorted(generated)  # generated a VM at a time
    with database_url(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate(engine)
            load_federation(engine, federation)
            physical = "rowid" if engine.dialect.name == "sqlite" else "ctid"
            with engine.connect() as conn:
                stored = conn.execute(text(f"SELECT id, created_at FROM backups ORDER BY {physical}")).all()
        finally:
            engine.dispose()
    assert [row.id for row in stored] == sorted(generated)
    assert [row.created_at for row in stored] == sorted(row.created_at for row in stored)
