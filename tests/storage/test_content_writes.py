"""A deferred content ledger (many operations, one write per table and kind) and the arrays it binds."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from openovc.domain.catalog import BACKUPS
from openovc.simulator.content.ledger import MemoryLedger
from openovc.simulator.content.model import ContentModel
from openovc.storage.content_store import SqlPieceLedger
from openovc.storage.engine import make_engine, migrate
from openovc.storage.prepared import Prepared
from openovc.storage.transaction import SqlTxn, write_transaction
from tests.storage.conftest import Store
from tests.storage.test_content_store import _agree
from tests.support.content_ops import Runner
from tests.support.databases import BACKENDS, database_url


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as found:
        engine = make_engine(found)
        migrate(engine)
        engine.dispose()
        yield found


@pytest.mark.parametrize("seed", [5, 6])
def test_a_deferred_ledger_writes_what_many_operations_left(url: str, seed: int) -> None:
    # Many operations per transaction: rows saved again and again, holders dropped and made anew, workloads
    # started and stopped, all kept until the flush, which must leave the tables as the memory ledger is.
    engine = make_engine(url)
    try:
        memory, sql = Runner(ContentModel(MemoryLedger())), Runner(ContentModel(MemoryLedger()))
        mine, theirs = random.Random(seed), random.Random(seed)
        for n in range(8):
            with write_transaction(engine) as conn:
                ledger = SqlPieceLedger(conn, deferred=True)
                sql.model = ContentModel(ledger)
                for _ in range(10):
                    memory.step(mine)
                    sql.step(theirs)
                ledger.flush()
            assert sql.log == memory.log
            _agree(engine, sql, memory, brute_force=n % 4 == 3)
    finally:
        engine.dispose()


def test_a_deferred_ledger_writes_nothing_before_its_flush(url: str) -> None:
    engine = make_engine(url)
    try:
        with write_transaction(engine) as conn:
            ledger = SqlPieceLedger(conn, deferred=True)
            Runner(ContentModel(ledger)).step(random.Random(1))
            assert conn.execute(text("SELECT count(*) FROM content_holders")).scalar_one() == 0
            ledger.flush()
            assert conn.execute(text("SELECT count(*) FROM content_holders")).scalar_one() > 0
    finally:
        engine.dispose()


_VALUES = {
    "bigint[]": [0, -(2**63), 2**63 - 1, None],
    "text[]": ["plain", 'with "quotes"', "back\\slash", "", "NULL", "comma, {brace}", None],
    "bytea[]": [b"", b"\x00\x01\xff", b'\\"', None],
    "boolean[]": [True, False, None],
    "float8[]": [0.1, -2.5e-300, 1e300, None],
}


@pytest.mark.parametrize("array_type", sorted(_VALUES))
def test_arrays_bound_as_literals_come_back_as_they_went(store: Store, array_type: str) -> None:
    if store.backend != "postgresql":
        pytest.skip("array parameters are PostgreSQL's")
    values = _VALUES[array_type]
    with store.engine.connect() as conn:
        statement = Prepared(text(f"SELECT u FROM unnest(CAST(:values AS {array_type})) AS u"))
        assert [row[0] for row in statement.tuples(conn, {"values": values})] == values


def test_many_rows_written_at_once_read_as_one_at_a_time(store: Store) -> None:
    # insert_many, get_many and delete_many bind arrays on PostgreSQL, and run a row at a time on SQLite.
    with store.engine.connect() as conn:
        outer = conn.begin()
        txn = SqlTxn(conn)
        model = sorted(txn.find(BACKUPS), key=lambda b: str(b["id"]))[0]
        copies = [{**model, "id": f"copy-{i}", "name": f'copy "{i}"'} for i in range(3)]
        txn.insert_many(BACKUPS, copies)
        assert [txn.get(BACKUPS, str(c["id"])) for c in copies] == copies
        found = txn.get_many(BACKUPS, ["copy-2", "missing", "copy-0"])
        assert sorted(found, key=lambda b: str(b["id"])) == [copies[0], copies[2]]
        assert sorted(txn.delete_many(BACKUPS, ["copy-0", "missing", "copy-1"])) == ["copy-0", "copy-1"]
        assert txn.get_many(BACKUPS, ["copy-0", "copy-1", "copy-2"]) == [copies[2]]
        outer.rollback()
