"""The initial snapshot encoded beside the load, on SQLite and PostgreSQL: byte for byte the file read back
from the store; a table whose rows may not read back as they are in memory, or that the store holds
otherwise, is read back; a child that fails or a load that fails leaves nothing behind."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Boolean, Column, Float, Integer, LargeBinary, MetaData, Table, Text, delete

from openovc.domain.snapshots import EncodedTable
from openovc.simulator import forking
from openovc.simulator.federation import Federation, FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.storage import loading, snapshot_ahead, tables
from openovc.storage.engine import make_engine, migrate
from openovc.storage.loading import federation_inserts, load_federation
from openovc.storage.snapshot_ahead import encode_inserts, ordered_rows
from openovc.storage.snapshots import INITIAL, SqlSnapshotStore, snapshot_tables
from tests.support.databases import BACKENDS, database_url
from tests.support.inprocess import START

NOW_MS = int(START.timestamp() * 1000)
SPEC = FederationSpec(
    clusters=2, hosts_per_cluster=2, datastores=4, vms=60, backups=900, persistent_volumes=6
)


@pytest.fixture(scope="module")
def federation() -> Federation:
    return generate(SPEC, START)


@pytest.fixture
def encoding_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """Encode ahead whatever the federation's size and the machine's cores."""
    monkeypatch.setattr(snapshot_ahead, "ENCODE_FROM", 0)
    monkeypatch.setattr(forking, "usable_cores", lambda: 2)


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with database_url(request.param, tmp_path_factory.mktemp(request.param)) as made:
        yield made


def _store(url: str) -> SqlSnapshotStore:
    engine = make_engine(url)
    migrate(engine)
    return SqlSnapshotStore(engine, lambda: NOW_MS)


@pytest.mark.usefixtures("encoding_ahead")
def test_the_snapshot_encoded_beside_the_load_is_the_one_read_back(url: str, federation: Federation) -> None:
    store = _store(url)
    try:
        encoded = load_federation(store.engine, federation)
        loaded = {t.name for t, _ in federation_inserts(federation)}
        assert loaded <= {t.name for t in snapshot_tables()}
        assert set(encoded) == loaded  # every table the load fills
        assert {"backups", "virtual_machines", "hosts", "content_holders", "content_shared"} <= set(encoded)
        assert encoded == encode_inserts(federation_inserts(federation))  # the child's, as this process's
        assert store.dump(INITIAL, encoded) == store.dump(INITIAL)
    finally:
        store.engine.dispose()


def test_a_table_the_store_holds_otherwise_is_read_back(url: str, federation: Federation) -> None:
    store = _store(url)
    try:
        load_federation(store.engine, federation)
        encoded = encode_inserts(federation_inserts(federation))
        with store.engine.begin() as conn:
            conn.execute(
                delete(tables.backups).where(tables.backups.c.id == federation.rows["backups"][0]["id"])
            )
        assert store.dump(INITIAL, encoded) == store.dump(INITIAL)
        # A table encoded with other columns than the store's is read back too.
        hosts = encoded["hosts"]
        other = {**encoded, "hosts": EncodedTable(hosts.columns[:-1], hosts.rows, hosts.frames)}
        assert store.dump(INITIAL, other) == store.dump(INITIAL)
    finally:
        store.engine.dispose()


_T = Table(
    "t",
    MetaData(),
    Column("id", Text, primary_key=True),
    Column("n", Integer),
    Column("x", Float),
    Column("b", Boolean),
    Column("data", LargeBinary),
)
_KINDS = ["text", "int", "float", "bool", "bytes"]


def _row(**changed: Any) -> dict[str, Any]:
    return {"id": "a", "n": 1, "x": 0.5, "b": True, "data": b"\0", **changed}


def test_rows_that_read_back_as_they_are_come_in_key_order() -> None:
    rows = [_row(id="b", x=2), _row(id="a", n=None, b=None, data=None, extra="ignored")]
    assert ordered_rows(_T, _KINDS, rows) == [("a", None, 0.5, None, None), ("b", 1, 2, True, b"\0")]


@pytest.mark.parametrize(
    "changed",
    [
        {"id": 1},  # an int in a text column reads back as text on SQLite
        {"n": True},  # a bool in an int column reads back as 1 on SQLite
        {"n": 1.5},
        {"x": float("nan")},  # SQLite stores NaN as NULL
        {"x": "0.5"},
        {"b": 1},
        {"data": "bytes"},
    ],
)
def test_a_value_that_may_read_back_otherwise_leaves_its_table_to_be_read_back(
    changed: dict[str, Any],
) -> None:
    assert ordered_rows(_T, _KINDS, [_row(id="b"), _row(**changed)]) is None


def test_a_table_with_a_column_left_to_its_default_or_no_key_is_read_back() -> None:
    row = _row()
    del row["x"]
    assert ordered_rows(_T, _KINDS, [_row(id="b"), row]) is None
    keyless = Table("k", MetaData(), Column("id", Text), Column("n", Integer))
    assert ordered_rows(keyless, ["text", "int"], [{"id": "a", "n": 1}]) is None


@pytest.mark.usefixtures("encoding_ahead")
def test_a_failed_child_leaves_every_table_to_be_read_back(
    tmp_path: Any,
    federation: Federation,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    def broken(_inserts: object) -> dict[str, EncodedTable]:
        raise RuntimeError("the encoder broke")

    monkeypatch.setattr(snapshot_ahead, "encode_inserts", broken)  # in the child, which forks this process
    store = _store(f"sqlite:///{tmp_path / 'openovc.db'}")
    try:
        with caplog.at_level(logging.WARNING, "openovc.snapshots"):
            assert load_federation(store.engine, federation) == {}
        assert caplog.messages == [
            "encoding the initial snapshot beside the load failed: reading it back instead"
        ]
        assert "RuntimeError: the encoder broke" in capfd.readouterr().err
        assert store.dump(INITIAL, {}) == store.dump(INITIAL)
    finally:
        store.engine.dispose()


@pytest.mark.usefixtures("encoding_ahead")
def test_a_failed_load_stops_the_child(
    tmp_path: Any, federation: Federation, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[snapshot_ahead.Ahead] = []
    real_ahead = snapshot_ahead.encode_ahead

    def watched(inserts: snapshot_ahead.Inserts, rows: int) -> snapshot_ahead.Ahead | None:
        ahead = real_ahead(inserts, rows)
        assert ahead is not None
        started.append(ahead)
        return ahead

    def failing(*_args: object) -> None:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(loading, "encode_ahead", watched)
    monkeypatch.setattr(loading, "bulk_insert", failing)
    store = _store(f"sqlite:///{tmp_path / 'openovc.db'}")
    try:
        with pytest.raises(RuntimeError, match="the disk is full"):
            load_federation(store.engine, federation)
        assert len(started) == 1
        with pytest.raises(ChildProcessError):  # killed and reaped
            os.waitpid(started[0].pid, os.WNOHANG)
    finally:
        store.engine.dispose()
