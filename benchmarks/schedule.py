"""Schedule benchmark: a week of hourly policy backups for 1,000 VMs, taken by moving the clock by hand.

For each storage backend (SQLite, PostgreSQL) this script builds a federation of 2 clusters x 4 hosts
with about 1,100 VMs and no backup history in a fresh store, starts a real `openovc serve --clock
manual:<now>` process over TLS, logs in, and then

1. creates a policy with one rule (every 60 minutes, kept 1,440 minutes) and sets it on 1,000 live VMs
   (one multi-VM set_policy task);
2. moves the clock on a simulated day at a time, seven times (POST /_openovc/clock/advance), timing each
   call and sampling the server's resident memory after it: 168 slots x 1,000 VMs = 168,000 backups
   taken, and 144,000 expired (each VM keeps its last 24); the counts must be exact; the server's CPU
   seconds for the week are reported beside the time, as they depend less on the machine's other jobs;
3. stops the server and recomputes every capacity figure from the stored pieces (the tests' brute
   force, tests/support/content_check.py): none may differ;
4. with --accelerated-minutes M (default 0: skipped), builds the largest federation (12 x 8 hosts,
   10,000 VMs, 300,000 backups) and runs it with `--clock accelerated:3600` (an hour a second) for M
   real minutes with the generated policies, then reports how far the schedule lags the clock: the
   oldest slot due and not yet fired (and the lag GET /_openovc/clock shows), how far its expiries
   do (the oldest backup still stored past its expiration time), and, from the server's own metrics,
   the backups its schedule took per real second and the due slots it dropped, having fallen behind;
5. prints a markdown table with the machine and the command line, and can write the same as JSON.

    .venv/bin/python benchmarks/schedule.py                        # both backends, the week only
    .venv/bin/python benchmarks/schedule.py --backend sqlite --accelerated-minutes 10
    .venv/bin/python benchmarks/schedule.py --backend sqlite --accelerated-minutes 3 --no-week
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import psutil
from foundation import (
    POSTGRES_ADMIN_URL,
    Server,
    client,
    loaded_store,
    log,
    run_backends,
    running_server,
    tree_rss,
)
from prometheus_client.parser import text_string_to_metric_families
from report import Report, Row, loadavg, mb
from sqlalchemy import create_engine, text

from openovc.domain.schedules import Rule, slots
from openovc.simulator.federation import FederationSpec

REPO = Path(__file__).resolve().parent.parent

VMS = 1_000
DAYS = 7
TARGET_WEEK_S = 60.0
MEDIA = {"Content-Type": "application/vnd.simplivity.v1.8+json"}
WEEK_SPEC = FederationSpec(
    clusters=2, hosts_per_cluster=4, datastores=8, vms=1_100, policies=4, backups=0, cluster_groups=1,
    external_stores=0, seed=1,
)  # fmt: skip
START = datetime(2027, 1, 4, 0, 30, tzinfo=UTC)


def _task(http: httpx.Client, resp: httpx.Response) -> dict[str, Any]:
    if resp.status_code != 202:
        raise RuntimeError(f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text[:300]}")
    task_id = resp.json()["task"]["id"]
    while True:
        task: dict[str, Any] = http.get(f"/api/tasks/{task_id}").json()["task"]
        if task["state"] != "IN_PROGRESS":
            if task["state"] != "COMPLETED":
                raise RuntimeError(f"task {task_id} {task['state']}: {task.get('message')}")
            return task
        time.sleep(0.05)


def _policy(http: httpx.Client, name: str, rules: list[dict[str, int]], vm_ids: list[str]) -> None:
    made = _task(http, http.post("/api/policies", headers=MEDIA, json={"name": name}))
    policy_id = made["affected_objects"][0]["object_id"]
    if rules:
        _task(http, http.post(f"/api/policies/{policy_id}/rules", headers=MEDIA, json=rules))
    body = {"virtual_machine_id": vm_ids, "policy_id": policy_id}
    _task(http, http.post("/api/virtual_machines/set_policy", headers=MEDIA, json=body))


def _hourly_policy(http: httpx.Client) -> list[str]:
    """A policy with the hourly rule, set on VMS live VMs (the others get one without rules); their ids."""
    live = http.get("/api/virtual_machines", params={"limit": 5000, "fields": "id", "sort": "id"}).json()
    all_ids = [v["id"] for v in live["virtual_machines"]]
    if len(all_ids) < VMS:
        raise RuntimeError(f"only {len(all_ids)} live VMs; {VMS} are needed")
    _policy(http, "Hourly", [{"frequency": 60, "retention": 1440}], all_ids[:VMS])
    if all_ids[VMS:]:
        _policy(http, "Unscheduled", [], all_ids[VMS:])
    return all_ids[:VMS]


def _week(backend: str, server: Server, http: httpx.Client) -> tuple[list[Row], dict[str, Any]]:
    vm_ids = _hourly_policy(http)
    taken = expired = 0
    seconds: list[float] = []
    rss: list[int] = []
    cpu_before = _cpu_s(server.process.pid)
    for day in range(1, DAYS + 1):
        started = time.perf_counter()
        resp = http.post("/_openovc/clock/advance", json={"seconds": 86_400})
        seconds.append(time.perf_counter() - started)
        if resp.status_code != 200:
            raise RuntimeError(f"advance: {resp.status_code} {resp.text[:300]}")
        moved = resp.json()
        taken += moved["backups_taken"]
        expired += moved["backups_expired"]
        rss.append(tree_rss(server.process.pid))
        log(f"[{backend}] day {day}: {moved['backups_taken']:,} taken, {moved['backups_expired']:,} expired "
            f"in {seconds[-1]:.1f} s; server RSS {mb(rss[-1]):.0f} MB")  # fmt: skip
    total = sum(seconds)
    cpu = _cpu_s(server.process.pid) - cpu_before
    rows = [
        Row(backend, "a week of hourly backups, 1,000 VMs: time", total, "s", target=TARGET_WEEK_S,
            detail=f"7 advances of a day; each {', '.join(f'{s:.1f}' for s in seconds)} s"),
        Row(backend, "a week: the server's CPU (user + system)", cpu, "s",
            detail="less sensitive than the time to other jobs on the machine; SQLite's work is in it, "
            "PostgreSQL's is not"),
        Row(backend, "backups taken", taken, "", target=DAYS * 24 * len(vm_ids), bound="eq"),
        Row(backend, "backups expired", expired, "", target=(DAYS - 1) * 24 * len(vm_ids), bound="eq"),
        Row(backend, "backups taken per second", taken / total, "backups/s"),
        Row(backend, "server RSS growth, day 1 to day 7", mb(rss[-1] - rss[0]), "MB",
            detail=f"RSS after each day: {', '.join(f'{mb(r):.0f}' for r in rss)} MB"),
    ]  # fmt: skip
    return rows, {
        "advance_s": [round(s, 2) for s in seconds],
        "cpu_s": round(cpu, 2),
        "rss_mb": [round(mb(r), 1) for r in rss],
    }


def _cpu_s(pid: int) -> float:
    """CPU seconds (user and system) a process has used so far."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def _figures(backend: str, store_url: str, http: httpx.Client) -> Row:
    """Every figure the API shows against a recomputation from the stored pieces (the tests' brute force)."""
    sys.path.insert(0, str(REPO))
    from tests.support.content_check import mirror_of_store, mismatches
    from tests.support.invariants import snapshot

    def fetch(path: str, params: dict[str, str]) -> Any:
        return http.get(path, params=params).json()

    rows = snapshot(fetch)
    engine = create_engine(store_url)
    try:
        wrong = mismatches(mirror_of_store(engine), rows, unique_sizes=False)
    finally:
        engine.dispose()
    return Row(backend, "figures that differ from the stored pieces", len(wrong), "", target=0, bound="eq",
               detail="; ".join(wrong[:3]))  # fmt: skip


