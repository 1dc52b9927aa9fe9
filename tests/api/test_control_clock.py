"""The clock controls under /_openovc: who may use them, and every bad input refused with nothing changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tests.support.errors import PKG, error_body
from tests.support.inprocess import READER, Env, make_env

NOW = "2026-11-20T12:00:00Z"
ADVANCE = "/_openovc/clock/advance"
SET = "/_openovc/clock/set"


@pytest.fixture(scope="module")
def manual(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """A demo federation on a manual clock; the tests here never move it (each refusal is checked)."""
    built = make_env(tmp_path_factory.mktemp("clock"), clock_mode="manual", task_pacing="immediate")
    yield built
    built.runtime.storage.engine.dispose()


def _invalid(path: str, message: str) -> dict[str, Any]:
    return error_body(path, PKG + "InvalidBodyException", message)


def _unchanged(env: Env, h: dict[str, str]) -> None:
    assert env.client.get("/_openovc/clock", headers=h).json() == {"mode": "manual", "now": NOW}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Invalid body: seconds: Field required (how far to move the clock, in seconds)"),
        ({"seconds": -1}, "Invalid body: seconds: the clock cannot go back: -1 is negative"),
        ({"seconds": True}, "Invalid body: seconds: must be a number of seconds, got True"),
        ({"seconds": [60]}, "Invalid body: seconds: must be a number of seconds, got [60]"),
        ({"seconds": "7 days"}, "Invalid body: seconds: expected a duration such as 90s, 15m, 6h or 7d; got '7 days'"),
        ({"seconds": "-5m"}, "Invalid body: seconds: expected a duration such as 90s, 15m, 6h or 7d; got '-5m'"),
        ({"seconds": 10**10}, "Invalid body: seconds: at most 316224000 (ten years) at a time, got 10000000000"),
        ([60], "Invalid body: expected a JSON object"),
        ("60", "Invalid body: expected a JSON object"),
    ],
)  # fmt: skip
def test_advance_refuses_bad_bodies(manual: Env, body: Any, message: str) -> None:
    h = manual.headers()
    resp = manual.client.post(ADVANCE, headers=h, json=body)
    assert (resp.status_code, resp.json()) == (400, _invalid(ADVANCE, message))
    _unchanged(manual, h)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Invalid body: to: Field required (a time such as 2027-02-01T00:00:00Z)"),
        ({"to": 1795000000}, "Invalid body: to: Field required (a time such as 2027-02-01T00:00:00Z)"),
        ({"to": "next week"}, "Invalid body: to: expected a time such as 2027-01-04T00:30:00Z; got 'next week'"),
        ({"to": "2027-01-04T00:30:00"}, "Invalid body: to: the time must name its offset (Z or +hh:mm); got '2027-01-04T00:30:00'"),
        ({"to": "2026-11-20T11:59:59Z"},
         "Invalid body: to: the clock cannot go back from 2026-11-20T12:00:00Z to 2026-11-20T11:59:59Z"),
    ],
)  # fmt: skip
def test_set_refuses_bad_bodies_and_backward_moves(manual: Env, body: Any, message: str) -> None:
    h = manual.headers()
    resp = manual.client.post(SET, headers=h, json=body)
    assert (resp.status_code, resp.json()) == (400, _invalid(SET, message))
    _unchanged(manual, h)


@pytest.mark.parametrize("path", [ADVANCE, SET])
def test_a_body_that_is_not_json_is_refused(manual: Env, path: str) -> None:
    h = manual.headers()
    raw = b"{seconds: 60}"
    with pytest.raises(orjson.JSONDecodeError) as problem:
        orjson.loads(raw)
    resp = manual.client.post(path, headers={**h, "Content-Type": "application/json"}, content=raw)
    assert (resp.status_code, resp.json()) == (
        400,
        _invalid(path, f"Invalid body: not JSON: {problem.value}"),
    )
    _unchanged(manual, h)


@pytest.mark.parametrize("path", [ADVANCE, SET])
def test_only_an_administrator_moves_the_clock(manual: Env, path: str) -> None:
    h = manual.headers()
    resp = manual.client.post(path, headers=manual.headers(READER), json={"seconds": 60, "to": NOW})
    message = "User auditor@vsphere.local has a read-only role and may not perform this operation"
    assert (resp.status_code, resp.json()) == (
        403, error_body(path, PKG + "PermissionDeniedException", message, 403)
    )  # fmt: skip
    _unchanged(manual, h)


def test_any_user_reads_the_clock(manual: Env) -> None:
    _unchanged(manual, manual.headers(READER))


@pytest.mark.parametrize("path", ["/_openovc/clock", ADVANCE, SET])
def test_no_token_and_a_bad_token_get_hpe_s_401(manual: Env, path: str) -> None:
    method = manual.client.get if path == "/_openovc/clock" else manual.client.post
    resp = method(path)
    assert (resp.status_code, resp.json()) == (
        401, {"error": "unauthorized", "error_description": "Full authentication is required to access this resource"}
    )  # fmt: skip
    resp = method(path, headers={"Authorization": "Bearer not-a-token"})
    assert resp.status_code == 401
    assert resp.json() == {"error": "invalid_token", "error_description": "Invalid access token: not-a-token"}
    _unchanged(manual, manual.headers())


def test_unknown_controls_and_methods_answer_json(manual: Env) -> None:
    h = manual.headers()
    resp = manual.client.get("/_openovc/nope", headers=h)
    assert (resp.status_code, resp.json()) == (
        404, error_body("/_openovc/nope", "org.springframework.web.servlet.NoHandlerFoundException",
                        "No handler found for GET /_openovc/nope", 404),
    )  # fmt: skip
    resp = manual.client.delete("/_openovc/clock", headers=h)
    assert (resp.status_code, resp.json()) == (
        405, error_body("/_openovc/clock", "org.springframework.web.HttpRequestMethodNotSupportedException",
                        "Request method 'DELETE' not supported", 405),
    )  # fmt: skip


def test_the_control_api_has_its_own_openapi_document(manual: Env) -> None:
    own = manual.client.get("/_openovc/openapi.json").json()
    operations = {op["operationId"] for item in own["paths"].values() for op in item.values()}
    faults = {"getFaults", "addFault", "clearFaults", "removeFault", "getPacing", "setPacing", "resetPacing"}
    assert operations >= faults
    operations -= faults
    snapshots = {"listSnapshots", "saveSnapshot", "importSnapshot", "getSnapshot", "deleteSnapshot",
                 "restoreSnapshot", "exportSnapshot", "resetFederation"}  # fmt: skip
    assert operations >= snapshots
    operations -= snapshots
    hardware = {"failDrive", "repairDrive", "failHost", "repairHost", "shutdownController",
                "restartController"}  # fmt: skip
    assert operations >= hardware
    operations -= hardware
    assert operations == {
        "getHealth", "getSession", "getClock", "advanceClock", "setClock", "getMetrics", "listTasks"
    }  # fmt: skip
    hpe = manual.client.get("/api/openapi.json").json()
    assert not [p for p in hpe["paths"] if p.startswith("/_openovc")]
    assert manual.client.get("/_openovc/index.html").status_code == 200
