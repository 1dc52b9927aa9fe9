"""The lean path answers the task POSTs of VMs (api/lean_tasks.py) byte for byte as the ordinary path does,
and hands it, with the body replayed, every one it does not answer itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.routing import Route

from openovc.api.bodies import CloneVM, MoveVM
from openovc.api.deps import media_type
from openovc.api.lean_tasks import TaskPosts
from openovc.api.observe import AccessLog, Observe
from openovc.domain.auth import Role
from tests.api.test_lean_path import VENDOR, Pair
from tests.support.inprocess import BASIC, READER, Env, make_env, pick_vm
from tests.support.tasks import media

CONTENT = media("1.14")
_VARYING = {"date", "x-request-id"}


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    built = make_env(tmp_path)
    yield Pair(built)
    built.runtime.storage.engine.dispose()


def _operations(env: Env) -> dict[str, tuple[str, dict[str, Any]]]:
    """A request each operation accepts, on a powered-off VM (a move needs one)."""
    rows = env.federation.rows
    vm = pick_vm(env, "OFF")
    target = next(d for d in rows["datastores"] if d["id"] != vm["datastore_id"])
    policy = next(p for p in rows["policies"] if p["id"] != vm["policy_id"])
    base = f"/api/virtual_machines/{vm['id']}"
    return {
        "backupVm": (f"{base}/backup", {"backup_name": "lean-backup", "retention": 60}),
        "cloneVm": (f"{base}/clone", {"virtual_machine_name": "lean-clone", "app_consistent": True}),
        "moveVm": (
            f"{base}/move",
            {"destination_datastore_id": target["id"], "virtual_machine_name": "moved"},
        ),
        "setPolicyForVm": (f"{base}/set_policy", {"policy_id": policy["id"]}),
        "setPolicyForVms": (
            "/api/virtual_machines/set_policy",
            {"virtual_machine_id": [vm["id"]], "policy_id": policy["id"]},
        ),
    }


def _headers(resp: httpx.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in resp.headers.multi_items() if k not in _VARYING]


def _task_id(resp: httpx.Response) -> str | None:
    if resp.status_code != 202:
        return None
    found: str = resp.json()["task"]["id"]
    return found


def _same(
    pair: Pair, url: str, headers: dict[str, str], content: bytes, *, answered_here: bool
) -> httpx.Response:
    """POST both ways: identical answers but for Date, X-Request-Id and the new task's id."""
    before = pair.handed_on.count
    lean: httpx.Response = pair.lean.post(url, headers=headers, content=content)
    assert pair.handed_on.count - before == (0 if answered_here else 1), (url, lean.text)
    ordinary = pair.ordinary.post(url, headers=headers, content=content)
    assert lean.status_code == ordinary.status_code, (url, lean.text, ordinary.text)
    assert _headers(lean) == _headers(ordinary)
    lean_id, ordinary_id = _task_id(lean), _task_id(ordinary)
    if lean_id is not None and ordinary_id is not None:
        assert lean_id != ordinary_id
        assert lean.content.replace(lean_id.encode(), b"ID") == ordinary.content.replace(
            ordinary_id.encode(), b"ID"
        )
    else:
        assert lean.content == ordinary.content
    return lean


def _poll(pair: Pair, task_id: str) -> dict[str, Any]:
    resp = pair.lean.get(f"/api/tasks/{task_id}", headers=pair.env.headers())
    assert resp.status_code == 200
    task: dict[str, Any] = resp.json()["task"]
    return task


OPERATIONS = ["backupVm", "cloneVm", "moveVm", "setPolicyForVm", "setPolicyForVms"]


