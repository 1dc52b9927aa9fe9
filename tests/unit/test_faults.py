"""domain.faults: which operation a request is, what a rule matches, and which of its matches fire."""

from __future__ import annotations

import random

import pytest

from openovc.domain.errors import InvalidBody
from openovc.domain.faults import (
    DelayFault,
    HttpFault,
    Operation,
    Operations,
    TaskErrorFault,
    http_defaults,
    ids_in,
    parse_rule,
    template_key,
)

OPERATIONS = Operations(
    [
        Operation("getThroughput", "GET", "/api/omnistack_clusters/throughput", False),
        Operation("getCluster", "GET", "/api/omnistack_clusters/{clusterId}", False),
        Operation("getRule", "GET", "/api/policies/{policyId}/rules/{ruleId}", False),
        Operation("cloneVm", "POST", "/api/virtual_machines/{vmId}/clone", True),
    ]
)


def test_a_request_is_the_first_operation_whose_path_it_matches() -> None:
    assert OPERATIONS.resolve("GET", "/api/omnistack_clusters/throughput") == (OPERATIONS.all[0], {})
    assert OPERATIONS.resolve("GET", "/api/omnistack_clusters/c-1") == (
        OPERATIONS.all[1],
        {"clusterId": "c-1"},
    )
    assert OPERATIONS.resolve("GET", "/api/policies/p/rules/r") == (
        OPERATIONS.all[2], {"policyId": "p", "ruleId": "r"}
    )  # fmt: skip
    assert OPERATIONS.resolve("POST", "/api/omnistack_clusters/c-1") is None
    assert OPERATIONS.resolve("GET", "/api/omnistack_clusters/c-1/x") is None
    assert OPERATIONS.resolve("GET", "/api/policies/p/rules/") is None


def test_a_template_names_its_operation_whatever_its_parameters_are_called() -> None:
    assert template_key("/api/virtual_machines/{vmId}/clone") == "/api/virtual_machines/{}/clone"
    assert OPERATIONS.at("POST", "/virtual_machines/{id}/clone") is OPERATIONS.all[3]
    assert OPERATIONS.at("POST", "/api/virtual_machines/{a}/clone") is OPERATIONS.all[3]
    assert OPERATIONS.at("GET", "/api/virtual_machines/{a}/clone") is None
    assert OPERATIONS.all[3].collection == "virtual_machines"


def test_a_rule_fires_after_its_skips_as_its_seed_draws() -> None:
    rule = parse_rule({"match": {"operation": "cloneVm"}, "effect": {"drop_connection": True},
                       "probability": 0.3, "skip": 2, "seed": 5}, OPERATIONS, 0)  # fmt: skip
    drawn = [rule.fires(n) for n in range(1, 200)]
    assert drawn[:2] == [False, False]
    assert drawn == [n > 2 and random.Random(f"5:{n}").random() < 0.3 for n in range(1, 200)]
    assert 30 < sum(drawn) < 90
    always = parse_rule(
        {"match": {"operation": "cloneVm"}, "effect": {"drop_connection": True}}, OPERATIONS, 9
    )
    assert all(always.fires(n) for n in range(1, 50)) and always.seed == 9


def test_a_rule_matches_ids_and_name_globs() -> None:
    rule = parse_rule({"match": {"operation": "cloneVm"}, "object_id": "vm-1", "name": "web-*",
                       "effect": {"delay_ms": 100, "jitter_ms": 50}}, OPERATIONS, 0)  # fmt: skip
    assert rule.matches_ids({"vm-1", "x"}) and not rule.matches_ids({"vm-2"})
    assert rule.matches_name("web-01") and not rule.matches_name("Web-01") and not rule.matches_name(None)
    assert rule.effect == DelayFault(100, 50)
    assert all(50 <= rule.effect.ms(rule.draw(n)) <= 150 for n in range(1, 100))
    assert ids_in({"a": ["x", {"b": "y"}], "c": 3, "d": None}) == {"x", "y"}


def test_effects_are_shown_as_given_with_the_real_one_s_defaults() -> None:
    rule = parse_rule(
        {"match": {"operation": "cloneVm"}, "effect": {"task_error": {"error_code": 130}}}, OPERATIONS, 1
    )
    assert rule.effect == TaskErrorFault(130, "The VM power state is not acceptable.")
    shown = parse_rule(rule.as_json(), OPERATIONS, 2)
    assert shown == rule  # what is stored reads back as the same rule, seed included
    http = parse_rule(
        {"match": {"operation": "cloneVm"}, "effect": {"http": {"status": 409, "error_code": 7}}},
        OPERATIONS,
        0,
    )
    assert http.effect == HttpFault(409, error_code="7")
    assert http_defaults(409) == ("org.springframework.web.server.ResponseStatusException", "Conflict")
    assert http_defaults(599) == ("org.springframework.web.server.ResponseStatusException", "Error")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"match": {"operation": "getCluster"}, "effect": {"task_error": {"error_code": 1}}},
         "Invalid body: effect.task_error: getCluster does not start a task"),
        ({"match": {"method": "GET", "path": "/api/omnistack_clusters/{id}/x"}, "effect": {"drop_connection": True}},
         "Invalid body: match.path: no operation GET /api/omnistack_clusters/{id}/x"),
        ({"match": {"method": "GET"}, "effect": {"drop_connection": True}},
         "Invalid body: match.path: must be a path template such as /api/hosts/{hostId}, got None"),
        ({"match": {"operation": "cloneVm"}, "effect": {"delay_ms": None}},
         "Invalid body: effect.delay_ms: must be an integer from 0 to 600000, got None"),
    ],
)  # fmt: skip
def test_a_bad_rule_names_its_field(body: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidBody) as refused:
        parse_rule(body, OPERATIONS, 0)
    assert refused.value.message == message
