"""The lean path (api/lean.py) answers byte for byte as the ordinary FastAPI path does, and hands it every
request it does not answer itself."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openovc.api.lean import LeanPath
from openovc.api.wire import CORK_BYTES, Corked
from openovc.domain.auth import Role
from tests.support.inprocess import BASIC, READER, Env, make_env, pick_vm
from tests.support.tasks import completed, media

VENDOR = "application/vnd.simplivity.v1.14+json"
# Set by the server (Date) or new for each request (X-Request-Id): every other header must be the same.
_VARYING = {"date", "x-request-id"}


class _Counting:
    """The ordinary path behind the lean one, counting the requests the lean path hands it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.count += 1
        await self.app(scope, receive, send)


class _Ordinary:
    """The application without its lean path: what every request met before it."""

    def __init__(self, app: Starlette, stack: ASGIApp) -> None:
        self.app = app
        self.stack = stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self.app  # as Starlette's own entry sets it, for the routes' request.app
        await self.stack(scope, receive, send)


class Pair:
    """One runtime served twice: through the lean path (as served) and around it."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.lean = env.client
        env.client.get("/api/version")  # builds the middleware stack
        app = env.client.app
        assert isinstance(app, Starlette)
        layer: Any = app.middleware_stack
        while not isinstance(layer, LeanPath):
            layer = layer.app
        self.lean_path: LeanPath = layer
        self.handed_on = _Counting(layer.app)
        layer.app = self.handed_on
        self.ordinary = TestClient(_Ordinary(app, self.handed_on.app))
        self.app = app

    def same(self, url: str, headers: dict[str, str], *, answered_here: bool) -> httpx.Response:
        """GET `url` both ways; the answers must be identical but for Date and X-Request-Id."""
        before = self.handed_on.count
        lean: httpx.Response = self.lean.get(url, headers=headers)
        assert self.handed_on.count - before == (0 if answered_here else 1), url
        ordinary = self.ordinary.get(url, headers=headers)
        assert lean.status_code == ordinary.status_code, (url, lean.text, ordinary.text)
        assert _headers(lean) == _headers(ordinary)
        assert lean.content == ordinary.content
        return lean


def _headers(resp: httpx.Response) -> list[tuple[str, str]]:
    return [(k, v) for k, v in resp.headers.multi_items() if k not in _VARYING]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    built = make_env(tmp_path)
    yield Pair(built)
    built.runtime.storage.engine.dispose()


def _first(env: Env, plural: str) -> str:
    return str(env.federation.rows[plural][0]["id"])


OBJECTS = [
    ("hosts", "host"),
    ("virtual_machines", "virtual_machine"),
    ("backups", "backup"),
    ("datastores", "datastore"),
    ("omnistack_clusters", "omnistack_cluster"),
    ("policies", "policy"),
]


@pytest.mark.parametrize(("plural", "singular"), OBJECTS)
def test_an_object_by_id_is_the_same_both_ways(pair: Pair, plural: str, singular: str) -> None:
    admin = pair.env.headers()
    key = _first(pair.env, plural)
    resp = pair.same(f"/api/{plural}/{key}", admin, answered_here=True)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.json()[singular]["id"] == key


@pytest.mark.parametrize(("plural", "singular"), OBJECTS)
def test_the_vendor_media_type_and_a_request_id_are_echoed_the_same(
    pair: Pair, plural: str, singular: str
) -> None:
    headers = {**pair.env.headers(READER), "Accept": VENDOR, "X-Request-Id": "abc-123"}
    resp = pair.same(f"/api/{plural}/{_first(pair.env, plural)}", headers, answered_here=True)
    assert resp.json()[singular]["id"] == _first(pair.env, plural)
    assert resp.headers["content-type"] == VENDOR
    assert resp.headers["x-request-id"] == "abc-123"
    assert resp.headers["x-frame-options"] == "DENY"


def test_a_persistent_volume_is_the_same_both_ways(pair: Pair) -> None:
    admin = pair.env.headers()
    listed = pair.lean.get("/api/persistent_volumes", headers=admin).json()["persistent_volumes"]
    assert listed, "the demo federation has persistent volumes"
    resp = pair.same(f"/api/persistent_volumes/{listed[0]['id']}", admin, answered_here=True)
    assert resp.json()["persistent_volume"]["id"] == listed[0]["id"]


@pytest.mark.parametrize(("plural", "singular"), OBJECTS)
def test_an_unknown_id_is_the_ordinary_path_s_404(pair: Pair, plural: str, singular: str) -> None:
    resp = pair.same(f"/api/{plural}/no-such-id", pair.env.headers(), answered_here=False)
    assert resp.status_code == 404
    assert resp.json()["exception"] == "com.simplivity.restapi.exceptions.ObjectNotFoundException"
    assert singular in resp.json()["message"] and "no-such-id" in resp.json()["message"]


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-token", BASIC, "Bearer ", "bearer x"],
    ids=["unknown", "basic", "empty", "lower-case-unknown"],
)
def test_a_bad_token_is_the_ordinary_path_s_401(pair: Pair, authorization: str) -> None:
    url = f"/api/hosts/{_first(pair.env, 'hosts')}"
    resp = pair.same(url, {"Authorization": authorization}, answered_here=False)
    assert resp.status_code == 401
    assert resp.json()["error"] in ("invalid_token", "unauthorized")


def test_no_token_is_the_ordinary_path_s_401(pair: Pair) -> None:
    resp = pair.same(f"/api/virtual_machines/{_first(pair.env, 'virtual_machines')}", {}, answered_here=False)
    assert resp.status_code == 401
    assert resp.json() == {
        "error": "unauthorized",
        "error_description": "Full authentication is required to access this resource",
    }


def test_nul_characters_are_the_ordinary_path_s_404_and_400(pair: Pair) -> None:
    admin = pair.env.headers()
    key = _first(pair.env, "hosts")
    assert pair.same("/api/hosts/a%00b", admin, answered_here=False).status_code == 404
    resp = pair.same(f"/api/hosts/{key}?x=%00", admin, answered_here=False)
    assert resp.status_code == 400
    assert resp.json()["message"] == "Invalid value for parameter 'x': NUL characters are not allowed"


def test_other_query_parameters_of_an_object_are_ignored_both_ways(pair: Pair) -> None:
    key = _first(pair.env, "hosts")
    resp = pair.same(f"/api/hosts/{key}?fields=name&whatever=1", pair.env.headers(), answered_here=True)
    assert resp.json()["host"]["id"] == key


@pytest.mark.parametrize(
    "target",
    [
        "/api/hosts/{key}/",
        "/api//hosts/{key}",
        "/api/hosts/{key}/hardware",
    ],
    ids=["trailing-slash", "double-slash", "deeper-route"],
)
def test_other_targets_are_the_ordinary_path_s(pair: Pair, target: str) -> None:
    url = target.format(key=_first(pair.env, "hosts"))
    resp = pair.same(url, pair.env.headers(), answered_here=False)
    assert resp.status_code == 200


def test_an_absolute_form_target_is_the_ordinary_path_s(pair: Pair) -> None:
    key = _first(pair.env, "hosts")
    absolute = f"http://example.com/api/hosts/{key}"
    scope = {
        "type": "http", "http_version": "1.1", "method": "GET", "scheme": "http", "path": absolute,
        "raw_path": absolute.encode(), "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80), "headers": [(b"authorization", pair.env.headers()["Authorization"].encode())],
    }  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    before = pair.handed_on.count
    asyncio.run(pair.app(scope, receive, send))
    assert pair.handed_on.count == before + 1
    assert sent[0]["status"] == 200
    assert orjson.loads(sent[1]["body"])["host"]["id"] == key


def test_a_target_too_long_is_the_ordinary_path_s_414(pair: Pair) -> None:
    url = f"/api/hosts/{_first(pair.env, 'hosts')}?x={'a' * 33_000}"
    resp = pair.same(url, pair.env.headers(), answered_here=False)
    assert resp.status_code == 414


def test_a_literal_route_beside_an_id_is_the_ordinary_path_s(pair: Pair) -> None:
    resp = pair.same("/api/omnistack_clusters/time_zone_list", pair.env.headers(), answered_here=False)
    assert resp.status_code == 200


def test_a_declared_body_too_large_is_the_ordinary_path_s_413(pair: Pair) -> None:
    headers = {**pair.env.headers(), "Content-Length": str(10**9)}
    resp = pair.lean.get(f"/api/hosts/{_first(pair.env, 'hosts')}", headers=headers)
    assert resp.status_code == 413
    assert resp.json()["message"].startswith("Request body too large")


def test_a_fault_rule_for_the_operation_is_applied(pair: Pair) -> None:
    admin = pair.env.headers()
    rule = {"match": {"operation": "getHost"}, "effect": {"http": {"status": 503}}, "count": 1}
    assert pair.lean.post("/_openovc/faults", json=rule, headers=admin).status_code == 201
    url = f"/api/hosts/{_first(pair.env, 'hosts')}"
    before = pair.handed_on.count
    assert pair.lean.get(url, headers=admin).status_code == 503
    assert pair.handed_on.count == before + 1
    pair.same(url, admin, answered_here=False)  # the rule is still there (spent): its operation is not lean


def test_a_rule_for_another_operation_leaves_the_lean_path_in_use(pair: Pair) -> None:
    admin = pair.env.headers()
    rule = {"match": {"operation": "getVm"}, "effect": {"http": {"status": 503}}}
    assert pair.lean.post("/_openovc/faults", json=rule, headers=admin).status_code == 201
    pair.same(f"/api/hosts/{_first(pair.env, 'hosts')}", admin, answered_here=True)


def test_a_task_is_the_same_both_ways_once_ended_and_unknown_is_404(pair: Pair) -> None:
    admin = pair.env.headers()
    vm = pick_vm(pair.env, "ON")
    accepted = pair.lean.post(
        f"/api/virtual_machines/{vm['id']}/power_off", headers={**admin, **media("1.11")}
    )
    assert accepted.status_code == 202
    task_id = accepted.json()["task"]["id"]
    first = pair.lean.get(f"/api/tasks/{task_id}", headers=admin)  # runs it (pacing polls:1)
    assert first.json()["task"]["state"] == "COMPLETED"
    resp = pair.same(f"/api/tasks/{task_id}", {**admin, "Accept": VENDOR}, answered_here=True)
    assert resp.json()["task"]["id"] == task_id
    assert pair.same("/api/tasks/no-such-task", admin, answered_here=False).status_code == 404


def test_an_emergency_grant_is_the_ordinary_path_s(pair: Pair) -> None:
    pair.env.runtime.auth.set_user("svtcli", "Emerg-pass1", Role.EMERGENCY)
    resp = pair.lean.post(
        "/api/oauth/token",
        headers={"Authorization": BASIC},
        data={"grant_type": "emergency", "username": "svtcli", "password": "Emerg-pass1"},
    )
    assert resp.status_code == 200, resp.text
    headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    assert pair.same("/api/virtual_machines?name=x", headers, answered_here=False).status_code == 200
    assert (
        pair.same(f"/api/hosts/{_first(pair.env, 'hosts')}", headers, answered_here=False).status_code == 403
    )


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?limit=500",
        "?show_optional_fields=true",
        "?fields=name,id,state",
        "?fields=name&sort=name&order=ascending&offset=2&limit=3",
        "?name=*a*&case=insensitive",
        "?state=ALIVE,DELETED&limit=5",
    ],
)
def test_a_page_of_vms_is_the_same_both_ways(pair: Pair, query: str) -> None:
    resp = pair.same(
        f"/api/virtual_machines{query}", {**pair.env.headers(), "Accept": VENDOR}, answered_here=True
    )
    assert resp.status_code == 200
    assert resp.json()["count"] > 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?limit=0", "limit"),
        ("?offset=-1", "offset"),
        ("?sort=nothing", "sort"),
        ("?fields=nothing", "nothing"),
        ("?order=sideways", "order"),
    ],
)
def test_bad_page_parameters_are_the_ordinary_path_s_400(pair: Pair, query: str, message: str) -> None:
    resp = pair.same(f"/api/virtual_machines{query}", pair.env.headers(), answered_here=False)
    assert resp.status_code == 400
    assert message in resp.json()["message"]


class _Transport:
    """What the corked transport hands on: each write, and whether it was closed."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def test_what_one_turn_of_the_loop_writes_goes_out_at_once() -> None:
    async def scenario() -> list[bytes]:
        raw = _Transport()
        corked = Corked(cast(asyncio.Transport, raw), asyncio.get_running_loop())
        corked.write(b"HTTP/1.1 200 OK\r\n\r\n")
        corked.write(b"{}")
        assert raw.writes == []
        await asyncio.sleep(0)
        corked.write(b"next")
        await asyncio.sleep(0)
        assert corked.is_closing() is False  # the transport's own
        return raw.writes

    assert asyncio.run(scenario()) == [b"HTTP/1.1 200 OK\r\n\r\n{}", b"next"]


