"""Fault rules (/_openovc/faults) applied to HPE's API, run-time task pacing (/_openovc/pacing), and the
proxy's overload answers (502, 504): each effect, each way of matching, counts, removal, bad input and roles."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from openovc.api.faults import ConnectionDropped
from openovc.app import create_app
from openovc.domain.faults import Operations, parse_rule
from tests.support.errors import PKG, TASK_EXCEPTION, error_body
from tests.support.inprocess import READER, Env, make_env, pick_vm
from tests.support.tasks import completed, failed, media, submit
from tests.support.waiting import wait_until

FAULTS = "/_openovc/faults"
PACING = "/_openovc/pacing"
SPRING = "org.springframework.web.server.ResponseStatusException"
UNAVAILABLE = "Service Unavailable: the REST service is not available"


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    built = make_env(tmp_path_factory.mktemp("faults"), task_pacing="immediate")
    yield built
    built.runtime.storage.engine.dispose()


@pytest.fixture
def env(faulty: Env) -> Iterator[Env]:
    """The module's federation, with no rule and the start-up pacing when each test begins and ends."""
    yield faulty
    h = faulty.headers()
    assert faulty.client.delete(FAULTS, headers=h).status_code == 200
    assert faulty.client.delete(PACING, headers=h).status_code == 200


def _add(env: Env, rule: dict[str, Any]) -> dict[str, Any]:
    resp = env.client.post(FAULTS, headers=env.headers(), json=rule)
    assert resp.status_code == 201, resp.text
    fault: dict[str, Any] = resp.json()["fault"]
    return fault


def _fired(env: Env) -> list[int]:
    return [f["fired"] for f in env.client.get(FAULTS, headers=env.headers()).json()["faults"]]


def _host(env: Env, n: int = 0) -> str:
    return str(env.federation.rows["hosts"][n]["id"])


def test_an_http_error_answers_in_hpe_s_shape_as_often_as_its_count(env: Env) -> None:
    h, host = env.headers(), _host(env)
    fault = _add(
        env, {"match": {"operation": "getHost"}, "effect": {"http": {"status": 503}}, "count": 1, "seed": 3}
    )
    assert fault == {
        "match": {"operation": "getHost"}, "effect": {"http": {"status": 503}}, "probability": 1.0, "count": 1,
        "skip": 0, "seed": 3, "id": fault["id"], "fired": 0,
    }  # fmt: skip
    path = f"/api/hosts/{host}"
    resp = env.client.get(path, headers=h)
    assert (resp.status_code, resp.json()) == (503, error_body(path, SPRING, UNAVAILABLE, 503))
    assert resp.headers["x-frame-options"] == "DENY"  # the real one's headers, as on every answer
    assert env.client.get(path, headers=h).status_code == 200
    listed = env.client.get(FAULTS, headers=env.headers(READER)).json()
    assert listed == {"faults": [{**fault, "fired": 1}]}


def test_an_http_error_says_what_the_rule_says(env: Env) -> None:
    h = env.headers()
    vm = pick_vm(env, "ON")["id"]
    given = {"status": 400, "message": "Duplicate name exists.", "error_code": 13}
    _add(env, {"match": {"operation": "getVm"}, "effect": {"http": given}, "count": 1})
    _add(env, {"match": {"operation": "getVm"}, "effect": {"http": {"status": 404}}, "count": 1})
    _add(
        env,
        {
            "match": {"operation": "getVm"},
            "effect": {"http": {"status": 500, "exception": "x.Y", "message": "m"}},
        },
    )
    path = f"/api/virtual_machines/{vm}"
    first, second, third = (env.client.get(path, headers=h) for _ in range(3))
    assert (first.status_code, first.json()) == (
        400, error_body(path, TASK_EXCEPTION, "Duplicate name exists.", 400, "13")
    )  # fmt: skip
    not_found = f"Object type: virtual_machine id: {vm} could not be found"
    assert (second.status_code, second.json()) == (
        404,
        error_body(path, PKG + "ObjectNotFoundException", not_found, 404),
    )
    assert (third.status_code, third.json()) == (500, error_body(path, "x.Y", "m", 500))
    assert _fired(env) == [1, 1, 1]


