"""Request-path benchmark: single-object GETs against the framework's ceiling, and a page of 500 VMs.

1. Throughput (wrk, 2 threads, 8 connections, plain HTTP) of `GET /api/hosts/{id}`,
   `/api/virtual_machines/{id}` and `/api/tasks/{id}` with a real token on the demo federation, one server
   process and `--workers 2`, beside a trivial FastAPI handler and a bare ASGI app serving the same bytes
   (uvicorn with httptools, one process), all measured in one run so that the ratios compare;
2. the median time of `GET /api/virtual_machines?limit=500&show_optional_fields=true` (every field) on the
   largest federation (12 x 8 hosts, 10,000 VMs, 300,000 backups), over one keep-alive connection, from
   sending to the whole body: repeated (kept), after a commit that changes no VM, and after one that
   changes 10 of the page's VMs (both written to the store by this process, as another would).

`--baseline-src DIR` measures another source tree too (for example `git archive HEAD src | tar -x -C DIR`),
in the same run, in turns (`--baseline-data-dir`: its own copy of the store, when its migrations are
older). `--data-dir` reuses the largest federation's store (made with `openovc init --largest` the
first time it is empty: slow). Prints a markdown table, the machine and its load.

    .venv/bin/python benchmarks/request_path.py --data-dir /tmp/largest
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from report import loadavg, machine_facts, machine_line, request  # noqa: E402

PASSWORD = "Bench-Adm1n-pass!"
USER = "administrator@vsphere.local"
BASIC = "Basic c2ltcGxpdml0eTo="  # simplivity: (an empty secret), as the SDK sends it
GETS = ("hosts", "virtual_machines", "tasks")
# The same bytes from a trivial FastAPI handler and a bare ASGI app: the framework's ceiling.
_PEERS = """
import os
BODIES = {n: open(p, "rb").read() for n, p in (a.split("=", 1) for a in os.environ["PEER_BODIES"].split(","))}
async def bare(scope, receive, send):
    if scope["type"] != "http":
        return
    body = BODIES[scope["path"].split("/")[2]]
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
from fastapi import FastAPI
from fastapi.responses import Response
trivial = FastAPI()
@trivial.get("/api/{plural}/{key}")
async def one(plural: str, key: str):
    return Response(BODIES[plural], media_type="application/json")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(src: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENOVC_")}
    env.update(OPENOVC_ADMIN_PASSWORD=PASSWORD, PYTHONUNBUFFERED="1")
    if src is not None:
        env["PYTHONPATH"] = str(src)  # before the installed package
    return env


def _wait(port: int, process: subprocess.Popen[bytes], timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        try:
            request(port, "GET", "/api/version", {})  # any answer: the peers have no such route
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.3)
    raise RuntimeError(f"the server on port {port} did not answer within {timeout_s:.0f} s")


SERVERS: dict[int, int] = {}  # each port's server process


def cpu_seconds(pid: int) -> float:
    """The user and system CPU a process has used (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def serving(args: Sequence[str], port: int, env: dict[str, str], log: Path) -> Iterator[int]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=log.parent)
    SERVERS[port] = process.pid
    try:
        _wait(port, process)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def openovc(data_dir: Path, workers: int, src: Path | None, log: Path) -> AbstractContextManager[int]:
    port = _free_port()
    args = [sys.executable, "-m", "openovc", "serve", "--no-tls", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--data-dir", str(data_dir), "--workers", str(workers)]
    return serving(args, port, _environment(src), log)


def token(port: int) -> str:
    form = f"grant_type=password&username={USER}&password={PASSWORD}".encode()
    headers = {"Authorization": BASIC, "Content-Type": "application/x-www-form-urlencoded"}
    status, body = request(port, "POST", "/api/oauth/token", headers, form)
    assert status == 200, body
    return str(orjson.loads(body)["access_token"])


def targets(port: int, auth: dict[str, str]) -> dict[str, str]:
    """A real host, VM and ended task: the paths the throughput runs GET."""
    _, hosts = request(port, "GET", "/api/hosts?limit=1&fields=id", auth)
    _, vms = request(port, "GET", "/api/virtual_machines?limit=1&fields=id&state=ALIVE", auth)
    vm = orjson.loads(vms)["virtual_machines"][0]["id"]
    media = {**auth, "Content-Type": "application/vnd.simplivity.v1.11+json"}
    status, accepted = request(port, "POST", f"/api/virtual_machines/{vm}/power_off", media)
    assert status == 202, accepted
    task = orjson.loads(accepted)["task"]["id"]
    for _ in range(600):
        _, polled = request(port, "GET", f"/api/tasks/{task}", auth)
        if orjson.loads(polled)["task"]["state"] != "IN_PROGRESS":
            break
        time.sleep(0.05)
    return {
        "hosts": f"/api/hosts/{orjson.loads(hosts)['hosts'][0]['id']}",
        "virtual_machines": f"/api/virtual_machines/{vm}",
        "tasks": f"/api/tasks/{task}",
    }


def wrk(port: int, path: str, auth: dict[str, str], seconds: int) -> float:
    args = ["wrk", "-t2", "-c8", f"-d{seconds}s", f"http://127.0.0.1:{port}{path}"]
    for name, value in auth.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"{path}: answers other than 2xx\n{out}")
    return float(next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec")))


def throughput(args: argparse.Namespace, work: Path) -> list[str]:
    """req/s of the three GETs: OpenOVC (each source tree, 1 and 2 processes) and the two peers, all
    serving at once and measured in turns, `--rounds` times, so that the machine's other load falls on
    each alike; the median of the rounds."""
    trees: list[tuple[str, Path | None]] = [("OpenOVC", None)]
    if args.baseline_src is not None:
        trees.append(("OpenOVC (baseline)", args.baseline_src))
    runs: dict[str, tuple[int, dict[str, str], dict[str, str]]] = {}  # port, auth, paths
    bodies: dict[str, Path] = {}
    with ExitStack() as stack:
        for label, src in trees:
            for workers in (1, 2):
                data = Path(tempfile.mkdtemp(prefix="openovc-request-path-", dir=work))
                name = f"{label}, {workers} process{'es' if workers > 1 else ''}"
                port = stack.enter_context(openovc(data, workers, src, work / f"serve-{len(runs)}.log"))
                auth = {"Authorization": f"Bearer {token(port)}"}
                paths = targets(port, auth)
                for plural, path in paths.items():
                    if plural not in bodies:
                        _, body = request(port, "GET", path, auth)
                        bodies[plural] = work / f"{plural}.json"
                        bodies[plural].write_bytes(body)
                runs[name] = (port, auth, paths)
        (work / "peers.py").write_text(_PEERS)
        given = ",".join(f"{p}={b}" for p, b in bodies.items())
        for app, name in (("trivial", "trivial FastAPI handler"), ("bare", "bare ASGI app")):
            port = _free_port()
            command = [
                sys.executable,
                "-m",
                "uvicorn",
                f"peers:{app}",
                "--port",
                str(port),
                "--http",
                "httptools",
            ]
            command += ["--log-level", "warning", "--no-access-log"]
            env = {**os.environ, "PYTHONPATH": str(work), "PEER_BODIES": given}
            stack.enter_context(serving(command, port, env, work / f"{app}.log"))
            runs[name] = (port, {}, {p: f"/api/{p}/x" for p in GETS})
        rounds: dict[str, dict[str, list[float]]] = {n: {p: [] for p in GETS} for n in runs}
        for _ in range(args.rounds):
            for plural in GETS:
                for name, (port, auth, paths) in runs.items():
                    rounds[name][plural].append(wrk(port, paths[plural], auth, args.seconds))
    figures = {n: {p: statistics.median(v) for p, v in got.items()} for n, got in rounds.items()}
    trivial, bare = figures["trivial FastAPI handler"], figures["bare ASGI app"]
    lines = [
        "| server | "
        + " | ".join(f"{p} req/s" for p in GETS)
        + " | ratio to trivial FastAPI | ratio to bare ASGI |"
    ]
    lines.append("|---" * (len(GETS) + 3) + "|")
    for name, got in figures.items():
        ratios = [got[p] / trivial[p] for p in GETS]
        to_bare = [got[p] / bare[p] for p in GETS]
        lines.append(
            f"| {name} | " + " | ".join(f"{got[p]:,.0f}" for p in GETS)
            + f" | {' / '.join(f'{r:.2f}' for r in ratios)} | {' / '.join(f'{r:.2f}' for r in to_bare)} |"
        )  # fmt: skip
    sizes = ", ".join(f"{p} {bodies[p].stat().st_size} B" for p in GETS)
    return [
        *lines, "",
        f"Medians of {args.rounds} rounds of {args.seconds} s each. Bodies: {sizes}. Ratios per GET, in the"
        " order of the columns.",
    ]  # fmt: skip


PAGE = "/api/virtual_machines?limit=500&show_optional_fields=true"
# What happens before each timed page: nothing (the answer kept), a commit that changes no VM, or a
# commit that changes CHANGED of the page's VMs (each made by this process, as another one would).
CASES = ("kept", "after an unrelated commit", "after changing 10 of its VMs")
CHANGED = 10


def page(args: argparse.Namespace, work: Path) -> list[str]:
    """The page of 500 VMs with every field, on the largest federation: each case's median and p90, the
    servers measured in turns (`--turns`)."""
    data_dir: Path = args.data_dir or work / "largest"
    if not (data_dir / "openovc.db").exists():
        print(f"Generating the largest federation into {data_dir} (slow)...", flush=True)
        data_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "openovc", "init", "--largest", "--data-dir", str(data_dir)],
            check=True, env=_environment(None), stdout=subprocess.DEVNULL,
        )  # fmt: skip
    trees: list[tuple[str, Path | None, Path]] = [("OpenOVC", None, data_dir)]
    if args.baseline_src is not None:
        # A store migrated by this tree may be newer than the baseline's migrations know.
        trees.append(("OpenOVC (baseline)", args.baseline_src, args.baseline_data_dir or data_dir))
    times: dict[tuple[str, str], list[float]] = {}
    cpus: dict[tuple[str, str], list[float]] = {}  # the server's CPU per page, one figure per turn
    sizes: dict[str, int] = {}
    failed: dict[str, str] = {}
    for turn in range(args.turns):
        for label, src, store in trees:
            if label in failed:
                continue
            try:
                found = _page_cases(store, src, args.pages, work / f"page-{turn}-{len(times)}.log")
            except RuntimeError as error:  # a baseline whose migrations do not know the store's
                failed[label] = str(error)
                continue
            for case, (measured, cpu, size) in found.items():
                times.setdefault((label, case), []).extend(measured)
                cpus.setdefault((label, case), []).append(cpu)
                sizes[label] = size
    lines = [
        "| server | case | median ms | p90 ms | server CPU ms per page (each turn) | body bytes |",
        "|---|---|---|---|---|---|",
    ]
    for label, _, _ in trees:
        if label in failed:
            lines.append(f"| {label} | {failed[label]} | | | | |")
            continue
        for case in CASES:
            measured = times[(label, case)]
            p90 = statistics.quantiles(measured, n=10)[8]
            per_turn = ", ".join(f"{c:.2f}" for c in cpus[(label, case)])
            lines.append(
                f"| {label} | {case} | {statistics.median(measured):.2f} | {p90:.2f} | {per_turn} | {sizes[label]:,} |"
            )
    return lines


def _page_cases(
    data_dir: Path, src: Path | None, pages: int, log: Path
) -> dict[str, tuple[list[float], float, int]]:
    """One server's pages of each case over one keep-alive connection, timed from sending to the whole
    body, after a warm-up."""
    found: dict[str, tuple[list[float], float, int]] = {}
    database = sqlite3.connect(data_dir / "openovc.db", timeout=60, isolation_level=None)
    with openovc(data_dir, 1, src, log) as port:
        auth = {"Authorization": f"Bearer {token(port)}"}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        vms = [vm["id"] for vm in orjson.loads(_get(conn, auth))["virtual_machines"]]
        assert len(vms) == 500
        policy = database.execute("SELECT id FROM policies ORDER BY id LIMIT 1").fetchone()[0]
        for case in CASES:
            times: list[float] = []
            body = b""
            cpu = 0.0
            for n in range(pages + 5):
                if n == 5:  # after a warm-up
                    cpu = cpu_seconds(SERVERS[port])
                if case == CASES[1]:
                    database.execute("UPDATE policies SET name = name WHERE id = ?", (policy,))
                elif case == CASES[2]:
                    step = 1 if n % 2 else -1  # back and forth: the federation stays as it was
                    chosen = vms[(n * CHANGED) % 500 :][:CHANGED]
                    marks = ",".join("?" * len(chosen))
                    database.execute(
                        "UPDATE virtual_machines SET hypervisor_consumed_cpu = hypervisor_consumed_cpu + ?"
                        f" WHERE id IN ({marks})",
                        (step, *chosen),
                    )
                started = time.perf_counter()
                body = _get(conn, auth)
                if n >= 5:  # after a warm-up
                    times.append((time.perf_counter() - started) * 1000)
            cpu = (cpu_seconds(SERVERS[port]) - cpu) * 1000 / pages
            assert len(orjson.loads(body)["virtual_machines"]) == 500
            found[case] = (times, cpu, len(body))
        conn.close()
    database.close()
    return found


def _get(conn: http.client.HTTPConnection, auth: dict[str, str]) -> bytes:
    conn.request("GET", PAGE, headers=auth)
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 200, body[:200]
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, help="the largest federation's store, reused (made if empty)"
    )
    parser.add_argument(
        "--baseline-src", type=Path, help="another source tree's src/ to measure beside this one"
    )
    parser.add_argument("--seconds", type=int, default=10, help="each wrk run's length (default 10)")
    parser.add_argument(
        "--rounds", type=int, default=3, help="turns of every server on every GET (default 3)"
    )
    parser.add_argument("--pages", type=int, default=50, help="timed pages of 500 VMs per case (default 50)")
    parser.add_argument("--turns", type=int, default=2, help="turns of each server on the page (default 2)")
    parser.add_argument(
        "--baseline-data-dir", type=Path, help="the baseline's copy of the store (default: --data-dir)"
    )
    parser.add_argument("--skip-gets", action="store_true")
    parser.add_argument("--skip-page", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None and not args.skip_gets:
        parser.error("wrk is needed (apt-get install wrk)")
    facts = machine_facts()
    before = loadavg()
    say(f"# Request path ({' '.join(sys.argv[1:]) or 'defaults'})", "")
    with tempfile.TemporaryDirectory(prefix="openovc-request-path-") as tmp:
        work = Path(tmp)
        if not args.skip_gets:
            say("## Single-object GETs (wrk -t2 -c8, plain HTTP)", "", *throughput(args, work), "")
        if not args.skip_page:
            say(
                "## GET /api/virtual_machines?limit=500&show_optional_fields=true, largest federation",
                "",
                *page(args, work),
                "",
            )
    say(machine_line(facts), f"Load average (1, 5, 15 min): before {before}, after {loadavg()}")
    return 0


def say(*lines: str) -> None:
    """Each section as soon as it is measured: a later one may fail."""
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