def test_closing_or_a_large_answer_writes_at_once() -> None:
    async def scenario() -> _Transport:
        raw = _Transport()
        corked = Corked(cast(asyncio.Transport, raw), asyncio.get_running_loop())
        big = b"x" * CORK_BYTES
        corked.write(b"head")
        corked.write(big)
        assert raw.writes == [b"head" + big]
        corked.write(b"last")
        corked.close()
        assert raw.writes == [b"head" + big, b"last"]
        assert raw.closed
        await asyncio.sleep(0)  # the turn's flush finds nothing left
        return raw

    assert len(asyncio.run(scenario()).writes) == 2


def test_a_commit_is_answered_at_once_by_the_lean_path(pair: Pair) -> None:
    """An object's answer is remembered only until the store changes: the next GET after a commit (here
    one made outside the server, as another process would) reads it again."""
    admin = pair.env.headers()
    host = pair.env.federation.rows["hosts"][0]
    url = f"/api/hosts/{host['id']}"
    assert pair.same(url, admin, answered_here=True).json()["host"]["name"] == host["name"]
    assert pair.same(url, admin, answered_here=True).json()["host"]["name"] == host["name"]
    with pair.env.runtime.storage.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE hosts SET name = 'renamed-elsewhere' WHERE id = ?", (host["id"],))
    assert pair.same(url, admin, answered_here=True).json()["host"]["name"] == "renamed-elsewhere"