def test_a_401_is_the_oauth_layer_s_answer(env: Env) -> None:
    token = env.login()
    _add(env, {"match": {"operation": "listHosts"}, "effect": {"http": {"status": 401}}, "count": 1})
    resp = env.client.get("/api/hosts", headers={"Authorization": f"Bearer {token}"})
    assert (resp.status_code, resp.json()) == (
        401, {"error": "invalid_token", "error_description": f"Invalid access token: {token}"}
    )  # fmt: skip
    assert resp.headers["www-authenticate"].startswith('Bearer realm="oauth", error="invalid_token"')


def test_a_rule_matches_by_method_and_path_template_whatever_its_parameter_is_called(env: Env) -> None:
    h, host = env.headers(), _host(env)
    fault = _add(
        env, {"match": {"method": "get", "path": "/hosts/{anything}"}, "effect": {"http": {"status": 502}}}
    )
    assert fault["match"] == {"method": "GET", "path": "/hosts/{anything}"}
    path = f"/api/hosts/{host}"
    resp = env.client.get(path, headers=h)
    assert (resp.status_code, resp.json()) == (
        502, error_body(path, SPRING, "Bad Gateway: too many simultaneous REST requests", 502)
    )  # fmt: skip
    # Another operation of the same collection is not that one.
    assert env.client.get(f"{path}/hardware", headers=h).status_code == 200
    assert env.client.get("/api/hosts", headers=h).status_code == 200
    assert _fired(env) == [1]


def test_a_literal_path_is_not_the_collection_s_id(env: Env) -> None:
    h = env.headers()
    cluster = env.federation.rows["omnistack_clusters"][0]["id"]
    _add(env, {"match": {"operation": "getCluster"}, "effect": {"http": {"status": 503}}})
    time_zones = env.client.get("/api/omnistack_clusters/time_zone_list", headers=h)
    assert time_zones.status_code == 200
    assert env.client.get(f"/api/omnistack_clusters/{cluster}", headers=h).status_code == 503


def test_a_rule_matches_the_path_s_object_id_or_an_id_in_the_body(env: Env) -> None:
    h = env.headers()
    on, off = pick_vm(env, "ON")["id"], pick_vm(env, "OFF")["id"]
    _add(env, {"match": {"operation": "getVm"}, "object_id": on, "effect": {"http": {"status": 503}}})
    assert env.client.get(f"/api/virtual_machines/{off}", headers=h).status_code == 200
    assert env.client.get(f"/api/virtual_machines/{on}", headers=h).status_code == 503
    datastore = next(d for d in env.federation.rows["datastores"] if d["id"])["id"]
    _add(env, {"match": {"operation": "moveVm"}, "object_id": datastore, "effect": {"http": {"status": 503}}})
    path = f"/api/virtual_machines/{off}/move"
    moved = {"virtual_machine_name": "moved", "destination_datastore_id": datastore}
    resp = env.client.post(path, headers={**h, **media()}, json=moved)
    assert (resp.status_code, resp.json()) == (503, error_body(path, SPRING, UNAVAILABLE, 503))
    # Another destination: the rule lets the request through, to the real answer for an unknown datastore.
    elsewhere = env.client.post(
        path, headers={**h, **media()}, json={**moved, "destination_datastore_id": "nope"}
    )
    assert elsewhere.status_code == 404, elsewhere.text
    assert _fired(env) == [1, 1]


def test_a_rule_matches_a_glob_on_the_object_s_name(env: Env) -> None:
    h = env.headers()
    vms = [v for v in env.federation.rows["virtual_machines"] if v["state"] == "ALIVE"]
    first = vms[0]
    other = next(v for v in vms if not v["name"].startswith(first["name"]))
    _add(
        env,
        {"match": {"operation": "getVm"}, "name": first["name"] + "*", "effect": {"http": {"status": 503}}},
    )
    assert env.client.get(f"/api/virtual_machines/{other['id']}", headers=h).status_code == 200
    assert env.client.get(f"/api/virtual_machines/{first['id']}", headers=h).status_code == 503
    assert env.client.get("/api/virtual_machines/unknown-vm", headers=h).status_code == 404  # no name
    assert _fired(env) == [1]


