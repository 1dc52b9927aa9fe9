"""Hostile input gets the real error body, never a 500: integers, NUL characters, bodies, URLs, methods."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from openovc.api.guard import PATH_OBJECTS
from openovc.app import create_app
from openovc.domain.catalog import ALL
from openovc.domain.fields import Op
from openovc.domain.query import MAX_INT64, MIN_INT64
from tests.support.databases import fresh_postgres_database
from tests.support.inprocess import Env, make_env

TS = "2026-11-20T12:00:00Z"
PKG = "com.simplivity.restapi.exceptions."
VENDOR = "application/vnd.simplivity.v1.8+json"
INTEGER_FILTERS = [(c.plural, f.param) for c in ALL for f in c.filters if f.op in (Op.MIN, Op.MAX)]


def _error(exception: str, path: str, message: str, status: int) -> dict[str, Any]:
    return {"exception": exception, "path": path, "message": message, "timestamp": TS, "status": str(status)}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """The demo federation on each database: what reaches SQL must be what both can take."""
    data = tmp_path_factory.mktemp("hardening")
    if request.param == "sqlite":
        built = make_env(data)
        yield built
        built.runtime.storage.engine.dispose()
        return
    with fresh_postgres_database() as url:
        built = make_env(data, database_url=url)
        yield built
        built.runtime.storage.engine.dispose()


# ---- 1. integers beyond 64 bits ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "param", "raw", "bound"),
    [
        ("/api/virtual_machines", "offset", "99999999999999999999", f"must be at most {MAX_INT64}"),
        ("/api/datastores", "min_size", "9223372036854775808", f"must be at most {MAX_INT64}"),
        ("/api/backups", "sent_min", "-28257947813905367865472581632", f"must be at least {MIN_INT64}"),
        *[(f"/api/{plural}", param, str(MAX_INT64 + 1), f"must be at most {MAX_INT64}")
          for plural, param in INTEGER_FILTERS],
        *[(f"/api/{plural}", param, str(MIN_INT64 - 1), f"must be at least {MIN_INT64}")
          for plural, param in INTEGER_FILTERS],
    ],
)  # fmt: skip
def test_integers_beyond_64_bits_are_400(any_env: Env, path: str, param: str, raw: str, bound: str) -> None:
    resp = any_env.client.get(f"{path}?{param}={raw}", headers=any_env.headers())
    assert (resp.status_code, resp.json()) == (
        400,
        _error(
            PKG + "InvalidParameterException",
            path,
            f"Invalid value '{raw}' for parameter '{param}': {bound}",
            400,
        ),
    )


@pytest.mark.parametrize(("plural", "param"), INTEGER_FILTERS)
def test_integer_filters_take_the_whole_64_bit_range(any_env: Env, plural: str, param: str) -> None:
    h = any_env.headers()
    for value in (MIN_INT64, MAX_INT64):
        resp = any_env.client.get(f"/api/{plural}?{param}={value}", headers=h)
        assert resp.status_code == 200, resp.text
    assert any_env.client.get(f"/api/{plural}?offset={MAX_INT64}", headers=h).json()[plural] == []


def test_limit_beyond_64_bits_keeps_its_own_message(env: Env, admin: dict[str, str]) -> None:
    resp = env.client.get("/api/hosts?limit=99999999999999999999", headers=admin)
    assert (resp.status_code, resp.json()) == (400, _error(
        PKG + "InvalidSortCriteriaException", "/api/hosts",
        "Invalid limit: 99999999999999999999. The limit must be between 1 and 5000", 400,
    ))  # fmt: skip


# ---- 2. NUL characters -------------------------------------------------------------------------------


@pytest.mark.parametrize("query", ["name=%00", "name=a%00b", "id=x,%00", "sort=name%00", "a%00b=1"])
def test_nul_in_a_query_parameter_is_400(any_env: Env, query: str) -> None:
    resp = any_env.client.get(f"/api/virtual_machines?{query}", headers=any_env.headers())
    name = query.split("=", 1)[0].replace("%00", "\x00")
    assert (resp.status_code, resp.json()) == (400, _error(
        PKG + "InvalidParameterException", "/api/virtual_machines",
        f"Invalid value for parameter '{name}': NUL characters are not allowed", 400,
    ))  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "singular"),
    [
        ("GET", "/api/virtual_machines/%00", "virtual_machine"),
        ("GET", "/api/virtual_machines/a%00/backups", "virtual_machine"),
        ("POST", "/api/virtual_machines/%00/power_on", "virtual_machine"),
        ("GET", "/api/backups/%00", "backup"),
        ("DELETE", "/api/backups/%00", "backup"),
        ("GET", "/api/tasks/%00", "task"),
        ("GET", "/api/hosts/%00/metrics", "host"),
        ("GET", "/api/security/certificates/%00", "certificate"),
    ],
)
def test_nul_in_an_id_is_an_unknown_object(any_env: Env, method: str, path: str, singular: str) -> None:
    resp = any_env.client.request(method, path, headers={**any_env.headers(), "Content-Type": VENDOR})
    key = next(part for part in path.split("/") if "%00" in part).replace("%00", "\x00")
    assert (resp.status_code, resp.json()) == (404, _error(
        PKG + "ObjectNotFoundException", path.replace("%00", "\x00"),
        f"Object type: {singular} id: {key} could not be found", 404,
    ))  # fmt: skip


def test_every_path_parameter_names_its_object(env: Env) -> None:
    params = {p for r in env.client.app.router.routes if isinstance(r, APIRoute) for p in r.param_convertors}  # type: ignore[attr-defined]
    assert params <= set(PATH_OBJECTS)


def test_nul_in_a_body_string_is_400(any_env: Env) -> None:
    vm = any_env.federation.rows["virtual_machines"][0]["id"]
    path = f"/api/virtual_machines/{vm}/clone"
    headers = {**any_env.headers(), "Content-Type": VENDOR}
    resp = any_env.client.post(path, headers=headers, content=b'{"virtual_machine_name": "a\\u0000b"}')
    assert (resp.status_code, resp.json()) == (400, _error(
        PKG + "InvalidBodyException", path, "Invalid body: virtual_machine_name: NUL characters are not allowed", 400,
    ))  # fmt: skip
    # An escaped backslash before u0000 is the text \u0000, no NUL: the name check refuses its backslash.
    resp = any_env.client.post(path, headers=headers, content=b'{"virtual_machine_name": "a\\\\u0000b"}')
    assert resp.json()["message"].startswith("Invalid body: The virtual machine name contains characters")


def test_nul_in_a_login_is_refused_as_a_bad_request(any_env: Env) -> None:
    resp = any_env.client.post(
        "/api/oauth/token",
        headers={"Authorization": "Basic c2ltcGxpdml0eTo="},
        data={"grant_type": "password", "username": "admin\x00", "password": "x"},
    )
    assert (resp.status_code, resp.json()) == (400, {
        "error": "invalid_request", "error_description": "Invalid value for parameter 'username': NUL characters are not allowed",
    })  # fmt: skip


# ---- 3. unhandled errors -------------------------------------------------------------------------------


def test_an_unhandled_error_is_hpe_500_with_the_usual_headers(
    env: Env, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the disk caught fire")

    monkeypatch.setattr(env.runtime.reader, "page", broken)
    # The test client raises what escapes the application: the server would close the connection on it.
    resp = env.client.get("/api/hosts", headers=admin)
    assert (resp.status_code, resp.json()) == (
        500, _error(PKG + "InternalServerException", "/api/hosts", "An internal error occurred.", 500)
    )  # fmt: skip
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["cache-control"] == "no-cache, no-store, max-age=0, must-revalidate"
    monkeypatch.undo()
    assert env.client.get("/api/hosts", headers=admin).status_code == 200


# ---- 4. bodies: after authentication, bounded, UTF-8 ------------------------------------------------


def test_a_body_is_not_read_before_authentication(env: Env, reader: dict[str, str]) -> None:
    vm = env.federation.rows["virtual_machines"][0]["id"]
    path = f"/api/virtual_machines/{vm}/clone"
    resp = env.client.post(path, headers={"Content-Type": VENDOR}, content=b"{not json")
    assert (resp.status_code, resp.json()) == (401, {
        "error": "unauthorized", "error_description": "Full authentication is required to access this resource",
    })  # fmt: skip
    resp = env.client.post(
        path, headers={"Authorization": "Bearer nope", "Content-Type": VENDOR}, content=b"{"
    )
    assert (resp.status_code, resp.json()["error"]) == (401, "invalid_token")
    resp = env.client.post(path, headers={**reader, "Content-Type": VENDOR}, content=b"{not json")
    assert resp.status_code == 403
    assert resp.json()["exception"] == PKG + "PermissionDeniedException"


@pytest.fixture
def small_limit(env: Env) -> TestClient:
    """The application with a 2 KiB body limit (the default is 16 MiB)."""
    settings = env.runtime.settings.model_copy(update={"max_body_bytes": 2048})
    return TestClient(create_app(dataclasses.replace(env.runtime, settings=settings)))


def _too_large(path: str) -> tuple[int, dict[str, Any]]:
    return 413, _error(
        "org.springframework.web.server.PayloadTooLargeException", path,
        "Request body too large: at most 2048 bytes are accepted", 413,
    )  # fmt: skip


def test_a_declared_body_beyond_the_limit_is_413(small_limit: TestClient) -> None:
    path = "/api/virtual_machines/nope/clone"
    resp = small_limit.post(path, headers={"Content-Type": VENDOR}, content=b" " * 2049)
    assert (resp.status_code, resp.json()) == _too_large(path)


def test_a_streamed_body_is_counted_as_it_is_read(admin: dict[str, str], small_limit: TestClient) -> None:
    path = "/api/virtual_machines/nope/clone"

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"virtual_machine_name": "x"'
        yield b" " * 4096
        yield b"}"

    resp = small_limit.post(path, headers={**admin, "Content-Type": VENDOR}, content=chunks())
    assert (resp.status_code, resp.json()) == _too_large(path)
    body = b'{"virtual_machine_name": "x"' + b" " * 1900 + b"}"
    resp = small_limit.post(path, headers={**admin, "Content-Type": VENDOR}, content=body)
    assert resp.status_code == 404  # within the limit: the request goes on


def test_the_control_api_counts_its_bodies_too(small_limit: TestClient, admin: dict[str, str]) -> None:
    resp = small_limit.post(
        "/_openovc/clock/advance", headers=admin, content=b'{"seconds": 1' + b" " * 4096 + b"}"
    )
    assert (resp.status_code, resp.json()) == _too_large("/_openovc/clock/advance")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_json_that_is_not_utf8_is_400(env: Env, admin: dict[str, str], encoding: str) -> None:
    vm = env.federation.rows["virtual_machines"][0]["id"]
    path = f"/api/virtual_machines/{vm}/clone"
    body = json.dumps({"virtual_machine_name": "copy"}).encode(encoding)
    resp = env.client.post(path, headers={**admin, "Content-Type": VENDOR}, content=body)
    message = (
        "Invalid body: not UTF-8 at byte 0" if encoding == "utf-16"
        else "Invalid body: NUL byte at byte 1; JSON bodies are UTF-8" if encoding == "utf-16-le"
        else "Invalid body: not UTF-8 at byte 0"
    )  # fmt: skip
    assert (resp.status_code, resp.json()) == (400, _error(PKG + "InvalidBodyException", path, message, 400))


def test_a_charset_other_than_utf8_is_415(env: Env, admin: dict[str, str]) -> None:
    path = "/api/virtual_machines/nope/clone"
    ctype = f"{VENDOR}; charset=utf-16"
    resp = env.client.post(path, headers={**admin, "Content-Type": ctype}, content=b"{}")
    assert (resp.status_code, resp.json()) == (415, _error(
        "org.springframework.web.HttpMediaTypeNotSupportedException", path, f"Content type '{ctype}' not supported", 415,
    ))  # fmt: skip
    resp = env.client.post(path, headers={**admin, "Content-Type": f"{VENDOR}; charset=UTF-8"}, content=b"{}")
    assert resp.status_code == 400  # UTF-8 said aloud is fine: on to the body's own check


# ---- 10. smaller ones ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/hosts", "GET"),
        ("PUT", "/api/backups/some-id", "DELETE, GET"),
        ("GET", "/api/backups/some-id/rename", "POST"),
        ("PATCH", "/api/oauth/revoke", "DELETE, GET, POST"),
        ("DELETE", "/_openovc/clock", "GET"),
    ],
)
def test_405_says_which_methods_are_allowed(
    env: Env, admin: dict[str, str], method: str, path: str, allow: str
) -> None:
    resp = env.client.request(method, path, headers=admin)
    assert (resp.status_code, resp.headers["allow"]) == (405, allow)
    assert resp.json() == _error(
        "org.springframework.web.HttpRequestMethodNotSupportedException", path,
        f"Request method '{method}' not supported", 405,
    )  # fmt: skip


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_revoking_a_token_that_does_not_work_is_401(own_env: Env, method: str) -> None:
    resp = own_env.client.request(method, "/api/oauth/revoke", headers={"Authorization": "Bearer garbage"})
    assert (resp.status_code, resp.json()) == (
        401, {"error": "invalid_token", "error_description": "Invalid access token: garbage"}
    )  # fmt: skip
    token = own_env.login()
    bearer = {"Authorization": f"Bearer {token}"}
    assert own_env.client.request(method, "/api/oauth/revoke", headers=bearer).status_code == 200
    again = own_env.client.request(method, "/api/oauth/revoke", headers=bearer)
    assert (again.status_code, again.json()) == (
        401, {"error": "invalid_token", "error_description": f"Invalid access token: {token}"}
    )  # fmt: skip


def test_a_very_long_url_is_414_json(env: Env, admin: dict[str, str]) -> None:
    resp = env.client.get("/api/virtual_machines?name=" + "x" * 40_000, headers=admin)
    assert (resp.status_code, resp.json()) == (414, _error(
        "org.springframework.web.server.ResponseStatusException", "/api/virtual_machines",
        "Request URI too long: at most 32768 bytes are accepted", 414,
    ))  # fmt: skip
    ids = ",".join(str(i).zfill(36) for i in range(500))  # 500 ids: well within
    assert env.client.get(f"/api/virtual_machines?id={ids}", headers=admin).status_code == 200


@pytest.mark.parametrize("name", ["a/b", "5%", "a\\b"])
def test_backup_rename_refuses_what_the_other_renames_refuse(own_env: Env, name: str) -> None:
    h = {**own_env.headers(), "Content-Type": VENDOR}
    backup = own_env.federation.rows["backups"][0]["id"]
    policy = own_env.federation.rows["policies"][0]["id"]
    shown = repr(name[1])
    for path, body, kind in [
        (f"/api/backups/{backup}/rename", {"backup_name": name}, "backup"),
        (f"/api/policies/{policy}/rename", {"name": name}, "policy"),
    ]:
        resp = own_env.client.post(path, headers=h, content=json.dumps(body))
        assert (resp.status_code, resp.json()) == (400, _error(
            PKG + "InvalidBodyException", path,
            f"Invalid body: The {kind} name contains characters that are not allowed: {shown}.", 400,
        ))  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("9" * 30, f"Invalid value '{'9' * 30}' for parameter 'time_offset': must be at most {MAX_INT64}"),
        ("9" * 5000, f"Invalid value '{'9' * 5000}' for parameter 'time_offset': expected an integer"),
    ],
)
def test_a_huge_time_offset_is_400(env: Env, admin: dict[str, str], raw: str, message: str) -> None:
    host = env.federation.rows["hosts"][0]["id"]
    path = f"/api/hosts/{host}/metrics"
    resp = env.client.get(f"{path}?time_offset={raw}", headers=admin)
    exception = "InvalidParameterException" if len(raw) < 100 else "TypeMismatchException"
    assert (resp.status_code, resp.json()) == (400, _error(PKG + exception, path, message, 400))


def test_a_port_beyond_64_bits_is_400(env: Env, admin: dict[str, str]) -> None:
    cluster = env.federation.rows["omnistack_clusters"][0]["id"]
    body = {"name": "so", "management_ip": "10.0.0.9", "omnistack_cluster_id": cluster, "username": "u",
            "password": "p", "management_port": 2**70}  # fmt: skip
    headers = {**admin, "Content-Type": "application/vnd.simplivity.v1.15+json"}
    resp = env.client.post("/api/external_stores", headers=headers, content=json.dumps(body))
    assert (resp.status_code, resp.json()) == (400, _error(
        PKG + "InvalidBodyException", "/api/external_stores",
        f"Invalid body: management_port: {2**70} is not a TCP port (1 to 65535)", 400,
    ))  # fmt: skip


# ---- 11. found by the fuzz tier (tests/fuzz) ------------------------------------------------------------


@pytest.fixture
def manual_clock(tmp_path: Path) -> Iterator[Env]:
    built = make_env(tmp_path, clock_mode="manual", task_pacing="immediate")
    yield built
    built.runtime.storage.engine.dispose()


@pytest.mark.parametrize("to", ["9999-12-31T23:59:59Z", "2036-11-27T12:00:01Z"])
def test_setting_the_clock_beyond_ten_years_is_400(manual_clock: Env, to: str) -> None:
    """A move to year 9999 was a 500: its schedule slots passed the last date a datetime holds."""
    h = manual_clock.headers()
    resp = manual_clock.client.post("/_openovc/clock/set", headers=h, json={"to": to})
    assert (resp.status_code, resp.json()) == (400, _error(
        PKG + "InvalidBodyException", "/_openovc/clock/set",
        f"Invalid body: to: at most 316224000 seconds (ten years) after {TS} at a time, got {to}", 400,
    ))  # fmt: skip
    clock = manual_clock.client.get("/_openovc/clock", headers=h)
    assert (clock.status_code, clock.json()) == (200, {"mode": "manual", "now": TS})
