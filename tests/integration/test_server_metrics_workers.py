"""A real server's metrics and logs: with --workers 2 the figures of both processes are summed, the
start-up lines come before any request's line, and --log-format json writes only JSON lines."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import orjson
import psutil
import pytest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.databases import BACKENDS, database_url
from tests.support.server import RunningServer, admin_token, start_server
from tests.support.waiting import wait_until

PASSWORD = "Metrics-Passw0rd"
ENV = {"OPENOVC_ADMIN_PASSWORD": PASSWORD}
ADMIN = "administrator@vsphere.local"
ROUTE = "/api/hosts/{hostId}"
REQUESTS = 40


def _host_requests(text: str) -> float:
    return _counted(text_string_to_metric_families(text))


def _counted(families: Iterable[Metric]) -> float:
    return sum(
        s.value
        for family in families
        for s in family.samples
        if s.name == "openovc_http_requests_total"
        and s.labels == {"route": ROUTE, "method": "GET", "status": "200"}
    )


def _get_hosts(server: RunningServer) -> str:
    """REQUESTS reads of a host, each on a connection of its own (the kernel spreads them over the
    processes); the host's id."""
    with server.client() as client:
        token = admin_token(client, PASSWORD)
        auth = {"Authorization": f"Bearer {token}"}
        host_id: str = client.get("/api/hosts", headers=auth).json()["hosts"][0]["id"]
    for _ in range(REQUESTS):
        with server.client() as client:
            assert client.get(f"/api/hosts/{host_id}", headers=auth).status_code == 200
    return host_id


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_two_processes_counters_are_summed_and_json_lines_come_in_order(tmp_path: Path, backend: str) -> None:
    args = ["--workers", "2", "--access-log", "--log-format", "json", "--metrics-public"]
    with (
        database_url(backend, tmp_path) as url,
        start_server(
            tmp_path / "data", database_url=None if backend == "sqlite" else url, env=ENV, extra_args=args
        ) as server,
    ):
        host_id = _get_hosts(server)
        with server.client() as client:
            resp = client.get("/_openovc/metrics")  # no token: --metrics-public
        assert resp.status_code == 200, resp.text
        assert _host_requests(resp.text) == REQUESTS
        # Each process counted some of them, in its own files.
        per_process = {}
        for db in sorted((tmp_path / "data" / "metrics").glob("counter_*.db")):
            per_process[db.name] = _counted(MultiProcessCollector.merge([str(db)]))  # type: ignore[no-untyped-call]
        assert len(per_process) == 2, per_process
        assert all(n > 0 for n in per_process.values()), per_process
        assert sum(per_process.values()) == REQUESTS
        assert server.stop() == 0

    lines = [orjson.loads(line) for line in server.output().splitlines() if line.strip()]
    messages = [line.get("message", "") for line in lines]
    listening = next(i for i, m in enumerate(messages) if " listening on https://127.0.0.1:" in m)
    clock = next(i for i, m in enumerate(messages) if m.startswith("Store ") and "; clock real, now " in m)
    access = [i for i, line in enumerate(lines) if line["logger"] == "access"]
    assert listening < clock < access[0]
    reads = [lines[i] for i in access if lines[i]["path"] == f"/api/hosts/{host_id}"]
    assert len(reads) == REQUESTS
    assert {(r["method"], r["status"], r["user"]) for r in reads} == {("GET", 200, ADMIN)}
    assert len({r["request_id"] for r in reads}) == REQUESTS


@pytest.mark.slow
def test_one_process_text_lines_come_after_the_start_up_lines(tmp_path: Path) -> None:
    with start_server(tmp_path / "data", env=ENV, extra_args=["--access-log"]) as server:
        host_id = _get_hosts(server)
        with server.client() as client:
            token = admin_token(client, PASSWORD)
            resp = client.get("/_openovc/metrics", headers={"X-Request-Id": "scrape-1"})
            assert resp.status_code == 401  # a token is needed without --metrics-public
            resp = client.get("/_openovc/metrics", headers={"Authorization": f"Bearer {token}"})
            assert _host_requests(resp.text) == REQUESTS
        assert server.stop() == 0
    lines = server.output().splitlines()
    listening = next(i for i, line in enumerate(lines) if " listening on https://127.0.0.1:" in line)
    store = next(i for i, line in enumerate(lines) if line.startswith("Store sqlite:///"))
    access = [i for i, line in enumerate(lines) if re.match(r"^\d{4}-\d\d-\d\dT\S+Z 127\.0\.0\.1 ", line)]
    assert listening < store < access[0]
    reads = [lines[i] for i in access if f" GET /api/hosts/{host_id} 200 " in lines[i]]
    assert len(reads) == REQUESTS
    assert all(f"user={ADMIN} request_id=" in line for line in reads)
    assert next(line for line in lines if " /_openovc/metrics 401 " in line).endswith(
        " user=- request_id=scrape-1"
    )
    assert not [line for line in lines if '"GET /api/hosts' in line]  # uvicorn's own access lines are off


def _pool_size(server: RunningServer) -> float:
    with server.client() as client:
        resp = client.get("/_openovc/metrics")
    assert resp.status_code == 200, resp.text
    (family,) = [f for f in text_string_to_metric_families(resp.text) if f.name == "openovc_db_pool_size"]
    return float(family.samples[0].value)


@pytest.mark.slow
def test_a_dead_process_s_pool_no_longer_counts(tmp_path: Path) -> None:
    metrics = tmp_path / "data" / "metrics"
    with start_server(
        tmp_path / "data", env=ENV, extra_args=["--workers", "2", "--metrics-public"]
    ) as server:
        first, second = wait_until(
            lambda: _both_ready(server, metrics), timeout=60, what="two processes serving"
        )
        assert _pool_size(server) == 2 * 8  # SQLite's pool in each process (storage/engine.py)
        first.kill()
        first.wait(30)
        # The replacement's figures exist once its application does.
        wait_until(lambda: len(_live_pids(metrics) - {first.pid}) == 2, timeout=60, what="a replacement")
        assert _pool_size(server) == 2 * 8  # not 3 * 8: the dead process's pool went with it
        assert second.is_running()
        assert server.stop() == 0


def _live_pids(metrics: Path) -> set[int]:
    return {int(p.stem.rpartition("_")[2]) for p in metrics.glob("gauge_livesum_*.db")}


def _both_ready(server: RunningServer, metrics: Path) -> list[psutil.Process] | None:
    children = [
        p for p in psutil.Process(server.pid).children() if "resource_tracker" not in " ".join(p.cmdline())
    ]
    return children if {p.pid for p in children} == _live_pids(metrics) and len(children) == 2 else None