def test_count_and_skip_choose_which_matches_fire(env: Env) -> None:
    h, path = env.headers(), f"/api/hosts/{_host(env)}"
    _add(env, {"match": {"operation": "getHost"}, "effect": {"http": {"status": 503}}, "skip": 2, "count": 2})
    statuses = [env.client.get(path, headers=h).status_code for _ in range(6)]
    assert statuses == [200, 200, 503, 503, 200, 200]
    assert _fired(env) == [2]


def test_a_probability_fires_as_its_seed_draws_again_and_again(env: Env) -> None:
    h, path = env.headers(), f"/api/hosts/{_host(env)}"
    rule = {
        "match": {"operation": "getHost"},
        "effect": {"http": {"status": 503}},
        "probability": 0.5,
        "seed": 42,
    }
    expected = [parse_rule(rule, env.runtime.faults.operations, 0).fires(n) for n in range(1, 21)]
    assert 0 < sum(expected) < 20  # a seed that draws both ways
    runs = []
    for _ in range(2):
        fault = _add(env, rule)
        runs.append([env.client.get(path, headers=h).status_code == 503 for _ in range(20)])
        removed = env.client.delete(f"{FAULTS}/{fault['id']}", headers=h)
        assert removed.json() == {"fault": {**fault, "fired": sum(expected)}}
    assert runs == [expected, expected]


def test_a_task_error_fails_the_accepted_task_and_changes_nothing(env: Env) -> None:
    h = env.headers()
    vm = pick_vm(env, "OFF")
    before = env.client.get("/api/virtual_machines", headers=h).json()["count"]
    effect = {"task_error": {"error_code": 130, "message": "The VM power state is not acceptable."}}
    _add(env, {"match": {"operation": "cloneVm"}, "object_id": vm["id"], "effect": effect, "count": 1})
    path = f"/api/virtual_machines/{vm['id']}/clone"
    # Refused before any task exists (an unsupported media type): not one of the rule's matches.
    refused = env.client.post(path, headers={**h, "Content-Type": "text/plain"}, content=b"{}")
    assert refused.status_code == 415
    assert _fired(env) == [0]
    code = failed(env, "POST", path, h, {"virtual_machine_name": "faulted-clone"})
    assert code == (130, "The VM power state is not acceptable.")
    assert env.client.get("/api/virtual_machines", headers=h).json()["count"] == before
    assert _fired(env) == [1]
    completed(env, "POST", path, h, {"virtual_machine_name": "clone-after-fault"})
    assert env.client.get("/api/virtual_machines", headers=h).json()["count"] == before + 1


def test_a_task_error_without_a_message_says_what_the_real_one_says(env: Env) -> None:
    h = env.headers()
    vm = pick_vm(env, "ON")
    fault = _add(
        env, {"match": {"operation": "powerOffVMUsingPOST"}, "effect": {"task_error": {"error_code": 142}}}
    )
    assert fault["effect"] == {
        "task_error": {"error_code": 142, "message": "Invalid or unexpected destination specified."}
    }
    code = failed(env, "POST", f"/api/virtual_machines/{vm['id']}/power_off", h, version="1.11")
    assert code == (142, "Invalid or unexpected destination specified.")
    assert (
        env.client.get(f"/api/virtual_machines/{vm['id']}", headers=h).json()["virtual_machine"][
            "hypervisor_virtual_machine_power_state"
        ]
        == "ON"
    )


