"""The content ledger in SQL agrees with the in-memory one on both engines, across restarts and bulk loads."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from openovc.simulator.content.ledger import MemoryLedger, SegmentState
from openovc.simulator.content.model import ContentModel
from openovc.storage import content_store
from openovc.storage.content_rows import bulk_load
from openovc.storage.content_store import SqlPieceLedger
from openovc.storage.engine import make_engine, migrate
from openovc.storage.transaction import write_transaction
from tests.support.content_ops import PLACES, Runner, check
from tests.support.databases import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as found:
        engine = make_engine(found)
        migrate(engine)
        engine.dispose()
        yield found


def _sql_step(engine: Engine, runner: Runner, rng: random.Random) -> None:
    """One random operation in its own write transaction, as a task handler would run it."""
    with write_transaction(engine) as conn:
        runner.model = ContentModel(SqlPieceLedger(conn))
        runner.step(rng)


def _agree(engine: Engine, sql: Runner, memory: Runner, *, brute_force: bool = False) -> None:
    with engine.connect() as conn:
        model = ContentModel(SqlPieceLedger(conn))
        for place in PLACES:
            assert model.totals(place) == memory.model.totals(place), (place, memory.log[-5:])
        for holder_id in memory.mirror.maps:
            assert model.holder(holder_id) == memory.model.holder(holder_id)
            assert model.size(holder_id) == memory.model.size(holder_id)
            assert model.unique_size(holder_id) == memory.model.unique_size(holder_id)
        assert isinstance(memory.model.ledger, MemoryLedger)
        assert SqlPieceLedger(conn).places() == sorted(memory.model.ledger.places)
        if brute_force:
            sql.model = model
            check(sql)


@pytest.mark.parametrize("seed", [3, 4])
def test_the_sql_ledger_agrees_with_the_memory_one(url: str, seed: int) -> None:
    engine = make_engine(url)
    try:
        memory, sql = Runner(ContentModel(MemoryLedger())), Runner(ContentModel(MemoryLedger()))
        mine, theirs = random.Random(seed), random.Random(seed)
        for n in range(70):
            memory.step(mine)
            _sql_step(engine, sql, theirs)
            assert sql.log == memory.log
            _agree(engine, sql, memory, brute_force=n % 10 == 9)
    finally:
        engine.dispose()


def test_the_ledger_survives_a_restart(url: str) -> None:
    memory, sql = Runner(ContentModel(MemoryLedger())), Runner(ContentModel(MemoryLedger()))
    mine, theirs = random.Random(11), random.Random(11)
    engine = make_engine(url)
    for _ in range(40):
        memory.step(mine)
        _sql_step(engine, sql, theirs)
    engine.dispose()
    # A new process: nothing but the database.
    engine = make_engine(url)
    try:
        _agree(engine, sql, memory, brute_force=True)
        for _ in range(30):
            memory.step(mine)
            _sql_step(engine, sql, theirs)
        _agree(engine, sql, memory, brute_force=True)
    finally:
        engine.dispose()


def test_a_bulk_load_equals_the_ledger_it_was_built_from(url: str) -> None:
    memory = Runner(ContentModel(MemoryLedger()))
    rng = random.Random(21)
    for _ in range(80):
        memory.step(rng)
    ledger = memory.model.ledger
    assert isinstance(ledger, MemoryLedger)
    assert any(lineage.inherited for lineage in ledger.lineages.values())  # forks, shared pieces
    engine = make_engine(url)
    try:
        with write_transaction(engine) as conn:
            bulk_load(conn, ledger)
        with engine.connect() as conn:
            stored = SqlPieceLedger(conn)
            counts = stored.row_counts()
            assert counts == {
                "content_lineages": len(ledger.lineages),
                "content_holders": len(ledger.holders),
                "content_held": len(ledger.helds),
                "content_segments": len(ledger.segments),
                "content_shared": sum(len(entries) for entries in ledger.shares.values()),
                "content_totals": len(ledger.places),
            }
            for lineage_id, lineage in ledger.lineages.items():
                assert stored.lineage(lineage_id) == lineage
            for (place, lineage_id), held in ledger.helds.items():
                assert stored.held(place, lineage_id) == held
            by_place: dict[str, dict[int, SegmentState]] = {}
            for (place, seed), state in ledger.segments.items():
                by_place.setdefault(place, {})[seed] = state
            for place, states in by_place.items():
                assert stored.segment_states(place, [*states, 424242]) == states
            for place, entries in ledger.shares.items():
                assert stored.shared(place, list(entries)) == entries
            assert stored.lineage(12345) is None and stored.holder("nobody") is None
        # And it goes on exactly as the memory ledger does.
        sql = Runner(
            ContentModel(MemoryLedger()), copy.deepcopy(memory.mirror), memory.serial, list(memory.log)
        )
        theirs = random.Random(99)
        mine = random.Random(99)
        for _ in range(20):
            memory.step(mine)
            _sql_step(engine, sql, theirs)
        _agree(engine, sql, memory, brute_force=True)
    finally:
        engine.dispose()


def test_an_operation_rolled_back_leaves_the_ledger_as_it_was(url: str) -> None:
    engine = make_engine(url)
    try:
        with write_transaction(engine) as conn:
            model = ContentModel(SqlPieceLedger(conn))
            model.create_vm("vm", "c1", own_bytes=2**30, compression=2.0)
        with engine.connect() as conn:
            before = ContentModel(SqlPieceLedger(conn)).totals("c1")
        with pytest.raises(RuntimeError, match="the task failed"), write_transaction(engine) as conn:
            model = ContentModel(SqlPieceLedger(conn))
            model.workload("vm", 3)
            model.backup("vm", "b", "c2")
            raise RuntimeError("the task failed")
        with engine.connect() as conn:
            model = ContentModel(SqlPieceLedger(conn))
            assert model.totals("c1") == before
            assert model.holder("vm").version == 0
            assert SqlPieceLedger(conn).holder("b") is None
            assert SqlPieceLedger(conn).places() == ["c1"]
    finally:
        engine.dispose()


def test_a_read_ahead_answers_as_reading_row_by_row(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    memory = Runner(ContentModel(MemoryLedger()))
    rng = random.Random(31)
    for _ in range(60):
        memory.step(rng)
    ledger = memory.model.ledger
    assert isinstance(ledger, MemoryLedger)
    engine = make_engine(url)
    try:
        with write_transaction(engine) as conn:
            bulk_load(conn, ledger)
            SqlPieceLedger(conn).save_workload_due(next(iter(ledger.holders)), 1234)
        wanted = [*ledger.holders, "nobody", "nobody-else"]
        with engine.connect() as conn:
            ahead = SqlPieceLedger(conn)
            ahead.prefetch(wanted)
            monkeypatch.setattr(content_store, "_HOLDER", None)  # anything not read ahead would fail now
            monkeypatch.setattr(content_store, "_LINEAGE", None)
            monkeypatch.setattr(content_store, "_HELD", None)
            monkeypatch.setattr(content_store, "_WORKLOAD_DUE", None)
            holders = [ahead.holder(h) for h in wanted]
            lineages = {h.lineage: ahead.lineage(h.lineage) for h in holders if h is not None}
            helds = {(h.place, h.lineage): ahead.held(h.place, h.lineage) for h in holders if h is not None}
            dues = [ahead.workload_due(h) for h in wanted]
        assert holders == [*ledger.holders.values(), None, None]
        assert lineages == {h.lineage: ledger.lineages[h.lineage] for h in ledger.holders.values()}
        assert helds == {
            (h.place, h.lineage): ledger.helds[(h.place, h.lineage)] for h in ledger.holders.values()
        }
        assert dues == [1234, *([None] * (len(wanted) - 1))]
    finally:
        engine.dispose()