def _week_backend(backend: str, root: Path, admin_url: str) -> tuple[list[Row], dict[str, Any]]:
    password = "Bench-Passw0rd!"
    info: dict[str, Any] = {}
    os.environ["OPENOVC_CLOCK"] = f"manual:{START.isoformat()}"
    try:
        with loaded_store(backend, WEEK_SPEC, root, "week", admin_url, password, info) as store:
            url = store.database_url or f"sqlite:///{store.data_dir / 'openovc.db'}"
            with running_server(store, password) as server, client(server, password) as http:
                rows, more = _week(backend, server, http)
                rows.append(_figures(backend, url.replace("postgresql://", "postgresql+psycopg://"), http))
    finally:
        del os.environ["OPENOVC_CLOCK"]
    return rows, {**info, **more}


# ---- accelerated: does the schedule keep pace? --------------------------------------------------------


def _expiry_lag_s(store_url: str, now: str) -> tuple[float, int]:
    """How far behind the clock the oldest backup still stored past its expiration time is (0 when none),
    and how many such backups wait: the expiries' own lag, beside the schedule's."""
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            oldest, waiting = conn.execute(
                text("SELECT min(expiration_time), count(*) FROM backups WHERE expiration_time <= :now"),
                {"now": now},
            ).one()
    finally:
        engine.dispose()
    if oldest is None:
        return 0.0, 0
    since = datetime.fromisoformat(now.replace("Z", "+00:00")) - datetime.fromisoformat(
        str(oldest).replace("Z", "+00:00")
    )
    return since.total_seconds(), int(waiting)