def test_a_delay_holds_the_request_then_answers_as_usual(env: Env) -> None:
    h, path = env.headers(), f"/api/hosts/{_host(env)}"
    fault = _add(env, {"match": {"operation": "getHost"}, "effect": {"delay_ms": 30, "jitter_ms": 10}})
    assert fault["effect"] == {"delay_ms": 30, "jitter_ms": 10}
    for _ in range(2):
        resp = env.client.get(path, headers=h)
        assert (resp.status_code, resp.json()["host"]["id"]) == (200, _host(env))
    assert _fired(env) == [2]


def test_delays_add_up_before_the_rule_that_answers(env: Env) -> None:
    h, path = env.headers(), f"/api/hosts/{_host(env)}"
    _add(env, {"match": {"operation": "getHost"}, "effect": {"delay_ms": 1}})
    _add(env, {"match": {"operation": "getHost"}, "effect": {"http": {"status": 503}}})
    _add(env, {"match": {"operation": "getHost"}, "effect": {"delay_ms": 1}})
    assert env.client.get(path, headers=h).status_code == 503
    assert _fired(env) == [1, 1, 0]


def test_a_dropped_connection_gets_no_answer(env: Env) -> None:
    h, path = env.headers(), f"/api/hosts/{_host(env)}"
    _add(env, {"match": {"operation": "getHost"}, "effect": {"drop_connection": True}, "count": 1})
    # In-process there is no socket to close: the client sees the exception (over TCP: tests/contract).
    with pytest.raises(ConnectionDropped):
        env.client.get(path, headers=h)
    assert env.client.get(path, headers=h).status_code == 200
    assert _fired(env) == [1]


def test_rules_are_removed_one_by_one_or_all_at_once(env: Env) -> None:
    h, path = env.headers(), f"/api/hosts/{_host(env)}"
    first = _add(env, {"match": {"operation": "getHost"}, "effect": {"http": {"status": 503}}})
    second = _add(env, {"match": {"operation": "listHosts"}, "effect": {"http": {"status": 503}}})
    assert env.client.get(path, headers=h).status_code == 503
    resp = env.client.delete(f"{FAULTS}/{first['id']}", headers=h)
    assert (resp.status_code, resp.json()) == (200, {"fault": {**first, "fired": 1}})
    assert env.client.get(path, headers=h).status_code == 200
    unknown = f"{FAULTS}/{first['id']}"
    resp = env.client.delete(unknown, headers=h)
    message = f"Object type: fault id: {first['id']} could not be found"
    assert (resp.status_code, resp.json()) == (
        404,
        error_body(unknown, PKG + "ObjectNotFoundException", message, 404),
    )
    assert env.client.get(FAULTS, headers=h).json() == {"faults": [second]}
    assert env.client.delete(FAULTS, headers=h).json() == {"removed": 1}
    assert env.client.get(FAULTS, headers=h).json() == {"faults": []}
    assert env.client.get("/api/hosts", headers=h).status_code == 200