def test_the_five_routes_are_found_by_operation_id(pair: Pair) -> None:
    posts = pair.lean_path.tasks.posts
    assert {p.operation_id: p.template for p in posts} == {
        "backupVm": "/api/virtual_machines/{vmId}/backup",
        "setPolicyForVms": "/api/virtual_machines/set_policy",
        "setPolicyForVm": "/api/virtual_machines/{vmId}/set_policy",
        "cloneVm": "/api/virtual_machines/{vmId}/clone",
        "moveVm": "/api/virtual_machines/{vmId}/move",
    }
    assert all(p.media.minimum == 0 for p in posts)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize(
    "extra",
    [{}, {"Accept": VENDOR}, {"Accept": VENDOR, "X-Request-Id": "req-42"}],
    ids=["plain", "vendor", "request-id"],
)
def test_a_task_post_is_answered_here_the_same(pair: Pair, operation: str, extra: dict[str, str]) -> None:
    url, body = _operations(pair.env)[operation]
    headers = {**pair.env.headers(), **CONTENT, **extra}
    resp = _same(pair, url, headers, orjson.dumps(body), answered_here=True)
    assert resp.status_code == 202
    assert resp.headers["content-type"] == extra.get("Accept", "application/json")
    assert resp.headers["x-frame-options"] == "DENY"
    if "X-Request-Id" in extra:
        assert resp.headers["x-request-id"] == "req-42"
    task = resp.json()["task"]
    assert (task["state"], task["affected_objects"], task["percent_complete"]) == ("IN_PROGRESS", [], 0)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_no_content_type_is_the_ordinary_path_s_400(pair: Pair, operation: str) -> None:
    # FastAPI's strict content type: without one, the body is not read as JSON.
    url, body = _operations(pair.env)[operation]
    resp = _same(pair, url, pair.env.headers(), orjson.dumps(body), answered_here=False)
    assert resp.status_code == 400
    assert resp.json()["exception"] == "com.simplivity.restapi.exceptions.InvalidBodyException"


def test_the_metrics_and_the_access_line_are_the_same(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    url, body = _operations(pair.env)["cloneVm"]
    headers = {**pair.env.headers(), **CONTENT, "X-Request-Id": "req-7"}
    observed: list[tuple[str, str, int]] = []
    lines: list[str] = []
    metrics = pair.lean_path.metrics

    def observe(route: str, method: str, status: int, _seconds: float) -> None:
        observed.append((route, method, status))

    monkeypatch.setattr(metrics, "observe", observe)
    layer: Any = pair.handed_on.app
    while not isinstance(layer, Observe):
        layer = layer.app
    assert layer.metrics is metrics
    access = AccessLog("json", write=lines.append)
    monkeypatch.setattr(layer, "access", access)
    monkeypatch.setattr(pair.lean_path, "access", access)
    _same(pair, url, headers, orjson.dumps(body), answered_here=True)
    assert observed == [("/api/virtual_machines/{vmId}/clone", "POST", 202)] * 2
    lean, ordinary = (orjson.loads(line) for line in lines)
    for line in (lean, ordinary):
        del line["time"], line["duration_ms"]
    assert lean == ordinary
    assert lean["user"] == "administrator@vsphere.local"
    assert (lean["path"], lean["request_id"], lean["status"]) == (url, "req-7", 202)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"policy_id": ', "malformed JSON at character 14"),
        (b"{}", "policy_id"),
        (b'{"policy_id": 5}', "policy_id"),
        (b'{"policy_id": ""}', "policy_id"),
        (b"", "a JSON request body is required"),
        (b'["policy_id"]', "body"),
        (b'{"policy_id": "a\\u0000b"}', "NUL characters are not allowed"),
        (b'{"policy_id": "\xff"}', "not UTF-8"),
    ],
    ids=["malformed", "missing", "wrong-type", "empty-id", "empty-body", "array", "nul-escape", "not-utf8"],
)
def test_a_bad_body_is_the_ordinary_path_s_400(pair: Pair, content: bytes, message: str) -> None:
    url, _ = _operations(pair.env)["setPolicyForVm"]
    resp = _same(pair, url, {**pair.env.headers(), **CONTENT}, content, answered_here=False)
    assert resp.status_code == 400
    assert resp.json()["exception"] == "com.simplivity.restapi.exceptions.InvalidBodyException"
    assert message in resp.json()["message"]


