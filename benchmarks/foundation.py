"""Foundation benchmark: generation, loading, a real TLS server's memory and its read latencies.

For each storage backend (SQLite, PostgreSQL) this script

1. generates a federation (by default the largest real one: 12 clusters x 8 hosts, 10,000 VMs,
   300,000 backups) and loads it into a fresh store, timing both steps;
2. starts a real `openovc serve` process on that store, with TLS as users run it, and samples the
   server's resident memory (with its children) for its whole life;
3. times requests over loopback HTTPS with one keep-alive HTTP/1.1 connection: a host by id, a default
   page of VMs, every VM's id and name in pages of 5000, and a VM's backups by name sorted by creation
   time, the last at 3,000 and at the full number of backups (a second store with the same spec but
   3,000 backups) to show that the indexed query does not grow with the table. The same VM has far
   more backups in the large store, so the target is judged on a VM of the large store whose answer
   is about as big as the small run's (the same-VM ratio is shown too). Each time runs from sending
   a request to having its whole body; the client's JSON parsing is outside the clock, but every
   answer is still parsed and checked. One warm-up pass precedes the timed ones;
4. prints a markdown table with medians, p95 and targets, the machine and the command line, and can
   write the same as JSON (--json PATH).

Targets that are missed are reported, not fatal; the exit status is non-zero only when something fails
(a server that does not start, a request that does not answer 200, ...).

    .venv/bin/python benchmarks/foundation.py --quick          # smoke run, under a minute
    .venv/bin/python benchmarks/foundation.py --backend sqlite # the full benchmark on one backend
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import psutil
import psycopg
from report import Report, Row, loadavg, mb, timing

from openovc.app import build_runtime
from openovc.domain.auth import Role
from openovc.settings import Settings
from openovc.simulator.federation import Federation, FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.storage.loading import load_federation

ADMIN = "administrator@vsphere.local"
# One generation time for the whole run: the same spec then gives the same rows on every backend.
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
SMALL_BACKUPS = 3000
PAGE = 5000
POSTGRES_ADMIN_URL = os.environ.get(
    "OPENOVC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# Targets: (value, unit). Latencies are judged on the median: the machine is small and noisy.
TARGET_GENERATION_S = 60.0
TARGET_RSS_MB = 500.0
TARGET_HOST_MS = 3.0
TARGET_ALL_VMS_MS = 300.0
TARGET_BACKUPS_MS = 25.0
TARGET_BACKUPS_RATIO = 1.5


@dataclasses.dataclass
class Store:
    """A scratch store: a data directory, and a PostgreSQL URL when not SQLite."""

    backend: str
    data_dir: Path
    database_url: str | None


@dataclasses.dataclass
class Built:
    """What generating and loading one federation gave."""

    generate_s: float
    load_s: float
    rows: dict[str, int]
    host_ids: list[str]
    backups_per_vm_name: Counter[str]


# ---------------------------------------------------------------------------------------------------
# Scratch stores and servers


def _admin_conninfo(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@contextlib.contextmanager
def scratch_store(backend: str, root: Path, label: str, admin_url: str) -> Iterator[Store]:
    """A fresh data directory, and for PostgreSQL a fresh database, dropped afterwards."""
    data_dir = root / f"{backend}-{label}"
    data_dir.mkdir(parents=True)
    if backend == "sqlite":
        yield Store(backend, data_dir, None)
        return
    name = f"openovc_bench_{secrets.token_hex(6)}"
    conninfo = _admin_conninfo(admin_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield Store(backend, data_dir, f"{conninfo.rsplit('/', 1)[0]}/{name}")
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build(store: Store, spec: FederationSpec, password: str, federation: Federation | None = None) -> Built:
    """Generate (unless given) and load a federation into the store, and add the administrator."""
    settings = Settings(data_dir=store.data_dir, database_url=store.database_url, generate_demo=False)
    rt = build_runtime(settings)
    try:
        generate_s = 0.0
        if federation is None:
            started = time.perf_counter()
            federation = generate(spec, NOW)
            generate_s = time.perf_counter() - started
        started = time.perf_counter()
        load_federation(rt.storage.engine, federation)
        load_s = time.perf_counter() - started
        rt.auth.set_user(ADMIN, password, Role.ADMINISTRATOR)
        built = Built(
            generate_s=generate_s,
            load_s=load_s,
            rows={name: len(rows) for name, rows in federation.rows.items()},
            host_ids=sorted(str(h["id"]) for h in federation.rows["hosts"]),
            backups_per_vm_name=Counter(str(b["virtual_machine_name"]) for b in federation.rows["backups"]),
        )
    finally:
        rt.storage.engine.dispose()
    return built


@contextlib.contextmanager
def loaded_store(
    backend: str,
    spec: FederationSpec,
    root: Path,
    label: str,
    admin_url: str,
    password: str,
    info: dict[str, Any],
) -> Iterator[Store]:
    """A scratch store with the federation of `spec` loaded and the administrator added; the seconds
    generating and loading took go into `info`."""
    log(f"[{backend}] generating and loading {spec}")
    with scratch_store(backend, root, label, admin_url) as store:
        built = build(store, spec, password)
        info["generate_s"], info["load_s"] = round(built.generate_s, 2), round(built.load_s, 2)
        del built
        gc.collect()
        yield store


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and its children now; 0 once the process is gone."""
    total = 0
    with contextlib.suppress(psutil.Error):
        proc = psutil.Process(pid)
        total = proc.memory_info().rss
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
    return total


