"""`openovc tasks` against a running server: the federation's tasks as GET /_openovc/tasks lists them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import RunningServer, admin_token, run_cli, start_server

pytestmark = pytest.mark.slow

PASSWORD = "Tasks-Passw0rd"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[RunningServer]:
    with start_server(tmp_path / "data", env={"OPENOVC_ADMIN_PASSWORD": PASSWORD}) as server:
        yield server
        assert server.stop() == 0


def _cli(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"OPENOVC_URL": server.base_url, "OPENOVC_PASSWORD": PASSWORD}
    return run_cli("tasks", *args, env=env, timeout_s=60)


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
    assert shown == listed and listed["tasks"]
    newest = listed["tasks"][0]
    assert newest["operation"] == "virtual_machine.power_off"
    lines = _cli(served, "--limit", "1")
    assert (lines.returncode, lines.stderr) == (0, "")
    (line,) = lines.stdout.splitlines()
    affected = f"virtual_machine:{vm['id']}" if newest["state"] == "COMPLETED" else "-"
    assert (
        line
        == f"{newest['id']} {newest['state']} virtual_machine.power_off {newest['start_time']} {affected}"
    )
    # Only the power-off, by its operation; none of an operation no task performed.
    ops = _cli(served, "--operation", "virtual_machine.power_off")
    assert (ops.returncode, ops.stderr, ops.stdout) == (0, "", line + "\n")
    none = _cli(served, "--operation", "virtual_machine.move")
    assert (none.returncode, none.stderr, none.stdout) == (0, "", "")


def test_a_bad_parameter_is_one_line_naming_it(served: RunningServer) -> None:
    done = _cli(served, "--limit", "0")
    assert (done.returncode, done.stdout, done.stderr) == (
        1, "", "openovc: Invalid value '0' for parameter 'limit': must be at least 1\n"
    )  # fmt: skip
    unknown = _cli(served, "--operation", "cloneVm")
    assert unknown.returncode == 1 and unknown.stdout == ""
    assert unknown.stderr.startswith(
        "openovc: Invalid value 'cloneVm' for parameter 'operation': expected one of "
    )
