"""Start-up benchmark: a fresh `openovc serve` to its first answers, and `openovc init --largest`.

1. `openovc serve` with the demo federation on a fresh data directory (a new SQLite file, a new
   self-signed certificate, a generated administrator password), `--runs` times: the time from starting
   the process to the first successful `GET /api/version` over TLS, and to the first successful
   authenticated `GET /api/hosts` (a login with the generated password, then the read). The client polls
   every 5 ms with a new connection, as a test suite's fixture would;
2. `openovc init --largest --no-progress` (generate and load 12 x 8 hosts, 10,000 VMs, 300,000 backups)
   into a fresh SQLite data directory and into a fresh PostgreSQL database (created and dropped here),
   `--init-runs` times each: the wall time of the whole command.

Each figure is given as wall time and as the CPU time (user + system, all threads) the process had used
by then: on a shared machine the wall time follows the load, the CPU time much less. `--baseline SRC`
measures another source tree (e.g. an unpacked `git archive` of an older commit) the same way, in
turns with this one, and adds its rows and the ratios. The processes may write Python's bytecode cache
(the caller's PYTHONDONTWRITEBYTECODE is dropped), as an installed package has it: where none was ever
written, every start would compile the application's sources again, 0.1 to 0.35 s of CPU on a 2-core
Xeon (`--no-bytecode-cache` keeps the caller's setting; a cache already there is still read).

Prints a markdown table with medians, targets, the machine and the load.

    .venv/bin/python benchmarks/startup.py                       # everything
    .venv/bin/python benchmarks/startup.py --init-runs 0         # only the serve start-up
    .venv/bin/python benchmarks/startup.py --baseline /tmp/base/src
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import http.client
import json
import os
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import psycopg
from report import Report, Row, loadavg, request, timing

ROOT = Path(__file__).resolve().parent.parent
OPENOVC = [sys.executable, "-m", "openovc"]
TARGET_FIRST_ANSWER_MS = 500.0
TARGET_INIT_LARGEST_S = 20.0
POLL_S = 0.005
TIMEOUT_S = 120.0
MEDIA = "application/vnd.simplivity.v1.8+json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(source: Path | None, bytecode: bool = True) -> dict[str, str]:
    """Without the caller's OPENOVC_* settings; `source`: the tree whose openovc package runs.

    `bytecode`: Python may write its bytecode cache, as an installed package has it (pip compiles it),
    so that the untimed first start leaves it for the timed ones; otherwise PYTHONDONTWRITEBYTECODE, when
    the caller sets it and no cache is there, has every start compile the application from source again.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENOVC_")}
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONUNBUFFERED"] = "1"
    if source is not None:
        env["PYTHONPATH"] = str(source)
    return env


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a running process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _until_answered(port: int, started: float, process: subprocess.Popen[bytes]) -> float:
    """Poll GET /api/version until it answers 200; the seconds since `started`."""
    while time.perf_counter() - started < TIMEOUT_S:
        try:
            status, _ = request(port, "GET", "/api/version", {"Accept": MEDIA}, tls=True)
            if status == 200:
                return time.perf_counter() - started
        except (OSError, http.client.HTTPException):
            pass
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode}")
        time.sleep(POLL_S)
    raise RuntimeError("the server did not answer in time")


def _first_authenticated(port: int, data_dir: Path, started: float) -> float:
    """Log in with the generated password and read the hosts; the seconds since `started`."""
    password = (data_dir / "admin-password").read_text().strip()
    basic = "Basic " + base64.b64encode(b"simplivity:").decode()
    form = urllib.parse.urlencode(
        {"grant_type": "password", "username": "administrator@vsphere.local", "password": password}
    )
    headers = {"Authorization": basic, "Content-Type": "application/x-www-form-urlencoded"}
    status, body = request(port, "POST", "/api/oauth/token", headers, form, tls=True)
    if status != 200:
        raise RuntimeError(f"login answered {status}: {body[:200]!r}")
    token = json.loads(body)["access_token"]
    status, body = request(
        port, "GET", "/api/hosts", {"Authorization": f"Bearer {token}", "Accept": MEDIA}, tls=True
    )
    if status != 200:
        raise RuntimeError(f"GET /api/hosts answered {status}: {body[:200]!r}")
    return time.perf_counter() - started


@dataclasses.dataclass
class Start:
    """One fresh start, in seconds: wall time and the server's CPU time at each first answer."""

    version: float
    version_cpu: float
    authenticated: float
    authenticated_cpu: float


def serve_once(root: Path, source: Path | None, bytecode: bool = True) -> Start:
    """One fresh start: to the first GET /api/version, and to the first authenticated GET."""
    data_dir = root / f"serve-{secrets.token_hex(4)}"
    port = _free_port()
    command = [*OPENOVC, "serve", "--data-dir", str(data_dir), "--port", str(port)]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=_environment(source, bytecode),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        version = _until_answered(port, started, process)
        version_cpu = _cpu_s(process.pid)
        authenticated = _first_authenticated(port, data_dir, started)
        return Start(version, version_cpu, authenticated, _cpu_s(process.pid))
    finally:
        process.terminate()
        process.wait(30)


