"""The ledger's reads of many pieces or seeds at once find exactly the stored rows, whatever the ids."""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from pathlib import Path

import pytest

from openovc.simulator.content.ledger import SegmentState
from openovc.storage.content_store import SqlPieceLedger
from openovc.storage.engine import make_engine, migrate
from openovc.storage.transaction import write_transaction
from tests.support.databases import BACKENDS, database_url

# 63-bit ids, the largest included; more pieces than an IN list of binds could hold (one JSON array binds them).
PIECES = [0, 1, 2**31, 2**53 + 1, 2**62 + 7, 2**63 - 1, *range(10_000, 11_003)]
SEEDS = [0, 5, 2**40 + 3, 2**63 - 2]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as found:
        yield found


def test_shared_pieces_and_segments_are_read_back_exactly(url: str) -> None:
    engine = make_engine(url)
    try:
        migrate(engine)
        stored = {piece: index + 1 for index, piece in enumerate(PIECES) if index % 2 == 0}
        with write_transaction(engine) as conn:
            ledger = SqlPieceLedger(conn)
            ledger.save_shared("c1", stored)
            ledger.save_shared("c2", {PIECES[1]: 99})  # another place's row is not this one's
            for seed in SEEDS[:3]:
                ledger.save_segment("c1", seed, SegmentState(seed % 7 + 1, array("I", [1, 0, 2])))
            ledger.flush()
        with engine.connect() as conn:
            ledger = SqlPieceLedger(conn)
            assert ledger.shared("c1", PIECES) == stored
            states = ledger.segment_states("c1", SEEDS)
        assert sorted(states) == SEEDS[:3]
        for seed in SEEDS[:3]:
            assert (states[seed].holders, list(states[seed].masks)) == (seed % 7 + 1, [1, 0, 2])
    finally:
        engine.dispose()
