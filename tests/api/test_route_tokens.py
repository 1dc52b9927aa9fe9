"""Every route, taken from the application's own route list, refuses bad tokens and read-only writes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi import FastAPI
from starlette.routing import BaseRoute, Mount, Route

from openovc.domain.timefmt import to_text
from tests.support.inprocess import READER, Env, make_env

# Public by design: logging in, the version, the control API's health, the documents and the pages (the
# docs, the dashboard's, which logs in from the browser). Static files (Swagger UI, the dashboard's
# scripts) are mounts of their own and are left out with them.
PUBLIC = frozenset(
    {
        "/api/oauth/token",
        "/api/version",
        "/_openovc/health",
        "/api/openapi.json",
        "/api/index.html",
        "/_openovc/openapi.json",
        "/_openovc/index.html",
        "/_openovc/ui",
    }
)
WRITES = frozenset({"POST", "PUT", "DELETE", "PATCH"})
REVOKE = "/api/oauth/revoke"  # any user ends their own session, whatever the method
SOME_ID = "3f1c2a9e-0000-4000-8000-00000000beef"
IDLE = timedelta(seconds=601)  # past the ten idle minutes a token lives (tests/api/test_auth.py)


@dataclass(frozen=True)
class Endpoint:
    """One method of one route, with its path parameters filled in."""

    method: str
    template: str

    @property
    def path(self) -> str:
        parts = self.template.split("/")
        return "/".join(SOME_ID if part.startswith("{") else part for part in parts)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def _endpoints(routes: list[BaseRoute], prefix: str = "") -> Iterator[Endpoint]:
    for route in routes:
        if isinstance(route, Mount):
            # Only applications of routes: the mounts of static files are left out.
            if isinstance(route.app, FastAPI):
                yield from _endpoints(route.app.router.routes, prefix + route.path)
        elif isinstance(route, Route) and prefix + route.path not in PUBLIC:
            for method in sorted(route.methods or ()):
                if method != "HEAD":  # FastAPI adds HEAD to every GET; it has no body to compare
                    yield Endpoint(method, prefix + route.path)


@dataclass
class Tokens:
    """Tokens of every kind, made in an order that leaves the valid ones valid."""

    env: Env
    expired: str
    revoked: str
    reader: dict[str, str]


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tokens]:
    env = make_env(tmp_path_factory.mktemp("route-tokens"))
    expired = env.login()
    env.clock.advance(IDLE)
    revoked = env.login()
    resp = env.client.get("/api/oauth/revoke", headers={"Authorization": f"Bearer {revoked}"})
    assert (resp.status_code, resp.content) == (200, b"")
    yield Tokens(env, expired, revoked, env.headers(READER))
    env.runtime.storage.engine.dispose()


@pytest.fixture(scope="module")
def endpoints(tokens: Tokens) -> list[Endpoint]:
    app = tokens.env.client.app
    assert isinstance(app, FastAPI)
    found = list(_endpoints(app.router.routes))
    # The list is the application's: a route added anywhere lands here without editing this file.
    assert {
        "GET /api/virtual_machines",
        "POST /api/backups/{bkpId}/restore",
        "POST /_openovc/clock/advance",
    } <= {str(e) for e in found}
    return found


def _unauthorized(description: str | None) -> dict[str, str]:
    if description is None:
        return {
            "error": "unauthorized",
            "error_description": "Full authentication is required to access this resource",
        }
    return {"error": "invalid_token", "error_description": description}


@pytest.mark.parametrize("kind", ["missing", "garbage", "expired", "revoked"])
def test_every_route_refuses_a_bad_token(
    tokens: Tokens, endpoints: list[Endpoint], kind: str, subtests: pytest.Subtests
) -> None:
    token, expected = {
        "missing": (None, _unauthorized(None)),
        "garbage": ("not-a-token", _unauthorized("Invalid access token: not-a-token")),
        "expired": (
            tokens.expired,
            _unauthorized(f"Access token expired due to inactivity: {tokens.expired}"),
        ),
        "revoked": (tokens.revoked, _unauthorized(f"Invalid access token: {tokens.revoked}")),
    }[kind]
    headers = {"Accept": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    for endpoint in endpoints:
        with subtests.test(msg=str(endpoint)):
            resp = tokens.env.client.request(endpoint.method, endpoint.path, headers=headers)
            assert (resp.status_code, resp.json()) == (401, expected)


def test_every_write_refuses_a_read_only_user(
    tokens: Tokens, endpoints: list[Endpoint], subtests: pytest.Subtests
) -> None:
    writes = [e for e in endpoints if e.method in WRITES and e.template != REVOKE]
    assert len(writes) > 50
    stamp = to_text(tokens.env.clock.now())
    for endpoint in writes:
        with subtests.test(msg=str(endpoint)):
            resp = tokens.env.client.request(endpoint.method, endpoint.path, headers=tokens.reader)
            assert (resp.status_code, resp.json()) == (
                403,
                {
                    "exception": "com.simplivity.restapi.exceptions.PermissionDeniedException",
                    "path": endpoint.path,
                    "message": f"User {READER[0]} has a read-only role and may not perform this operation",
                    "timestamp": stamp,
                    "status": "403",
                },
            )


def test_a_read_only_user_still_reads(tokens: Tokens, endpoints: list[Endpoint]) -> None:
    """The refusals above are the role's, not the token's: the same token reads."""
    resp = tokens.env.client.get("/api/hosts", headers=tokens.reader)
    assert resp.status_code == 200
    assert len(resp.json()["hosts"]) == len(tokens.env.federation.rows["hosts"])
    assert any(e.method == "GET" for e in endpoints)


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_a_read_only_user_revokes_their_own_token(tokens: Tokens, method: str) -> None:
    token = tokens.env.login(READER)
    resp = tokens.env.client.request(method, REVOKE, headers={"Authorization": f"Bearer {token}"})
    assert (resp.status_code, resp.content) == (200, b"")
    resp = tokens.env.client.get("/api/hosts", headers={"Authorization": f"Bearer {token}"})
    assert (resp.status_code, resp.json()) == (401, _unauthorized(f"Invalid access token: {token}"))


def test_the_route_list_leaves_out_only_the_public_paths(tokens: Tokens, endpoints: list[Endpoint]) -> None:
    """Each public path answers without a token (so leaving it out hides nothing)."""
    listed = {e.template for e in endpoints}
    assert not PUBLIC & listed
    for path in sorted(PUBLIC - {"/api/oauth/token"}):
        resp = tokens.env.client.get(path)
        assert resp.status_code == 200, path
