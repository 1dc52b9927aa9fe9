"""The policy scheduler across real server processes: two servers on one PostgreSQL database moving one
manual clock in turns, and one server on an accelerated clock stopped and started again."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.databases import BACKENDS, database_url, fresh_postgres_database
from tests.support.server import RunningServer, admin_token, start_server
from tests.support.waiting import wait_until

PASSWORD = "Schedule-Passw0rd"
ENV = {"OPENOVC_ADMIN_PASSWORD": PASSWORD}
V18 = {"Content-Type": "application/vnd.simplivity.v1.8+json"}
V16 = {"Content-Type": "application/vnd.simplivity.v1.16+json"}  # persistent volumes came with 1.16
START = datetime(2027, 1, 4, 0, 30, tzinfo=UTC)  # no daylight saving change in the week after, anywhere
STEP = timedelta(hours=6)
WEEK = timedelta(days=7)


def _text(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@contextmanager
def _api(server: RunningServer) -> Iterator[httpx.Client]:
    """A client of `server`, logged in as the administrator."""
    with server.client(timeout_s=120) as client:
        client.headers["Authorization"] = f"Bearer {admin_token(client, PASSWORD)}"
        yield client


def _get(client: httpx.Client, path: str, **params: str) -> Any:
    resp = client.get(path, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _completed(
    client: httpx.Client, path: str, body: Any, headers: Mapping[str, str] = V18
) -> list[dict[str, str]]:
    """POST an operation (v1.8 media type unless told), follow its task to the end; its affected objects."""
    resp = client.post(path, headers=headers, json=body)
    assert resp.status_code == 202, resp.text
    task_id = resp.json()["task"]["id"]

    def ended() -> dict[str, Any] | None:
        task: dict[str, Any] = _get(client, f"/api/tasks/{task_id}")["task"]
        return task if task["state"] != "IN_PROGRESS" else None

    task = wait_until(ended, timeout=60, interval=0.05, what=f"task {task_id} of {path}")
    assert task["state"] == "COMPLETED", task
    affected: list[dict[str, str]] = task["affected_objects"]
    return affected


def _alive_vm_ids(client: httpx.Client) -> list[str]:
    found = _get(client, "/api/virtual_machines", limit="5000", fields="id,state")
    assert found["count"] == len(found["virtual_machines"])
    return [vm["id"] for vm in found["virtual_machines"] if vm["state"] == "ALIVE"]


def _policy(client: httpx.Client, name: str, rule: dict[str, Any], vm_ids: list[str]) -> tuple[str, str]:
    """A new policy with this one rule, set on these VMs; (policy id, rule id)."""
    (made,) = _completed(client, "/api/policies", {"name": name})
    policy_id = made["object_id"]
    _completed(client, f"/api/policies/{policy_id}/rules", [rule])
    _completed(
        client, "/api/virtual_machines/set_policy", {"virtual_machine_id": vm_ids, "policy_id": policy_id}
    )
    (stored,) = _get(client, f"/api/policies/{policy_id}")["policy"]["rules"]
    return policy_id, str(stored["id"])


def _idle_volumes(client: httpx.Client) -> None:
    """Every live persistent volume on a policy without rules, so that only the VMs' slots fire."""
    volumes = _get(client, "/api/persistent_volumes", fields="id", limit="500")["persistent_volumes"]
    if not volumes:
        return
    (made,) = _completed(client, "/api/policies", {"name": "Idle"})
    body = {"policy_id": made["object_id"], "persistent_volume_id": [v["id"] for v in volumes]}
    _completed(client, "/api/persistent_volumes/set_policy", body, V16)


def _policy_backups(client: httpx.Client) -> list[dict[str, Any]]:
    """Every POLICY backup, page by page."""
    backups: list[dict[str, Any]] = []
    while True:
        page = _get(
            client,
            "/api/backups",
            type="POLICY",
            fields="id,name,virtual_machine_id,created_at,expiration_time",
            sort="created_at",
            order="ascending",
            limit="500",
            offset=str(len(backups)),
        )
        backups += page["backups"]
        if not page["backups"] or len(backups) >= page["count"]:
            assert len(backups) == page["count"]
            return backups


def _clock(client: httpx.Client) -> datetime:
    return _instant(_get(client, "/_openovc/clock")["now"])


# ---- two servers, one database, one manual clock moved in turns ---------------------------------------


def _newest_slots(client: httpx.Client, vm_ids: set[str]) -> dict[str, list[str]]:
    """The creation times of the newest POLICY backups of these VMs (a page's worth), per VM."""
    page = _get(
        client,
        "/api/backups",
        type="POLICY",
        fields="virtual_machine_id,created_at",
        sort="created_at",
        order="descending",
        limit="500",
    )
    found: dict[str, list[str]] = {vm: [] for vm in vm_ids}
    for backup in page["backups"]:
        if backup["virtual_machine_id"] in found:
            found[backup["virtual_machine_id"]].append(backup["created_at"])
    return found


