"""GET /_openovc/tasks: every server's tasks, newest first, each as a poll of it shows it with the operation
it performs; its filters, its limits, the users it answers, and every bad parameter refused in HPE's shape,
on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from openovc.app import build_runtime, create_app
from tests.api.test_openapi import conforms, resolve
from tests.support.databases import fresh_postgres_database
from tests.support.errors import PKG, error_body
from tests.support.inprocess import ADMIN, READER, Env, make_env, pick_vm
from tests.support.tasks import media

TASKS = "/_openovc/tasks"
FAULTS = "/_openovc/faults"
PACING = "/_openovc/pacing"
FAILURE = {"error_code": 130, "message": "The VM power state is not acceptable."}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """A demo federation on a manual clock whose tasks run as they are submitted, on each database."""
    data = tmp_path_factory.mktemp("task-listing")
    if request.param == "sqlite":
        built = make_env(data, clock_mode="manual", task_pacing="immediate")
        yield built
        built.runtime.storage.engine.dispose()
        return
    with fresh_postgres_database() as url:
        built = make_env(data, database_url=url, clock_mode="manual", task_pacing="immediate")
        yield built
        built.runtime.storage.engine.dispose()


@pytest.fixture
def env(shared: Env) -> Iterator[Env]:
    """The module's federation an hour on (so `since` finds only this test's tasks); when the test ends, no
    fault rule, the start-up pacing, and no task left running to hold its objects."""
    moved = shared.client.post("/_openovc/clock/advance", headers=_h(shared), json={"seconds": 3600})
    assert moved.status_code == 200, moved.text
    yield shared
    h = _h(shared)
    assert shared.client.delete(FAULTS, headers=h).status_code == 200
    assert shared.client.delete(PACING, headers=h).status_code == 200
    for _ in range(5):  # a task paced by polls runs after as many polls
        for task in _listed(shared, {"state": "IN_PROGRESS", "limit": "500"})["tasks"]:
            _poll(shared, task["id"])
    assert _listed(shared, {"state": "IN_PROGRESS"}) == {"tasks": []}


_TOKENS: dict[tuple[int, str], dict[str, str]] = {}


def _h(env: Env, user: tuple[str, str] = ADMIN) -> dict[str, str]:
    """A user's headers, logged in once per federation: a login checks a password hash, which is slow."""
    key = (id(env), user[0])
    if key not in _TOKENS:
        _TOKENS[key] = env.headers(user)
    return _TOKENS[key]


def _now(env: Env) -> str:
    now: str = env.client.get("/_openovc/clock", headers=_h(env)).json()["now"]
    return now


def _submit(env: Env, vm_id: str, action: str, body: Any = None) -> str:
    """Send a VM action, expect 202, and return its task's id (without polling it)."""
    resp = env.client.post(
        f"/api/virtual_machines/{vm_id}/{action}",
        headers={**_h(env), **media("1.14")},
        json=body,
    )
    assert resp.status_code == 202, resp.text
    task_id: str = resp.json()["task"]["id"]
    return task_id


def _poll(env: Env, task_id: str) -> dict[str, Any]:
    resp = env.client.get(f"/api/tasks/{task_id}", headers=_h(env))
    assert resp.status_code == 200, resp.text
    task: dict[str, Any] = resp.json()["task"]
    return task