def test_a_nul_escape_in_a_key_the_model_ignores_is_the_ordinary_path_s_400(pair: Pair) -> None:
    url, body = _operations(pair.env)["setPolicyForVm"]
    content = orjson.dumps(body)[:-1] + b', "note": "\\u0000"}'
    assert b'"note": "\\u0000"' in content
    resp = _same(pair, url, {**pair.env.headers(), **CONTENT}, content, answered_here=False)
    assert resp.status_code == 400
    assert resp.json()["message"] == "Invalid body: note: NUL characters are not allowed"


def test_a_bad_clone_body_is_the_ordinary_path_s_400(pair: Pair) -> None:
    url, _ = _operations(pair.env)["cloneVm"]
    for body in ({"virtual_machine_name": 3}, {"virtual_machine_name": "x", "consistency_type": "ODD"}):
        resp = _same(pair, url, {**pair.env.headers(), **CONTENT}, orjson.dumps(body), answered_here=False)
        assert resp.status_code == 400


@pytest.mark.parametrize("operation", ["backupVm", "cloneVm", "moveVm", "setPolicyForVm"])
def test_an_unknown_vm_is_the_ordinary_path_s_404(pair: Pair, operation: str) -> None:
    url, body = _operations(pair.env)[operation]
    url = url.replace(pick_vm(pair.env, "OFF")["id"], "no-such-vm")
    resp = _same(pair, url, {**pair.env.headers(), **CONTENT}, orjson.dumps(body), answered_here=False)
    assert resp.status_code == 404
    assert resp.json()["exception"] == "com.simplivity.restapi.exceptions.ObjectNotFoundException"
    assert "no-such-vm" in resp.json()["message"]


def test_the_services_quick_checks_are_the_ordinary_path_s(pair: Pair) -> None:
    """What the services refuse before submitting a task: unknown objects, no VMs, a bad or taken name."""
    ops = _operations(pair.env)
    headers = {**pair.env.headers(), **CONTENT}
    url, body = ops["setPolicyForVms"]
    cases = [
        (url, {**body, "virtual_machine_id": []}, 400),
        (url, {**body, "policy_id": "no-such-policy"}, 404),
        (ops["moveVm"][0], {"destination_datastore_id": "no-such-datastore"}, 404),
        (ops["cloneVm"][0], {"virtual_machine_name": "a/b"}, 400),
        (ops["cloneVm"][0], {"virtual_machine_name": pick_vm(pair.env, "ON")["name"]}, 400),
        (ops["backupVm"][0], {"backup_name": "b", "destination_id": "no-such-cluster"}, 404),
        (ops["backupVm"][0], {"backup_name": "b", "external_store_name": "no-such-store"}, 404),
        (ops["backupVm"][0], {"backup_name": "a/b"}, 400),
        (ops["backupVm"][0], {"backup_name": "b", "retention": True}, 400),
    ]
    for target, sent, status in cases:
        resp = _same(pair, target, headers, orjson.dumps(sent), answered_here=False)
        assert resp.status_code == status, (sent, resp.text)


def test_a_read_only_user_is_the_ordinary_path_s_403(pair: Pair) -> None:
    url, body = _operations(pair.env)["cloneVm"]
    resp = _same(pair, url, {**pair.env.headers(READER), **CONTENT}, orjson.dumps(body), answered_here=False)
    assert resp.status_code == 403
    assert "read-only" in resp.json()["message"]


@pytest.mark.parametrize(
    "authorization", [None, "Bearer not-a-token", BASIC], ids=["none", "unknown", "basic"]
)
def test_no_or_a_bad_token_is_the_ordinary_path_s_401(pair: Pair, authorization: str | None) -> None:
    url, body = _operations(pair.env)["moveVm"]
    headers = {**CONTENT, **({} if authorization is None else {"Authorization": authorization})}
    resp = _same(pair, url, headers, orjson.dumps(body), answered_here=False)
    assert resp.status_code == 401
    assert resp.json()["error"] in ("invalid_token", "unauthorized")


