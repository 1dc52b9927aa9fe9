"""Login flood benchmark: how a flood of bad logins slows an authenticated GET.

Starts a real `openovc serve` (HTTPS, the demo federation, SQLite unless `--backend postgresql`) with
`--users` extra read-only users sharing one password hash, then

1. times `--gets` sequential `GET /api/hosts` on one keep-alive connection (no load);
2. starts `--flood` threads in another process, each sending bad-password logins from 127.0.0.2 as fast
   as it can, a new connection for each (as the SDK does), cycling over the extra users so that none of
   them reaches the lockout (the flood is one of password checks, not of refusals), and times the same
   GETs again while it runs;
3. times `--logins` good logins of the administrator (from 127.0.0.1) during the flood.

It prints a markdown table (GET median and p95 without and with the flood, what the flood's logins
were answered), the machine and the command. Extra `--env NAME=VALUE` are passed to the server (e.g.
`--env OPENOVC_LOGIN_CONCURRENCY=1`).

    .venv/bin/python benchmarks/login_flood.py
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import multiprocessing
import os
import secrets
import ssl
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from foundation import ADMIN, POSTGRES_ADMIN_URL, Server, build, running_server, scratch_store
from lean_http import HTTPError, LeanClient
from report import Report, Row, loadavg, mb, timing

from openovc.app import build_runtime
from openovc.domain.auth import Role
from openovc.services.auth import hash_password
from openovc.settings import Settings
from openovc.simulator.federation import FederationSpec

BASIC = "Basic " + base64.b64encode(b"simplivity:").decode()
FORM = {"Authorization": BASIC, "Content-Type": "application/x-www-form-urlencoded"}
# The flood comes from another loopback address than the administrator (Linux answers all of 127/8).
FLOOD_SOURCE = "127.0.0.2"


def add_users(data_dir: Path, database_url: str | None, count: int) -> list[str]:
    """`count` read-only users with one (costly) hash computed once: the flood's targets."""
    rt = build_runtime(Settings(data_dir=data_dir, database_url=database_url, generate_demo=False))
    try:
        shared = hash_password(secrets.token_urlsafe(12))
        now = int(datetime.now(UTC).timestamp() * 1000)
        names = [f"flood{i}@vsphere.local" for i in range(count)]
        for name in names:
            rt.auth.store.upsert_user(name, shared, Role.READ_ONLY.value, now)
    finally:
        rt.storage.engine.dispose()
    return names


def login(server: Server, username: str, password: str, source: str = "127.0.0.1") -> int:
    """One login on a new connection from a local `source` address, as the SDK does it; its HTTP status
    (0: no answer)."""
    parts = urlsplit(server.base_url)
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    conn = http.client.HTTPSConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=120, context=context, source_address=(source, 0)
    )
    body = urlencode({"grant_type": "password", "username": username, "password": password})
    try:
        conn.request("POST", "/api/oauth/token", body=body, headers=FORM)
        answer = conn.getresponse()
        answer.read()
        return answer.status
    except HTTPError:
        return 0
    finally:
        conn.close()


def get_times(server: Server, token: str, count: int) -> list[float]:
    """Milliseconds of `count` sequential GET /api/hosts on one keep-alive connection."""
    client = LeanClient(server.base_url, {"Authorization": f"Bearer {token}", "Accept": "application/json"})
    times = []
    try:
        for _ in range(count):
            started = time.perf_counter()
            resp = client.get("/api/hosts")
            times.append((time.perf_counter() - started) * 1000)
            if resp.status_code != 200:
                raise RuntimeError(f"GET /api/hosts answered {resp.status_code}: {resp.text[:300]}")
    finally:
        client.close()
    return times


