"""GET /_openovc/health: up and ready without a token, 503 when the database does not answer, nothing more."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from openovc.app import create_app
from openovc.services.health import Health
from openovc.storage.clock_store import SqlClockStore
from openovc.storage.engine import make_engine
from tests.support.errors import error_body
from tests.support.inprocess import READER, Env

HEALTH = "/_openovc/health"
SPRING = "org.springframework.web."
UNAUTHORIZED = {
    "error": "unauthorized",
    "error_description": "Full authentication is required to access this resource",
}


def test_health_answers_without_a_token(env: Env) -> None:
    resp = env.client.get(HEALTH)
    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})
    assert resp.headers["content-type"] == "application/json"


@pytest.mark.parametrize("token", ["admin", "reader", "not-a-token"])
def test_health_answers_the_same_with_any_token(env: Env, admin: dict[str, str], token: str) -> None:
    """A token, even a bad one, changes nothing: health never looks at it."""
    headers = {"admin": admin, "reader": env.headers(READER)}.get(token, {"Authorization": f"Bearer {token}"})
    resp = env.client.get(HEALTH, headers=headers)
    assert (resp.status_code, resp.json()) == (200, {"status": "ok"})


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///{tmp}/no/such/directory/openovc.db",  # SQLite cannot open the file
        "postgresql://postgres@127.0.0.1:1/postgres",  # nothing listens on port 1
    ],
    ids=["sqlite-unopenable", "postgresql-refused"],
)
def test_health_is_503_when_the_database_does_not_answer(
    env: Env, admin: dict[str, str], tmp_path: Path, url: str
) -> None:
    """The server's own runtime, but its health checked against a database that does not answer."""
    engine = make_engine(url.format(tmp=tmp_path))
    try:
        broken = dataclasses.replace(env.runtime, health=Health(SqlClockStore(engine)))
        client = TestClient(create_app(broken))
        for headers in ({}, admin):
            resp = client.get(HEALTH, headers=headers)
            assert (resp.status_code, resp.json()) == (503, {"status": "unavailable"})
            assert resp.headers["content-type"] == "application/json"
    finally:
        engine.dispose()
    assert env.client.get(HEALTH).json() == {"status": "ok"}  # the server's own store still answers


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/_openovc/clock"), ("POST", "/_openovc/clock/advance")]
)
def test_the_other_controls_still_need_a_token(env: Env, method: str, path: str) -> None:
    resp = env.client.request(method, path)
    assert (resp.status_code, resp.json()) == (401, UNAUTHORIZED)
    resp = env.client.request(method, path, headers={"Authorization": "Bearer not-a-token"})
    assert (resp.status_code, resp.json()) == (
        401, {"error": "invalid_token", "error_description": "Invalid access token: not-a-token"}
    )  # fmt: skip


def test_health_is_in_the_control_api_document_only(env: Env) -> None:
    own = env.client.get("/_openovc/openapi.json").json()
    operation = own["paths"]["/health"]["get"]
    assert operation["operationId"] == "getHealth"
    assert {
        code: r["content"]["application/json"]["example"] for code, r in operation["responses"].items()
    } == {
        "200": {"status": "ok"},
        "503": {"status": "unavailable"},
    }
    assert set(own["paths"]["/health"]) == {"get"}
    hpe = env.client.get("/api/openapi.json").json()
    assert not [p for p in hpe["paths"] if "health" in p]


def test_health_reads_nothing_but_its_own_path(env: Env) -> None:
    """Only GET: a write or a longer path is refused like any unknown control, revealing nothing."""
    resp = env.client.post(HEALTH)
    assert (resp.status_code, resp.json()) == (
        405, error_body(HEALTH, SPRING + "HttpRequestMethodNotSupportedException", "Request method 'POST' not supported", 405)
    )  # fmt: skip
    resp = env.client.get(HEALTH + "/details")
    assert (resp.status_code, resp.json()) == (
        404, error_body(HEALTH + "/details", SPRING + "servlet.NoHandlerFoundException",
                        "No handler found for GET /_openovc/health/details", 404),
    )  # fmt: skip
