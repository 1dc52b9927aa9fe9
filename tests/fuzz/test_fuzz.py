"""Property-based fuzzing of every operation of the server's own documents, as the administrator.

Each answer must not be a 5xx, must be JSON, and (unless OPENOVC_FUZZ_CONFORMANCE=0) must conform to the
document. Seeded, so a failure replays; schemathesis prints the failing request as a curl command.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import response_schema_conformance

from openovc.domain.clock import parse_instant
from tests.fuzz.harness import (
    CONFORMANCE,
    CONFORMANCE_OFF,
    DOCUMENTS,
    MAX_CLOCK_MOVE,
    OTHER_USER,
    Case,
    Guard,
    Operation,
    checks,
    fuzz,
    json_answer,
    load,
    operations,
)
from tests.fuzz.target import ADMIN_USER, Target

pytestmark = pytest.mark.slow

# Generated cases per operation and database: about 3,900 requests a database, under a minute
# each on two cores. benchmarks/fuzz.py runs the same cases at a larger budget.
EXAMPLES = 40
# The documents' sizes when this was written: an operation missing from one is a lost route.
LEAST_OPERATIONS = {"api": 94, "control": 20}


@pytest.mark.parametrize("document", list(DOCUMENTS))
def test_every_operation(target: Target, guard: Guard, document: str, subtests: pytest.Subtests) -> None:
    found = operations(load(target, document))
    assert len(found) >= LEAST_OPERATIONS[document]

    def answer(case: Case) -> None:
        case.validate_response(guard.call(case), checks=checks())

    for operation in found:
        with subtests.test(msg=operation.label):
            fuzz(operation, EXAMPLES, answer)


@pytest.mark.skipif(not CONFORMANCE, reason=CONFORMANCE_OFF)
@pytest.mark.parametrize(
    ("document", "label"), [("api", "GET /api/version"), ("api", "GET /api/hosts"), ("control", "GET /clock")]
)
def test_fixed_answers_conform(target: Target, guard: Guard, document: str, label: str) -> None:
    """The check the generated cases run is on, and plain answers pass it."""
    assert response_schema_conformance in checks()
    operation = load(target, document).find_operation_by_label(label)
    assert operation is not None
    case = operation.Case()
    response = guard.call(case)
    assert response.status_code == 200
    case.validate_response(response, checks=[response_schema_conformance])


# ---- the guard and the checks themselves ----------------------------------------------------------------


def _operation(target: Target, document: str, label: str) -> Operation:
    found = load(target, document).find_operation_by_label(label)
    assert found is not None, label
    return found


def test_the_fuzzer_cannot_lock_its_administrator_out(target: Target, guard: Guard) -> None:
    login = _operation(target, "api", "POST /api/oauth/token")
    for _ in range(6):  # one more than the lockout's five failures
        body: dict[str, Any] = {"grant_type": "password", "username": ADMIN_USER.upper(), "password": "x"}
        case = login.Case(body=body, media_type="application/x-www-form-urlencoded")
        resp = guard.call(case)
        assert (resp.status_code, resp.json()["error"]) == (400, "invalid_grant")
        assert body["username"] == OTHER_USER
    assert target.login()


def test_revoke_is_sent_with_a_token_of_its_own(target: Target, guard: Guard) -> None:
    resp = guard.call(_operation(target, "api", "GET /api/oauth/revoke").Case())
    assert (resp.status_code, resp.content) == (200, b"")
    with target.client() as client:
        hosts = client.get("/api/hosts", headers={"Authorization": f"Bearer {target.token}"})
    assert hosts.status_code == 200


def test_clock_moves_are_bounded_and_refusals_kept(target: Target, guard: Guard) -> None:
    advance = _operation(target, "control", "POST /clock/advance")
    with target.client() as client:
        clock = client.get("/_openovc/clock", headers={"Authorization": f"Bearer {target.token}"})
    before = parse_instant(clock.json()["now"])
    resp = guard.call(advance.Case(body={"seconds": "7d"}, media_type="application/json"))
    assert resp.status_code == 200
    assert parse_instant(resp.json()["now"]) == before + MAX_CLOCK_MOVE
    resp = guard.call(advance.Case(body={"seconds": 10**10}, media_type="application/json"))
    assert (resp.status_code, resp.json()["message"]) == (
        400,
        "Invalid body: seconds: at most 316224000 (ten years) at a time, got 10000000000",
    )


def test_an_html_answer_fails_the_json_check(target: Target, guard: Guard) -> None:
    version = _operation(target, "api", "GET /api/version").Case()
    page = schemathesis.Response.from_requests(guard.session.get(target.base_url + "/api/index.html"), True)
    with pytest.raises(AssertionError, match="Content-Type 'text/html' is not JSON"):
        json_answer(None, page, version)
    json_answer(None, guard.call(version), version)