def init_once(root: Path, database_url: str | None, source: Path | None) -> tuple[float, float]:
    """One `openovc init --largest` into a fresh store: (wall seconds, CPU seconds) of the command."""
    data_dir = root / f"init-{secrets.token_hex(4)}"
    command = [*OPENOVC, "init", "--largest", "--no-progress", "--data-dir", str(data_dir)]
    if database_url is not None:
        command += ["--database-url", database_url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=_environment(source), check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    shutil.rmtree(data_dir)
    return wall, cpu


def init_postgresql_once(root: Path, admin_url: str, source: Path | None) -> tuple[float, float]:
    """`init_once` into a PostgreSQL database made for it, and dropped after (the server's CPU not counted)."""
    name = f"openovc_startup_{secrets.token_hex(6)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        return init_once(root, f"{admin_url.rsplit('/', 1)[0]}/{name}", source)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _median(values: list[float]) -> float:
    return statistics.median(values)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=11, help="fresh serve starts (default 11)")
    parser.add_argument(
        "--init-runs", type=int, default=3, help="init --largest runs per backend (default 3)"
    )
    parser.add_argument(
        "--postgresql",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="an administrator's URL of the PostgreSQL server; '' skips PostgreSQL",
    )
    parser.add_argument("--baseline", type=Path, help="also measure the openovc package of this source tree")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep the caller's PYTHONDONTWRITEBYTECODE: with it set and no cache, every start compiles",
    )
    args = parser.parse_args(argv)
    bytecode = not args.no_bytecode_cache
    report = Report(
        settings={
            "runs": args.runs,
            "init_runs": args.init_runs,
            "baseline": str(args.baseline),
            "bytecode_cache": bytecode,
        }
    )
    trees: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.baseline is not None:
        trees.insert(0, ("baseline", args.baseline.resolve()))
    with tempfile.TemporaryDirectory(prefix="openovc-startup-") as tmp:
        root = Path(tmp)
        if args.runs:
            _serve_rows(report, root, trees, args.runs, bytecode)
        backends: list[tuple[str, str | None]] = [("sqlite", None)]
        if args.postgresql:
            backends.append(("postgresql", args.postgresql))
        for backend, admin_url in backends if args.init_runs else []:
            _init_rows(report, root, trees, backend, admin_url, args.init_runs)
    notes = [
        f"Serve: {args.runs} fresh starts of each tree, in turns, after one untimed each; "
        f"init: {args.init_runs} runs per backend and tree, in turns. CPU: user + system of the openovc process. "
        + (
            "Python's bytecode cache written by the untimed start and used by the timed ones, as an "
            "installed package has it."
            if bytecode
            else "PYTHONDONTWRITEBYTECODE as the caller set it."
        )
    ]
    return report.finish(notes, args.json)


def _serve_rows(
    report: Report, root: Path, trees: list[tuple[str, Path | None]], runs: int, bytecode: bool
) -> None:
    report.backends["serve"] = {"loadavg_start": loadavg()}
    for _, source in trees:
        # Untimed: the first run fills the OS's file cache (and, with `bytecode`, Python's bytecode cache).
        serve_once(root, source, bytecode)
    starts: dict[str, list[Start]] = {label: [] for label, _ in trees}
    for _ in range(runs):
        for label, source in trees:
            starts[label].append(serve_once(root, source, bytecode))
    report.backends["serve"]["loadavg_end"] = loadavg()
    for label, _ in trees:
        each = starts[label]
        target = TARGET_FIRST_ANSWER_MS if label == "this tree" else None
        report.rows += [
            timing(label, "fresh serve to first GET /api/version", [s.version * 1000 for s in each], target),
            timing(label, "  its CPU time", [s.version_cpu * 1000 for s in each]),
            timing(
                label,
                "fresh serve to first authenticated GET /api/hosts",
                [s.authenticated * 1000 for s in each],
                detail="includes the login",
            ),
            timing(label, "  its CPU time", [s.authenticated_cpu * 1000 for s in each]),
        ]
    if len(trees) == 2:
        base, new = starts["baseline"], starts["this tree"]
        for what, field in (("wall", "version"), ("CPU", "version_cpu")):
            ratio = _median([getattr(s, field) for s in new]) / _median([getattr(s, field) for s in base])
            report.rows.append(
                Row("ratio", f"first GET /api/version, {what}: this tree / baseline", ratio, "x")
            )


def _init_rows(
    report: Report,
    root: Path,
    trees: list[tuple[str, Path | None]],
    backend: str,
    admin_url: str | None,
    runs: int,
) -> None:
    report.backends[f"init {backend}"] = {"loadavg_start": loadavg()}
    times: dict[str, list[tuple[float, float]]] = {label: [] for label, _ in trees}
    for _ in range(runs):
        for label, source in trees:
            once = (
                init_once(root, None, source)
                if admin_url is None
                else init_postgresql_once(root, admin_url, source)
            )
            times[label].append(once)
    report.backends[f"init {backend}"]["loadavg_end"] = loadavg()
    for label, _ in trees:
        walls = [wall for wall, _ in times[label]]
        target = TARGET_INIT_LARGEST_S if label == "this tree" else None
        report.rows += [
            Row(
                label,
                f"init --largest on {backend} (generate and load)",
                _median(walls),
                "s",
                target=target,
                detail=", ".join(f"{t:.1f}" for t in walls) + " s",
                samples=len(walls),
            ),
            Row(label, "  its CPU time", _median([cpu for _, cpu in times[label]]), "s", samples=runs),
        ]
    if len(trees) == 2:
        for what, index in (("wall", 0), ("CPU", 1)):
            ratio = _median([t[index] for t in times["this tree"]]) / _median(
                [t[index] for t in times["baseline"]]
            )
            report.rows.append(
                Row("ratio", f"init --largest on {backend}, {what}: this tree / baseline", ratio, "x")
            )


if __name__ == "__main__":
    sys.exit(main())
