"""`serve --controller-per-host`: each host's own Virtual Controller on its management address, found the
way monitoring clients find it (by `management_ip`), gone while it is shut down or its host has failed."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator.generator import generate
from tests.support.databases import BACKENDS, database_url
from tests.support.server import RunningServer, admin_token, clean_environment, free_port, start_server

pytestmark = pytest.mark.slow

PASSWORD = "Controllers-Passw0rd"
ENV = {"OPENOVC_ADMIN_PASSWORD": PASSWORD}
START = "2027-01-04T00:30:00Z"
ADDRESSES = [f"127.0.1.{n}" for n in range(1, 7)]  # the demo's six hosts
WAIT_S = 30.0
# The demo's hosts in order (their ids depend on the seed only).
HOST_IDS = [h["id"] for h in generate(FederationSpec.demo(), datetime(2027, 1, 4, tzinfo=UTC)).rows["hosts"]]


def _controller(address: str, port: int) -> httpx.Client:
    return httpx.Client(base_url=f"https://{address}:{port}", verify=False, timeout=30)


def _answers(address: str, port: int) -> bool:
    """Whether the controller at the address answers; False when the connection is refused or dropped.

    A controller that goes off drops the connections it had: one that came in just before is closed
    without an answer (httpx: "Server disconnected without sending a response", or reset while read).
    """
    try:
        with _controller(address, port) as client:
            resp = client.get("/api/version")
    except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
        return False
    assert resp.status_code == 200, resp.text
    return True


def _wait_until(address: str, port: int, answering: bool) -> None:
    """Each process re-reads the store every half second: wait for it to follow."""
    deadline = time.monotonic() + WAIT_S
    while _answers(address, port) != answering:
        if time.monotonic() > deadline:
            state = "answer" if answering else "stop answering"
            raise AssertionError(f"the controller at {address}:{port} did not {state} within {WAIT_S} s")
        time.sleep(0.1)


def _log_in(client: httpx.Client) -> None:
    client.headers["Authorization"] = f"Bearer {admin_token(client, PASSWORD)}"


def _ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


@pytest.fixture(params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[RunningServer, int]]:
    """A new store's demo federation, its hosts on loopback addresses, each with its own controller."""
    with database_url(request.param, tmp_path) as url:
        port = free_port()
        args = ["--controller-per-host", "--controller-port", str(port), "--clock", f"manual:{START}"]
        with start_server(tmp_path / "data", database_url=url, env=ENV, extra_args=args) as server:
            yield server, port
            assert server.stop() == 0


def test_each_host_s_controller_answers_on_its_management_address_while_it_runs(
    served: tuple[RunningServer, int],
) -> None:
    server, port = served
    assert f"Each host's Virtual Controller on port {port} of: {', '.join(ADDRESSES)}" in server.output()
    with server.client() as main, ExitStack() as clients:
        _log_in(main)
        listed = _ok(main.get("/api/hosts"))["hosts"]
        by_address = {h["management_ip"]: h for h in listed}
        assert sorted(by_address) == ADDRESSES
        assert [by_address[a]["id"] for a in ADDRESSES] == HOST_IDS

        # A monitoring client: for each host, its own controller, found by its management address.
        controllers = {}
        for address in ADDRESSES:
            _wait_until(address, port, answering=True)
            controllers[address] = client = clients.enter_context(_controller(address, port))
            _log_in(client)
            assert _ok(client.get("/api/hosts", params={"management_ip": address}))["hosts"] == [
                by_address[address]
            ]
        first, fourth, sixth = ADDRESSES[0], ADDRESSES[3], ADDRESSES[5]
        first_id, fourth_id, sixth_id = (by_address[a]["id"] for a in (first, fourth, sixth))

        # Shut down through its own controller: it answers while it stops (90 simulated seconds)...
        resp = controllers[first].post(
            f"/api/hosts/{first_id}/shutdown_virtual_controller", json={"ha_wait": False}
        )
        assert _ok(resp) == {"shutdown_status": {"status": "SUCCESS"}}
        status = f"/api/hosts/{first_id}/virtual_controller_shutdown_status"
        assert _ok(controllers[first].get(status)) == {"shutdown_status": {"status": "FORCE_IN_PROGRESS"}}
        # ... and no more once it is off, not even on the connection it had; the others answer on.
        _ok(main.post("/_openovc/clock/advance", json={"seconds": "2m"}))
        _wait_until(first, port, answering=False)
        with pytest.raises(httpx.ConnectError):
            controllers[first].get("/api/version")
        assert _ok(main.get(status)) == {"shutdown_status": {"status": "SUCCESS"}}
        for address in ADDRESSES[1:]:
            found = _ok(controllers[address].get("/api/hosts", params={"management_ip": first}))["hosts"]
            assert [(h["id"], h["state"]) for h in found] == [(first_id, "FAULTY")]

        # Powered on again (the control API's restart): it answers, to a new login.
        restarted = _ok(main.post(f"/_openovc/hardware/hosts/{first_id}/controller/restart"))
        assert restarted["host"]["state"] == "ALIVE"
        _wait_until(first, port, answering=True)
        with _controller(first, port) as again:
            _log_in(again)
            found = _ok(again.get("/api/hosts", params={"management_ip": first}))["hosts"]
            assert [(h["id"], h["state"]) for h in found] == [(first_id, "ALIVE")]

        # A shutdown cancelled while in progress never stops the controller.
        resp = main.post(f"/api/hosts/{fourth_id}/shutdown_virtual_controller", json={"ha_wait": False})
        assert _ok(resp) == {"shutdown_status": {"status": "SUCCESS"}}
        resp = controllers[fourth].post(f"/api/hosts/{fourth_id}/cancel_virtual_controller_shutdown")
        assert _ok(resp) == {"cancellation_status": {"status": "SUCCESS"}}
        _ok(main.post("/_openovc/clock/advance", json={"seconds": "5m"}))

        # A failed host's controller is gone with it, until the host is repaired.
        assert _ok(main.post(f"/_openovc/hardware/hosts/{sixth_id}/fail"))["host"]["state"] == "FAULTY"
        _wait_until(sixth, port, answering=False)
        # The one process has read the store since the cancellation: the fourth answers still.
        found = _ok(controllers[fourth].get("/api/hosts", params={"management_ip": fourth}))["hosts"]
        assert [(h["id"], h["state"]) for h in found] == [(fourth_id, "ALIVE")]
        _ok(main.post(f"/_openovc/hardware/hosts/{sixth_id}/repair"))
        _wait_until(sixth, port, answering=True)
        assert [_answers(a, port) for a in ADDRESSES] == [True] * 6


