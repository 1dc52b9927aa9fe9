"""Contract tier: the official `simplivity` SDK against a real `openovc serve` process over TLS.

The server is the openovc pytest plugin's, as a user's suite gets it (`openovc`, session-wide): the demo
federation in real time with a read-only user, as tests/contract/openovc-scenario.yaml (pyproject's
`openovc_scenario`) says, and the administrator's password the plugin generates. Tests that need another
world (a clock standing still at a given instant, changes no restore should hide) start a private server
with the plugin's `openovc_start`. Tests discover ids and names through the API; nothing generated is
hard-coded.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from openovc.testing import OpenOVCServer

ADMIN_USER = "administrator@vsphere.local"
# The scenario's read-only user.
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


def manual_clock(at: str) -> dict[str, Any]:
    """A scenario for `openovc_start`: the demo federation generated up to `at`, on a clock that stands
    there until moved through /_openovc/clock."""
    return {"clock": {"mode": "manual", "start": at}}


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


def http_client(server: OpenOVCServer) -> httpx.Client:
    # A new connection per request, as the SDK makes: one test's server error cannot spoil the next one's.
    no_reuse = httpx.Limits(max_keepalive_connections=0)
    return httpx.Client(base_url=server.url, verify=False, timeout=30.0, limits=no_reuse)


@pytest.fixture(scope="session")
def api(openovc: OpenOVCServer) -> Iterator[Api]:
    with http_client(openovc) as client:
        yield Api(client, login(client, openovc.username, openovc.password))


@pytest.fixture(scope="session")
def ovc(openovc: OpenOVCServer) -> Any:
    """The administrator's SDK client, shared by every read test (the plugin's, logged in once)."""
    return openovc.ovc


@pytest.fixture(scope="session")
def ro_ovc(openovc: OpenOVCServer) -> Any:
    """The read-only user's SDK client."""
    return openovc.sdk(READER_USER, READER_PASSWORD)
