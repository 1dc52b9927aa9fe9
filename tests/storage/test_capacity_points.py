"""A capacity point of many hosts at once (one statement on PostgreSQL): every host's last figures, exactly."""

from __future__ import annotations

from openovc.storage.operations_state import SqlOperationsState
from tests.storage.conftest import Store

# Ids and figures an array literal must escape: quotes, backslashes, commas, braces, spaces.
ODD_HOST = 'h "odd", {x} \\ y'
FIGURES = {"name": 'a "b", {c}\\d', "used_capacity": 7, "ratio": None}


def test_a_point_of_many_hosts_keeps_each_hosts_last_figures(store: Store) -> None:
    with store.engine.connect() as conn:
        outer = conn.begin()
        state = SqlOperationsState(conn)
        state.record_capacity(
            5000, [("h1", {"used_capacity": 1}), (ODD_HOST, FIGURES), ("h2", {"used_capacity": 2})]
        )
        # The same sample again, h1 twice: the later figures win, as one upsert after another left them.
        state.record_capacity(5000, [("h1", {"used_capacity": 3}), ("h3", {}), ("h1", {"used_capacity": 4})])
        state.record_capacity(10_000, [("h2", {"used_capacity": 5})])
        assert state.capacity_history("h1", 0, 20_000) == [(5000, {"used_capacity": 4})]
        assert state.capacity_history(ODD_HOST, 0, 20_000) == [(5000, FIGURES)]
        assert state.capacity_history("h2", 0, 20_000) == [
            (5000, {"used_capacity": 2}),
            (10_000, {"used_capacity": 5}),
        ]
        assert state.capacity_history("h3", 0, 20_000) == [(5000, {})]
        state.record_capacity(20_000, [])  # nothing to write
        assert state.capacity_history("h3", 0, 30_000) == [(5000, {})]
        outer.rollback()