GET_VM = {"operation": "getVm"}
HTTP = {"http": {"status": 503}}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"effect": HTTP}, "match: Field required (an operation, or a method and a path)"),
        ({"match": "getVm", "effect": HTTP}, "match: must be an object such as {\"operation\": \"cloneVm\"}, got 'getVm'"),
        ({"match": {"operation": "cloneVM"}, "effect": HTTP}, "match.operation: unknown operation 'cloneVM'"),
        ({"match": {"operation": "getVm", "method": "GET"}, "effect": HTTP},
         "match: give an operation, or a method and a path, not both"),
        ({"match": {"method": "PATCH", "path": "/api/hosts"}, "effect": HTTP},
         "match.method: must be one of DELETE, GET, POST, PUT, got 'PATCH'"),
        ({"match": {"method": "GET", "path": "/api/nowhere/{id}"}, "effect": HTTP},
         "match.path: no operation GET /api/nowhere/{id}"),
        ({"match": {"method": "DELETE", "path": "/api/hosts/{hostId}"}, "effect": HTTP},
         "match.path: no operation DELETE /api/hosts/{hostId}"),
        ({"match": {"method": "GET", "path": "hosts"}, "effect": HTTP},
         "match.path: must be a path template such as /api/hosts/{hostId}, got 'hosts'"),
        ({"match": {"operation": "getVm", "verb": "x"}, "effect": HTTP},
         "match.verb: unknown field; expected operation, method, path"),
        ({"match": GET_VM}, "effect: Field required (one of http, task_error, delay_ms, drop_connection)"),
        ({"match": GET_VM, "effect": {}}, "effect: one effect per rule (one of http, task_error, delay_ms, drop_connection); got none"),
        ({"match": GET_VM, "effect": {"http": {"status": 503}, "drop_connection": True}},
         "effect: one effect per rule (one of http, task_error, delay_ms, drop_connection); got http, drop_connection"),
        ({"match": GET_VM, "effect": {"http": {"status": 200}}}, "effect.http.status: must be an integer from 400 to 599, got 200"),
        ({"match": GET_VM, "effect": {"http": {"status": "503"}}}, "effect.http.status: must be an integer from 400 to 599, got '503'"),
        ({"match": GET_VM, "effect": {"http": {}}}, "effect.http.status: Field required (an error status from 400 to 599)"),
        ({"match": GET_VM, "effect": {"http": {"status": 503, "body": 1}}},
         "effect.http.body: unknown field; expected status, exception, message, error_code"),
        ({"match": GET_VM, "effect": {"task_error": {"error_code": 130}}}, "effect.task_error: getVm does not start a task"),
        ({"match": {"operation": "cloneVm"}, "effect": {"task_error": {}}},
         "effect.task_error.error_code: Field required (the task's error code, such as 130)"),
        ({"match": {"operation": "cloneVm"}, "effect": {"task_error": {"error_code": 0}}},
         "effect.task_error.error_code: must be an integer from 1 to 2147483647, got 0"),
        ({"match": GET_VM, "effect": {"delay_ms": -1}}, "effect.delay_ms: must be an integer from 0 to 600000, got -1"),
        ({"match": GET_VM, "effect": {"delay_ms": 100, "jitter_ms": 200}}, "effect.jitter_ms: at most delay_ms (100), got 200"),
        ({"match": GET_VM, "effect": {"jitter_ms": 200, "http": {"status": 503}}}, "effect.jitter_ms: only with delay_ms"),
        ({"match": GET_VM, "effect": {"drop_connection": False}}, "effect.drop_connection: must be true, got False"),
        ({"match": GET_VM, "effect": HTTP, "probability": 1.5}, "probability: must be a number from 0 to 1, got 1.5"),
        ({"match": GET_VM, "effect": HTTP, "probability": True}, "probability: must be a number from 0 to 1, got True"),
        ({"match": GET_VM, "effect": HTTP, "count": 0}, "count: must be an integer from 1 to 9223372036854775807, got 0"),
        ({"match": GET_VM, "effect": HTTP, "skip": -1}, "skip: must be an integer from 0 to 9223372036854775807, got -1"),
        ({"match": GET_VM, "effect": HTTP, "seed": 1.5}, "seed: must be an integer from 0 to 9223372036854775807, got 1.5"),
        ({"match": GET_VM, "effect": HTTP, "object_id": ""}, "object_id: must be a non-empty string, got ''"),
        ({"match": GET_VM, "effect": HTTP, "name": 7}, "name: must be a non-empty string, got 7"),
        ({"match": GET_VM, "effect": HTTP, "id": "mine"},
         "id: unknown field; expected match, object_id, name, effect, probability, count, skip, seed"),
        ([GET_VM], "expected a JSON object"),
    ],
)  # fmt: skip
def test_a_malformed_rule_is_refused_naming_the_field_and_nothing_is_added(
    env: Env, body: Any, message: str
) -> None:
    h = env.headers()
    resp = env.client.post(FAULTS, headers=h, json=body)
    expected = error_body(FAULTS, PKG + "InvalidBodyException", f"Invalid body: {message}")
    assert (resp.status_code, resp.json()) == (400, expected)
    assert env.client.get(FAULTS, headers=h).json() == {"faults": []}


