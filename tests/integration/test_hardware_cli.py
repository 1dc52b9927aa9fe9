"""`openovc hardware drive|host|controller ...` against a running server on a manual clock: each answer as
the operator reads it, and a refusal as one line on stderr."""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openovc.domain.hardware_faults import REBUILD_RATE
from tests.support.server import RunningServer, admin_token, run_cli, start_server

pytestmark = pytest.mark.slow

PASSWORD = "Hardware-Passw0rd"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[RunningServer]:
    extra = ["--clock", "manual:2026-11-20T12:00:00Z"]
    with start_server(
        tmp_path / "data", env={"OPENOVC_ADMIN_PASSWORD": PASSWORD}, extra_args=extra
    ) as server:
        yield server
        assert server.stop() == 0


def _cli(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"OPENOVC_URL": server.base_url, "OPENOVC_PASSWORD": PASSWORD}
    return run_cli("hardware", *args, env=env, timeout_s=60)


def _read(server: RunningServer, path: str) -> Any:
    with server.client() as client:
        token = admin_token(client, PASSWORD)
        resp = client.get(
            path, headers={"Authorization": f"Bearer {token}"}, params={"show_optional_fields": "true"}
        )
        assert resp.status_code == 200, resp.text
        return resp.json()


def test_the_cli_fails_and_repairs(served: RunningServer) -> None:
    hosts = _read(served, "/api/hosts")["hosts"]
    serving = min(hosts, key=lambda h: h["id"])
    host = next(h for h in hosts if h["omnistack_cluster_id"] != serving["omnistack_cluster_id"])
    slot = str(
        _read(served, f"/api/hosts/{host['id']}/hardware")["host"]["logical_drives"][0]["drive_sets"][0][
            "physical_drives"
        ][0]["slot"]
    )
    done = _cli(served, "drive", "fail", host["id"], slot, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["drive"]["health"], answer["host"]["hardware_status"]) == ("FAILED", "YELLOW")
    assert answer["capacity_change"] == -answer["drive"]["capacity"]

    repaired = _cli(served, "drive", "repair", host["id"], slot)
    now = _read(served, f"/api/hosts/{host['id']}")["host"]
    cluster = _read(served, f"/api/omnistack_clusters/{host['omnistack_cluster_id']}")["omnistack_cluster"]
    drive = answer["drive"]
    # The new drive rebuilds on the (stopped) manual clock: its share comes back when it is done.
    rebuilt = datetime(2026, 11, 20, 12, tzinfo=UTC) + timedelta(
        seconds=math.ceil(drive["capacity"] / REBUILD_RATE)
    )
    assert (repaired.returncode, repaired.stderr) == (0, "")
    assert repaired.stdout == (
        f"drive {slot} ({drive['drive_position']}): REBUILDING YELLOW, "
        f"rebuilt at {rebuilt:%Y-%m-%dT%H:%M:%SZ}\n"
        f"host {host['name']}: ALIVE, hardware YELLOW, controller shutdown NONE, allocated "
        f"{now['allocated_capacity']} bytes (+0), free {now['free_space']}\n"
        f"cluster {cluster['name']}: allocated {cluster['allocated_capacity']} bytes, free {cluster['free_space']}\n"
        "virtual machines now safe 0, syncing 0, degraded 0, defunct 0, failed_over 0\n"
    )

    down = _cli(served, "controller", "shutdown", host["id"])
    assert (
        down.returncode == 0
        and f"host {host['name']}: FAULTY, hardware YELLOW, controller shutdown SUCCESS, allocated 0 bytes "
        f"(-{now['allocated_capacity']})"
        in down.stdout
    )
    refused = _cli(served, "host", "fail", host["id"])
    assert (refused.returncode, refused.stdout, refused.stderr) == (
        1, "", f"openovc: Host {host['name']} is FAULTY already\n"
    )  # fmt: skip
    up = _cli(served, "controller", "restart", host["id"])
    assert (
        up.returncode == 0
        and f"host {host['name']}: ALIVE, hardware YELLOW, controller shutdown NONE" in up.stdout
    )
    missing = _cli(served, "host", "repair", "nope")
    assert (missing.returncode, missing.stderr) == (
        1,
        "openovc: Object type: host id: nope could not be found\n",
    )