def test_a_page_is_answered_anew_after_a_commit(pair: Pair) -> None:
    headers = {**pair.env.headers(), "Accept": VENDOR}
    url = "/api/virtual_machines?show_optional_fields=true&limit=3"
    first = pair.same(url, headers, answered_here=True).json()["virtual_machines"][0]
    assert pair.same(url, headers, answered_here=True).json()["virtual_machines"][0] == first
    with pair.env.runtime.storage.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE virtual_machines SET hypervisor_free_space = 12345 WHERE id = ?", (first["id"],)
        )
    again = pair.same(url, headers, answered_here=True).json()["virtual_machines"][0]
    assert again == {**first, "hypervisor_free_space": 12345}


def test_a_failing_read_is_the_ordinary_path_s_500(pair: Pair, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = pair.env.headers()
    url = f"/api/hosts/{_first(pair.env, 'hosts')}"
    pair.same(url, admin, answered_here=True)  # the token judged from memory from now on

    def broken(*_args: object) -> None:
        raise RuntimeError("the store is gone")

    monkeypatch.setattr(pair.env.runtime.reader, "get", broken)  # the ordinary path's read
    monkeypatch.setattr(pair.lean_path.reads, "view", broken)  # the lean path's own
    resp = pair.same(url, admin, answered_here=False)
    assert resp.status_code == 500
    assert resp.json()["exception"] == "com.simplivity.restapi.exceptions.InternalServerException"


def test_a_page_shows_a_renamed_policy_and_a_vm_changed_elsewhere_both_ways(pair: Pair) -> None:
    """The page's kept objects (storage/lean_reads, the VMs' change feed) are the ordinary path's after
    a policy's rename through the API and a VM changed outside the server, as another process would."""
    headers = {**pair.env.headers(), "Accept": VENDOR}
    url = "/api/virtual_machines?show_optional_fields=true&limit=500"
    first = pair.same(url, headers, answered_here=True).json()["virtual_machines"]
    vm = first[0]
    completed(
        pair.env, "POST", f"/api/policies/{vm['policy_id']}/rename", pair.env.headers(), {"name": "Renamed"}
    )
    renamed = pair.same(url, headers, answered_here=True).json()["virtual_machines"]
    assert [v["policy_name"] for v in renamed if v["policy_id"] == vm["policy_id"]] == [
        "Renamed" for v in first if v["policy_id"] == vm["policy_id"]
    ]
    with pair.env.runtime.storage.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE virtual_machines SET hypervisor_cpu_count = 97 WHERE id = ?", (vm["id"],)
        )
    again = pair.same(url, headers, answered_here=True).json()["virtual_machines"]
    assert again[0] == {**renamed[0], "hypervisor_cpu_count": 97}
    assert again[1:] == renamed[1:]
