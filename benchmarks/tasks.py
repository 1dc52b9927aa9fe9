"""Task benchmark: concurrent clone, move and set_policy operations on the largest federation.

For each storage backend (SQLite, PostgreSQL) this script builds the largest federation of the
foundation benchmark (12 clusters x 8 hosts, 10,000 VMs, 300,000 backups; `--quick`: a small one) in a
fresh store, starts a real `openovc serve` process on it over TLS as users run it, logs in, and then

1. throughput with the default pacing (`immediate`): `--clients` client threads, each with its own
   keep-alive HTTPS connection, loop until `--tasks` operations are done: submit one operation (a third
   each: clone of a random live VM under a unique new name, set_policy of a random VM to a random
   policy, move of a powered-off VM to another datastore of its cluster), then poll GET /api/tasks/{id}
   until it is no longer IN_PROGRESS. The time of a task runs from sending its POST to having the
   answer that says COMPLETED. The VMs that are moved are partitioned between the clients (a moved VM
   is a new object; its client moves the new one next time), and are never the source of a clone or a
   set_policy, so that no task fails by the benchmark's own doing. Throughput is completed tasks over
   the wall time of the whole run; FAILED tasks and HTTP errors are counted apart. A short untimed
   warm-up precedes it. Beside it, measured in the same run on the same server and clients, a baseline:
   `--baseline` GET /api/version requests (requests/s), so that figures from different machines compare
   as the ratio of the two;
2. 1,000 tasks in flight (`--in-flight 0`: skipped): the server is restarted with
   OPENOVC_TASK_PACING=duration:10:0.2 (every task takes 8 to 12 s), the clients submit `--in-flight`
   operations (the same mix, every move on its own VM) as fast as they can without polling, every
   answer must be 202; then every task is polled about once a second, as clients do, until it is
   final. All must be COMPLETED, and all must have been in flight at once: ended (the server's
   end_time) after the last 202 had arrived;
3. prints a markdown table with the results and targets, the machine and the command line, and can
   write the same as JSON (--json PATH).

Targets that are missed are reported, not fatal; the exit status is non-zero only when something fails
(a server that does not start, a phase that cannot be set up, ...).

    .venv/bin/python benchmarks/tasks.py --quick              # smoke run, about a minute per backend
    .venv/bin/python benchmarks/tasks.py --backend sqlite     # the full benchmark on one backend
    .venv/bin/python benchmarks/tasks.py --in-flight 0        # throughput and its baseline only
    .venv/bin/python benchmarks/tasks.py --copy-of sqlite=DIR # on a copy of `openovc init --largest --data-dir DIR`
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import math
import os
import random
import resource
import secrets
import shutil
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import orjson
import psutil
import psycopg
from foundation import (
    Server,
    Store,
    _admin_conninfo,
    client,
    federation_options,
    federation_text,
    loaded_store,
    log,
    run_backends,
    running_server,
    scratch_store,
)
from foundation import specs as foundation_specs
from lean_http import HTTPError, LeanClient
from report import Report, Row, common_errors, p95, timing

MEDIA = "application/vnd.simplivity.v1.8+json"
KINDS = ("clone", "set_policy", "move")
IN_FLIGHT_PACING = "duration:10:0.2"
IN_FLIGHT_MIN_S = 8.0  # the earliest a task paced duration:10:0.2 can end
POLL_INTERVAL_S = 1.0  # how often a task in flight is polled in phase 2, as a client would
FINAL_TIMEOUT_S = 300.0

TARGET_TASKS_PER_S = 500.0
TARGET_IN_FLIGHT = 1000


# ---------------------------------------------------------------------------------------------------
# CPU accounting: who used the two cores during a phase


def _cpu_seconds(procs: Iterable[psutil.Process]) -> float:
    """CPU seconds (user and system) of those of the processes that are still there."""
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _tree_cpu(pid: int) -> float:
    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        return _cpu_seconds([proc, *proc.children(recursive=True)])
    return 0.0


def _postgres_cpu() -> float:
    """CPU seconds of every PostgreSQL process (the database's share of the work); read only."""
    return _cpu_seconds(
        p for p in psutil.process_iter(["name"]) if (p.info.get("name") or "").startswith("postgres")
    )


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclasses.dataclass
class CpuSample:
    wall: float
    server: float
    postgres: float
    client: float
    machine_busy: float
    machine_total: float


def cpu_sample(server_pid: int, backend: str) -> CpuSample:
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    total = sum(times)
    return CpuSample(
        wall=time.perf_counter(),
        server=_tree_cpu(server_pid),
        postgres=_postgres_cpu() if backend == "postgresql" else 0.0,
        client=_self_cpu(),
        machine_busy=total - idle,
        machine_total=total,
    )


def cpu_detail(before: CpuSample, after: CpuSample, tasks: int) -> tuple[str, dict[str, float]]:
    wall = max(after.wall - before.wall, 1e-9)
    server = after.server - before.server
    pg = after.postgres - before.postgres
    own = after.client - before.client
    busy = after.machine_busy - before.machine_busy
    total = max(after.machine_total - before.machine_total, 1e-9)
    cores = psutil.cpu_count() or 1
    other = max(0.0, busy - server - pg - own)
    info = {
        "wall_s": round(wall, 3),
        "server_cpu_s": round(server, 3),
        "postgres_cpu_s": round(pg, 3),
        "client_cpu_s": round(own, 3),
        "other_cpu_s": round(other, 3),
        "machine_busy_pct": round(100 * busy / total, 1),
        "server_cpu_ms_per_task": round(1000 * server / max(tasks, 1), 3),
    }
    text = (
        f"CPU over {wall:.1f} s: server {server / wall:.2f} cores ({1000 * server / max(tasks, 1):.2f} ms/task)"
        + (f", PostgreSQL {pg / wall:.2f}" if pg else "")
        + f", this client {own / wall:.2f}, others {other / wall:.2f}; machine {100 * busy / total:.0f} % busy"
        f" of {cores} cores"
    )
    return text, info


# ---------------------------------------------------------------------------------------------------
# The inventory the operations are drawn from


@dataclasses.dataclass
class Vm:
    id: str
    datastore_id: str
    cluster_id: str


@dataclasses.dataclass
class Inventory:
    movable: list[Vm]  # ALIVE, powered OFF, not templates: what moves take
    others: list[str]  # every other ALIVE non-template VM: what clones and set_policy take
    datastores: dict[str, list[str]]  # cluster id -> its datastores
    policies: list[str]
    alive: int


def _pages(http: httpx.Client, url: str, key: str, fields: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    offset = 0
    while True:
        params: dict[str, str | int] = {"fields": fields, "limit": 5000, "offset": offset}
        if "hypervisor_is_template" in fields:
            params["show_optional_fields"] = "true"
        resp = http.get(url, params=params)
        if resp.status_code != 200:
            raise RuntimeError(f"GET {url} answered {resp.status_code}: {resp.text[:300]}")
        body = resp.json()
        out += body[key]
        offset += 5000
        if offset >= int(body["count"]):
            return out


def alive_vm_count(http: httpx.Client) -> int:
    resp = http.get("/api/virtual_machines", params={"fields": "id", "limit": 1})
    resp.raise_for_status()
    return int(resp.json()["count"])


def inventory(http: httpx.Client) -> Inventory:
    vms = _pages(
        http,
        "/api/virtual_machines",
        "virtual_machines",
        "id,state,hypervisor_virtual_machine_power_state,hypervisor_is_template,datastore_id,omnistack_cluster_id",
    )
    datastores: dict[str, list[str]] = {}
    for ds in _pages(http, "/api/datastores", "datastores", "id,omnistack_cluster_id"):
        datastores.setdefault(str(ds["omnistack_cluster_id"]), []).append(str(ds["id"]))
    policies = [str(p["id"]) for p in _pages(http, "/api/policies", "policies", "id")]
    movable: list[Vm] = []
    others: list[str] = []
    for vm in vms:
        if vm["state"] != "ALIVE" or vm["hypervisor_is_template"]:
            continue
        cluster = str(vm["omnistack_cluster_id"])
        if vm["hypervisor_virtual_machine_power_state"] == "OFF" and len(datastores.get(cluster, [])) > 1:
            movable.append(Vm(str(vm["id"]), str(vm["datastore_id"]), cluster))
        else:
            others.append(str(vm["id"]))
    if not movable or not others or not policies:
        raise RuntimeError(
            f"the federation has {len(movable)} movable VMs, {len(others)} others, {len(policies)} policies"
        )
    return Inventory(sorted(movable, key=lambda v: v.id), sorted(others), datastores, policies, len(vms))


# ---------------------------------------------------------------------------------------------------
# Clients


def clients(server: Server, token_header: str, count: int) -> list[LeanClient]:
    """`count` keep-alive HTTP/1.1 clients sharing one login, each already connected."""
    out = []
    for _ in range(count):
        http = LeanClient(server.base_url, {"Authorization": token_header, "Accept": "application/json"})
        answer = http.get("/api/version")  # the TLS handshake, outside any clock
        if answer.status_code != 200:
            raise RuntimeError(f"GET /api/version answered {answer.status_code}: {answer.text[:200]}")
        out.append(http)
    return out


@contextlib.contextmanager
def client_pool(server: Server, password: str, count: int) -> Iterator[tuple[httpx.Client, list[LeanClient]]]:
    with client(server, password) as admin:
        pool = clients(server, str(admin.headers["Authorization"]), count)
        try:
            yield admin, pool
        finally:
            for http in pool:
                http.close()


@contextlib.contextmanager
def served(
    store: Store, password: str, pacing: str, workers: int, count: int
) -> Iterator[tuple[Server, httpx.Client, list[LeanClient]]]:
    """A server on the store with this task pacing and `workers` processes, a logged-in administrator's
    client and a pool of `count` clients."""
    with (
        env_var("OPENOVC_TASK_PACING", pacing),
        env_var("OPENOVC_WORKERS", str(workers)),
        running_server(store, password) as server,
        client_pool(server, password, count) as (admin, pool),
    ):
        yield server, admin, pool


@dataclasses.dataclass
class Op:
    kind: str
    url: str
    body: dict[str, str]
    vm: Vm | None = None  # for moves: the VM moved, and where to
    destination: str = ""


def make_op(kind: str, rng: random.Random, inv: Inventory, name: str, vm: Vm | None = None) -> Op:
    if kind == "clone":
        source = rng.choice(inv.others)
        return Op(kind, f"/api/virtual_machines/{source}/clone", {"virtual_machine_name": name})
    if kind == "set_policy":
        target = rng.choice(inv.others)
        return Op(kind, f"/api/virtual_machines/{target}/set_policy", {"policy_id": rng.choice(inv.policies)})
    assert vm is not None
    destination = rng.choice([d for d in inv.datastores[vm.cluster_id] if d != vm.datastore_id])
    return Op(
        kind,
        f"/api/virtual_machines/{vm.id}/move",
        {"destination_datastore_id": destination},
        vm,
        destination,
    )


@dataclasses.dataclass
class Outcome:
    """What became of one operation."""

    kind: str
    status: int = 0  # the HTTP status of the POST (0: no answer)
    task_id: str = ""
    state: str = ""  # the last state read: IN_PROGRESS, COMPLETED or FAILED; "" when none
    error: str = ""  # an HTTP error or a FAILED task's code and message
    submitted: float = 0.0  # perf_counter before the POST
    accepted: float = 0.0  # perf_counter when the 202 was read
    accepted_wall: float = 0.0  # time.time() then
    ended: float = 0.0  # perf_counter when the final state was read
    polls: int = 0
    affected: list[dict[str, str]] = dataclasses.field(default_factory=list)
    end_time: str = ""  # the task's end_time, as the server wrote it (whole seconds, UTC)

    @property
    def http_error(self) -> bool:
        return self.status != 202 or (self.error != "" and self.state not in ("FAILED",))


def send(http: LeanClient, kind: str, method: str, url: str, body: Mapping[str, Any] | None) -> Outcome:
    """One task-making request (a POST with a JSON body, or a DELETE), not yet polled."""
    out = Outcome(kind, submitted=time.perf_counter())
    content = orjson.dumps(body) if body is not None else None
    headers = {"Content-Type": MEDIA} if body is not None else {}
    try:
        resp = http.request(method, url, content=content, headers=headers)
    except HTTPError as exc:
        out.error = f"{method} {kind}: {type(exc).__name__}: {exc}"
        return out
    out.accepted = time.perf_counter()
    out.accepted_wall = time.time()
    out.status = resp.status_code
    if resp.status_code != 202:
        out.error = f"{method} {kind} answered {resp.status_code}: {resp.text[:200]}"
        return out
    task = resp.json()["task"]
    out.task_id, out.state = str(task["id"]), str(task["state"])
    return out


def submit(http: LeanClient, op: Op) -> Outcome:
    return send(http, op.kind, "POST", op.url, op.body)


def poll_once(http: LeanClient, out: Outcome) -> bool:
    """One GET of the task; True when it is final (or the GET failed, which ends the wait too)."""
    try:
        resp = http.get(f"/api/tasks/{out.task_id}")
    except HTTPError as exc:
        out.error = f"GET task: {type(exc).__name__}: {exc}"
        out.state = ""
        return True
    out.polls += 1
    if resp.status_code != 200:
        out.error = f"GET task answered {resp.status_code}: {resp.text[:200]}"
        out.state = ""
        return True
    task = resp.json()["task"]
    out.state = str(task["state"])
    if out.state == "IN_PROGRESS":
        return False
    out.ended = time.perf_counter()
    out.affected = list(task["affected_objects"])
    out.end_time = str(task["end_time"])
    if out.state == "FAILED":
        out.error = f"{task['error_code']}: {task.get('message')}"
    return True


def pause(delay: float, interval: float | None = None) -> float:
    """Sleep before the next poll, `interval` when given, else a short growing backoff (with immediate
    pacing only a task waiting behind an earlier one on the same object is still IN_PROGRESS); the
    pause taken, to pass next time."""
    delay = interval if interval is not None else min(0.05, max(0.001, delay * 2))
    time.sleep(delay)
    return delay


def finish(http: LeanClient, out: Outcome, interval: float | None = None) -> Outcome:
    """Poll an accepted task until it is final."""
    if out.status == 202:
        delay = 0.0
        while not poll_once(http, out):
            delay = pause(delay, interval)
    return out


def run_threads(count: int, target: Callable[[int], None]) -> float:
    """Run target(i) in `count` threads started together; the wall time from the start to the last end."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count + 1)

    def body(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:  # reported after the join
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"a client thread crashed: {errors[0]!r}") from errors[0]
    return wall


T = TypeVar("T")


def share_out(clients: int, count: int, work: Callable[[int, int], T]) -> tuple[list[T], float]:
    """work(client, index) for every index below `count`, from `clients` threads that each take the next
    index when done with one; the results, in the order they ended, and the wall time."""
    results: list[T] = []
    lock = threading.Lock()
    counter = iter(range(count))

    def body(i: int) -> None:
        while True:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            got = work(i, index)
            with lock:
                results.append(got)

    wall = run_threads(clients, body)
    return results, wall


# ---------------------------------------------------------------------------------------------------
# Phase 1: throughput with the default pacing


def baseline(pool: list[LeanClient], requests: int) -> tuple[float, int]:
    """GET /api/version `requests` times through the pool: requests per second, and how many failed."""

    def work(i: int, _index: int) -> bool:
        try:
            return pool[i].get("/api/version").status_code == 200
        except HTTPError:
            return False

    answers, wall = share_out(len(pool), requests, work)
    return len(answers) / wall, answers.count(False)


def throughput(
    pool: list[LeanClient], inv: Inventory, tasks: int, seed: int, label: str
) -> tuple[list[Outcome], float]:
    """`tasks` operations through the pool, each submitted and polled to its end; outcomes and wall time."""
    n = len(pool)
    if len(inv.movable) < n:
        raise RuntimeError(f"{len(inv.movable)} movable VMs for {n} clients")
    kinds = [KINDS[i % 3] for i in range(tasks)]
    random.Random(seed).shuffle(kinds)
    # Each client moves only its own VMs (a moved VM is a new object: its client moves that next).
    owned: list[list[Vm]] = [inv.movable[i::n] for i in range(n)]
    rngs = [random.Random(seed * 1000 + i) for i in range(n)]

    def work(i: int, index: int) -> Outcome:
        http, rng, mine = pool[i], rngs[i], owned[i]
        kind = kinds[index] if kinds[index] != "move" or mine else "set_policy"
        vm = mine.pop(rng.randrange(len(mine))) if kind == "move" else None
        op = make_op(kind, rng, inv, f"bench-{label}-{index:06d}", vm)
        out = finish(http, submit(http, op))
        if vm is not None:
            if out.state == "COMPLETED" and out.affected:
                mine.append(Vm(out.affected[0]["object_id"], op.destination, vm.cluster_id))
            elif out.state != "FAILED":
                mine.append(vm)  # unknown fate: it is still ours, try it again later
        return out

    return share_out(n, tasks, work)


def throughput_rows(
    backend: str,
    outcomes: list[Outcome],
    wall: float,
    clients: int,
    cpu: str,
    vm_check: Row,
    version: tuple[float, int],
) -> tuple[list[Row], dict[str, Any]]:
    done = [o for o in outcomes if o.state == "COMPLETED"]
    failed = [o for o in outcomes if o.state == "FAILED"]
    http_errors = [o for o in outcomes if o.http_error]
    times = [(o.ended - o.submitted) * 1000 for o in done]
    rate = len(done) / wall
    polls = Counter(o.polls for o in done)
    rows = [
        Row(
            backend,
            "throughput, default pacing: COMPLETED tasks / wall time",
            rate,
            "tasks/s",
            target=TARGET_TASKS_PER_S,
            bound="min",
            detail=f"{len(done):,} of {len(outcomes):,} tasks in {wall:.2f} s, {clients} clients; {cpu}",
        ),
        Row(
            backend,
            "baseline in the same run: GET /api/version, requests/s",
            version[0],
            "",
            detail=f"the same clients and server, just before the tasks; {version[1]} not answered 200",
        ),
        Row(
            backend,
            "tasks/s per GET /api/version request/s (the machine-independent figure)",
            rate / version[0] if version[0] else 0.0,
            "x",
            detail="a task is at least two requests: its POST and one poll",
        ),
    ]
    if times:
        rows.append(
            timing(
                backend,
                "time from request to COMPLETED, all kinds",
                times,
                detail=f"polls per task: {dict(sorted(polls.items()))}",
            )
        )
    for kind in KINDS:
        kt = [(o.ended - o.submitted) * 1000 for o in done if o.kind == kind]
        submit_ms = [(o.accepted - o.submitted) * 1000 for o in done if o.kind == kind]
        if kt:
            rows.append(
                timing(
                    backend,
                    f"time from request to COMPLETED, {kind}",
                    kt,
                    detail=f"{len(kt):,} tasks; the POST alone: median {statistics.median(submit_ms):.1f} ms, "
                    f"p95 {p95(submit_ms):.1f} ms",
                )
            )
    rows += [
        Row(backend, "FAILED tasks", len(failed), "", target=0, detail=_errors(failed)),
        Row(backend, "HTTP errors", len(http_errors), "", target=0, detail=_errors(http_errors)),
        vm_check,
    ]
    info = {
        "wall_s": round(wall, 3),
        "tasks": len(outcomes),
        "completed": len(done),
        "failed": len(failed),
        "http_errors": len(http_errors),
        "tasks_per_s": round(rate, 2),
        "version_requests_per_s": round(version[0], 2),
        "polls_per_task": {str(k): v for k, v in sorted(polls.items())},
    }
    return rows, info


def _errors(outcomes: list[Outcome]) -> str:
    return common_errors(f"{o.kind}: {o.error}" for o in outcomes)


# ---------------------------------------------------------------------------------------------------
# Phase 2: many tasks in flight at once


@dataclasses.dataclass
class Flight:
    """What phase 2 saw."""

    outcomes: list[Outcome]
    submit_wall: float  # seconds from the first POST to the last answer
    at_once: int  # tasks that the server ended after the last 202 had arrived: all in flight then
    first_pass_s: float  # how long the first pass of polls over every task took
    first_pass_in_progress: int
    all_final_s: float  # seconds from the first POST until the last task was seen final


def _server_end(text: str) -> float:
    """A task's end_time (`2026-01-02T03:04:05Z`) as a POSIX time."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def in_flight(pool: list[LeanClient], inv: Inventory, count: int, seed: int) -> Flight:
    """Submit `count` operations without polling, then poll each about once a second until it is final."""
    n = len(pool)
    rng = random.Random(seed)
    kinds = [KINDS[i % 3] for i in range(count)]
    rng.shuffle(kinds)
    moves = kinds.count("move")
    if moves > len(inv.movable):
        raise RuntimeError(
            f"{moves} moves need as many powered-off VMs; the federation has {len(inv.movable)} "
            "(use more --tasks before, whose clones add some, or fewer --in-flight)"
        )
    vms = iter(rng.sample(inv.movable, moves))
    ops = [
        make_op(k, rng, inv, f"bench-flight-{i:06d}", next(vms) if k == "move" else None)
        for i, k in enumerate(kinds)
    ]
    got, submit_wall = share_out(n, count, lambda i, index: submit(pool[i], ops[index]))
    assert len(got) == count
    first = min(o.submitted for o in got)
    accepted = [o for o in got if o.status == 202]
    last_accept = max((o.accepted_wall for o in accepted), default=0.0)

    pending = accepted
    first_pass_s, first_pass_in_progress, rounds = 0.0, 0, 0
    while pending:
        round_start = time.perf_counter()
        share = [pending[i::n] for i in range(n)]
        finished: list[list[Outcome]] = [[] for _ in range(n)]

        def poller(
            i: int, share: list[list[Outcome]] = share, finished: list[list[Outcome]] = finished
        ) -> None:
            for o in share[i]:
                if poll_once(pool[i], o):
                    finished[i].append(o)

        run_threads(n, poller)
        done = {id(o) for part in finished for o in part}
        if rounds == 0:
            first_pass_s = time.perf_counter() - round_start
            first_pass_in_progress = sum(1 for o in pending if o.state == "IN_PROGRESS")
        rounds += 1
        pending = [o for o in pending if id(o) not in done]
        if not pending:
            break
        if time.perf_counter() - first > FINAL_TIMEOUT_S:
            for o in pending:
                o.error = o.error or f"still {o.state} after {FINAL_TIMEOUT_S:.0f} s"
            break
        time.sleep(max(0.0, POLL_INTERVAL_S - (time.perf_counter() - round_start)))
    ended = [o.ended for o in got if o.ended]
    # The server's end_time has whole seconds: a task counts as in flight when the last 202 arrived
    # only if it ended in a later second (a lower bound).
    at_once = sum(1 for o in accepted if o.end_time and _server_end(o.end_time) >= math.ceil(last_accept))
    return Flight(
        outcomes=got,
        submit_wall=submit_wall,
        at_once=at_once,
        first_pass_s=first_pass_s,
        first_pass_in_progress=first_pass_in_progress,
        all_final_s=(max(ended) - first) if ended else 0.0,
    )


def in_flight_rows(backend: str, flight: Flight, cpu: str, vm_check: Row) -> tuple[list[Row], dict[str, Any]]:
    outcomes = flight.outcomes
    count = len(outcomes)
    accepted = [o for o in outcomes if o.status == 202]
    done = [o for o in outcomes if o.state == "COMPLETED"]
    failed = [o for o in outcomes if o.state == "FAILED"]
    http_errors = [o for o in outcomes if o.http_error]
    post_ms = [(o.accepted - o.submitted) * 1000 for o in accepted]
    label = f"{count:,} in flight"
    rows = [
        Row(
            backend,
            f"{label}: POSTs answered 202",
            len(accepted),
            "",
            target=count,
            bound="eq",
            detail=f"POST median {statistics.median(post_ms) if post_ms else 0:.1f} ms, "
            f"p95 {p95(post_ms) if post_ms else 0:.1f} ms",
        ),
        Row(
            backend,
            f"{label}: submit rate",
            count / flight.submit_wall,
            "tasks/s",
            detail=f"{count:,} POSTs in {flight.submit_wall:.2f} s, pacing {IN_FLIGHT_PACING}, no polling meanwhile",
        ),
        Row(
            backend,
            f"{label}: tasks in flight at once",
            flight.at_once,
            "",
            target=count,
            bound="eq",
            detail="tasks the server ended (end_time) after the last 202 had arrived; the first pass of "
            f"polls over all {count:,} took {flight.first_pass_s:.2f} s and saw "
            f"{flight.first_pass_in_progress:,} IN_PROGRESS",
        ),
        Row(
            backend,
            f"{label}: time from the first POST until all final",
            flight.all_final_s,
            "s",
            detail=f"every task due 8-12 s after its POST; polled about every {POLL_INTERVAL_S:.0f} s; {cpu}",
        ),
        Row(backend, f"{label}: COMPLETED", len(done), "", target=count, bound="eq"),
        Row(
            backend,
            f"{label}: FAILED tasks + HTTP errors",
            len(failed) + len(http_errors),
            "",
            target=0,
            detail=_errors(failed + http_errors),
        ),
        vm_check,
    ]
    info = {
        "submit_wall_s": round(flight.submit_wall, 3),
        "accepted": len(accepted),
        "in_flight_at_once": flight.at_once,
        "first_pass_s": round(flight.first_pass_s, 3),
        "first_pass_in_progress": flight.first_pass_in_progress,
        "all_final_s": round(flight.all_final_s, 3),
        "completed": len(done),
        "failed": len(failed),
        "http_errors": len(http_errors),
    }
    return rows, info


# ---------------------------------------------------------------------------------------------------
# One backend


@contextlib.contextmanager
def env_var(name: str, value: str) -> Iterator[None]:
    """Set an environment variable for the servers started inside (running_server copies os.environ)."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


def _vm_check(backend: str, label: str, before: int, after: int, outcomes: list[Outcome]) -> Row:
    """The store agrees with the tasks: every completed clone added one live VM, and moves none."""
    clones = sum(1 for o in outcomes if o.kind == "clone" and o.state == "COMPLETED")
    return Row(
        backend,
        f"{label}live VMs added = COMPLETED clones",
        after - before,
        "",
        target=clones,
        bound="eq",
        detail=f"ALIVE VMs {before:,} -> {after:,}; a move replaces its VM by a new one",
    )


def run_backend(backend: str, args: argparse.Namespace, root: Path) -> tuple[list[Row], dict[str, Any]]:
    spec, _ = foundation_specs(args)
    info: dict[str, Any] = {}
    password = secrets.token_urlsafe(18)
    rows: list[Row] = []
    with _store(backend, args, spec, root, password, info) as store:
        rows += phase_throughput(backend, args, store, password, info)
        if args.in_flight:
            rows += phase_in_flight(backend, args, store, password, info)
    return rows, info


def _store(
    backend: str, args: argparse.Namespace, spec: Any, root: Path, password: str, info: dict[str, Any]
) -> contextlib.AbstractContextManager[Store]:
    """A fresh store with the federation loaded, or a copy of the one named by --copy-of."""
    source = args.copy_of.get(backend) if args.copy_of else None
    if source is None:
        return loaded_store(backend, spec, root, "tasks", args.postgres_url, password, info)
    return copied_store(backend, source, root, args.postgres_url)


@contextlib.contextmanager
def copied_store(backend: str, source: str, root: Path, admin_url: str) -> Iterator[Store]:
    """A scratch copy of a stored federation (`openovc init` made it, nothing uses it now), so that runs
    to compare start from the same state without generating it each time. The server sets the
    administrator's password at start (OPENOVC_ADMIN_PASSWORD)."""
    with scratch_store(backend, root, "tasks", admin_url) as store:
        log(f"[{backend}] copying the federation of {source}")
        if store.database_url is None:
            for name in ("openovc.db", "openovc.db-wal"):  # a log left by a store closed uncleanly too
                if (Path(source) / name).exists():
                    shutil.copyfile(Path(source) / name, store.data_dir / name)
        else:
            name = store.database_url.rsplit("/", 1)[1]
            with psycopg.connect(_admin_conninfo(admin_url), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE "{name}"')
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        yield store


def phase_throughput(
    backend: str, args: argparse.Namespace, store: Store, password: str, info: dict[str, Any]
) -> list[Row]:
    log(f"[{backend}] throughput: {args.tasks:,} tasks, {args.clients} clients, default pacing")
    with served(store, password, "immediate", args.workers, args.clients) as (server, admin, pool):
        inv = inventory(admin)
        info["movable_vms"], info["other_vms"] = len(inv.movable), len(inv.others)
        if args.warmup:
            warm, _ = throughput(pool, inv, args.warmup, args.seed + 1, "warm")
            bad = [o for o in warm if o.state != "COMPLETED"]
            if bad:
                log(f"[{backend}] warm-up: {len(bad)} of {len(warm)} not COMPLETED: {_errors(bad)}")
            inv = inventory(admin)  # the warm-up moved some VMs
        version = baseline(pool, args.baseline)
        log(f"[{backend}] baseline: {version[0]:.1f} GET /api/version requests/s")
        before_vms = alive_vm_count(admin)
        cpu_before = cpu_sample(server.process.pid, backend)
        outcomes, wall = throughput(pool, inv, args.tasks, args.seed, "tput")
        cpu_after = cpu_sample(server.process.pid, backend)
        after_vms = alive_vm_count(admin)
    cpu, cpu_info = cpu_detail(cpu_before, cpu_after, len(outcomes))
    check = _vm_check(backend, "", before_vms, after_vms, outcomes)
    got, phase_info = throughput_rows(backend, outcomes, wall, args.clients, cpu, check, version)
    info["throughput"] = {**phase_info, "cpu": cpu_info}
    log(f"[{backend}] {got[0].value:.1f} tasks/s; {cpu}")
    return got


def phase_in_flight(
    backend: str, args: argparse.Namespace, store: Store, password: str, info: dict[str, Any]
) -> list[Row]:
    log(f"[{backend}] {args.in_flight:,} in flight, pacing {IN_FLIGHT_PACING}")
    with served(store, password, IN_FLIGHT_PACING, args.workers, args.clients) as (server, admin, pool):
        inv = inventory(admin)
        before_vms = alive_vm_count(admin)
        cpu_before = cpu_sample(server.process.pid, backend)
        flight = in_flight(pool, inv, args.in_flight, args.seed + 2)
        cpu_after = cpu_sample(server.process.pid, backend)
        after_vms = alive_vm_count(admin)
    cpu, cpu_info = cpu_detail(cpu_before, cpu_after, len(flight.outcomes))
    check = _vm_check(backend, f"{args.in_flight:,} in flight: ", before_vms, after_vms, flight.outcomes)
    got, phase_info = in_flight_rows(backend, flight, cpu, check)
    info["in_flight"] = {**phase_info, "cpu": cpu_info}
    log(f"[{backend}] submitted in {flight.submit_wall:.2f} s, all final after {flight.all_final_s:.2f} s")
    return got


# ---------------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="a small federation: a smoke run")
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads (default 16)")
    parser.add_argument(
        "--tasks", type=int, help="tasks of the throughput phase (default 2,000; --quick: 600)"
    )
    parser.add_argument("--warmup", type=int, help="untimed tasks before it (default 100; --quick: 30)")
    parser.add_argument(
        "--in-flight",
        type=int,
        default=TARGET_IN_FLIGHT,
        help="tasks submitted at once (default 1,000; 0: no such phase)",
    )
    parser.add_argument(
        "--baseline", type=int, default=4000, help="GET /api/version requests of the baseline (default 4,000)"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="server processes (`serve --workers`; default 2, one per core)"
    )
    parser.add_argument(
        "--copy-of",
        type=_copy_of,
        help="BACKEND=SOURCE[,...]: run on a copy of a store `openovc init` made instead of generating one:"
        " sqlite=DATA_DIR (its openovc.db), postgresql=DATABASE (on the --postgres-url server)",
    )
    federation_options(parser)
    args = parser.parse_args(argv)
    if args.tasks is None:
        args.tasks = 600 if args.quick else 2000
    if args.warmup is None:
        args.warmup = 30 if args.quick else 100
    if args.clients < 1 or args.tasks < 1 or args.baseline < 1 or args.workers < 1:
        parser.error("--clients, --tasks, --baseline and --workers must be at least 1")
    if args.in_flight < 0 or args.warmup < 0:
        parser.error("--in-flight and --warmup must be at least 0")
    return args


def _copy_of(text: str) -> dict[str, str]:
    sources = dict(part.split("=", 1) for part in text.split(",") if "=" in part)
    if not sources or set(sources) - {"sqlite", "postgresql"} or len(sources) != text.count(",") + 1:
        raise argparse.ArgumentTypeError("expected sqlite=DATA_DIR and/or postgresql=DATABASE")
    return sources


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spec, _ = foundation_specs(args)
    report = Report(
        {
            "spec": dataclasses.asdict(spec),
            "clients": args.clients,
            "tasks": args.tasks,
            "warmup": args.warmup,
            "in_flight": args.in_flight,
            "baseline": args.baseline,
            "workers": args.workers,
        }
    )
    run_backends(
        report,
        args.backend,
        args.postgres_url,
        "openovc-bench-tasks-",
        lambda backend, root: run_backend(backend, args, root),
    )
    return report.finish(
        [
            f"Federation: {federation_text(spec)}. Operations: a third each clone, set_policy, move (same "
            f"cluster, powered-off VMs); {args.clients} client threads in this process, one keep-alive HTTPS "
            f"HTTP/1.1 connection each, one shared login; {args.warmup} untimed warm-up tasks first. The "
            f"server (`openovc serve --workers {args.workers}`: {args.workers} process(es), a listening "
            "socket each, on one store) runs on the same 2 cores as the clients."
        ],
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