def _flood_process(base_url: str, users: list[str], threads: int, stop: Any, results: Any) -> None:
    """The flood's threads, in a process of their own: in the measuring process they would take the GIL
    from the thread that times the GETs."""
    server = Server(base_url, None, None, Path())  # type: ignore[arg-type]  # only base_url is used
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    turn = iter(range(10**9))

    def body() -> None:
        while not stop.is_set():
            with lock:
                user = users[next(turn) % len(users)]
            status = login(server, user, "wrong-password", FLOOD_SOURCE)
            with lock:
                statuses[status] += 1

    workers = [threading.Thread(target=body, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    results.put(dict(statuses))


@contextlib.contextmanager
def flood(server: Server, users: list[str], threads: int) -> Iterator[Counter[int]]:
    """`threads` threads (in another process) sending bad logins until the block ends; the statuses
    they got, filled in when it ends."""
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    process = context.Process(target=_flood_process, args=(server.base_url, users, threads, stop, results))
    process.start()
    statuses: Counter[int] = Counter()
    try:
        time.sleep(2.0)  # let the flood build up before measuring
        yield statuses
    finally:
        stop.set()
        statuses.update(results.get(timeout=120))
        process.join(timeout=60)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-admin-url", default=POSTGRES_ADMIN_URL)
    parser.add_argument("--gets", type=int, default=300, help="GETs timed in each phase")
    parser.add_argument("--flood", type=int, default=40, help="threads sending bad logins")
    parser.add_argument("--users", type=int, default=400, help="users the flood cycles over")
    parser.add_argument("--logins", type=int, default=10, help="good logins timed during the flood")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    password = secrets.token_urlsafe(18)
    report = Report({"flood_threads": args.flood, "gets": args.gets, "server_env": args.env})
    for item in args.env:
        name, _, value = item.partition("=")
        os.environ[name] = value
    load_start = loadavg()
    with (
        tempfile.TemporaryDirectory(prefix="openovc-login-flood-") as root,
        scratch_store(args.backend, Path(root), "flood", args.postgres_admin_url) as store,
    ):
        build(store, FederationSpec.demo(), password)
        users = add_users(store.data_dir, store.database_url, args.users)
        with running_server(store, password) as server:
            admin = LeanClient(server.base_url, FORM)
            body = urlencode({"grant_type": "password", "username": ADMIN, "password": password}).encode()
            token = admin.request("POST", "/api/oauth/token", body).json()["access_token"]
            admin.close()
            get_times(server, token, 20)  # warm up
            quiet = get_times(server, token, args.gets)
            good: Counter[int] = Counter()
            good_ms: list[float] = []
            started = time.perf_counter()
            with flood(server, users, args.flood) as statuses:
                loaded = get_times(server, token, args.gets)
                for _ in range(args.logins):
                    began = time.perf_counter()
                    good[login(server, ADMIN, password)] += 1
                    good_ms.append((time.perf_counter() - began) * 1000)
                flood_s = time.perf_counter() - started
            bad = sum(statuses.values())
            peak_rss = server.sampler.peak_bytes
    b = args.backend
    report.rows += [
        timing(b, "GET /api/hosts, no load", quiet),
        timing(b, f"GET /api/hosts, {args.flood} threads of bad logins", loaded),
        Row(
            b,
            "bad logins answered per second during the flood",
            bad / flood_s,
            "",
            detail=_statuses(statuses),
        ),
        timing(b, "good administrator login during the flood", good_ms, detail=_statuses(good)),
        Row(b, "server peak RSS (the whole run)", mb(peak_rss), "MB"),
    ]
    ratio = statistics.median(loaded) / statistics.median(quiet)
    notes = [
        f"GET median under the flood / without: {ratio:.1f}x; flood ran {flood_s:.1f} s.",
        f"Load average (1, 5, 15 min): {load_start} at start, {loadavg()} at end (the machine may be shared).",
    ]
    return report.finish(notes, None)


def _statuses(counts: Counter[int]) -> str:
    return ", ".join(f"{n} x {status or 'no answer'}" for status, n in sorted(counts.items()))


if __name__ == "__main__":
    sys.exit(main())
