"""Contract tier: the official `simplivity` SDK against a real `openovc serve` process over TLS.

One server per session, on a temporary data directory: the demo federation is generated on its first
start, the administrator's password comes from OPENOVC_ADMIN_PASSWORD, and a read-only user is added
with the CLI before the server starts. Tests discover ids and names through the API; nothing generated
is hard-coded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from simplivity.ovc_client import OVC

from tests.support.server import RunningServer, start_server

ADMIN_USER = "administrator@vsphere.local"
ADMIN_PASSWORD = "Contract-Adm1n-pass!"
READER_USER = "auditor@vsphere.local"
READER_PASSWORD = "Contract-Read0nly-pass"
BASIC = "Basic c2ltcGxpdml0eTo="  # client "simplivity", empty secret

# What the SDK's ResourceClient.get_all always sends (urlencoded, sorted by key).
SDK_DEFAULTS: dict[str, str] = {
    "case": "sensitive",
    "limit": "500",
    "offset": "0",
    "order": "descending",
    "sort": "name",
}

T = TypeVar("T")


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a CLI child: none of the developer's own OPENOVC_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENOVC_")}
    env.update(extra or {})
    return env


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m openovc ARGS`, failing the test with its output when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "openovc", *args],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, (
        f"openovc {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
    )
    return done


def sdk_config(address: str, username: str, password: str, **extra: Any) -> dict[str, Any]:
    """The SDK's configuration dict: it reads `ip` and `credentials.username/password`."""
    return {"ip": address, "credentials": {"username": username, "password": password}, **extra}


def login(client: httpx.Client, username: str, password: str) -> str:
    """A bearer token from the OAuth password grant, as every client gets one."""
    resp = client.post(
        "/api/oauth/token",
        headers={"Authorization": BASIC, "Accept": "application/json"},
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["access_token"]
    return token


class Api:
    """Plain HTTP GETs of the same server, to cross-check what the SDK returns."""

    def __init__(self, client: httpx.Client, token: str) -> None:
        self.client = client
        self.token = token

    def get(
        self, path: str, params: Mapping[str, str] | None = None, *, token: str | None = None
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}", "Accept": "application/json"}
        return self.client.get(path, params=dict(params or {}), headers=headers)

    def json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        resp = self.get(path, params)
        assert resp.status_code == 200, f"GET {path} {dict(params or {})}: {resp.status_code} {resp.text}"
        return resp.json()

    def members(
        self, path: str, params: Mapping[str, str] | None = None, *, key: str | None = None
    ) -> list[dict[str, Any]]:
        """The member list of a collection GET under /api (key: the path's last segment unless given)."""
        body = self.json(f"/api/{path}", params)
        assert isinstance(body, dict), body
        members: list[dict[str, Any]] = body[key or path.rsplit("/", 1)[-1]]
        return members

    def everything(self, plural: str, params: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Every member matching `params`, in the server's default order (one page of up to 5000)."""
        body = self.json(f"/api/{plural}", {"limit": "5000", **(params or {})})
        members: list[dict[str, Any]] = body[plural]
        assert body["count"] == len(members), "more than 5000 matches: the contract tier expects the demo"
        return members


@dataclass
class Contract:
    """The running server and what tests need to reach it."""

    server: RunningServer
    data_dir: Path

    @property
    def address(self) -> str:
        return self.server.address

    def sdk(self, username: str = ADMIN_USER, password: str = ADMIN_PASSWORD, **extra: Any) -> Any:
        """A new SDK client; it logs in inside its constructor."""
        return OVC(sdk_config(self.address, username, password, **extra))


@pytest.fixture(scope="session")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Contract]:
    data_dir = tmp_path_factory.mktemp("contract-store")
    # The store is created by the CLI before the first start; the demo is generated by `serve` anyway,
    # since no federation is stored yet.
    run_cli("users", "add", READER_USER, "--role", "read_only", "--password", READER_PASSWORD,
            "--data-dir", str(data_dir))  # fmt: skip
    server = start_server(data_dir, env={"OPENOVC_ADMIN_PASSWORD": ADMIN_PASSWORD})
    try:
        yield Contract(server, data_dir)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def api(contract: Contract) -> Iterator[Api]:
    # A new connection per request, as the SDK makes: one test's server error cannot spoil the next one's.
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(
        base_url=contract.server.base_url, verify=False, timeout=30.0, limits=no_reuse
    ) as client:
        yield Api(client, login(client, ADMIN_USER, ADMIN_PASSWORD))


@pytest.fixture(scope="session")
def ovc(contract: Contract) -> Any:
    """The administrator's SDK client, shared by every read test."""
    return contract.sdk()


@pytest.fixture(scope="session")
def ro_ovc(contract: Contract) -> Any:
    """The read-only user's SDK client."""
    return contract.sdk(READER_USER, READER_PASSWORD)


@pytest.fixture
def manual_clock_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Contract]]:
    """Starts private servers whose simulated clock stands at the given instant (`--clock manual:<ISO>`)
    until moved through /_openovc/clock: for tests that move time, which the shared server must not see.

    Each has its own store and demo federation (generated as of that instant); all stop after the test.
    """
    started: list[RunningServer] = []

    def start(at: str) -> Contract:
        data_dir = tmp_path_factory.mktemp("contract-manual-clock")
        server = start_server(
            data_dir, env={"OPENOVC_ADMIN_PASSWORD": ADMIN_PASSWORD}, extra_args=["--clock", f"manual:{at}"]
        )
        started.append(server)
        return Contract(server, data_dir)

    yield start
    for server in started:
        server.stop()
