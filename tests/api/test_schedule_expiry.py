"""Expiry in the schedule's own transactions: a worker turn that fires slots also removes the backups that
expired by its last slot, exactly (locked ones stay), every figure still true to the stored pieces."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openovc.domain.catalog import BACKUPS
from openovc.services import schedule
from openovc.services.backups import settle
from tests.support.content_check import mirror_of_store, mismatches
from tests.support.databases import BACKENDS, database_url
from tests.support.inprocess import START, Env, make_env
from tests.support.invariants import snapshot
from tests.support.tasks import completed

# Every minute, kept two: a slot's backups expire as the slot two minutes later fires.
EVERY_MINUTE_KEPT_TWO = {"frequency": 1, "retention": 2}


@pytest.fixture(params=BACKENDS)
def fast(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    """A demo federation on a clock 60 times as fast as the test's real clock (which stands still until the
    test moves it); no worker runs, the test takes the schedule's turns and no other chore runs."""
    monkeypatch.setattr(schedule, "TURN_S", 0.0)
    with database_url(request.param, tmp_path) as url:
        built = make_env(tmp_path, database_url=url, clock_mode="accelerated:60", task_pacing="immediate")
        try:
            yield built
        finally:
            built.runtime.storage.engine.dispose()


def _text(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _scheduled(env: Env, h: dict[str, str]) -> list[str]:
    """A policy with the rule on every live VM (the demo's own rules then cover none); their ids."""
    (made,) = completed(env, "POST", "/api/policies", h, {"name": "Kept two minutes"})
    policy_id = made["object_id"]
    completed(env, "POST", f"/api/policies/{policy_id}/rules", h, [EVERY_MINUTE_KEPT_TWO])
    vms = env.client.get("/api/virtual_machines?limit=500&fields=id", headers=h).json()["virtual_machines"]
    ids = [str(v["id"]) for v in vms]
    completed(env, "POST", "/api/virtual_machines/set_policy", h,
              {"virtual_machine_id": ids, "policy_id": policy_id})  # fmt: skip
    return ids


def _stored(env: Env) -> dict[str, dict[str, Any]]:
    """Every backup row in the store (not as a GET shows it: reads hide an expired backup at once)."""
    return {str(b["id"]): dict(b) for b in env.runtime.reader.find(BACKUPS)}


def _policy_times(stored: dict[str, dict[str, Any]], vm_id: str) -> list[str]:
    return sorted(
        str(b["created_at"]) for b in stored.values()
        if b["virtual_machine_id"] == vm_id and b["type"] == "POLICY" and str(b["created_at"]) > _text(START)
    )  # fmt: skip


def _figures_exact(env: Env) -> None:
    h = env.headers()

    def fetch(path: str, params: dict[str, str]) -> Any:
        resp = env.client.get(path, headers=h, params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    assert mismatches(mirror_of_store(env.runtime.storage.engine), snapshot(fetch), unique_sizes=False) == []


def test_a_turn_removes_what_expired_by_its_last_slot_and_keeps_a_locked_backup(fast: Env) -> None:
    h = fast.headers()
    vm_ids = _scheduled(fast, h)
    scheduler = fast.runtime.scheduler
    assert scheduler.run_due() == 0  # the rule starts from now
    fast.clock.advance(timedelta(seconds=3))  # three simulated minutes
    assert scheduler.run_due() == 3 * len(vm_ids)
    minute = [_text(START + timedelta(minutes=m)) for m in range(8)]
    stored = _stored(fast)
    assert {v: _policy_times(stored, v) for v in vm_ids} == dict.fromkeys(vm_ids, minute[1:4])
    # One backup of 12:02 locked: it never expires.
    locked = next(b for b in stored.values() if b["virtual_machine_id"] == vm_ids[0]
                  and b["created_at"] == minute[2])  # fmt: skip
    completed(fast, "POST", f"/api/backups/{locked['id']}/lock", h, None)
    # Due by 12:05: those of 12:01 to 12:03 but the locked one, and the history's that come due.
    due = {i for i, b in stored.items() if b["expiration_time"] is not None and i != locked["id"]
           and _text(START) < str(b["expiration_time"]) <= minute[5]}  # fmt: skip
    fast.clock.advance(timedelta(seconds=2))
    # Only the schedule's turn runs: the slots of 12:04 and 12:05 fire, and in the same transaction every
    # backup expired by 12:05 goes, but the locked one.
    assert scheduler.run_due() == 2 * len(vm_ids)
    after = _stored(fast)
    assert {v: _policy_times(after, v) for v in vm_ids} == {
        v: ([minute[2]] if v == vm_ids[0] else []) + minute[4:6] for v in vm_ids
    }
    assert after[str(locked["id"])]["expiration_time"] is None
    assert due and not due & set(after)
    # The settling chore then finds nothing more to remove (it writes the progress of the newest only).
    rt = fast.runtime
    assert settle(rt.reader, rt.operations, rt.simulator, rt.clock.now()).expired == 0
    assert set(_stored(fast)) == set(after)
    _figures_exact(fast)


def test_a_turn_removes_no_backup_that_has_not_expired(fast: Env) -> None:
    h = fast.headers()
    vm_ids = _scheduled(fast, h)
    scheduler = fast.runtime.scheduler
    assert scheduler.run_due() == 0
    fast.clock.advance(timedelta(seconds=1))
    before = _stored(fast)
    assert scheduler.run_due() == len(vm_ids)
    after = _stored(fast)
    expired_by_then = {i for i, b in before.items() if b["expiration_time"] is not None
                       and str(b["expiration_time"]) <= _text(START + timedelta(minutes=1))}  # fmt: skip
    # Every backup there was is still there, but those of the history that expired by the slot.
    assert set(before) - set(after) == expired_by_then
    assert len(after) == len(before) - len(expired_by_then) + len(vm_ids)
    _figures_exact(fast)
