"""Backup benchmark: backups taken to PROTECTED, 10,000 deleted, their cost against the federation's size.

For each storage backend (SQLite, PostgreSQL) this script builds the largest federation of the
foundation benchmark (12 clusters x 8 hosts, 10,000 VMs, 300,000 backups; `--quick`: a small one) in a
fresh store, starts a real `openovc serve --workers N` process on it over TLS as users run it, logs in,
and then

1. rate of backups, default pacing (`immediate`): `--clients` client threads, each with its own
   keep-alive HTTPS connection, take `--take` backups, each of a distinct live VM: POST
   /virtual_machines/{id}/backup, poll GET /tasks/{id} until it is final, then GET /backups/{id} until
   the backup is PROTECTED. The time of a backup runs from sending its POST to reading PROTECTED; the
   rate is PROTECTED backups over the wall time. FAILED tasks (or backups that end in another state)
   and HTTP errors are counted apart, and the backups listed under the run's names must be as many as
   were PROTECTED;
2. 10,000 backups deleted: as many existing PROTECTED backups that will not expire during the run are
   deleted with POST /backups/delete, `--batch` ids per request from `--delete-clients` threads, each
   request's task polled to its end; then `--singles` more one by one with DELETE /backups/{id}. Then
   every deleted id is looked up again (GET /backups?id=...): none may be listed;
3. the server is restarted with realistic pacing for backups (`--paced`, by default
   immediate,virtual_machine.backup=duration:2:0.2: the task takes about 2 s, then the backup lives
   through NEW and SAVING for as long as taking it takes) and phase 1 runs again with `--paced-take`
   backups of other VMs;
4. cost against the federation's size: on federations of `--scale-vms` VMs (1,000, 3,000 and 10,000;
   30 backups per VM, as the largest; the same topology), served in-process (the ASGI application
   through Starlette's TestClient, pacing `immediate`: the task runs inside its POST, so the POST's
   time is the server's time of the whole operation), one client sequentially takes `--samples`
   backups, each of a distinct VM whose hypervisor_allocated_capacity is within 10% of one target size
   (the commonest size of the smallest federation), and deletes as many generated backups of such VMs
   with DELETE /backups/{id}. The ratio of the medians at the largest and the smallest federation
   must be at most 1.5 (flat);
5. memory and disk: the server's resident memory (with its children) after start, after phases 1 and
   2 and at its peak; the store's size on disk (SQLite: the database file with its WAL; PostgreSQL:
   pg_database_size) after loading and after the phases; and the content model's tables (those named
   content_*), their rows and their size (SQLite: dbstat; PostgreSQL: pg_total_relation_size), or
   "not present" when the store has none;
6. prints a markdown table with the results and targets, the machine, the federation and the command
   line, and can write the same as JSON (--json PATH).

Targets that are missed are reported, not fatal; the exit status is non-zero only when something fails
(a server that does not start, a phase that cannot be set up, ...).

    .venv/bin/python benchmarks/backups.py --quick              # smoke run, a few minutes for both
    .venv/bin/python benchmarks/backups.py --backend sqlite     # the full benchmark on one backend
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import random
import secrets
import sqlite3
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from foundation import (
    NOW,
    Server,
    Store,
    build,
    federation_options,
    federation_text,
    loaded_store,
    log,
    login,
    run_backends,
    scratch_store,
    tree_rss,
)
from foundation import specs as foundation_specs
from lean_http import HTTPError, LeanClient
from report import Report, Row, common_errors, mb, p95, timing
from tasks import (
    MEDIA,
    Op,
    Outcome,
    cpu_detail,
    cpu_sample,
    finish,
    inventory,
    pause,
    send,
    served,
    share_out,
    submit,
)

from openovc.app import build_runtime, create_app
from openovc.domain.timefmt import to_text
from openovc.settings import Settings
from openovc.simulator.federation import Federation, FederationSpec
from openovc.simulator.generator.generator import generate

with warnings.catch_warnings():
    # Starlette asks for httpx2 under its TestClient; the httpx installed here serves it well.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient

IMMEDIATE = "immediate"
PACED = "immediate,virtual_machine.backup=duration:2:0.2"
BACKUPS_PER_VM = FederationSpec.largest().backups // FederationSpec.largest().vms  # 30
SIZE_TOLERANCE = 0.10  # "a VM of the same size": allocated capacity within 10% of the target
FINAL_TIMEOUT_S = 300.0  # a backup not PROTECTED this long after its POST counts as an error
PAGE = 5000
WARMUP = 10  # untimed operations before each timed series of phase 4

TARGET_RATIO = 1.5


# ---------------------------------------------------------------------------------------------------
# Phase 1 (and 3): backups from request to PROTECTED


@dataclasses.dataclass
class Taken:
    """One backup asked for: its task's outcome, then the backup's own life."""

    outcome: Outcome
    backup_id: str = ""
    state: str = ""  # the backup's last state read: PROTECTED once done
    protected: float = 0.0  # perf_counter when PROTECTED was read
    gets: int = 0
    error: str = ""  # why it did not become PROTECTED, when its task COMPLETED
    read_failed: bool = False  # reading the backup failed (an HTTP error, not the backup's doing)

    @property
    def http_error(self) -> bool:
        return self.outcome.http_error or self.read_failed

    @property
    def failed(self) -> bool:
        """Its task FAILED, or its backup did not become PROTECTED (ended otherwise, or never did)."""
        if self.outcome.state == "FAILED":
            return True
        return self.backup_id != "" and self.state != "PROTECTED" and not self.read_failed


def take_one(http: LeanClient, vm_id: str, name: str, interval: float | None) -> Taken:
    """POST the backup, poll its task to its end, then read the backup until it is PROTECTED."""
    op = Op("backup", f"/api/virtual_machines/{vm_id}/backup", {"backup_name": name})
    taken = Taken(finish(http, submit(http, op), interval))
    out = taken.outcome
    if out.state != "COMPLETED":
        return taken
    made = [a["object_id"] for a in out.affected if a["object_type"] == "backup"]
    if len(made) != 1:
        out.error = f"the task's affected_objects name {len(made)} backups: {out.affected}"
        return taken
    taken.backup_id = made[0]
    delay = 0.0
    while True:
        try:
            resp = http.get(f"/api/backups/{taken.backup_id}")
        except HTTPError as exc:
            taken.error, taken.read_failed = f"GET backup: {type(exc).__name__}: {exc}", True
            return taken
        taken.gets += 1
        if resp.status_code != 200:
            taken.error = f"GET backup answered {resp.status_code}: {resp.text[:200]}"
            taken.read_failed = True
            return taken
        taken.state = str(resp.json()["backup"]["state"])
        if taken.state == "PROTECTED":
            taken.protected = time.perf_counter()
            return taken
        if taken.state not in ("NEW", "SAVING"):
            taken.error = f"backup ended {taken.state}"
            return taken
        if time.perf_counter() - out.submitted > FINAL_TIMEOUT_S:
            taken.error = f"backup still {taken.state} after {FINAL_TIMEOUT_S:.0f} s"
            return taken
        delay = pause(delay, interval)


def take_backups(
    pool: list[LeanClient], vms: list[str], count: int, label: str, interval: float | None
) -> tuple[list[Taken], float]:
    """`count` backups of the VMs in order (distinct while there are enough), through the pool."""

    def work(i: int, index: int) -> Taken:
        return take_one(pool[i], vms[index % len(vms)], f"bench-{label}-{index:06d}", interval)

    return share_out(len(pool), count, work)


def listed_count(http: httpx.Client, params: Mapping[str, str | int]) -> int:
    resp = http.get("/api/backups", params={**params, "fields": "id", "limit": 1})
    if resp.status_code != 200:
        raise RuntimeError(f"GET /api/backups {params} answered {resp.status_code}: {resp.text[:300]}")
    return int(resp.json()["count"])


PACED_RATE_NOTE = " (each client waits for its backup: the rate is about clients / time to PROTECTED)"


def backup_rows(
    backend: str,
    label: str,
    pacing: str,
    taken: list[Taken],
    wall: float,
    clients: int,
    cpu: str,
    listed: int,
) -> tuple[list[Row], dict[str, Any]]:
    done = [t for t in taken if t.state == "PROTECTED"]
    failed = [t for t in taken if t.failed]
    http_errors = [t for t in taken if t.http_error]
    times = [(t.protected - t.outcome.submitted) * 1000 for t in done]
    tasks_ms = [(t.outcome.ended - t.outcome.submitted) * 1000 for t in done]
    posts = [(t.outcome.accepted - t.outcome.submitted) * 1000 for t in done]
    rate = len(done) / wall
    rows = [
        Row(
            backend,
            f"backups, {label}: PROTECTED / wall time",
            rate,
            "backups/s",
            detail=f"{len(done):,} of {len(taken):,} backups in {wall:.2f} s, {clients} clients, "
            f"pacing {pacing}{PACED_RATE_NOTE if pacing != IMMEDIATE else ''}; {cpu}",
        ),
    ]
    if times:
        rows.append(
            timing(
                backend,
                f"backups, {label}: time from request to PROTECTED",
                times,
                detail=f"the POST alone: median {statistics.median(posts):.1f} ms; to the task COMPLETED: "
                f"median {statistics.median(tasks_ms):.1f} ms, p95 {p95(tasks_ms):.1f} ms",
            )
        )
    for what, bad in (("FAILED", failed), ("HTTP errors", http_errors)):
        detail = common_errors(t.outcome.error or t.error for t in bad)
        rows.append(Row(backend, f"backups, {label}: {what}", len(bad), "", target=0, detail=detail))
    rows.append(
        Row(
            backend,
            f"backups, {label}: listed under the run's names = PROTECTED",
            listed,
            "",
            target=len(done),
            bound="eq",
            detail="GET /backups?name=bench-<run>-* count",
        )
    )
    info = {
        "pacing": pacing,
        "wall_s": round(wall, 3),
        "backups": len(taken),
        "protected": len(done),
        "failed": len(failed),
        "http_errors": len(http_errors),
        "backups_per_s": round(rate, 2),
        "listed": listed,
    }
    return rows, info


# ---------------------------------------------------------------------------------------------------
# Phase 2: deleting 10,000 backups


def deletable(http: httpx.Client, count: int, after: str, avoid: str) -> list[str]:
    """`count` ids of PROTECTED backups that expire after `after` (none expires while we delete it)."""
    found: list[str] = []
    offset = 0
    while len(found) < count:
        params: dict[str, str | int] = {
            "state": "PROTECTED",
            "expires_after": after,
            "fields": "id,name",
            "limit": PAGE,
            "offset": offset,
        }
        resp = http.get("/api/backups", params=params)
        if resp.status_code != 200:
            raise RuntimeError(f"GET /api/backups answered {resp.status_code}: {resp.text[:300]}")
        body = resp.json()
        found += [str(b["id"]) for b in body["backups"] if not str(b["name"]).startswith(avoid)]
        offset += PAGE
        if offset >= int(body["count"]):
            break
    if len(found) < count:
        raise RuntimeError(f"only {len(found):,} backups can be deleted; {count:,} were asked for")
    return found[:count]


def delete_batches(pool: list[LeanClient], ids: list[str], batch: int) -> tuple[list[Outcome], float]:
    batches = [ids[i : i + batch] for i in range(0, len(ids), batch)]

    def work(i: int, index: int) -> Outcome:
        body = {"backup_id": batches[index]}
        return finish(pool[i], send(pool[i], "delete", "POST", "/api/backups/delete", body))

    return share_out(len(pool), len(batches), work)


def still_listed(http: httpx.Client, ids: list[str], batch: int) -> int:
    """How many of the ids GET /backups still lists, asked `batch` ids at a time."""
    return sum(listed_count(http, {"id": ",".join(ids[i : i + batch])}) for i in range(0, len(ids), batch))


def delete_phase(
    backend: str, args: argparse.Namespace, server: Server, admin: httpx.Client, pool: list[LeanClient]
) -> tuple[list[Row], dict[str, Any]]:
    horizon = to_text(datetime.now(UTC) + timedelta(days=1))
    ids = deletable(admin, args.deletes + args.singles, horizon, "bench-")
    batch_ids, single_ids = ids[: args.deletes], ids[args.deletes :]
    before = listed_count(admin, {})
    workers = pool[: args.delete_clients]
    cpu_before = cpu_sample(server.process.pid, backend)
    outcomes, wall = delete_batches(workers, batch_ids, args.batch)
    cpu_after = cpu_sample(server.process.pid, backend)
    one = workers[0]
    singles = [finish(one, send(one, "delete", "DELETE", f"/api/backups/{i}", None)) for i in single_ids]
    after = listed_count(admin, {})
    left = still_listed(admin, ids, args.batch)
    cpu, cpu_info = cpu_detail(cpu_before, cpu_after, len(batch_ids))
    cpu = cpu.replace("ms/task", "ms/backup")
    everything = outcomes + singles
    bad = [o for o in everything if o.state != "COMPLETED"]
    batch_ms = [(o.ended - o.submitted) * 1000 for o in outcomes if o.state == "COMPLETED"]
    single_ms = [(o.ended - o.submitted) * 1000 for o in singles if o.state == "COMPLETED"]
    label = f"delete {len(batch_ids):,} backups"
    rows = [
        Row(
            backend,
            f"{label}: POST /backups/delete, {args.batch} ids per request, total",
            wall,
            "s",
            detail=f"{len(outcomes):,} requests from {len(workers)} clients, each polled to COMPLETED; {cpu}",
        ),
        Row(
            backend,
            f"{label}: per backup (wall / backups)",
            1000 * wall / max(len(batch_ids), 1),
            "ms",
            detail=f"{len(batch_ids) / wall:,.0f} backups/s",
        ),
    ]
    if batch_ms:
        rows.append(
            timing(
                backend,
                f"{label}: one request of {args.batch} ids, to COMPLETED",
                batch_ms,
                detail=f"{statistics.median(batch_ms) / args.batch:.2f} ms per backup at the median",
            )
        )
    if single_ms:
        rows.append(
            timing(
                backend,
                "DELETE /backups/{id}, one backup, to COMPLETED",
                single_ms,
                detail=f"{len(single_ms)} requests in a row from one client",
            )
        )
    rows += [
        Row(
            backend,
            f"{label}: FAILED tasks + HTTP errors",
            len(bad),
            "",
            target=0,
            detail=common_errors(o.error or o.state for o in bad),
        ),
        Row(
            backend,
            f"{label}: deleted backups still listed",
            left,
            "",
            target=0,
            detail=f"GET /backups?id=<{args.batch} ids> for all {len(ids):,}; count of all backups "
            f"{before:,} -> {after:,}",
        ),
    ]
    info = {
        "deleted": len(ids),
        "batch": args.batch,
        "clients": len(workers),
        "wall_s": round(wall, 3),
        "failed_or_http_errors": len(bad),
        "still_listed": left,
        "count_before": before,
        "count_after": after,
        "cpu": cpu_info,
    }
    return rows, info


# ---------------------------------------------------------------------------------------------------
# Phase 5: memory and disk


@dataclasses.dataclass
class Disk:
    """The store's size on disk, and the content model's tables: rows and bytes (None: not present)."""

    total: int
    how: str
    content: dict[str, tuple[int, int]] | None
    content_how: str = ""


def _sqlite_disk(store: Store) -> Disk:
    path = store.data_dir / "openovc.db"
    total = sum(p.stat().st_size for p in store.data_dir.glob("openovc.db*") if p.is_file())
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'content\\_%' ESCAPE '\\'"
            )
        ]
        if not names:
            return Disk(total, "SQLite file with its WAL", None)
        content: dict[str, tuple[int, int]] = {}
        how = "dbstat: pages of each table and its indexes"
        for name in names:
            rows = int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
            try:
                size = conn.execute(
                    "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name IN "
                    "(SELECT name FROM sqlite_master WHERE tbl_name = ?)",
                    (name,),
                ).fetchone()[0]
            except sqlite3.OperationalError:  # SQLite built without the dbstat table: no size per table
                size, how = 0, "dbstat not available: sizes unknown (0)"
            content[name] = (rows, int(size))
    return Disk(total, "SQLite file with its WAL", content, how)


def _postgres_disk(store: Store) -> Disk:
    assert store.database_url is not None
    with psycopg.connect(store.database_url, autocommit=True) as conn:
        total_row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        names = [
            str(r[0])
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                "AND table_name LIKE 'content\\_%' ORDER BY table_name"
            )
        ]
        content: dict[str, tuple[int, int]] = {}
        for name in names:
            rows = conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()
            size = conn.execute("SELECT pg_total_relation_size(%s::regclass)", (f'"{name}"',)).fetchone()
            content[name] = (int(rows[0]) if rows else 0, int(size[0]) if size else 0)
    total = int(total_row[0]) if total_row else 0
    return Disk(
        total, "pg_database_size", content if names else None, "pg_total_relation_size (with indexes, TOAST)"
    )


def disk(store: Store) -> Disk:
    return _sqlite_disk(store) if store.backend == "sqlite" else _postgres_disk(store)


def disk_rows(backend: str, when: str, got: Disk) -> list[Row]:
    rows = [Row(backend, f"store on disk, {when}", mb(got.total), "MB", detail=got.how)]
    if got.content is None:
        rows.append(
            Row(backend, f"content model tables, {when}", 0, "", detail="not present (no content_* table)")
        )
        return rows
    counts = sum(n for n, _ in got.content.values())
    size = sum(s for _, s in got.content.values())
    each = ", ".join(
        f"{name.removeprefix('content_')} {n:,} rows / {mb(s):.2f} MB" for name, (n, s) in got.content.items()
    )
    rows += [
        Row(backend, f"content model tables, {when}: rows", counts, "", detail=each),
        Row(backend, f"content model tables, {when}: on disk", mb(size), "MB", detail=got.content_how),
    ]
    return rows


# ---------------------------------------------------------------------------------------------------
# Phase 4: the cost of one backup and one delete as the federation grows


# The operations the cost phase times: their rows' names and notes (`{note}`: the VMs they act on).
COSTS = {
    "backup": (
        "one backup (POST, task inside)",
        "in-process (TestClient), each of another VM; {note}",
    ),
    "delete": (
        "one delete (DELETE /backups/{id}, task inside)",
        "in-process; generated backups of those VMs",
    ),
}


@dataclasses.dataclass
class ScalePoint:
    """One federation served in-process, and what was timed on it."""

    vms: int
    http: TestClient
    vm_ids: list[str]  # live VMs of about the target size, in a random order
    victims: list[str]  # generated backups of such VMs, to delete
    done: dict[str, int] = dataclasses.field(default_factory=lambda: dict.fromkeys(COSTS, 0))
    ms: dict[str, list[float]] = dataclasses.field(default_factory=lambda: {kind: [] for kind in COSTS})
    bad: list[str] = dataclasses.field(default_factory=list)

    def request(self, kind: str) -> tuple[str, str, dict[str, str] | None]:
        """The next operation of a kind: the method, URL and body."""
        i = self.done[kind]
        if kind == "backup":
            vm = self.vm_ids[i % len(self.vm_ids)]
            return "POST", f"/api/virtual_machines/{vm}/backup", {"backup_name": f"bench-scale-{i:05d}"}
        return "DELETE", f"/api/backups/{self.victims[i]}", None


def _alive(vm: Mapping[str, Any]) -> bool:
    return vm["state"] == "ALIVE" and not vm["hypervisor_is_template"]


def target_size(federation: Federation) -> int:
    """The commonest allocated capacity of the federation's live VMs."""
    sizes = Counter(
        int(v["hypervisor_allocated_capacity"]) for v in federation.rows["virtual_machines"] if _alive(v)
    )
    return min(sizes, key=lambda s: (-sizes[s], s))