def test_only_an_administrator_changes_rules_and_pacing(env: Env) -> None:
    h, reader = env.headers(), env.headers(READER)
    rule = {"match": GET_VM, "effect": HTTP}
    message = "User auditor@vsphere.local has a read-only role and may not perform this operation"
    for method, path, body in (
        ("POST", FAULTS, rule), ("DELETE", FAULTS, None), ("DELETE", f"{FAULTS}/x", None),
        ("PUT", PACING, {"default": "polls:1"}), ("DELETE", PACING, None),
    ):  # fmt: skip
        resp = env.client.request(method, path, headers=reader, json=body)
        assert (resp.status_code, resp.json()) == (
            403,
            error_body(path, PKG + "PermissionDeniedException", message, 403),
        )
    assert env.client.get(FAULTS, headers=reader).json() == {"faults": []}
    assert env.client.get(PACING, headers=h).json() == {
        "default": "immediate",
        "operations": {},
        "set_at_run_time": False,
    }


@pytest.mark.parametrize(
    ("method", "path"), [("GET", FAULTS), ("POST", FAULTS), ("DELETE", f"{FAULTS}/x"), ("GET", PACING)]
)
def test_no_token_and_a_bad_token_get_hpe_s_401(env: Env, method: str, path: str) -> None:
    resp = env.client.request(method, path)
    assert (resp.status_code, resp.json()) == (
        401, {"error": "unauthorized", "error_description": "Full authentication is required to access this resource"}
    )  # fmt: skip
    resp = env.client.request(method, path, headers={"Authorization": "Bearer not-a-token"})
    assert (resp.status_code, resp.json()) == (
        401, {"error": "invalid_token", "error_description": "Invalid access token: not-a-token"}
    )  # fmt: skip


def test_pacing_changes_at_run_time_per_operation_and_back(env: Env) -> None:
    h = env.headers()
    vm = pick_vm(env, "OFF")["id"]
    paced = {"default": "immediate", "operations": {"virtual_machine.clone": "polls:2"}}
    resp = env.client.put(PACING, headers=h, json=paced)
    assert (resp.status_code, resp.json()) == (200, {**paced, "set_at_run_time": True})
    task = submit(
        env, "POST", f"/api/virtual_machines/{vm}/clone", h, {"virtual_machine_name": "paced-clone"}
    )
    assert task["state"] == "IN_PROGRESS"  # one poll of the two it waits for
    polled = env.client.get(f"/api/tasks/{task['id']}", headers=h).json()["task"]
    assert polled["state"] == "COMPLETED"
    resp = env.client.delete(PACING, headers=h)
    assert resp.json() == {"default": "immediate", "operations": {}, "set_at_run_time": False}
    completed(env, "POST", f"/api/virtual_machines/{vm}/clone", h, {"virtual_machine_name": "unpaced-clone"})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "default: Field required (immediate, duration:SECONDS[:JITTER] or polls:N)"),
        ({"default": 5}, "default: must be a string such as duration:20:0.3, got 5"),
        ({"default": "soon"}, "default: bad pacing 'soon': use immediate, duration:SECONDS[:JITTER] or polls:N"),
        ({"default": "duration:5:2"}, "default: bad duration pacing 'duration:5:2': seconds >= 0 and jitter in [0, 1]"),
        ({"default": "immediate", "operations": []}, "operations: must be an object of pacings by operation, got []"),
        ({"default": "immediate", "operations": {"virtual_machine.clone": "later"}},
         "operations.virtual_machine.clone: bad pacing 'later': use immediate, duration:SECONDS[:JITTER] or polls:N"),
        ({"default": "immediate", "speed": 1}, "speed: unknown field; expected default, operations"),
    ],
)  # fmt: skip
def test_bad_pacing_is_refused_and_nothing_changes(env: Env, body: Any, message: str) -> None:
    h = env.headers()
    resp = env.client.put(PACING, headers=h, json=body)
    expected = error_body(PACING, PKG + "InvalidBodyException", f"Invalid body: {message}")
    assert (resp.status_code, resp.json()) == (400, expected)
    assert env.client.get(PACING, headers=h).json() == {
        "default": "immediate",
        "operations": {},
        "set_at_run_time": False,
    }