def _listed(env: Env, params: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Any:
    resp = env.client.get(TASKS, headers=headers or _h(env), params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _three_tasks(env: Env) -> tuple[str, str, str]:
    """One task of each state, submitted in this order: completed, failed, in progress."""
    h = _h(env)
    on, off = pick_vm(env, "ON")["id"], pick_vm(env, "OFF")["id"]
    rule = {"match": {"operation": "powerOnVMUsingPOST"}, "effect": {"task_error": FAILURE}, "count": 1}
    assert env.client.post(FAULTS, headers=h, json=rule).status_code == 201
    paced = {"default": "immediate", "operations": {"virtual_machine.clone": "polls:3"}}
    assert env.client.put(PACING, headers=h, json=paced).status_code == 200
    completed = _submit(env, on, "power_off")
    failed = _submit(env, off, "power_on")
    running = _submit(env, off, "clone", {"virtual_machine_name": f"listed-{uuid.uuid4().hex[:8]}"})
    # Powered off, the first VM is back on for the next test.
    assert _poll(env, _submit(env, on, "power_on"))["state"] == "COMPLETED"
    return completed, failed, running


def _without_operation(task: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in task.items() if k != "operation"}


def test_the_newest_come_first_each_as_a_poll_of_it_shows_it(env: Env) -> None:
    since = _now(env)
    completed, failed, running = _three_tasks(env)
    listed = _listed(env, {"since": since})["tasks"]
    assert [t["id"] for t in listed[1:]] == [running, failed, completed]
    # A poll is HPE's task exactly: the listing adds the operation, and nothing else.
    polls = [_poll(env, running), _poll(env, failed), _poll(env, completed)]
    assert [_without_operation(t) for t in listed[1:]] == polls
    assert all("operation" not in poll for poll in polls)
    assert [t["operation"] for t in listed] == [
        "virtual_machine.power_on", "virtual_machine.clone", "virtual_machine.power_on", "virtual_machine.power_off",
    ]  # fmt: skip
    vm = pick_vm(env, "ON")["id"]
    assert listed[2] == {
        "id": failed, "state": "FAILED", "affected_objects": [], "error_code": 130, "start_time": since,
        "end_time": since, "percent_complete": 0, "message": FAILURE["message"],
        "error_message": FAILURE["message"], "operation": "virtual_machine.power_on",
    }  # fmt: skip
    assert listed[3] == {
        "id": completed, "state": "COMPLETED", "affected_objects": [{"object_id": vm, "object_type": "virtual_machine"}],
        "error_code": 0, "start_time": since, "end_time": since, "percent_complete": 100,
        "operation": "virtual_machine.power_off",
    }  # fmt: skip
    assert listed[1] == {
        "id": running, "state": "IN_PROGRESS", "affected_objects": [], "error_code": 0, "start_time": since,
        "end_time": "1970-01-01T00:00:00Z", "percent_complete": 0, "operation": "virtual_machine.clone",
    }  # fmt: skip
    # Any valid user reads them, the read-only one too.
    assert _listed(env, {"since": since}, _h(env, READER)) == {"tasks": listed}


def test_the_listing_answers_as_the_control_document_says_and_hpe_s_task_is_unchanged(env: Env) -> None:
    since = _now(env)
    completed, _, _ = _three_tasks(env)
    document = env.client.get("/_openovc/openapi.json").json()
    resp = env.client.get(TASKS, headers=_h(env), params={"since": since})
    assert len(conforms(document, "/tasks", "get", resp)["tasks"]) == 4
    listing = resolve(
        document,
        document["paths"]["/tasks"]["get"]["responses"]["200"]["content"]["application/json"]["schema"],
    )
    item = listing["properties"]["tasks"]["items"]
    assert (listing["title"], item["title"]) == ("task_listing", "listed_task")
    assert "operation" in item["required"] and item["properties"]["operation"]["type"] == "string"
    # HPE's document and its polls know no operation.
    hpe = env.client.get("/api/openapi.json").json()
    poll = hpe["paths"]["/api/tasks/{taskId}"]["get"]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    assert "operation" not in resolve(hpe, poll)["properties"]["task"]["properties"]
    assert "operation" not in _poll(env, completed)


def test_state_operation_limit_and_since_choose_which(env: Env) -> None:
    earlier = _now(env)
    first = _submit(
        env, pick_vm(env, "OFF")["id"], "clone", {"virtual_machine_name": f"x-{uuid.uuid4().hex[:8]}"}
    )
    env.client.post("/_openovc/clock/advance", headers=_h(env), json={"seconds": 60})
    since = _now(env)
    completed, failed, running = _three_tasks(env)
    _, turned_on = [t["id"] for t in _listed(env, {"since": since, "limit": "2"})["tasks"]]
    assert turned_on == running  # the newest two: the VM powered on again, then the clone

    def ids(**params: str) -> list[str]:
        return [t["id"] for t in _listed(env, {"since": since, **params})["tasks"]]

    assert ids(state="IN_PROGRESS") == [running]
    assert ids(state="failed,IN_PROGRESS") == [running, failed]
    assert ids(state="COMPLETED", operation="virtual_machine.power_off") == [completed]
    assert ids(operation="virtual_machine.power_on", state="FAILED") == [failed]
    assert ids(operation="virtual_machine.move") == []
    clones = _listed(env, {"since": earlier, "operation": "virtual_machine.clone"})["tasks"]
    assert [(t["id"], t["operation"]) for t in clones] == [
        (running, "virtual_machine.clone"), (first, "virtual_machine.clone")
    ]  # fmt: skip
    assert ids(limit="1", state="COMPLETED") == [_listed(env, {"limit": "1"})["tasks"][0]["id"]]
    everything = ids()
    assert everything[1:] == [running, failed, completed] and first not in everything
    assert [t["id"] for t in _listed(env, {"since": earlier})["tasks"]] == [*everything, first]
    assert _listed(env, {"since": "2999-01-01T00:00:00Z"}) == {"tasks": []}
    # An offset is the same instant; empty values mean the defaults; unknown parameters are ignored.
    assert ids(since=since.replace("Z", "+00:00")) == everything
    assert [
        t["id"] for t in _listed(env, {"since": since, "state": "", "limit": " ", "x": "1"})["tasks"]
    ] == (everything)


def test_fifty_by_default_and_five_hundred_at_most(env: Env) -> None:
    since = _now(env)
    vm = pick_vm(env, "OFF")["id"]
    rule = {"match": {"operation": "powerOnVMUsingPOST"}, "effect": {"task_error": FAILURE}}
    assert env.client.post(FAULTS, headers=_h(env), json=rule).status_code == 201
    submitted = [_submit(env, vm, "power_on") for _ in range(51)]
    newest = [t["id"] for t in _listed(env, {"since": since})["tasks"]]
    assert newest == submitted[::-1][:50]
    assert [t["id"] for t in _listed(env, {"since": since, "limit": "500"})["tasks"]] == submitted[::-1]


def test_a_listing_neither_counts_as_a_poll_nor_runs_a_due_task(env: Env) -> None:
    since = _now(env)
    h = _h(env)
    paced = {"default": "immediate", "operations": {"virtual_machine.clone": "polls:1"}}
    assert env.client.put(PACING, headers=h, json=paced).status_code == 200
    task = _submit(
        env, pick_vm(env, "OFF")["id"], "clone", {"virtual_machine_name": f"unpolled-{uuid.uuid4().hex[:8]}"}
    )
    for _ in range(3):
        assert [t["state"] for t in _listed(env, {"since": since})["tasks"]] == ["IN_PROGRESS"]
    assert _poll(env, task)["state"] == "COMPLETED"  # its one poll
    assert [t["state"] for t in _listed(env, {"since": since})["tasks"]] == ["COMPLETED"]


def test_another_server_on_the_store_lists_the_same_tasks(env: Env) -> None:
    since = _now(env)
    _three_tasks(env)
    settings = env.runtime.settings.model_copy(update={"clock": None})
    other = build_runtime(settings, env.clock)  # the test's real time, by which its tokens live
    try:
        client = TestClient(create_app(other))
        resp = client.get(TASKS, headers=_h(env), params={"since": since})
        assert (resp.status_code, resp.json()) == (200, _listed(env, {"since": since}))
    finally:
        other.storage.engine.dispose()


def _operations(env: Env) -> str:
    return ", ".join(env.runtime.tasks.operations())


@pytest.mark.parametrize(
    ("params", "exception", "message"),
    [
        ({"state": "RUNNING"}, "InvalidParameterException",
         "Invalid value 'RUNNING' for parameter 'state': expected a comma list of IN_PROGRESS, COMPLETED, FAILED"),
        ({"state": "COMPLETED,,FAILED"}, "InvalidParameterException",
         "Invalid value 'COMPLETED,,FAILED' for parameter 'state': expected a comma list of IN_PROGRESS, COMPLETED, FAILED"),
        ({"state": "QUEUED"}, "InvalidParameterException",
         "Invalid value 'QUEUED' for parameter 'state': expected a comma list of IN_PROGRESS, COMPLETED, FAILED"),
        ({"limit": "0"}, "InvalidParameterException", "Invalid value '0' for parameter 'limit': must be at least 1"),
        ({"limit": "501"}, "InvalidParameterException",
         "Invalid value '501' for parameter 'limit': must be at most 500"),
        ({"limit": "ten"}, "TypeMismatchException", "Invalid value 'ten' for parameter 'limit': expected an integer"),
        ({"limit": "99999999999999999999"}, "InvalidParameterException",
         "Invalid value '99999999999999999999' for parameter 'limit': must be at most 500"),
        ({"since": "yesterday"}, "InvalidParameterException",
         "Invalid value 'yesterday' for parameter 'since': expected an ISO-8601 date and time"),
        ({"since": "2026-13-01T00:00:00Z"}, "InvalidParameterException",
         "Invalid value '2026-13-01T00:00:00Z' for parameter 'since': expected an ISO-8601 date and time"),
        ({"operation": "virtual_machine.fly"}, "InvalidParameterException",
         "Invalid value 'virtual_machine.fly' for parameter 'operation': expected one of {operations}"),
        ({"operation": "cloneVm"}, "InvalidParameterException",
         "Invalid value 'cloneVm' for parameter 'operation': expected one of {operations}"),
    ],
)  # fmt: skip
def test_a_bad_parameter_is_refused_naming_it(
    env: Env, params: dict[str, str], exception: str, message: str
) -> None:
    resp = env.client.get(TASKS, headers=_h(env, READER), params=params)
    expected = error_body(TASKS, PKG + exception, message.format(operations=_operations(env)))
    assert (resp.status_code, resp.json()) == (400, {**expected, "timestamp": _now(env)})


def test_the_first_bad_parameter_is_named(env: Env) -> None:
    resp = env.client.get(TASKS, headers=_h(env), params={"state": "DONE", "limit": "0"})
    message = (
        "Invalid value 'DONE' for parameter 'state': expected a comma list of IN_PROGRESS, COMPLETED, FAILED"
    )
    expected = {**error_body(TASKS, PKG + "InvalidParameterException", message), "timestamp": _now(env)}
    assert (resp.status_code, resp.json()) == (400, expected)


def test_no_token_and_a_bad_token_get_hpe_s_401(env: Env) -> None:
    resp = env.client.get(TASKS)
    assert (resp.status_code, resp.json()) == (
        401, {"error": "unauthorized", "error_description": "Full authentication is required to access this resource"}
    )  # fmt: skip
    resp = env.client.get(TASKS, headers={"Authorization": "Bearer not-a-token"})
    assert (resp.status_code, resp.json()) == (
        401, {"error": "invalid_token", "error_description": "Invalid access token: not-a-token"}
    )  # fmt: skip


def test_it_is_read_only(env: Env) -> None:
    resp = env.client.post(TASKS, headers=_h(env), json={})
    expected = error_body(
        TASKS, "org.springframework.web.HttpRequestMethodNotSupportedException",
        "Request method 'POST' not supported", 405,
    )  # fmt: skip
    assert (resp.status_code, resp.json()) == (405, {**expected, "timestamp": _now(env)})
    assert resp.headers["allow"] == "GET"