def _sized(federation: Federation, size: int, horizon: str) -> tuple[list[str], list[str]]:
    """The live VMs of about `size`, and their generated backups that stay for the run."""
    low, high = size * (1 - SIZE_TOLERANCE), size * (1 + SIZE_TOLERANCE)
    vms = sorted(
        str(v["id"])
        for v in federation.rows["virtual_machines"]
        if _alive(v) and low <= int(v["hypervisor_allocated_capacity"]) <= high
    )
    chosen = set(vms)
    backups = sorted(
        str(b["id"])
        for b in federation.rows["backups"]
        if b["virtual_machine_id"] in chosen
        and b["state"] == "PROTECTED"
        and (b["expiration_time"] is None or str(b["expiration_time"]) > horizon)
    )
    return vms, backups


def _timed(http: TestClient, method: str, url: str, body: Mapping[str, Any] | None) -> tuple[float, str]:
    """One operation in-process: the seconds of its request (the task runs inside it), and what went
    wrong ("" when its task COMPLETED; checked afterwards, outside the clock)."""
    content = orjson.dumps(body) if body is not None else None
    headers = {"Content-Type": MEDIA} if body is not None else {}
    started = time.perf_counter()
    resp = http.request(method, url, content=content, headers=headers)
    elapsed = time.perf_counter() - started
    if resp.status_code != 202:
        return elapsed, f"{method} {url} answered {resp.status_code}: {resp.text[:200]}"
    task = http.get(f"/api/tasks/{resp.json()['task']['id']}").json()["task"]
    if task["state"] != "COMPLETED":
        return elapsed, f"task {task['state']}: {task['error_code']} {task['message']}"
    return elapsed, ""