def test_an_emergency_grant_is_the_ordinary_path_s(pair: Pair) -> None:
    pair.env.runtime.auth.set_user("svtcli", "Emerg-pass1", Role.EMERGENCY)
    resp = pair.lean.post(
        "/api/oauth/token",
        headers={"Authorization": BASIC},
        data={"grant_type": "emergency", "username": "svtcli", "password": "Emerg-pass1"},
    )
    assert resp.status_code == 200, resp.text
    headers = {"Authorization": f"Bearer {resp.json()['access_token']}", **CONTENT}
    url, body = _operations(pair.env)["setPolicyForVm"]
    assert _same(pair, url, headers, orjson.dumps(body), answered_here=False).status_code == 403


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 415),
        ("application/vnd.simplivity.v2+json", 415),
        ("text/plain", 415),
        ("application/vnd.simplivity.v1.14+json; charset=utf-16", 415),
        ("application/vnd.simplivity.v1.14+json; charset=utf-8", 202),
    ],
)
def test_other_content_types_are_the_ordinary_path_s(pair: Pair, content_type: str, status: int) -> None:
    url, body = _operations(pair.env)["setPolicyForVm"]
    headers = {**pair.env.headers(), "Content-Type": content_type}
    resp = _same(pair, url, headers, orjson.dumps(body), answered_here=False)
    assert resp.status_code == status
    if status == 415:
        assert resp.json()["message"] == f"Content type '{content_type}' not supported"


def test_a_declared_body_too_large_is_the_ordinary_path_s_413(pair: Pair) -> None:
    url, body = _operations(pair.env)["setPolicyForVm"]
    headers = {**pair.env.headers(), **CONTENT, "Content-Length": str(16 * 1024 * 1024 + 1)}
    before = pair.handed_on.count
    resp = pair.lean.post(url, headers=headers, content=orjson.dumps(body))
    assert pair.handed_on.count == before + 1
    assert resp.status_code == 413
    assert resp.json()["message"] == "Request body too large: at most 16777216 bytes are accepted"


def test_a_chunked_body_is_read_by_the_ordinary_path(pair: Pair) -> None:
    url, body = _operations(pair.env)["setPolicyForVm"]
    headers = {**pair.env.headers(), **CONTENT}
    before = pair.handed_on.count
    resp = pair.lean.post(url, headers=headers, content=iter([orjson.dumps(body)]))
    assert pair.handed_on.count == before + 1
    assert resp.status_code == 202, resp.text


def test_a_body_shorter_than_declared_is_replayed_to_the_ordinary_path(pair: Pair) -> None:
    url, body = _operations(pair.env)["setPolicyForVm"]
    content = orjson.dumps(body)
    headers = {**pair.env.headers(), **CONTENT, "Content-Length": str(len(content) + 5)}
    before = pair.handed_on.count
    resp = pair.lean.post(url, headers=headers, content=content)
    assert pair.handed_on.count == before + 1
    assert resp.status_code == 202, resp.text  # the ordinary path reads what came


@pytest.mark.parametrize(
    "target",
    [
        "/api/virtual_machines/{vm}/clone/",
        "/api//virtual_machines/{vm}/clone",
        "/api/virtual_machines/set_policy/",
    ],
    ids=["trailing-slash", "double-slash", "many-trailing-slash"],
)
def test_other_targets_are_the_ordinary_path_s(pair: Pair, target: str) -> None:
    vm = pick_vm(pair.env, "OFF")
    ops = _operations(pair.env)
    body = ops["setPolicyForVms" if "set_policy" in target else "cloneVm"][1]
    url = target.format(vm=vm["id"])
    resp = _same(pair, url, {**pair.env.headers(), **CONTENT}, orjson.dumps(body), answered_here=False)
    assert resp.status_code == 202


