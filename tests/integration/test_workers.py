"""`serve --workers N`: N server processes on one port and one store, that start, serve, share tasks and
stop together."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.support.databases import BACKENDS, database_url
from tests.support.server import RunningServer, admin_token, start_server
from tests.support.waiting import wait_until

PASSWORD = "Workers-Passw0rd"
ENV = {"OPENOVC_ADMIN_PASSWORD": PASSWORD}
V18 = {"Content-Type": "application/vnd.simplivity.v1.8+json"}


def _children(server: RunningServer) -> list[psutil.Process]:
    """The server processes (uvicorn's spawn also starts a resource tracker, which is not one)."""
    found = psutil.Process(server.pid).children()
    return [p for p in found if "resource_tracker" not in " ".join(p.cmdline())]


def _gone(processes: list[psutil.Process], timeout_s: float = 30) -> bool:
    _, alive = psutil.wait_procs(processes, timeout=timeout_s)
    return not alive


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_two_processes_serve_one_federation_and_stop_together(tmp_path: Path, backend: str) -> None:
    with database_url(backend, tmp_path) as url:
        db = None if backend == "sqlite" else url
        with start_server(
            tmp_path / "data", database_url=db, env=ENV, extra_args=["--workers", "2"]
        ) as server:
            children = _children(server)
            assert len(children) == 2
            assert "listening on https://127.0.0.1:" in server.output()
            # Connections land on both processes; what one accepts, the other sees at once.
            clients = [server.client() for _ in range(8)]
            try:
                token = admin_token(clients[0], PASSWORD)
                auth = {"Authorization": f"Bearer {token}"}
                vms = clients[0].get("/api/virtual_machines", headers=auth).json()["virtual_machines"]
                tasks = []
                for i, client in enumerate(clients):
                    resp = client.post(
                        f"/api/virtual_machines/{vms[i]['id']}/clone",
                        headers={**auth, **V18},
                        json={"virtual_machine_name": f"workers-clone-{i}"},
                    )
                    assert resp.status_code == 202, resp.text
                    tasks.append(resp.json()["task"]["id"])
                for i, task_id in enumerate(tasks):
                    # Polled on another connection than the one that submitted it.
                    task = clients[-1 - i].get(f"/api/tasks/{task_id}", headers=auth).json()["task"]
                    assert task["state"] == "COMPLETED", task
                    (made,) = task["affected_objects"]
                    vm = clients[i].get(f"/api/virtual_machines/{made['object_id']}", headers=auth)
                    assert vm.json()["virtual_machine"]["name"] == f"workers-clone-{i}"
            finally:
                for client in clients:
                    client.close()
            assert server.stop() == 0
            assert _gone(children, 5)


@pytest.mark.slow
def test_the_processes_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    with start_server(tmp_path / "data", env=ENV, extra_args=["--workers", "2"]) as server:
        children = _children(server)
        assert len(children) == 2
        server.kill()
        assert _gone(children), [p.pid for p in children if p.is_running()]


@pytest.mark.slow
def test_a_process_that_dies_is_replaced(tmp_path: Path) -> None:
    with start_server(tmp_path / "data", env=ENV, extra_args=["--workers", "2"]) as server:
        first, second = _children(server)
        first.kill()
        first.wait(10)

        def replaced() -> bool:
            now = _children(server)
            return len(now) == 2 and first.pid not in {p.pid for p in now}

        try:
            wait_until(replaced, timeout=60, interval=0.2, what=f"a replacement for process {first.pid}")
        except AssertionError as err:
            pytest.fail(f"{err}: {[p.pid for p in _children(server)]}\n{server.output()}")
        assert second.is_running()
        # Every connection is served, whichever socket the kernel gives it to.
        for _ in range(8):
            with server.client() as client:
                assert client.get("/api/version").status_code == 200
        assert server.stop() == 0


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        (["--workers", "0"], {}, "workers: Input should be greater than or equal to 1"),
        ([], {"OPENOVC_WORKERS": "two"}, "workers: Input should be a valid integer"),
    ],
)
def test_workers_must_be_a_whole_number_from_one(
    tmp_path: Path, args: list[str], env: dict[str, str], said: str
) -> None:
    with start_server(tmp_path / "data", env={**ENV, **env}, extra_args=args, wait=False) as server:
        assert server.process.wait(60) == 2
        assert server.output().startswith(f"openovc: invalid setting: {said}")
    assert not (tmp_path / "data").exists()  # refused before anything was created