def _in_process(stack: contextlib.ExitStack, store: Store, password: str) -> TestClient:
    """The application on the store, pacing immediate, logged in as the administrator."""
    settings = Settings(
        data_dir=store.data_dir,
        database_url=store.database_url,
        generate_demo=False,
        task_pacing=IMMEDIATE,
        task_worker=False,
    )
    rt = build_runtime(settings)
    stack.callback(rt.storage.engine.dispose)
    # Not entered as a context: the application's lifespan (the task worker) stays off.
    http = TestClient(create_app(rt), base_url="https://testserver")
    login(http, password)
    return http


def open_point(
    stack: contextlib.ExitStack,
    backend: str,
    spec: FederationSpec,
    size: int | None,
    args: argparse.Namespace,
    root: Path,
) -> tuple[ScalePoint, int]:
    """A federation of spec.vms VMs in a scratch store (kept open by `stack`), served in-process."""
    password = secrets.token_urlsafe(18)
    federation = generate(spec, NOW)
    size = size if size is not None else target_size(federation)
    horizon = to_text(datetime.now(UTC) + timedelta(days=1))
    vms, backups = _sized(federation, size, horizon)
    needed = WARMUP + args.samples
    if not vms or len(backups) < needed:
        raise RuntimeError(
            f"{spec.vms:,} VMs: {len(vms)} VMs and {len(backups)} backups of about {size:,} bytes; "
            f"{needed} backups are needed"
        )
    rng = random.Random(args.seed)
    rng.shuffle(vms)
    log(f"[{backend}] cost phase: loading {spec.vms:,} VMs; {len(vms)} VMs of {size / 2**30:.0f} GiB ±10%")
    store = stack.enter_context(scratch_store(backend, root, f"scale-{spec.vms}", args.postgres_url))
    build(store, spec, password, federation=federation)
    del federation
    gc.collect()
    point = ScalePoint(spec.vms, _in_process(stack, store, password), vms, rng.sample(backups, needed))
    return point, size