def test_a_nul_in_the_vm_id_is_the_ordinary_path_s_404(pair: Pair) -> None:
    _, body = _operations(pair.env)["cloneVm"]
    url = "/api/virtual_machines/a%00b/clone"
    resp = _same(pair, url, {**pair.env.headers(), **CONTENT}, orjson.dumps(body), answered_here=False)
    assert resp.status_code == 404


def test_a_fault_rule_for_the_operation_is_applied(pair: Pair) -> None:
    admin = pair.env.headers()
    rule = {"match": {"operation": "cloneVm"}, "effect": {"http": {"status": 503}}, "count": 1}
    assert pair.lean.post("/_openovc/faults", json=rule, headers=admin).status_code == 201
    url, body = _operations(pair.env)["cloneVm"]
    headers = {**admin, **CONTENT}
    before = pair.handed_on.count
    assert pair.lean.post(url, headers=headers, content=orjson.dumps(body)).status_code == 503
    assert pair.handed_on.count == before + 1
    # The rule is still there (spent): its operation is not lean; another operation still is.
    assert _same(pair, url, headers, orjson.dumps(body), answered_here=False).status_code == 202
    url, body = _operations(pair.env)["setPolicyForVm"]
    _same(pair, url, headers, orjson.dumps(body), answered_here=True)


def test_a_task_error_rule_fails_the_task_through_the_ordinary_path(pair: Pair) -> None:
    admin = pair.env.headers()
    rule = {"match": {"operation": "setPolicyForVm"}, "effect": {"task_error": {"error_code": 142}}}
    assert pair.lean.post("/_openovc/faults", json=rule, headers=admin).status_code == 201
    url, body = _operations(pair.env)["setPolicyForVm"]
    resp = _same(pair, url, {**admin, **CONTENT}, orjson.dumps(body), answered_here=False)
    task = _poll(pair, resp.json()["task"]["id"])
    assert (task["state"], task["error_code"]) == ("FAILED", 142)


