"""Policies that really run: the scheduler on a manual clock, moved through /_openovc/clock, over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from openovc.domain.schedules import PolicyLoad, Rule, runs_per_day, schedule_report
from openovc.domain.tasks import parse_pacing
from tests.support.inprocess import START, Env, make_env
from tests.support.tasks import completed

HOURLY = {"frequency": 60, "retention": 120}


@pytest.fixture
def manual(tmp_path: Path) -> Iterator[Env]:
    """A private demo federation whose clock stands at START until moved."""
    built = make_env(tmp_path, clock_mode="manual", task_pacing="immediate")
    yield built
    built.runtime.storage.engine.dispose()


def _move(env: Env, h: dict[str, str], **body: Any) -> dict[str, Any]:
    path = "/_openovc/clock/advance" if "seconds" in body else "/_openovc/clock/set"
    resp = env.client.post(path, headers=h, json=body)
    assert resp.status_code == 200, resp.text
    moved: dict[str, Any] = resp.json()
    return moved


def _alive_vms(env: Env, h: dict[str, str]) -> list[dict[str, Any]]:
    resp = env.client.get("/api/virtual_machines?limit=500&fields=id,name,omnistack_cluster_id", headers=h)
    vms: list[dict[str, Any]] = resp.json()["virtual_machines"]
    return vms


def _policy_for_all(
    env: Env, h: dict[str, str], rules: list[dict[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """A new policy with these rules, set on every live VM: the only rules that then fire."""
    (made,) = completed(env, "POST", "/api/policies", h, {"name": "Scheduled"})
    policy_id = made["object_id"]
    completed(env, "POST", f"/api/policies/{policy_id}/rules", h, rules)
    vms = _alive_vms(env, h)
    completed(env, "POST", "/api/virtual_machines/set_policy", h,
              {"virtual_machine_id": [v["id"] for v in vms], "policy_id": policy_id})  # fmt: skip
    # Persistent volumes are backed up by their policy as VMs are: they take it too.
    resp = env.client.get("/api/persistent_volumes?limit=500&fields=id,name,omnistack_cluster_id", headers=h)
    volumes: list[dict[str, Any]] = resp.json()["persistent_volumes"]
    completed(env, "POST", "/api/persistent_volumes/set_policy", h,
              {"persistent_volume_id": [v["id"] for v in volumes], "policy_id": policy_id}, version="1.16")  # fmt: skip
    return policy_id, vms + volumes


def _policy_backups(env: Env, h: dict[str, str], vm_id: str) -> list[dict[str, Any]]:
    path = f"/api/backups?virtual_machine_id={vm_id}&type=POLICY&sort=created_at&order=ascending&limit=500"
    backups: list[dict[str, Any]] = env.client.get(path, headers=h).json()["backups"]
    return [b for b in backups if b["created_at"] > _text(START)]


def _text(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _zones(env: Env) -> dict[str, ZoneInfo]:
    return {str(c["id"]): ZoneInfo(str(c["time_zone"])) for c in env.federation.rows["omnistack_clusters"]}


def _generated_expiring(env: Env, after: datetime, upto: datetime) -> int:
    """Backups of the generated history whose expiry falls in (after, upto]."""
    return sum(
        1 for b in env.federation.rows["backups"]
        if b["expiration_time"] is not None and _text(after) < str(b["expiration_time"]) <= _text(upto)
    )  # fmt: skip


def test_a_clock_standing_still_moves_only_when_told(manual: Env) -> None:
    h = manual.headers()
    assert manual.client.get("/_openovc/clock", headers=h).json() == {"mode": "manual", "now": _text(START)}
    manual.clock.advance(timedelta(minutes=5))  # real time passing does not move a manual clock
    assert manual.client.get("/_openovc/clock", headers=h).json()["now"] == _text(START)
    moved = _move(manual, h, seconds=90)
    assert moved["now"] == _text(START + timedelta(seconds=90))
    assert manual.client.get("/_openovc/clock", headers=h).json()["now"] == _text(
        START + timedelta(seconds=90)
    )
    moved = _move(manual, h, to="2026-11-21T00:00:00Z")
    assert moved["mode"] == "manual" and moved["now"] == "2026-11-21T00:00:00Z"


def test_an_hourly_rule_takes_and_expires_exactly(manual: Env) -> None:
    h = manual.headers()
    _, vms = _policy_for_all(manual, h, [HOURLY])
    end = START + timedelta(hours=6)
    moved = _move(manual, h, seconds=6 * 3600)
    assert moved == {
        "mode": "manual",
        "now": _text(end),
        "backups_taken": 6 * len(vms),
        # The rule's first four of each VM expired (kept 2 hours), and the history's that came due.
        "backups_expired": 4 * len(vms) + _generated_expiring(manual, START, end),
        "tasks_completed": 0,
    }
    zones = _zones(manual)
    for vm in vms:
        kept = _policy_backups(manual, h, vm["id"])
        slots = [START + timedelta(hours=5), START + timedelta(hours=6)]
        tz = zones[vm["omnistack_cluster_id"]]
        # The slot just reached has only begun: its backups are NEW.
        assert [(b["name"], b["created_at"], b["expiration_time"], b["state"], b["virtual_machine_name"])
                for b in kept] == [
            (s.astimezone(tz).isoformat(), _text(s), _text(s + timedelta(hours=2)), state, vm["name"])
            for s, state in zip(slots, ("PROTECTED", "NEW"), strict=True)
        ]  # fmt: skip


def test_a_paced_task_ends_at_the_first_instant_of_a_move_it_is_due_by(manual: Env) -> None:
    """A move takes the backups of several instants in one transaction; a task falling due in between
    still runs at its instant, after that instant's backups and before the next's."""
    h = manual.headers()
    _, vms = _policy_for_all(manual, h, [HOURLY])
    manual.runtime.tasks.pacing.by_operation["policy.create"] = parse_pacing("duration:5400")
    task = manual.client.post(
        "/api/policies",
        headers={**h, "Content-Type": "application/vnd.simplivity.v1.8+json"},
        json={"name": "Later"},
    ).json()["task"]
    assert task["state"] == "IN_PROGRESS"
    moved = _move(manual, h, seconds=6 * 3600)
    assert (moved["backups_taken"], moved["tasks_completed"]) == (6 * len(vms), 1)
    ended = manual.client.get(f"/api/tasks/{task['id']}", headers=h).json()["task"]
    # Due at +1h30; the move's instants are the hourly slots, so it ran at +2h.
    assert (ended["state"], ended["end_time"]) == ("COMPLETED", _text(START + timedelta(hours=2)))
    created = manual.client.get("/api/policies?name=Later", headers=h).json()["policies"]
    assert [p["id"] for p in created] == [ended["affected_objects"][0]["object_id"]]


def test_a_slot_fires_in_the_move_that_reaches_it_and_never_again(manual: Env) -> None:
    h = manual.headers()
    _, vms = _policy_for_all(manual, h, [HOURLY])
    taken = [_move(manual, h, seconds=s)["backups_taken"] for s in (1800, 1800, 3599, 1, 0, 3600)]
    # Slots at +1h (reached by the second move), +2h (reached by the fourth, at exactly +2h), +3h.
    assert taken == [0, len(vms), 0, len(vms), 0, len(vms)]


def test_suspend_and_resume_leave_an_exact_gap(manual: Env) -> None:
    h = manual.headers()
    _, vms = _policy_for_all(manual, h, [{"frequency": 60, "retention": 1440}])
    body = {"target_object_type": "federation", "target_object_id": ""}
    assert _move(manual, h, seconds=2 * 3600)["backups_taken"] == 2 * len(vms)
    completed(manual, "POST", "/api/policies/suspend", h, body)
    assert _move(manual, h, seconds=3 * 3600)["backups_taken"] == 0
    completed(manual, "POST", "/api/policies/resume", h, body)
    assert _move(manual, h, seconds=2 * 3600)["backups_taken"] == 2 * len(vms)
    hours = [
        datetime.fromisoformat(b["created_at"].replace("Z", "+00:00"))
        for b in _policy_backups(manual, h, vms[0]["id"])
    ]
    assert hours == [START + timedelta(hours=n) for n in (1, 2, 6, 7)]


def _hourly_kept_three(env: Env, h: dict[str, str]) -> list[dict[str, Any]]:
    """An hourly rule kept a day on every live VM, with max_backups 3; the VMs."""
    policy_id, vms = _policy_for_all(env, h, [{"frequency": 60, "retention": 1440}])
    # The API computes max_backups (24 here); set it lower in the store, as an older release might have.
    with env.runtime.storage.engine.begin() as conn:
        (raw,) = conn.exec_driver_sql("SELECT rules FROM policies WHERE id = ?", (policy_id,)).one()
        conn.exec_driver_sql(
            "UPDATE policies SET rules = ? WHERE id = ?",
            (raw.replace('"max_backups":24', '"max_backups":3'), policy_id),
        )
    assert '"max_backups":24' in raw
    return vms


def test_max_backups_keeps_the_newest_of_each_vm(manual: Env) -> None:
    h = manual.headers()
    vms = _hourly_kept_three(manual, h)
    _move(manual, h, seconds=5 * 3600)
    for vm in vms:
        created = [b["created_at"] for b in _policy_backups(manual, h, vm["id"])]
        assert created == [_text(START + timedelta(hours=n)) for n in (3, 4, 5)]


def test_max_backups_counts_only_the_backups_still_there(manual: Env) -> None:
    h = manual.headers()
    vms = _hourly_kept_three(manual, h)
    _move(manual, h, seconds=3 * 3600 + 600)  # the backups of 3:00 are saved by 3:10
    vm = vms[0]
    newest = _policy_backups(manual, h, vm["id"])[-1]
    assert (newest["created_at"], newest["state"]) == (_text(START + timedelta(hours=3)), "PROTECTED")
    completed(manual, "DELETE", f"/api/backups/{newest['id']}", h)
    # The slot of 3:00 is claimed, its backup gone: at 4:00 the VM holds three, at 5:00 its oldest goes.
    _move(manual, h, seconds=2 * 3600 - 600)
    created = [b["created_at"] for b in _policy_backups(manual, h, vm["id"])]
    assert created == [_text(START + timedelta(hours=n)) for n in (2, 4, 5)]
    for other in vms[1:]:
        created = [b["created_at"] for b in _policy_backups(manual, h, other["id"])]
        assert created == [_text(START + timedelta(hours=n)) for n in (3, 4, 5)]


def test_a_remote_rule_sends_its_backups_and_they_arrive_in_time(manual: Env) -> None:
    h = manual.headers()
    clusters = {str(c["name"]): str(c["id"]) for c in manual.federation.rows["omnistack_clusters"]}
    remote = {
        "frequency": 1440,
        "retention": 10080,
        "destination_id": clusters["Sydney"],
        "start_time": "13:30",
    }
    _, vms = _policy_for_all(manual, h, [remote])
    boston = [v for v in vms if v["omnistack_cluster_id"] == clusters["Boston"]]
    # 13:30 in New York is 18:30Z (Sydney's VMs have theirs at 13:30 there): the backups have just begun.
    assert _move(manual, h, to="2026-11-20T18:30:00Z")["backups_taken"] == len(boston)
    sent = _policy_backups(manual, h, boston[0]["id"])
    assert [(b["omnistack_cluster_id"], b["type"], b["state"]) for b in sent] == [
        (clusters["Sydney"], "POLICY", "NEW")
    ]
    assert sent[0]["sent_completion_time"] == "NA"
    assert _move(manual, h, seconds=86_400 - 60)["backups_taken"] == len(vms) - len(boston)
    (arrived,) = _policy_backups(manual, h, boston[0]["id"])
    assert arrived["state"] == "PROTECTED"
    if arrived["sent"]:
        assert arrived["sent_completion_time"] > arrived["created_at"]


def test_the_schedule_report_agrees_with_a_week_of_backups(manual: Env) -> None:
    h = manual.headers()
    rules = [
        {"frequency": 240, "retention": 2880, "days": "All"},
        {
            "frequency": 60,
            "retention": 720,
            "days": "Mon,Wed,Fri",
            "start_time": "08:00",
            "end_time": "18:00",
        },
        {"frequency": 1440, "retention": 10080, "days": "Sat", "start_time": "02:00"},
    ]
    policy_id, vms = _policy_for_all(manual, h, rules)
    report = manual.client.get("/api/policies/policy_schedule_report", headers=h).json()
    stored = manual.client.get(f"/api/policies/{policy_id}", headers=h).json()["policy"]["rules"]
    hosts = len(manual.federation.rows["hosts"])
    assert report == schedule_report([PolicyLoad.from_records(stored, len(vms))], hosts).as_dict()
    taken = _move(manual, h, seconds=7 * 86_400)["backups_taken"]
    # The report's daily rate is the week's backups per day (rounded): each rule's days come once a week.
    per_day = sum(runs_per_day(Rule.from_record(r)) for r in stored) * len(vms)
    assert taken == round(7 * per_day) and report["daily_backup_rate"] == round(per_day)
    kept = sum(len(_policy_backups(manual, h, vm["id"])) for vm in vms)
    per_vm = [6 * 2, 12, 1]  # 240-minute slots in 2 days; 11 hourly slots a day, 12 hours back; Saturday's
    assert kept <= report["projected_retained_backups"] + len(vms) * len(rules)
    assert kept >= len(vms) * (per_vm[0] + per_vm[2])


def test_a_token_outlives_a_jump_of_a_week(manual: Env) -> None:
    h = manual.headers()
    _move(manual, h, seconds=7 * 86_400)
    assert manual.client.get("/api/hosts?limit=1", headers=h).status_code == 200
    task = manual.client.post(
        "/api/policies",
        headers={**h, "Content-Type": "application/vnd.simplivity.v1.8+json"},
        json={"name": "Later"},
    ).json()["task"]
    assert task["start_time"] == _text(START + timedelta(days=7))