def test_every_server_process_closes_a_controller_that_is_off(tmp_path: Path) -> None:
    port = free_port()
    args = [
        "--workers",
        "2",
        "--controller-per-host",
        "--controller-port",
        str(port),
        "--clock",
        f"manual:{START}",
    ]
    with (
        start_server(tmp_path / "data", env=ENV, extra_args=args) as server,
        server.client() as main,
    ):
        _log_in(main)
        for address in ADDRESSES:
            _wait_until(address, port, answering=True)
        third_id = HOST_IDS[2]
        _ok(main.post(f"/_openovc/hardware/hosts/{third_id}/controller/shutdown"))
        _wait_until(ADDRESSES[2], port, answering=False)
        # The kernel spreads connections over both processes' sockets: had one kept its, some would land.
        deadline = time.monotonic() + WAIT_S
        while any(_answers(ADDRESSES[2], port) for _ in range(8)):
            assert time.monotonic() < deadline, "a process still listens for the controller that is off"
        assert [_answers(a, port) for a in ADDRESSES] == [True, True, False, True, True, True]
        _ok(main.post(f"/_openovc/hardware/hosts/{third_id}/controller/restart"))
        _wait_until(ADDRESSES[2], port, answering=True)
        assert server.stop() == 0


# ---- the command's checks ---------------------------------------------------------------------------------


def _run(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openovc", *args, "--data-dir", str(data_dir)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=clean_environment(ENV),
        timeout=120,
    )


def _one_line(result: subprocess.CompletedProcess[str], line: str, code: int) -> None:
    # Only stderr: the first start may have said the emergency account's password on stdout before.
    assert (result.returncode, result.stderr) == (code, f"openovc: {line}\n")


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--controller-per-host", "--controller-port", "0"],
         "invalid setting: controller_port: Input should be greater than or equal to 1"),
        (["--controller-per-host", "--controller-port", "70000"],
         "invalid setting: controller_port: Input should be less than or equal to 65535"),
        (["--controller-port", "9443"], "--controller-port needs --controller-per-host"),
    ],
)  # fmt: skip
def test_a_bad_controller_port_is_one_line(tmp_path: Path, args: list[str], line: str) -> None:
    _one_line(_run(["serve", "--no-tls", *args], tmp_path / "data"), line, 2)


def test_hosts_without_loopback_addresses_cannot_have_a_controller_each(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _run(["init"], data).returncode == 0
    port = free_port()
    result = _run(["serve", "--controller-per-host", "--controller-port", str(port)], data)
    _one_line(
        result,
        f"cannot listen on 10.1.10.11:{port}, the management address of host {HOST_IDS[0]}: Cannot assign "
        "requested address; hosts need loopback management addresses: `openovc init --loopback-addresses`",
        1,
    )
    # With them, `serve` gets past the check (and here stops at a port another program holds).
    assert _run(["init", "--force", "--loopback-addresses"], data).returncode == 0
    with socket.socket() as holder:
        holder.bind(("127.0.1.2", port))
        holder.listen()
        result = _run(["serve", "--controller-per-host", "--controller-port", str(port)], data)
    _one_line(
        result,
        f"cannot listen on 127.0.1.2:{port}, the management address of host {HOST_IDS[1]}: Address already in use",
        1,
    )