def test_a_crash_of_the_service_is_the_ordinary_path_s_500(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, body = _operations(pair.env)["setPolicyForVm"]
    headers = {**pair.env.headers(), **CONTENT}
    _same(pair, url, headers, orjson.dumps(body), answered_here=True)  # the token judged in memory

    def broken(*_args: object) -> None:
        raise RuntimeError("the store is gone")

    monkeypatch.setattr(pair.env.runtime.reader, "get", broken)
    resp = _same(pair, url, headers, orjson.dumps(body), answered_here=False)
    assert resp.status_code == 500
    assert resp.json()["exception"] == "com.simplivity.restapi.exceptions.InternalServerException"


def test_an_earlier_route_that_takes_the_path_wins(pair: Pair) -> None:
    """As the ordinary router: a POST route before ours that matches the path takes the request."""

    def endpoint() -> None:  # never called: only the routes' order is looked at
        raise AssertionError

    routes = list(pair.app.router.routes)
    earlier = Route("/api/virtual_machines/{anything}/clone", endpoint, methods=["POST"])
    reading = Route("/api/virtual_machines/{anything}/move", endpoint, methods=["GET"])
    posts = TaskPosts([earlier, reading, *routes])
    vm = pick_vm(pair.env, "OFF")["id"]
    assert posts.find(f"/api/virtual_machines/{vm}/clone") is None
    found = posts.find(f"/api/virtual_machines/{vm}/move")
    assert found is not None and found[0].operation_id == "moveVm" and found[1] == {"vmId": vm}
    assert TaskPosts(routes).find(f"/api/virtual_machines/{vm}/clone") is not None


def _clone_route(model: type[BaseModel], *, media: bool = True) -> APIRoute:
    def endpoint(vmId: str, body: BaseModel) -> None:  # noqa: ARG001 (never called)
        raise AssertionError

    endpoint.__annotations__ = {"vmId": str, "body": model, "return": None}  # the model under test

    dependencies = [media_type(0)] if media else []
    return APIRoute(
        "/api/virtual_machines/{vmId}/clone", endpoint, methods=["POST"], operation_id="cloneVm",
        dependencies=dependencies,
    )  # fmt: skip


def test_a_route_unlike_the_one_known_here_is_not_answered_here() -> None:
    assert [p.operation_id for p in TaskPosts([_clone_route(CloneVM)]).posts] == ["cloneVm"]
    assert TaskPosts([_clone_route(MoveVM)]).posts == []  # another body model
    assert TaskPosts([_clone_route(CloneVM, media=False)]).posts == []  # no media-type rule


def _done_here(pair: Pair, operation: str) -> tuple[str, dict[str, Any]]:
    """The operation's request answered here (202, nothing handed on), its task COMPLETED: the one object
    it affected, and the body sent."""
    url, body = _operations(pair.env)[operation]
    headers = {**pair.env.headers(), **CONTENT}  # first: a first login is the ordinary path's
    before = pair.handed_on.count
    resp = pair.lean.post(url, headers=headers, content=orjson.dumps(body))
    assert resp.status_code == 202 and pair.handed_on.count == before
    task = _poll(pair, resp.json()["task"]["id"])
    assert task["state"] == "COMPLETED", task
    (affected,) = task["affected_objects"]
    return str(affected["object_id"]), body


def test_a_lean_clone_creates_the_vm(pair: Pair) -> None:
    created, _ = _done_here(pair, "cloneVm")
    vm = pair.lean.get(f"/api/virtual_machines/{created}", headers=pair.env.headers())
    assert vm.json()["virtual_machine"]["name"] == "lean-clone"


def test_a_lean_backup_takes_the_backup(pair: Pair) -> None:
    taken, _ = _done_here(pair, "backupVm")
    got = pair.lean.get(f"/api/backups/{taken}", headers=pair.env.headers()).json()["backup"]
    vm = pick_vm(pair.env, "OFF")
    assert (got["name"], got["virtual_machine_id"], got["type"]) == ("lean-backup", vm["id"], "MANUAL")


def test_a_lean_set_policy_changes_the_policy_of_one_and_many(pair: Pair) -> None:
    ops = _operations(pair.env)
    admin = pair.env.headers()
    source = pick_vm(pair.env, "OFF")
    second = pick_vm(pair.env, "ON")
    for operation, sent in [
        ("setPolicyForVm", ops["setPolicyForVm"][1]),
        (
            "setPolicyForVms",
            {"virtual_machine_id": [source["id"], second["id"]], "policy_id": source["policy_id"]},
        ),
    ]:
        before = pair.handed_on.count
        resp = pair.lean.post(ops[operation][0], headers={**admin, **CONTENT}, content=orjson.dumps(sent))
        assert resp.status_code == 202 and pair.handed_on.count == before
        assert _poll(pair, resp.json()["task"]["id"])["state"] == "COMPLETED"
        for vm_id in sent.get("virtual_machine_id", [source["id"]]):
            got = pair.lean.get(f"/api/virtual_machines/{vm_id}", headers=admin).json()["virtual_machine"]
            assert got["policy_id"] == sent["policy_id"]
    assert ops["setPolicyForVm"][1]["policy_id"] != source["policy_id"]  # both changes were changes


def test_a_lean_move_moves_the_vm(pair: Pair) -> None:
    moved, body = _done_here(pair, "moveVm")
    admin = pair.env.headers()
    new = pair.lean.get(f"/api/virtual_machines/{moved}", headers=admin).json()["virtual_machine"]
    assert (new["name"], new["datastore_id"]) == ("moved", body["destination_datastore_id"])
    old = pick_vm(pair.env, "OFF")["id"]
    assert (
        pair.lean.get(f"/api/virtual_machines/{old}", headers=admin).json()["virtual_machine"]["state"]
        == "DELETED"
    )