def _hourly(end: datetime, hours: int) -> list[str]:
    """The hourly slots (at half past, START being 00:30Z) of the `hours` hours up to `end`, oldest first."""
    return [_text(end - timedelta(hours=h)) for h in range(hours - 1, -1, -1)]


def _week_in_turns(on_a: httpx.Client, on_b: httpx.Client, vm_ids: list[str]) -> list[int]:
    """Move the clock a week, 6 hours at a time, through each server in turn; the backups each move took.

    After each move, the other server sees the new time and every slot the move passed, taken once for
    each VM (whichever server's move or worker took it).
    """
    reported = []
    now = START
    for step in range(WEEK // STEP):
        mover, other = (on_a, on_b) if step % 2 == 0 else (on_b, on_a)
        resp = mover.post("/_openovc/clock/advance", json={"seconds": "6h" if step % 2 else 21600})
        assert resp.status_code == 200, resp.text
        moved = resp.json()
        now += STEP
        assert (moved["mode"], moved["now"]) == ("manual", _text(now)), moved
        reported.append(moved["backups_taken"])
        assert _clock(other) == now
        newest = _newest_slots(other, set(vm_ids))
        in_step = _hourly(now - timedelta(minutes=30), 6)
        for vm in vm_ids:
            assert sorted(c for c in newest[vm] if c > _text(now - STEP)) == in_step, (step, vm, newest[vm])
        time.sleep(0.3)  # both servers' workers take a turn at the new time
    return reported


def _kept_a_day(backups: list[dict[str, Any]], vm_ids: list[str], end: datetime) -> None:
    """No slot twice for a VM, and each VM keeps exactly the last 24 hourly slots (the one 24 hours before
    `end` expired at `end`), each named by its slot and expiring a day after it."""
    keys = [(backup["virtual_machine_id"], backup["created_at"]) for backup in backups]
    assert {key: n for key, n in Counter(keys).items() if n > 1} == {}
    per_vm: dict[str, list[str]] = {vm: [] for vm in vm_ids}
    for backup in backups:
        per_vm[backup["virtual_machine_id"]].append(backup["created_at"])
        created = _instant(backup["created_at"])
        assert _instant(backup["expiration_time"]) == created + timedelta(minutes=1440)
        assert _instant(backup["name"]) == created
    last_day = _hourly(end - timedelta(minutes=30), 24)
    assert {vm: sorted(created) for vm, created in per_vm.items()} == dict.fromkeys(vm_ids, last_day)
    assert len(backups) == 24 * len(vm_ids)


def _schedule_tables(url: str, rule_id: str, backups: list[dict[str, Any]], clusters: int) -> None:
    """schedule_slots holds each (rule, VM, slot) once, each kept backup with its slot; one mark per
    cluster for the rule."""
    with psycopg.connect(url) as conn:
        counted = conn.execute(
            "SELECT count(*), count(DISTINCT (rule_id, vm_id, slot_ms)), count(DISTINCT backup_id) "
            "FROM schedule_slots"
        ).fetchone()
        slotted = conn.execute(
            "SELECT vm_id, slot_ms, backup_id FROM schedule_slots WHERE rule_id = %s", (rule_id,)
        ).fetchall()
        marks = conn.execute("SELECT count(*) FROM schedule_marks WHERE rule_id = %s", (rule_id,)).fetchone()
    assert counted is not None and counted[0] == counted[1] == counted[2] >= len(backups)
    remembered = {
        (str(vm), _text(datetime.fromtimestamp(ms / 1000, UTC)), str(backup_id))
        for vm, ms, backup_id in slotted
    }
    # The slots of expired backups may be forgotten; those of kept ones may not.
    assert {(b["virtual_machine_id"], b["created_at"], b["id"]) for b in backups} <= remembered
    assert marks == (clusters,)


@pytest.mark.slow
@pytest.mark.postgres
def test_two_servers_moving_one_clock_take_each_slot_once(tmp_path: Path) -> None:
    with fresh_postgres_database() as url:
        clock = ["--clock", f"manual:{_text(START)}"]
        a = start_server(tmp_path / "a", database_url=url, env=ENV, extra_args=clock, wait=False)
        b = start_server(tmp_path / "b", database_url=url, env=ENV, extra_args=clock, wait=False)
        with a, b:
            a.wait_ready()
            b.wait_ready()
            with _api(a) as on_a, _api(b) as on_b:
                assert _get(on_b, "/_openovc/clock") == {"mode": "manual", "now": _text(START)}
                vm_ids = _alive_vm_ids(on_a)
                assert len(set(vm_ids)) == len(vm_ids) >= 10
                _, rule_id = _policy(on_b, "Hourly", {"frequency": 60, "retention": 1440}, vm_ids)
                _idle_volumes(on_a)
                assert _clock(on_a) == START  # a manual clock stands still while the servers work
                reported = _week_in_turns(on_a, on_b, vm_ids)
                end = START + WEEK
                assert _clock(on_a) == _clock(on_b) == end
                backups = [
                    backup
                    for backup in _policy_backups(on_a)
                    if backup["virtual_machine_id"] in vm_ids and _instant(backup["created_at"]) > START
                ]
                _kept_a_day(backups, vm_ids, end)
                clusters = _get(on_b, "/api/omnistack_clusters", fields="id")["count"]
                _schedule_tables(url, rule_id, backups, clusters)
            # Closed first: idle keep-alive connections would hold a TLS server's shutdown for 10 s.
            assert b.stop() == a.stop() == 0
        # Every slot of the week fired in the move that reached it, and the moves say so: 168 a VM.
        assert sum(reported) == 24 * 7 * len(vm_ids), reported


# ---- an accelerated clock, a server stopped and started again -----------------------------------------

RATE = 600  # ten simulated minutes a real second
TEN_MINUTES = timedelta(minutes=10)


def _clock_reading(client: httpx.Client) -> tuple[datetime, float, float]:
    """The accelerated clock's now, and the monotonic times just before and just after reading it."""
    before = time.monotonic()
    now = _clock(client)
    return now, before, time.monotonic()


def _latest(reading: tuple[datetime, float, float], later: float) -> datetime:
    """No earlier than where the clock stands at monotonic `later` (it was read at `before` at the soonest,
    and the reading drops the fraction of its second)."""
    now, before, _ = reading
    return now + timedelta(seconds=1 + (later - before) * RATE)


def _soonest(reading: tuple[datetime, float, float], later: float) -> datetime:
    """No later than where the clock stands at monotonic `later`."""
    now, _, after = reading
    return now + timedelta(seconds=(later - after) * RATE)


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend", [pytest.param(b, marks=[pytest.mark.postgres] if b == "postgresql" else []) for b in BACKENDS]
)
def test_a_restart_fires_only_the_latest_missed_slot(tmp_path: Path, backend: str) -> None:
    with database_url(backend, tmp_path) as url:
        db = None if backend == "sqlite" else url
        data_dir = tmp_path / "data"
        accelerated = ["--clock", f"accelerated:{RATE}"]
        with start_server(data_dir, database_url=db, env=ENV, extra_args=accelerated) as first:
            with _api(first) as api:
                assert _get(api, "/_openovc/clock")["mode"] == f"accelerated:{RATE}"
                chosen = _alive_vm_ids(api)[:3]
                _policy(api, "Ten minutes", {"frequency": 10, "retention": 1440}, chosen)
                policy_set = _clock(api)
                time.sleep(5)
                reading = _clock_reading(api)
            assert first.stop() == 0
        # Every backup the first server took has a slot no later than this; the second takes none before.
        down_from = _latest(reading, time.monotonic())
        time.sleep(5)  # down: the clock runs on, and five slots or so go by
        down_to = _soonest(reading, time.monotonic())
        with start_server(data_dir, database_url=db, env=ENV) as second:
            with _api(second) as api:
                after = _get(api, "/_openovc/clock")
                assert after["mode"] == f"accelerated:{RATE}"  # the stored clock, running on
                assert _instant(after["now"]) >= down_to
                time.sleep(3)
                backups = _policy_backups(api)
            assert second.stop() == 0

    assert down_to - down_from >= 4 * TEN_MINUTES
    taken: dict[str, list[datetime]] = {vm: [] for vm in chosen}
    for backup in backups:
        when = _instant(backup["created_at"])
        if backup["virtual_machine_id"] in taken and when > policy_set:
            taken[backup["virtual_machine_id"]].append(when)
    for vm, created in taken.items():
        assert len(created) == len(set(created)), f"a slot fired twice for {vm}: {created}"
        created.sort()
        before = [c for c in created if c <= down_from]
        during = [c for c in created if down_from < c <= down_to]
        after_restart = [c for c in created if c > down_to]
        assert len(before) >= 2 and len(after_restart) >= 2, (vm, created)
        # No storm: of the slots missed while down, at most one fired, once the server was back...
        assert len(during) <= 1, (vm, during, down_from, down_to)
        resumed = during + after_restart
        # ... the latest of them (or, if the server woke on a slot, that one).
        assert resumed[0] > down_to - TEN_MINUTES, (vm, resumed[0], down_to)
        # Before the stop and from the restart on, the slots follow each other ten minutes apart.
        for run in (before, resumed):
            assert all(b - a == TEN_MINUTES for a, b in pairwise(run)), (vm, run)
            assert all(c.minute % 10 == 0 and c.second == 0 for c in run), (vm, run)
        # In between lie the slots missed while down: they never fired.
        assert resumed[0] - before[-1] >= 3 * TEN_MINUTES, (vm, before[-1], resumed[0])