def test_an_unknown_operation_s_pacing_names_the_known_ones(env: Env) -> None:
    resp = env.client.put(
        PACING, headers=env.headers(), json={"default": "immediate", "operations": {"vm.fly": "polls:1"}}
    )
    known = ", ".join(env.runtime.tasks.operations())
    message = f"Invalid body: operations.vm.fly: unknown operation; expected one of {known}"
    assert (resp.status_code, resp.json()) == (400, error_body(PACING, PKG + "InvalidBodyException", message))


@contextmanager
def _limited_app(faulty: Env, request_timeout: float) -> Iterator[Any]:
    """The module's federation served by an application with the proxy's limits: one request at a time,
    and an answer within `request_timeout` seconds."""
    runtime = faulty.runtime
    original = runtime.settings
    update = {"max_concurrent_requests": 1, "request_timeout": request_timeout}
    runtime.settings = original.model_copy(update=update)
    app = create_app(runtime)
    runtime.settings = original
    from starlette.testclient import TestClient

    try:
        with TestClient(app) as client:
            yield client
    finally:
        faulty.client.delete(FAULTS, headers=faulty.headers())


@pytest.fixture
def limited(faulty: Env) -> Iterator[tuple[Env, Any]]:
    """One request at a time, and an answer within 0.2 s."""
    with _limited_app(faulty, 0.2) as client:
        yield faulty, client


@pytest.fixture
def one_at_a_time(faulty: Env) -> Iterator[tuple[Env, Any]]:
    """One request at a time, with a time limit no loaded machine reaches (the held request must end 200)."""
    with _limited_app(faulty, 60.0) as client:
        yield faulty, client


def test_beyond_the_concurrent_requests_the_proxy_answers_502(one_at_a_time: tuple[Env, Any]) -> None:
    env, client = one_at_a_time
    h, host = env.headers(), _host(env)
    _add(env, {"match": {"operation": "getHost"}, "object_id": host, "effect": {"delay_ms": 150}})
    answers: list[int] = []
    held = threading.Thread(
        target=lambda: answers.append(client.get(f"/api/hosts/{host}", headers=h).status_code)
    )
    held.start()
    wait_until(lambda: client.app.state.in_flight.count == 1, what="the held request to arrive")
    resp = client.get("/api/hosts", headers=h)
    message = "Bad Gateway: too many simultaneous REST requests (at most 1 at once)"
    assert (resp.status_code, resp.json()) == (502, error_body("/api/hosts", SPRING, message, 502))
    held.join()
    assert answers == [200]
    assert client.get("/_openovc/faults", headers=h).status_code == 200  # the control API is not limited


def test_past_the_time_limit_the_proxy_answers_504(limited: tuple[Env, Any]) -> None:
    env, client = limited
    h, path = env.headers(), f"/api/hosts/{_host(env)}"
    _add(env, {"match": {"operation": "getHost"}, "effect": {"delay_ms": 5000}, "count": 1})
    resp = client.get(path, headers=h)
    message = "Gateway Timeout: the request took too long (more than 0.2 s)"
    assert (resp.status_code, resp.json()) == (504, error_body(path, SPRING, message, 504))
    assert client.get(path, headers=h).status_code == 200


def test_the_operations_rules_name_are_the_routes_operation_ids(env: Env) -> None:
    operations: Operations = env.runtime.faults.operations
    spec = env.client.get("/api/openapi.json").json()["paths"]
    served = {(m.upper(), "/api" + p if not p.startswith("/api") else p): o["operationId"]
              for p, item in spec.items() for m, o in item.items()}  # fmt: skip
    mine = {(o.method, o.template): o.operation_id for o in operations.all}
    assert served.items() <= mine.items()  # and the routes kept out of the document (legacy paths)
