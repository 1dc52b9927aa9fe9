"""A running clock the worker cannot keep pace with: the schedule says how far behind it is, drops what it
missed long ago (each rule's latest still fires) and never fires a slot twice."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openovc.app import chores
from openovc.services import schedule
from openovc.services.backups import lifecycle
from tests.support.inprocess import START, Env, make_env
from tests.support.tasks import completed

EVERY_MINUTE = {"frequency": 1, "retention": 1440}


@pytest.fixture
def fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """A demo federation on a clock running 60 times as fast as the test's real clock (which stands still
    until the test moves it); no worker runs, the test takes its turns."""
    monkeypatch.setattr(schedule, "TURN_S", 0.0)  # every turn looks, however soon after the last
    built = make_env(tmp_path, clock_mode="accelerated:60", task_pacing="immediate")
    yield built
    built.runtime.storage.engine.dispose()


def _text(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clock(env: Env, h: dict[str, str]) -> dict[str, Any]:
    resp = env.client.get("/_openovc/clock", headers=h)
    assert resp.status_code == 200, resp.text
    shown: dict[str, Any] = resp.json()
    return shown


def _scheduled(env: Env, h: dict[str, str]) -> list[str]:
    """A policy with a rule every minute on every live VM (the demo's own rules then cover none, and none of
    theirs comes due in the first hour but once, at 13:00); their ids."""
    (made,) = completed(env, "POST", "/api/policies", h, {"name": "Every minute"})
    policy_id = made["object_id"]
    completed(env, "POST", f"/api/policies/{policy_id}/rules", h, [EVERY_MINUTE])
    vms = env.client.get("/api/virtual_machines?limit=500&fields=id", headers=h).json()["virtual_machines"]
    ids = [str(v["id"]) for v in vms]
    completed(
        env,
        "POST",
        "/api/virtual_machines/set_policy",
        h,
        {"virtual_machine_id": ids, "policy_id": policy_id},
    )
    return ids


def _started(env: Env) -> tuple[dict[str, str], list[str], schedule.PolicyScheduler]:
    """Headers, the VMs of a rule every minute, and the scheduler, whose first turn started it from now."""
    h = env.headers()
    vm_ids = _scheduled(env, h)
    scheduler = env.runtime.scheduler
    assert scheduler.run_due() == 0  # the new rule starts from now
    return h, vm_ids, scheduler


def _created(env: Env, h: dict[str, str], vm_id: str) -> list[str]:
    path = f"/api/backups?virtual_machine_id={vm_id}&type=POLICY&sort=created_at&order=ascending&limit=500"
    backups = env.client.get(path, headers=h).json()["backups"]
    return [str(b["created_at"]) for b in backups if b["created_at"] > _text(START)]


def test_a_schedule_within_reach_fires_every_slot_once(fast: Env) -> None:
    h, vm_ids, scheduler = _started(fast)
    assert _clock(fast, h) == {"mode": "accelerated:60", "now": _text(START), "schedule_lag_seconds": 0.0}
    fast.clock.advance(timedelta(seconds=9))  # nine simulated minutes, within ten real seconds
    assert _clock(fast, h)["schedule_lag_seconds"] == 8 * 60.0  # due since 12:01
    assert scheduler.run_due() == 9 * len(vm_ids)
    assert scheduler.run_due() == 0
    assert _clock(fast, h)["schedule_lag_seconds"] == 0.0
    slots = [_text(START + timedelta(minutes=m)) for m in range(1, 10)]
    assert {vm_id: _created(fast, h, vm_id) for vm_id in vm_ids} == dict.fromkeys(vm_ids, slots)


def test_a_turn_out_of_time_leaves_the_rest_to_the_next(fast: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    h, vm_ids, scheduler = _started(fast)
    fast.clock.advance(timedelta(seconds=3))
    # One transaction a turn, of one slot of one cluster: each turn fires the next slot of a cluster.
    monkeypatch.setattr(schedule, "BATCH_BACKUPS", 1)
    monkeypatch.setattr(schedule, "TURN_BUDGET_S", 0.0)
    turns = []
    while taken := scheduler.run_due():
        turns.append(taken)
    clusters = {str(v["omnistack_cluster_id"]) for v in fast.federation.rows["virtual_machines"]
                if v["id"] in vm_ids}  # fmt: skip
    assert len(turns) == 3 * len(clusters) and sum(turns) == 3 * len(vm_ids)
    slots = [_text(START + timedelta(minutes=m)) for m in (1, 2, 3)]
    assert {vm_id: _created(fast, h, vm_id) for vm_id in vm_ids} == dict.fromkeys(vm_ids, slots)


def test_a_schedule_far_behind_says_so_and_drops_what_it_missed_long_ago(
    fast: Env, caplog: pytest.LogCaptureFixture
) -> None:
    h, vm_ids, scheduler = _started(fast)
    fast.clock.advance(timedelta(minutes=1))  # a simulated hour: 60 slots due, the first at 12:01
    assert _clock(fast, h) == {
        "mode": "accelerated:60",
        "now": _text(START + timedelta(hours=1)),
        "schedule_lag_seconds": 59 * 60.0,
    }
    with caplog.at_level(logging.WARNING, logger="openovc.schedule"):
        taken = scheduler.run_due()
    # Ten real seconds at this pace are ten simulated minutes: the slots from 12:50 to 13:00 fire, the 49
    # before are dropped in each of the demo's two clusters, and the log says so.
    assert taken == 11 * len(vm_ids)
    assert [r.getMessage() for r in caplog.records] == [
        "the policy schedule is behind the clock: 98 slots missed by more than 10 real seconds were "
        "dropped (each rule's latest fires)"
    ]
    assert _clock(fast, h)["schedule_lag_seconds"] == 0.0
    assert scheduler.run_due() == 0  # nothing fires twice, the dropped slots included
    slots = [_text(START + timedelta(minutes=m)) for m in range(50, 61)]
    assert {vm_id: _created(fast, h, vm_id) for vm_id in vm_ids} == dict.fromkeys(vm_ids, slots)


def test_a_slot_that_cannot_fire_holds_back_no_other(
    fast: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    h, vm_ids, scheduler = _started(fast)
    home = {str(v["id"]): str(v["omnistack_cluster_id"]) for v in fast.federation.rows["virtual_machines"]}
    broken = home[vm_ids[0]]
    backups = scheduler._backups

    def failing(txn: Any, slot_ms: int, slotted: schedule.Slotted, as_of_ms: int) -> dict[str, str]:
        if slotted.cluster_id == broken:
            raise RuntimeError("the cluster's storage is gone")
        return backups(txn, slot_ms, slotted, as_of_ms)

    monkeypatch.setattr(scheduler, "_backups", failing)
    fast.clock.advance(timedelta(seconds=2))
    with caplog.at_level(logging.ERROR, logger="openovc.schedule"):
        taken = scheduler.run_due()
    working = [vm_id for vm_id in vm_ids if home[vm_id] != broken]
    assert taken == 2 * len(working) and working
    assert [r.getMessage().split(": ")[1] for r in caplog.records] == [
        f"the slot of {START + timedelta(minutes=m)} did not fire" for m in (1, 2)
    ]
    slots = [_text(START + timedelta(minutes=m)) for m in (1, 2)]
    assert {vm_id: _created(fast, h, vm_id) for vm_id in vm_ids} == {
        vm_id: slots if home[vm_id] != broken else [] for vm_id in vm_ids
    }


def test_a_turn_behind_first_removes_what_expired_by_the_clocks_now(
    fast: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    h, vm_ids, scheduler = _started(fast)
    # A manual backup kept 55 minutes: it expires at 12:55, after the first slot the turn below fires.
    (made,) = completed(fast, "POST", f"/api/virtual_machines/{vm_ids[0]}/backup", h,
                        {"backup_name": "short", "retention": 55})  # fmt: skip
    assert made["object_type"] == "backup"
    fast.clock.advance(timedelta(minutes=1))  # a simulated hour: 13:00
    monkeypatch.setattr(schedule, "BATCH_BACKUPS", 1)
    monkeypatch.setattr(schedule, "TURN_BUDGET_S", 0.0)
    # One slot fires (12:50, the earliest within reach, in the first cluster), in a transaction that first
    # removed every backup expired by 13:00, this one included: no settling chore runs here.
    home = {str(v["id"]): str(v["omnistack_cluster_id"]) for v in fast.federation.rows["virtual_machines"]}
    first = min(home[vm_id] for vm_id in vm_ids)
    assert scheduler.run_due() == sum(home[vm_id] == first for vm_id in vm_ids)
    resp = fast.client.get(f"/api/backups/{made['object_id']}", headers=h)
    assert resp.status_code == 404, resp.text
    assert {vm_id: _created(fast, h, vm_id) for vm_id in vm_ids} == {
        vm_id: [_text(START + timedelta(minutes=50))] if home[vm_id] == first else [] for vm_id in vm_ids
    }


def test_backups_fired_late_are_stored_as_they_stand_now(fast: Env) -> None:
    h, vm_ids, scheduler = _started(fast)
    fast.clock.advance(timedelta(seconds=10))  # ten simulated minutes: 12:01 to 12:10 due
    assert scheduler.run_due() == 10 * len(vm_ids)
    path = f"/api/backups?virtual_machine_id={vm_ids[0]}&type=POLICY&sort=created_at&order=ascending"
    states = {b["created_at"]: b["state"] for b in fast.client.get(path, headers=h).json()["backups"]
              if b["created_at"] > _text(START)}  # fmt: skip
    # A local backup is NEW for its first seconds, then saved within a minute: those fired at 12:10 saw
    # their slot come now, the earlier ones are stored saved, as the settling chore would have left them.
    assert states == {
        **{_text(START + timedelta(minutes=m)): "PROTECTED" for m in range(1, 10)},
        _text(START + timedelta(minutes=10)): "NEW",
    }


def test_the_settling_chore_waits_a_turn_after_one_that_settled(
    fast: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, scheduler = _started(fast)  # the new rule starts from now
    settled: list[datetime] = []
    settle = lifecycle.settle

    def counted(*args: Any) -> lifecycle.Settled:
        settled.append(args[-1])
        return settle(*args)

    monkeypatch.setattr(lifecycle, "settle", counted)
    run = chores(fast.runtime)
    assert scheduler.took_settling() is False
    run()
    assert len(settled) == 1  # nothing fired: the chore settles
    fast.clock.advance(timedelta(seconds=2))
    run()  # two slots fired, in a transaction that settled as of 12:02
    assert len(settled) == 1
    run()  # nothing more due: the chore settles again
    assert settled == [START, START + timedelta(minutes=2)]
