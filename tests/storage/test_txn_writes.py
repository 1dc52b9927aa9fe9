"""The Txn port's many-row reads and writes on both databases: each row as its one-row twin would have it."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, select

from openovc.domain.catalog import HOSTS
from openovc.domain.fields import Op
from openovc.domain.metrics import IoSpan
from openovc.domain.ports.operations import OperationsState
from openovc.domain.query import CollectionQuery, Condition
from openovc.storage import tables
from openovc.storage.operations_state import SqlOperationsState
from openovc.storage.transaction import SqlTxn
from tests.storage.conftest import Store
from tests.support.fakes import MemoryOperationsState, OperationsData


def test_update_each_sets_each_row_to_its_own_values(store: Store) -> None:
    with store.engine.connect() as conn:
        outer = conn.begin()
        txn = SqlTxn(conn)
        hosts = sorted(txn.find(HOSTS), key=lambda h: str(h["id"]))
        changed, untouched = hosts[:3], hosts[3:]
        assert changed and untouched
        txn.update_each(
            HOSTS,
            [
                (str(h["id"]), {"free_space": 1000 + i, "name": f"renamed-{i}", "management_ip": None})
                for i, h in enumerate(changed)
            ],
        )
        for i, before in enumerate(changed):
            after = txn.get(HOSTS, str(before["id"]))
            assert after == {**before, "free_space": 1000 + i, "name": f"renamed-{i}", "management_ip": None}
        assert [txn.get(HOSTS, str(h["id"])) for h in untouched] == untouched
        outer.rollback()


def test_update_each_refuses_changes_of_different_fields(store: Store) -> None:
    with store.engine.connect() as conn:
        outer = conn.begin()
        txn = SqlTxn(conn)
        first, second = sorted(str(h["id"]) for h in txn.find(HOSTS))[:2]
        with pytest.raises(AssertionError, match="every change sets the same fields"):
            txn.update_each(HOSTS, [(first, {"free_space": 1}), (second, {"name": "x"})])
        outer.rollback()


def test_get_many_finds_those_that_exist_as_get_does(store: Store) -> None:
    with store.engine.connect() as conn:
        outer = conn.begin()
        txn = SqlTxn(conn)
        ids = sorted(str(h["id"]) for h in txn.find(HOSTS))
        found = txn.get_many(HOSTS, [ids[2], "missing", ids[0]])
        assert sorted(found, key=lambda h: str(h["id"])) == [txn.get(HOSTS, ids[0]), txn.get(HOSTS, ids[2])]
        assert txn.get_many(HOSTS, []) == []
        outer.rollback()


def test_insert_many_stores_every_record_as_insert_does(store: Store) -> None:
    with store.engine.connect() as conn:
        outer = conn.begin()
        txn = SqlTxn(conn)
        model = sorted(txn.find(HOSTS), key=lambda h: str(h["id"]))[0]
        copies = [{**model, "id": f"copy-{i}", "name": f"copy-{i}", "management_ip": None} for i in range(3)]
        txn.insert_many(HOSTS, copies)
        assert [txn.get(HOSTS, f"copy-{i}") for i in range(3)] == copies
        with pytest.raises(AssertionError, match="every record has the same fields"):
            txn.insert_many(HOSTS, [{"id": "a", "name": "a"}, {"id": "b"}])
        outer.rollback()


def test_capacity_history_is_recorded_read_and_thinned_alike(store: Store) -> None:
    with store.engine.connect() as conn:
        outer = conn.begin()
        state = SqlOperationsState(conn)
        hour = 3_600_000
        state.record_capacity(0, [("h1", {"used_capacity": 0}), ("h2", {"used_capacity": 9})])
        for i in range(12):  # a minute of 5-second samples, two days back, then one now
            state.record_capacity(10 * hour + i * 5000, [("h1", {"used_capacity": i})])
        state.record_capacity(58 * hour, [("h1", {"used_capacity": 99})])
        state.record_capacity(58 * hour, [("h1", {"used_capacity": 100})])  # the same sample, rewritten
        assert state.capacity_history("h1", 10 * hour + 20_000, 58 * hour) == [
            (10 * hour + 20_000, {"used_capacity": 4}), *((10 * hour + i * 5000, {"used_capacity": i}) for i in range(5, 12)),
            (58 * hour, {"used_capacity": 100}),
        ]  # fmt: skip
        # Past 12 hours a minute keeps its last sample; past the last age (24 hours) only the newest stays.
        assert state.thin_capacity(58 * hour, [(12 * hour, 60_000), (24 * hour, hour)]) == 12
        assert state.capacity_history("h1", -1, 58 * hour) == [
            (10 * hour + 55_000, {"used_capacity": 11}), (58 * hour, {"used_capacity": 100})
        ]  # fmt: skip
        assert state.capacity_history("h2", 0, 58 * hour) == [(0, {"used_capacity": 9})]
        outer.rollback()


def _io_ops(state: OperationsState) -> list[int]:
    """The same IO and power history on any OperationsState: what each thinning step reported."""
    hour, day = 3_600_000, 86_400_000
    state.record_io([
        IoSpan("h1", "vm-1", 0, 90 * 60_000, 5_400, 0, "bk-1"),  # an hour and a half, a day ago
        IoSpan("h2", "", hour, 2 * hour, 0, 7, "bk-1"),
        IoSpan("h1", "vm-2", 30 * hour, 30 * hour + 10_000, 100, 50, "bk-2"),  # in flight at 30 h + 4 s
    ])  # fmt: skip
    state.record_power("vm-1", 0, False)
    state.record_power("vm-1", hour, True)
    state.record_power("vm-1", 2 * hour, False)
    state.record_power("vm-1", 2 * hour, True)  # off and on again at once: no change
    state.record_power("vm-2", 3 * day, True)
    counts = [state.stop_io("bk-2", 30 * hour + 4_000), state.stop_io("bk-none", 0)]
    counts.append(state.thin_io(30 * hour, [(2 * hour, hour), (day, day), (3 * day, 0)]))
    counts.append(state.thin_power(4 * day, [(day, 0)]))
    return counts


def _stored_spans(conn: Connection) -> list[IoSpan]:
    t = tables.io_history
    rows = conn.execute(select(t.c.host_id, t.c.vm_id, t.c.start_ms, t.c.end_ms, t.c.read_bytes,
                               t.c.write_bytes, t.c.source, t.c.step_ms)).all()  # fmt: skip
    return sorted(IoSpan(*row) for row in rows)


def test_io_and_power_history_are_kept_and_thinned_as_the_fake_keeps_them(store: Store) -> None:
    memory = OperationsData()
    expected = _io_ops(MemoryOperationsState(memory))
    with store.engine.connect() as conn:
        outer = conn.begin()
        assert _io_ops(SqlOperationsState(conn)) == expected == [1, 0, 2, 1]
        assert _stored_spans(conn) == sorted(memory.io)
        t = tables.power_history
        stored = conn.execute(select(t.c.vm_id, t.c.at_ms, t.c.powered_on)).all()
        assert sorted((v, at, bool(on)) for v, at, on in stored) == sorted(
            (v, at, on) for (v, at), on in memory.power.items()
        )
        outer.rollback()
    # Rolled by the hour past two hours: bk-1's first span splits 3,600 / 1,800; the cut in flight kept 40%.
    assert sorted(memory.io) == sorted([
        IoSpan("h1", "vm-1", 0, 3_600_000, 3_600, 0, "", 3_600_000),
        IoSpan("h1", "vm-1", 3_600_000, 7_200_000, 1_800, 0, "", 3_600_000),
        IoSpan("h2", "", 3_600_000, 7_200_000, 0, 7, "", 3_600_000),
        IoSpan("h1", "vm-2", 30 * 3_600_000, 30 * 3_600_000 + 4_000, 40, 20, "bk-2"),
    ])  # fmt: skip
    assert sorted(memory.power) == [("vm-1", 3_600_000), ("vm-2", 3 * 86_400_000)]


def test_a_transactions_page_sees_its_own_changes_and_the_readers_does_not(store: Store) -> None:
    query = CollectionQuery(conditions=(Condition("name", Op.MATCH, ("renamed-*",), wildcard=True),))
    with store.engine.connect() as conn:
        outer = conn.begin()
        txn = SqlTxn(conn)
        hosts = sorted(str(h["id"]) for h in txn.find(HOSTS))[:2]
        txn.update_each(HOSTS, [(key, {"name": f"renamed-{i}"}) for i, key in enumerate(hosts)])
        page = txn.page(HOSTS, query, ("id", "name"))
        assert (page.count, page.columns) == (2, ("id", "name"))
        assert sorted(map(tuple, page.rows)) == [(key, f"renamed-{i}") for i, key in enumerate(hosts)]
        assert store.reader.page(HOSTS, query, ("id", "name")).count == 0  # not committed
        outer.rollback()