class MemorySampler(threading.Thread):
    """Samples the resident memory of a process and its children until stopped; keeps the peak."""

    def __init__(self, pid: int, interval_s: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            total = tree_rss(self.pid)
            if not total:
                return
            self.peak_bytes = max(self.peak_bytes, total)
            self.samples += 1
            self._stop_event.wait(self.interval_s)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


@dataclasses.dataclass
class Server:
    base_url: str
    process: subprocess.Popen[bytes]
    sampler: MemorySampler
    log: Path


def _server_command(store: Store, port: int) -> list[str]:
    command = [
        sys.executable,
        "-c",
        "import sys; from openovc.cli import main; sys.exit(main())",
        "serve",
        "--data-dir",
        str(store.data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    if store.database_url:
        command += ["--database-url", store.database_url]
    return command


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server we started (its own process group), politely first."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@contextlib.contextmanager
def running_server(store: Store, password: str, timeout_s: float = 180.0) -> Iterator[Server]:
    """`openovc serve` over HTTPS on a free port, stopped (with anything it started) on exit."""
    port = _free_port()
    log = store.data_dir / "server.log"
    env = dict(os.environ, OPENOVC_ADMIN_PASSWORD=password, OPENOVC_GENERATE_DEMO="false")
    with log.open("wb") as out:
        process = subprocess.Popen(
            _server_command(store, port),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    sampler = MemorySampler(process.pid)
    sampler.start()
    server = Server(f"https://127.0.0.1:{port}", process, sampler, log)
    try:
        deadline = time.monotonic() + timeout_s
        with httpx.Client(verify=False, timeout=5) as probe:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"server exited with {process.returncode}:\n{_tail(log)}")
                with contextlib.suppress(httpx.TransportError):
                    if probe.get(f"{server.base_url}/api/version").status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not answer within {timeout_s:.0f} s:\n{_tail(log)}")
                time.sleep(0.1)
        yield server
        if process.poll() is not None:
            raise RuntimeError(f"server died during the run ({process.returncode}):\n{_tail(log)}")
    finally:
        try:
            _stop(process)
        finally:
            sampler.stop()


def login(http: httpx.Client, password: str) -> None:
    """Log the client (over the network or in-process) in as the administrator, for all its requests."""
    resp = http.post(
        "/api/oauth/token",
        auth=("simplivity", ""),
        data={"grant_type": "password", "username": ADMIN, "password": password},
    )
    if resp.status_code != 200:
        raise RuntimeError(f"login failed: {resp.status_code} {resp.text}")
    http.headers["Authorization"] = f"Bearer {resp.json()['access_token']}"
    http.headers["Accept"] = "application/json"


@contextlib.contextmanager
def client(server: Server, password: str) -> Iterator[httpx.Client]:
    """A keep-alive HTTP/1.1 client logged in as the administrator."""
    with httpx.Client(base_url=server.base_url, verify=False, http1=True, http2=False, timeout=120) as http:
        login(http, password)
        yield http


# ---------------------------------------------------------------------------------------------------
# Measuring


Params = dict[str, str | int]
Request = tuple[str, Params | None]


def fetch(http: httpx.Client, url: str, params: Params | None = None) -> tuple[float, dict[str, Any]]:
    """One GET: the seconds from sending it to having its whole body, and the body, parsed afterwards."""
    started = time.perf_counter()
    resp = http.get(url, params=params)
    elapsed = time.perf_counter() - started
    if resp.status_code != 200:
        raise RuntimeError(f"GET {resp.request.url} answered {resp.status_code}: {resp.text[:500]}")
    body: dict[str, Any] = resp.json()
    return elapsed, body


def timed(
    http: httpx.Client,
    repeat: int,
    requests: Callable[[int], list[Request]],
    check: Callable[[int, list[dict[str, Any]]], None],
) -> list[float]:
    """One warm-up pass, then `repeat` timed passes; a pass's time is the sum of its requests' times.

    The client's JSON parsing is outside the clock; every body is still parsed and checked.
    """
    times = []
    for i in range(-1, repeat):
        total, bodies = 0.0, []
        for url, params in requests(max(i, 0)):
            elapsed, body = fetch(http, url, params)
            total += elapsed
            bodies.append(body)
        check(max(i, 0), bodies)
        if i >= 0:
            times.append(total)
    return times


def latency(backend: str, name: str, times_s: list[float], target_ms: float | None, detail: str = "") -> Row:
    return timing(backend, name, [t * 1000 for t in times_s], target_ms, detail)


def measure_large(backend: str, http: httpx.Client, built: Built, repeat: int) -> tuple[Row, Row, Row]:
    """A host by id, a default page of VMs, and every VM's id and name in pages of 5000."""
    hosts = built.host_ids

    def host_checked(i: int, bodies: list[dict[str, Any]]) -> None:
        if bodies[0]["host"]["id"] != hosts[i % len(hosts)]:
            raise RuntimeError(f"GET /api/hosts/{hosts[i % len(hosts)]} returned another host")

    times = timed(http, repeat, lambda i: [(f"/api/hosts/{hosts[i % len(hosts)]}", None)], host_checked)
    host = latency(backend, "GET /api/hosts/{id}", times, TARGET_HOST_MS, f"cycling over {len(hosts)} hosts")

    _, first = fetch(http, "/api/virtual_machines", {"limit": 500})
    count = int(first["count"])

    def page_checked(_i: int, bodies: list[dict[str, Any]]) -> None:
        if len(bodies[0]["virtual_machines"]) != min(500, count):
            raise RuntimeError("GET /api/virtual_machines?limit=500 returned a short page")

    times = timed(http, repeat, lambda _i: [("/api/virtual_machines", {"limit": 500})], page_checked)
    page = latency(
        backend,
        "GET /api/virtual_machines?limit=500",
        times,
        None,
        f"{min(500, count)} of {count} VMs, every field",
    )

    # Every page of the listing, as a client walking offsets does; the count is known from the first page.
    offsets = range(0, max(count, 1), PAGE)
    pages: list[Request] = [
        ("/api/virtual_machines", {"fields": "id,name", "limit": PAGE, "offset": offset})
        for offset in offsets
    ]

    def listing_checked(_i: int, bodies: list[dict[str, Any]]) -> None:
        seen = sum(len(b["virtual_machines"]) for b in bodies)
        if seen != count or any(b["count"] != count for b in bodies):
            raise RuntimeError(f"the paged VM listing gave {seen} VMs for a count of {count}")

    times = timed(http, repeat, lambda _i: pages, listing_checked)
    everything = latency(
        backend,
        f"all VMs, fields=id,name, pages of {PAGE}",
        times,
        TARGET_ALL_VMS_MS,
        f"{count} VMs in {len(pages)} page(s), summed; vcsim: 640 ms for 8,800",
    )
    return host, page, everything


def measure_backups(
    backend: str, http: httpx.Client, built: Built, vm_name: str, repeat: int, target: float | None, note: str
) -> Row:
    """A VM's backups by name, newest first (the index on name, created_at, id)."""
    params: Params = {"virtual_machine_name": vm_name, "sort": "created_at", "limit": 500}
    _, first = fetch(http, "/api/backups", params)
    returned = len(first["backups"])

    def checked(_i: int, bodies: list[dict[str, Any]]) -> None:
        got = bodies[0]["backups"]
        if len(got) != returned or any(b["virtual_machine_name"] != vm_name for b in got):
            raise RuntimeError(f"the backups of {vm_name!r} changed between requests")

    times = timed(http, repeat, lambda _i: [("/api/backups", params)], checked)
    return latency(
        backend,
        f"GET /api/backups?virtual_machine_name=…&sort=created_at&limit=500 @ {built.rows['backups']:,} backups",
        times,
        target,
        f"VM {vm_name!r}: {returned} backups returned{note}",
    )


def pick_vm_name(small: Counter[str], large: Counter[str]) -> str:
    """A VM with backups in both federations: the one with most in the small one, then by name."""
    both = [name for name in small if small[name] > 0 and large.get(name, 0) > 0]
    if both:
        return min(both, key=lambda n: (-small[n], n))
    candidates = large or small
    if not candidates:
        raise RuntimeError("neither federation has any backup")
    return min(candidates, key=lambda n: (-candidates[n], n))


def pick_size_matched(large: Counter[str], wanted: int, avoid: str) -> str | None:
    """A VM of the large federation with as many backups as `wanted` (the small run's answer size)."""
    names = [n for n in large if n != avoid and large[n] > 0]
    return min(names, key=lambda n: (abs(large[n] - wanted), n)) if names else None


def run_backend(
    backend: str,
    large_spec: FederationSpec,
    small_spec: FederationSpec,
    repeat: int,
    root: Path,
    admin_url: str,
) -> tuple[list[Row], dict[str, Any]]:
    info: dict[str, Any] = {}
    password = secrets.token_urlsafe(18)

    # The small federation first, in memory only: its backups decide which VM name both runs query.
    started = time.perf_counter()
    small_federation: Federation | None = generate(small_spec, NOW)
    info["small_generate_s"] = round(time.perf_counter() - started, 3)
    assert small_federation is not None
    small_names = Counter(str(b["virtual_machine_name"]) for b in small_federation.rows["backups"])

    log(f"[{backend}] generating and loading {large_spec}")
    with scratch_store(backend, root, "large", admin_url) as store:
        built = build(store, large_spec, password)
        gc.collect()
        rows = ", ".join(f"{n} {c:,}" for n, c in built.rows.items() if c)
        generation = [
            Row(backend, "generate()", built.generate_s, "s", detail=rows),
            Row(backend, "load_federation()", built.load_s, "s"),
            Row(backend, "generate + load", built.generate_s + built.load_s, "s", target=TARGET_GENERATION_S),
        ]
        info["large_rows"] = built.rows
        log(f"[{backend}] generate {built.generate_s:.1f} s, load {built.load_s:.1f} s; starting the server")
        vm_name = pick_vm_name(small_names, built.backups_per_vm_name)
        matched = pick_size_matched(built.backups_per_vm_name, small_names[vm_name], vm_name)
        info["vm_name"], info["size_matched_vm_name"] = vm_name, matched
        started = time.perf_counter()
        with running_server(store, password) as server:
            info["server_start_s"] = round(time.perf_counter() - started, 3)
            with client(server, password) as http:
                lists = measure_large(backend, http, built, repeat)
                large_backups = measure_backups(backend, http, built, vm_name, repeat, TARGET_BACKUPS_MS, "")
                matched_backups = None
                if matched is not None:
                    matched_backups = measure_backups(
                        backend, http, built, matched, repeat, None, " (size-matched to the small run)"
                    )
            rss = Row(
                backend,
                "server peak RSS (with children)",
                mb(server.sampler.peak_bytes),
                "MB",
                target=TARGET_RSS_MB,
                detail=f"{server.sampler.samples} samples over the server's life",
            )
        del built

    log(f"[{backend}] loading {small_spec.backups:,} backups for the comparison")
    with scratch_store(backend, root, "small", admin_url) as store:
        small_built = build(store, small_spec, password, federation=small_federation)
        small_federation = None
        gc.collect()
        info["small_load_s"] = round(small_built.load_s, 3)
        with running_server(store, password) as server, client(server, password) as http:
            small_backups = measure_backups(
                backend, http, small_built, vm_name, repeat, TARGET_BACKUPS_MS, ""
            )

    # The same VM has ~100x more backups in the large federation, so its answer is much bigger; the
    # size-matched VM isolates what the target is about: the indexed query must not grow with the table.
    ratio_name = f"backups query ratio {large_spec.backups:,} / {small_spec.backups:,}"
    results = [*generation, *lists, small_backups, large_backups]
    results.append(
        Row(
            backend,
            f"{ratio_name}, same VM",
            large_backups.value / small_backups.value,
            "x",
            target=None if matched_backups is not None else TARGET_BACKUPS_RATIO,
            detail="ratio of medians; the answers differ in size (see the rows above)",
        )
    )
    if matched_backups is not None:
        results += [
            matched_backups,
            Row(
                backend,
                f"{ratio_name}, size-matched",
                matched_backups.value / small_backups.value,
                "x",
                target=TARGET_BACKUPS_RATIO,
                detail="ratio of medians, answers of about the same size: the table size alone",
            ),
        ]
    results.append(rss)
    return results, info


# ---------------------------------------------------------------------------------------------------
# Running on each backend, reporting


def postgres_version(admin_url: str) -> str:
    with psycopg.connect(_admin_conninfo(admin_url), connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def run_backends(
    report: Report,
    choice: str,
    postgres_url: str,
    prefix: str,
    run_backend: Callable[[str, Path], tuple[list[Row], dict[str, Any]]],
) -> None:
    """run_backend(backend, scratch directory) on each chosen backend, into the report. A failure is
    printed and marks the report failed: the rows measured before it are still reported."""
    signal.signal(signal.SIGTERM, _raise_on_sigterm)  # so that the finally blocks clean up
    backends = ["sqlite", "postgresql"] if choice == "both" else [choice]
    try:
        if "postgresql" in backends:
            report.machine["postgresql"] = postgres_version(postgres_url)
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            for backend in backends:
                started = loadavg()
                rows, info = run_backend(backend, Path(tmp))
                report.rows += rows
                report.backends[backend] = {"loadavg_start": started, **info, "loadavg_end": loadavg()}
                gc.collect()
    except Exception:
        traceback.print_exc()
        report.failed = True


def federation_text(spec: FederationSpec) -> str:
    return (
        f"{spec.clusters} clusters x {spec.hosts_per_cluster} hosts, {spec.vms:,} VMs, "
        f"{spec.backups:,} backups"
    )


def log(message: str) -> None:
    print(f"{datetime.now().strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------
# Command line


def federation_options(parser: argparse.ArgumentParser) -> None:
    """The options of every benchmark on a generated federation: its size (read by `specs`), its seed,
    the JSON report and the PostgreSQL server."""
    parser.add_argument("--clusters", type=int, help="default 12 (--quick: 2)")
    parser.add_argument("--hosts-per-cluster", type=int, help="default 8 (--quick: 3)")
    parser.add_argument("--vms", type=int, help="default 10,000 (--quick: 1,000)")
    parser.add_argument("--backups", type=int, help="default 300,000 (--quick: 15,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this path")
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_ADMIN_URL,
        help="an administrative PostgreSQL URL; scratch databases are created and dropped beside it",
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeat", type=int, help="timed requests per measurement (default 50; --quick: 10)")
    parser.add_argument(
        "--quick", action="store_true", help="a small federation: a smoke run in under a minute"
    )
    federation_options(parser)
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def specs(args: argparse.Namespace) -> tuple[FederationSpec, FederationSpec]:
    base = FederationSpec.largest(seed=args.seed)
    quick = {"clusters": 2, "hosts_per_cluster": 3, "vms": 1000, "backups": 15_000} if args.quick else {}
    chosen: dict[str, int] = {}
    for name in ("clusters", "hosts_per_cluster", "vms", "backups"):
        given = getattr(args, name)
        chosen[name] = given if given is not None else quick.get(name, getattr(base, name))
    clusters = chosen["clusters"]
    large = dataclasses.replace(
        base,
        **chosen,
        cluster_groups=min(base.cluster_groups, clusters),
        datastores=base.datastores if not args.quick else 6 * clusters,
    )
    small = dataclasses.replace(large, backups=min(SMALL_BACKUPS, large.backups))
    return large, small


def _raise_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    repeat = args.repeat or (10 if args.quick else 50)
    large, small = specs(args)
    report = Report(
        {"repeat": repeat, "large_spec": dataclasses.asdict(large), "small_spec": dataclasses.asdict(small)}
    )
    run_backends(
        report,
        args.backend,
        args.postgres_url,
        "openovc-bench-",
        lambda backend, root: run_backend(backend, large, small, repeat, root, args.postgres_url),
    )
    peak_mb = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    report.settings["benchmark_process_peak_rss_mb"] = peak_mb
    return report.finish(
        [
            f"Federation: {federation_text(large)} (comparison: {small.backups:,}); {repeat} timed requests "
            "per latency after one warm-up, HTTPS HTTP/1.1 keep-alive over loopback, timed from sending a "
            "request to having its whole body (the client's JSON parsing excluded); targets apply to the "
            "median",
            f"Benchmark process peak RSS (generation in-process): {peak_mb} MB",
        ],
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
