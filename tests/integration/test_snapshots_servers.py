"""Snapshots across real server processes: two servers on one PostgreSQL database, a restore or a reset taken
by one holding at once for the other, whose memory of ended tasks goes with the federation it replaced."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import fresh_postgres_database
from tests.support.invariants import snapshot
from tests.support.server import RunningServer, admin_token, start_server

PASSWORD = "Snapshots-Passw0rd"
ENV = {"OPENOVC_ADMIN_PASSWORD": PASSWORD}
V18 = {"Content-Type": "application/vnd.simplivity.v1.8+json"}
START = "2027-01-04T00:30:00Z"


@contextmanager
def _two_servers(tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    with fresh_postgres_database() as url:
        args = ["--clock", f"manual:{START}"]
        with start_server(tmp_path / "a", database_url=url, env=ENV, extra_args=args) as first:
            with start_server(tmp_path / "b", database_url=url, env=ENV, extra_args=args) as second:
                yield first, second
                assert second.stop() == 0
            assert first.stop() == 0


def _everything(client: httpx.Client) -> dict[str, Any]:
    def fetch(path: str, params: dict[str, str]) -> Any:
        resp = client.get(path, params=params)
        assert resp.status_code == 200, resp.text
        return resp.json()

    state: dict[str, Any] = snapshot(fetch)
    state["clock"] = client.get("/_openovc/clock").json()
    return state


def _backup(client: httpx.Client, vm_id: str, name: str) -> str:
    resp = client.post(f"/api/virtual_machines/{vm_id}/backup", headers=V18, json={"backup_name": name})
    assert resp.status_code == 202, resp.text
    task_id: str = resp.json()["task"]["id"]
    return task_id


@pytest.mark.slow
@pytest.mark.postgres
def test_a_restore_or_reset_by_one_server_holds_for_the_other(tmp_path: Path) -> None:
    with _two_servers(tmp_path) as (first, second), first.client() as a, second.client() as b:
        token = admin_token(a, PASSWORD)  # one token, valid on both servers and across the restores
        for client in (a, b):
            client.headers["Authorization"] = f"Bearer {token}"
        initial = _everything(a)
        assert _everything(b) == initial
        resp = a.post("/_openovc/snapshots", json={"name": "clean"})
        assert resp.status_code == 201, resp.text

        vm = next(v for v in initial["virtual_machines"] if v["state"] == "ALIVE")
        task_id = _backup(b, vm["id"], "on-b")
        # It ran as it was submitted: the second server answers its polls from memory.
        assert b.get(f"/api/tasks/{task_id}").json()["task"]["state"] == "COMPLETED"
        assert b.post("/_openovc/clock/advance", json={"seconds": "2h"}).status_code == 200
        assert _everything(a) != initial

        resp = a.post("/_openovc/snapshots/clean/restore")
        assert resp.status_code == 200, resp.text
        assert resp.json()["clock"] == {"mode": "manual", "now": START}
        # The other server shows the restored federation and clock, and no longer knows the task.
        assert _everything(b) == initial
        missing = b.get(f"/api/tasks/{task_id}")
        assert missing.status_code == 404, missing.text
        assert missing.json()["message"] == f"Object type: task id: {task_id} could not be found"

        # The first start kept the demo federation for reset: a reset by the second holds for the first.
        _backup(a, vm["id"], "on-a")
        assert b.post("/_openovc/snapshots", json={"name": "later"}).status_code == 201
        resp = b.post("/_openovc/reset")
        assert (resp.status_code, resp.json()["name"]) == (200, "initial")
        assert _everything(a) == initial
        names = [s["name"] for s in a.get("/_openovc/snapshots").json()["snapshots"]]
        assert names == ["clean", "later"]


@pytest.mark.slow
def test_a_restore_holds_for_every_worker_process_on_sqlite(tmp_path: Path) -> None:
    # Eight connections, which the kernel spreads over the two processes: each backs a VM up (the
    # process that takes a connection's task remembers it ended) and then, after one restore, none of
    # them is known any more, whichever process answers.
    args = ["--workers", "2", "--clock", f"manual:{START}"]
    with start_server(tmp_path / "data", env=ENV, extra_args=args) as server:
        clients = [server.client() for _ in range(8)]
        try:
            token = admin_token(clients[0], PASSWORD)
            for client in clients:
                client.headers["Authorization"] = f"Bearer {token}"
            initial = _everything(clients[0])
            assert clients[0].post("/_openovc/snapshots", json={"name": "clean"}).status_code == 201
            alive = [v for v in initial["virtual_machines"] if v["state"] == "ALIVE"]
            tasks = [_backup(client, alive[i]["id"], f"worker-{i}") for i, client in enumerate(clients)]
            for client, task_id in zip(clients, tasks, strict=True):
                assert client.get(f"/api/tasks/{task_id}").json()["task"]["state"] == "COMPLETED"
            resp = clients[-1].post("/_openovc/snapshots/clean/restore")
            assert resp.status_code == 200, resp.text
            for client, task_id in zip(clients, tasks, strict=True):
                assert client.get(f"/api/tasks/{task_id}").status_code == 404
                assert _everything(client) == initial
        finally:
            for client in clients:
                client.close()
        assert server.stop() == 0
