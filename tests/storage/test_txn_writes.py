"""The Txn port's many-row reads and writes on both databases: each row as its one-row twin would have it."""

from __future__ import annotations

import pytest

from openovc.domain.catalog import HOSTS
from openovc.storage.operations_state import SqlOperationsState
from openovc.storage.transaction import SqlTxn
from tests.storage.conftest import Store


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
