"""`openovc tasks` against a running server: the federation's tasks as GET /_openovc/tasks lists them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import RunningServer, admin_token, clean_environment, start_server

pytestmark = pytest.mark.slow

PASSWORD = "Tasks-Passw0rd"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[RunningServer]:
    with start_server(tmp_path / "data", env={"OPENOVC_ADMIN_PASSWORD": PASSWORD}) as server:
        yield server
        assert server.stop() == 0


def _cli(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"OPENOVC_URL": server.base_url, "OPENOVC_PASSWORD": PASSWORD}
    return subprocess.run(
        [sys.executable, "-m", "openovc", "tasks", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=clean_environment(env),
        timeout=60,
    )


def test_the_cli_lists_the_tasks_the_api_lists(served: RunningServer) -> None:
    with served.client() as client:
        h = {"Authorization": f"Bearer {admin_token(client, PASSWORD)}"}
        vm = client.get("/api/virtual_machines", headers=h, params={"limit": "1"}).json()["virtual_machines"][
            0
        ]
        resp = client.post(
            f"/api/virtual_machines/{vm['id']}/power_off",
            headers={**h, "Content-Type": "application/vnd.simplivity.v1.9+json"},
        )
        assert resp.status_code == 202, resp.text
        listed = client.get("/_openovc/tasks", headers=h).json()
    done = _cli(served, "--json")
    assert (done.returncode, done.stderr) == (0, "")
    shown = json.loads(done.stdout)
    assert [t["id"] for t in shown["tasks"]] == [t["id"] for t in listed["tasks"]] and listed["tasks"]
    lines = _cli(served, "--limit", "1")
    assert (lines.returncode, lines.stderr) == (0, "")
    (line,) = lines.stdout.splitlines()
    assert line.startswith(f"{listed['tasks'][0]['id']} ")


def test_a_bad_parameter_is_one_line_naming_it(served: RunningServer) -> None:
    done = _cli(served, "--limit", "0")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("openovc: ") and "limit" in done.stderr and done.stderr.count("\n") == 1