def _operate(point: ScalePoint, kind: str, count: int, timed: bool) -> None:
    for _ in range(count):
        elapsed, error = _timed(point.http, *point.request(kind))
        point.done[kind] += 1
        if error:
            point.bad.append(error)
        if timed:
            point.ms[kind].append(elapsed * 1000)


def measure_points(points: list[ScalePoint], samples: int) -> None:
    """Untimed warm-ups, then the timed series in rounds over every size, so that a change of the
    (shared) machine's load during the phase weighs on all sizes alike."""
    for p in points:
        for kind in COSTS:
            _operate(p, kind, WARMUP, timed=False)
    chunk = max(1, samples // 10)
    while len(points[0].ms["backup"]) < samples:
        for p in points:
            count = min(chunk, samples - len(p.ms["backup"]))
            for kind in COSTS:
                _operate(p, kind, count, timed=True)


def scale_rows(backend: str, points: list[ScalePoint], size: int, samples: int) -> list[Row]:
    rows: list[Row] = []
    for p in points:
        note = f"{len(p.vm_ids):,} VMs of {size / 2**30:.0f} GiB ±10%"
        if len(p.vm_ids) < samples + WARMUP:
            note += " (fewer than the backups: some VMs are backed up more than once)"
        rows += [
            timing(
                backend,
                f"{name} @ {p.vms:,} VMs",
                p.ms[kind],
                detail=f"{len(p.ms[kind])} timed, " + detail.format(note=note),
            )
            for kind, (name, detail) in COSTS.items()
        ]
    first, last = points[0], points[-1]
    rows += [
        Row(
            backend,
            f"cost ratio of one {kind}, {last.vms:,} / {first.vms:,} VMs",
            statistics.median(last.ms[kind]) / statistics.median(first.ms[kind]),
            "x",
            target=TARGET_RATIO,
            detail="ratio of medians, VMs of the same size; flat: at most 1.5",
        )
        for kind in COSTS
    ]
    bad = [e for p in points for e in p.bad]
    rows.append(
        Row(
            backend,
            "cost phase: FAILED tasks + HTTP errors",
            len(bad),
            "",
            target=0,
            detail=common_errors(bad),
        )
    )
    return rows


def scale_phase(
    backend: str, args: argparse.Namespace, base: FederationSpec, root: Path
) -> tuple[list[Row], dict[str, Any]]:
    points: list[ScalePoint] = []
    size: int | None = None
    with contextlib.ExitStack() as stack:
        for vms in args.scale_vms:
            spec = dataclasses.replace(base, vms=vms, backups=BACKUPS_PER_VM * vms)
            point, size = open_point(stack, backend, spec, size, args, root)
            points.append(point)
        log(f"[{backend}] cost phase: {args.samples} backups and deletes at each size")
        measure_points(points, args.samples)
    assert size is not None
    info = {
        "target_size_bytes": size,
        "points": {
            p.vms: {
                "matched_vms": len(p.vm_ids),
                **{f"{kind}_median_ms": round(statistics.median(p.ms[kind]), 3) for kind in COSTS},
                "errors": len(p.bad),
            }
            for p in points
        },
    }
    return scale_rows(backend, points, size, args.samples), info


# ---------------------------------------------------------------------------------------------------
# One backend


def _vm_ids(admin: httpx.Client, seed: int) -> list[str]:
    """Every live VM that is not a template, in a random order of the seed's."""
    inv = inventory(admin)
    ids = sorted([v.id for v in inv.movable] + inv.others)
    random.Random(seed).shuffle(ids)
    return ids


def backups_run(
    backend: str,
    label: str,
    pacing: str,
    pool: list[LeanClient],
    admin: httpx.Client,
    server: Server,
    vms: list[str],
    count: int,
    interval: float | None,
) -> tuple[list[Row], dict[str, Any]]:
    run = "imm" if pacing == IMMEDIATE else "paced"
    log(f"[{backend}] {count:,} backups, {len(pool)} clients, pacing {pacing}")
    cpu_before = cpu_sample(server.process.pid, backend)
    taken, wall = take_backups(pool, vms, count, run, interval)
    cpu_after = cpu_sample(server.process.pid, backend)
    cpu, cpu_info = cpu_detail(cpu_before, cpu_after, len(taken))
    cpu = cpu.replace("ms/task", "ms/backup")
    listed = listed_count(admin, {"name": f"bench-{run}-*"})
    rows, info = backup_rows(backend, label, pacing, taken, wall, len(pool), cpu, listed)
    log(f"[{backend}] {rows[0].value:.1f} backups/s")
    return rows, {**info, "cpu": cpu_info}


def peak_rss(backend: str, pacing: str, server: Server, note: str = "") -> Row:
    """The peak resident memory of a server that has stopped, with its children."""
    return Row(
        backend,
        f"server peak RSS, {pacing}",
        mb(server.sampler.peak_bytes),
        "MB",
        detail=f"{server.sampler.samples} samples over its life{note}",
    )


def run_backend(backend: str, args: argparse.Namespace, root: Path) -> tuple[list[Row], dict[str, Any]]:
    spec, _ = foundation_specs(args)
    info: dict[str, Any] = {}
    password = secrets.token_urlsafe(18)
    rows: list[Row] = []
    memory: list[Row] = []
    with loaded_store(backend, spec, root, "backups", args.postgres_url, password, info) as store:
        loaded = disk(store)
        with served(store, password, IMMEDIATE, args.workers, args.clients) as (server, admin, pool):
            rss_start = tree_rss(server.process.pid)
            vms = _vm_ids(admin, args.seed)
            info["live_vms"] = len(vms)
            got, info["backups_immediate"] = backups_run(
                backend, "default pacing", IMMEDIATE, pool, admin, server, vms, args.take, None
            )
            rows += got
            log(f"[{backend}] deleting {args.deletes:,} backups, {args.batch} per request")
            got, info["deletes"] = delete_phase(backend, args, server, admin, pool)
            rows += got
            rss_end = tree_rss(server.process.pid)
        memory += [
            Row(backend, "server RSS after start and login", mb(rss_start), "MB", detail="with its children"),
            Row(
                backend,
                "server RSS after the backups and the deletes",
                mb(rss_end),
                "MB",
                detail=f"{args.take:,} backups taken, {args.deletes + args.singles:,} deleted",
            ),
            peak_rss(backend, "default pacing", server, f"; `serve --workers {args.workers}`"),
        ]
        if args.paced_take:
            with served(store, password, args.paced, args.workers, args.clients) as (server, admin, pool):
                others = vms[args.take :] + vms[: args.take]  # VMs the first run did not back up, first
                got, info["backups_paced"] = backups_run(
                    backend,
                    "realistic pacing",
                    args.paced,
                    pool,
                    admin,
                    server,
                    others,
                    args.paced_take,
                    0.25,
                )
                rows += got
            memory.append(peak_rss(backend, "realistic pacing", server))
        done = disk(store)
        memory += disk_rows(backend, "after loading", loaded) + disk_rows(backend, "after the phases", done)
    gc.collect()
    got, info["cost"] = scale_phase(backend, args, spec, root)
    rows += got + memory
    return rows, info


# ---------------------------------------------------------------------------------------------------
# Command line


def _counts(text: str) -> list[int]:
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma list of VM counts: {text!r}") from None
    if len(values) < 2 or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError("give at least two VM counts, each at least 1")
    return values


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--quick", action="store_true", help="a small federation and small counts: a smoke run"
    )
    parser.add_argument("--clients", type=int, default=16, help="concurrent client threads (default 16)")
    parser.add_argument(
        "--take", type=int, help="backups of phase 1, default pacing (default 2,000; --quick: 200)"
    )
    parser.add_argument(
        "--paced-take",
        type=int,
        help="backups of the realistic-pacing run (default 320; --quick: 32; 0: skip that run)",
    )
    parser.add_argument("--paced", default=PACED, help=f"the pacing of that run (default {PACED})")
    parser.add_argument(
        "--deletes", type=int, help="backups deleted in batches (default 10,000; --quick: 2,000)"
    )
    parser.add_argument("--batch", type=int, default=100, help="ids per POST /backups/delete (default 100)")
    parser.add_argument("--delete-clients", type=int, default=4, help="clients deleting at once (default 4)")
    parser.add_argument("--singles", type=int, default=20, help="backups deleted one by one (default 20)")
    parser.add_argument(
        "--scale-vms",
        type=_counts,
        help="VM counts of the cost phase (default 1000,3000,10000; --quick: 100,300,1000)",
    )
    parser.add_argument("--samples", type=int, help="timed operations per size (default 200; --quick: 50)")
    parser.add_argument(
        "--workers", type=int, default=2, help="server processes (`serve --workers`; default 2, one per core)"
    )
    federation_options(parser)
    args = parser.parse_args(argv)
    defaults = {
        "take": (200, 2000),
        "paced_take": (32, 320),
        "deletes": (2000, 10_000),
        "samples": (50, 200),
        "scale_vms": ([100, 300, 1000], [1000, 3000, 10_000]),
    }
    for name, (quick, full) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    if (
        min(
            args.clients, args.take, args.deletes, args.batch, args.delete_clients, args.samples, args.workers
        )
        < 1
    ):
        parser.error(
            "--clients, --take, --deletes, --batch, --delete-clients, --samples, --workers: at least 1"
        )
    if args.paced_take < 0 or args.singles < 0:
        parser.error("--paced-take and --singles must not be negative")
    if args.delete_clients > args.clients:
        parser.error("--delete-clients cannot exceed --clients (they are taken from the same pool)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spec, _ = foundation_specs(args)
    report = Report(
        {
            "spec": dataclasses.asdict(spec),
            "options": {k: v for k, v in vars(args).items() if k not in ("json", "postgres_url")},
        }
    )
    run_backends(
        report,
        args.backend,
        args.postgres_url,
        "openovc-bench-backups-",
        lambda backend, root: run_backend(backend, args, root),
    )
    return report.finish(
        [
            f"Federation: {federation_text(spec)}. Backups: {args.take:,} with the default pacing and "
            f"{args.paced_take:,} with {args.paced}, each of a distinct live VM, {args.clients} client threads "
            f"in this process with one keep-alive HTTPS HTTP/1.1 connection each; deletes: {args.deletes:,} "
            f"in requests of {args.batch} ids from {args.delete_clients} clients, then {args.singles} one by "
            f"one. The server (`openovc serve --workers {args.workers}`) runs on the same cores as the "
            f"clients. Cost phase: federations of {', '.join(f'{v:,}' for v in args.scale_vms)} VMs "
            f"({BACKUPS_PER_VM} backups per VM, the same topology), served in-process (TestClient, pacing "
            f"immediate), {args.samples} timed operations of each kind after {WARMUP} untimed."
        ],
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