def _schedule_counts(http: Any) -> tuple[float, float]:
    """The server's counts of the backups its schedule took and of the due slots it dropped."""
    resp = http.get("/_openovc/metrics")
    resp.raise_for_status()
    found = {
        sample.name: sample.value
        for family in text_string_to_metric_families(resp.text)
        for sample in family.samples
    }
    return found["openovc_schedule_backups_taken_total"], found["openovc_schedule_slots_dropped_total"]


def _lag_s(store_url: str, now_ms: int) -> tuple[float, int]:
    """How far behind the clock the oldest due, unfired slot is (0 when none), and how many are due."""
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            marks = {
                (r, c): t
                for r, c, t in conn.execute(
                    text("SELECT rule_id, cluster_id, through_ms FROM schedule_marks")
                )
            }
            zones: dict[str, str] = {
                str(i): str(z) for i, z in conn.execute(text("SELECT id, time_zone FROM omnistack_clusters"))
            }
            policies = [orjson.loads(r) for (r,) in conn.execute(text("SELECT rules FROM policies"))]
    finally:
        engine.dispose()
    oldest, due = now_ms, 0
    for rules in policies:
        for rule in rules:
            timing = Rule.from_record(rule)
            for cluster, zone in zones.items():
                mark = marks.get((rule["id"], cluster))
                if mark is None:
                    continue
                pending = slots(timing, ZoneInfo(zone), mark // 1000, now_ms // 1000)
                due += len(pending)
                if pending:
                    oldest = min(oldest, pending[0] * 1000)
    return (now_ms - oldest) / 1000, due


def _accelerated(
    backend: str, root: Path, admin_url: str, minutes: float
) -> tuple[list[Row], dict[str, Any]]:
    password = "Bench-Passw0rd!"
    info: dict[str, Any] = {}
    spec = FederationSpec.largest()
    os.environ["OPENOVC_CLOCK"] = "accelerated:3600"
    try:
        with loaded_store(backend, spec, root, "accelerated", admin_url, password, info) as store:
            url = store.database_url or f"sqlite:///{store.data_dir / 'openovc.db'}"
            url = url.replace("postgresql://", "postgresql+psycopg://")
            with running_server(store, password) as server, client(server, password) as http:
                first = http.get("/_openovc/clock").json()["now"]
                before = http.get("/api/backups", params={"limit": 1}).json()["count"]
                counted = _schedule_counts(http)
                started = time.monotonic()
                until = started + minutes * 60
                while time.monotonic() < until:  # a look every half minute keeps the token from idling out
                    time.sleep(min(30.0, max(0.0, until - time.monotonic())))
                    log(f"[{backend}] simulated now {http.get('/_openovc/clock').json()['now']}")
                clock = http.get("/_openovc/clock").json()
                now = clock["now"]
                after = http.get("/api/backups", params={"limit": 1}).json()["count"]
                taken, dropped = (b - a for a, b in zip(counted, _schedule_counts(http), strict=True))
                ran_s = time.monotonic() - started
                now_ms = int(datetime.fromisoformat(now.replace("Z", "+00:00")).timestamp() * 1000)
                lag, due = _lag_s(url, now_ms)
                expiry_lag, unexpired = _expiry_lag_s(url, now)
                rss = tree_rss(server.process.pid)
    finally:
        del os.environ["OPENOVC_CLOCK"]
    simulated = timedelta(milliseconds=now_ms) - timedelta(
        seconds=datetime.fromisoformat(first.replace("Z", "+00:00")).timestamp()
    )
    rows = [
        Row(backend, f"accelerated:3600, largest federation: simulated lag after {minutes:g} real min",
            lag, "s", detail=f"{due:,} slots due and not yet fired; simulated time run {simulated}; the "
            f"clock showed schedule_lag_seconds {clock.get('schedule_lag_seconds', 'n/a')}"),
        Row(backend, "accelerated:3600: expiry lag (oldest backup kept past its expiration)", expiry_lag, "s",
            detail=f"{unexpired:,} backups past their expiration time still stored"),
        Row(backend, "accelerated:3600: backups the schedule took, per real second", taken / ran_s, "backups/s",
            detail=f"{taken:,.0f} in {ran_s:.0f} s (openovc_schedule_backups_taken_total)"),
        Row(backend, "accelerated:3600: due slots dropped (fallen behind)", dropped, "",
            detail="openovc_schedule_slots_dropped_total: a slot is a rule's firing on one cluster's VMs"),
        Row(backend, "accelerated:3600: live backups, change", after - before, "",
            detail=f"{before:,} -> {after:,}; server RSS {mb(rss):.0f} MB"),
    ]  # fmt: skip
    return rows, {
        **info,
        "lag_s": lag,
        "due": due,
        "shown_lag_s": clock.get("schedule_lag_seconds"),
        "expiry_lag_s": expiry_lag,
        "past_expiration": unexpired,
        "taken": taken,
        "taken_per_s": taken / ran_s,
        "dropped_slots": dropped,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--accelerated-minutes", type=float, default=0.0)
    parser.add_argument("--no-week", action="store_true", help="skip the week (with --accelerated-minutes)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--postgres-url", default=POSTGRES_ADMIN_URL)
    args = parser.parse_args(argv)
    report = Report({"vms": VMS, "days": DAYS, "week_spec": dataclasses.asdict(WEEK_SPEC)})

    def one(backend: str, root: Path) -> tuple[list[Row], dict[str, Any]]:
        rows, info = ([], {}) if args.no_week else _week_backend(backend, root, args.postgres_url)
        gc.collect()
        if args.accelerated_minutes > 0:
            try:
                more, extra = _accelerated(backend, root, args.postgres_url, args.accelerated_minutes)
            except RuntimeError as problem:  # the week's figures stand; the failure is a row of its own
                log(f"[{backend}] accelerated run failed: {problem}")
                more, extra = [Row(backend, "accelerated:3600: the run failed", 1, "", target=0, bound="eq",
                                   detail=str(problem)[-300:])], {"error": str(problem)}  # fmt: skip
            rows += more
            info["accelerated"] = extra
        info["loadavg_mid"] = loadavg()
        return rows, info

    run_backends(report, args.backend, args.postgres_url, "openovc-schedule-", one)
    return report.finish(
        [
            f"Federation: {WEEK_SPEC.clusters} clusters x {WEEK_SPEC.hosts_per_cluster} hosts, "
            f"{WEEK_SPEC.vms:,} VMs (1,000 of them on an hourly rule kept 24 hours), no backup history; "
            f"clock manual from {START.isoformat()}, moved a day per POST /_openovc/clock/advance over "
            "HTTPS; figures checked against a brute-force recomputation from the stored pieces",
        ],
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
