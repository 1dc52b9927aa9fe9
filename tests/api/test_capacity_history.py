"""A host's capacity series shows what it held at each point, as the data changed, and keeps its past."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from openovc.storage import tables
from openovc.storage.content_store import due_workloads
from tests.support.inprocess import START, Env, make_env
from tests.support.tasks import completed


@pytest.fixture
def manual(tmp_path: Path) -> Iterator[Env]:
    built = make_env(tmp_path, clock_mode="manual", task_pacing="immediate")
    yield built
    built.runtime.storage.engine.dispose()


def _series(env: Env, h: dict[str, str], host_id: str, **params: str) -> list[tuple[str, int]]:
    resp = env.client.get(
        f"/api/hosts/{host_id}/capacity", headers=h, params={"fields": "used_capacity", **params}
    )
    assert resp.status_code == 200, resp.text
    (metric,) = resp.json()["metrics"]
    return [(p["date"], p["value"]) for p in metric["data_points"]]


def _host(env: Env, h: dict[str, str], host_id: str) -> dict[str, Any]:
    host: dict[str, Any] = env.client.get(f"/api/hosts/{host_id}", headers=h).json()["host"]
    return host


def _text(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_clone_once_a_workload_step_is_due_shows_in_the_points_after_it_and_not_before(manual: Env) -> None:
    h = manual.headers()
    # The VM whose workload step comes due first: nothing else in the federation has written by then, and
    # a clone (which shares every piece) adds to its cluster exactly what that step wrote.
    with manual.runtime.storage.engine.connect() as conn:
        (vm_id,) = due_workloads(conn, 2**62, 1)
        t = tables.content_holders
        due_ms = int(conn.execute(select(t.c.due_at).where(t.c.holder_id == vm_id)).scalar_one())
    vm = next(v for v in manual.federation.rows["virtual_machines"] if v["id"] == vm_id)
    assert vm["hypervisor_virtual_machine_power_state"] == "ON" and not vm["hypervisor_is_template"]
    cluster_hosts = [
        x for x in manual.federation.rows["hosts"] if x["omnistack_cluster_id"] == vm["omnistack_cluster_id"]
    ]
    host_id = str(cluster_hosts[0]["id"])
    generated = int(cluster_hosts[0]["used_capacity"])
    start_ms = int(START.timestamp() * 1000)
    wait_s = -(-(due_ms - start_ms) // 60_000) * 60  # the step's due time, up to a whole minute
    resp = manual.client.post("/_openovc/clock/advance", headers=h, json={"seconds": wait_s})
    assert resp.status_code == 200
    clone_at = START + timedelta(seconds=wait_s)
    completed(
        manual, "POST", f"/api/virtual_machines/{vm_id}/clone", h, {"virtual_machine_name": "later-twin"}
    )
    now_used = int(_host(manual, h, host_id)["used_capacity"])
    manual.client.post("/_openovc/clock/advance", headers=h, json={"seconds": 600})
    # A point a minute up to now: before the clone the generated figure, from its minute on today's.
    points = _series(manual, h, host_id, range=str(wait_s + 600), resolution="MINUTE")
    assert len(points) == wait_s // 60 + 10
    before = [v for d, v in points if d < _text(clone_at)]
    after = [v for d, v in points if d >= _text(clone_at)]
    assert len(after) == 11 and set(before) == {generated} and set(after) == {now_used}
    assert now_used > generated


def test_without_changes_the_series_is_the_generated_figures(manual: Env) -> None:
    h = manual.headers()
    host = manual.federation.rows["hosts"][0]
    points = _series(manual, h, str(host["id"]), range="3600", resolution="MINUTE")
    assert {v for _, v in points} == {int(host["used_capacity"])}
    assert points[-1][0] == _text(START)


def test_old_points_are_thinned_as_the_real_one_keeps_samples(manual: Env) -> None:
    rt = manual.runtime
    host_id = str(manual.federation.rows["hosts"][0]["id"])
    base = int(START.timestamp() * 1000)
    with rt.operations.changing() as (_, state):
        # A point every 5 s for a minute, 13 hours ago, then one every 5 s now.
        state.record_capacity(base - 13 * 3_600_000, [(host_id, {"used_capacity": 1})])
        for i in range(1, 12):
            state.record_capacity(base - 13 * 3_600_000 + i * 5000, [(host_id, {"used_capacity": 1 + i})])
        for i in range(3):
            state.record_capacity(base - 10_000 + i * 5000, [(host_id, {"used_capacity": 100 + i})])
    with rt.operations.changing() as (txn, _):
        gone = rt.simulator.keep_history(txn, datetime.fromtimestamp(base / 1000, UTC))
    with rt.operations.reading() as state:
        kept = state.capacity_history(host_id, 0, base)
    # Of the 12 old points in one minute only the last stays; the last 12 hours' stay every 5 s.
    assert gone == 11
    assert [(at - base, f["used_capacity"]) for at, f in kept[1:]] == [
        (-13 * 3_600_000 + 55_000, 12), (-10_000, 100), (-5_000, 101), (0, 102),
    ]  # fmt: skip
    assert kept[0][0] == 0  # the generated figures, from the beginning
