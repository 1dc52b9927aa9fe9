"""Every refusal is JSON with the real body: bad parameters, unknown ids and paths, methods, media types."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.inprocess import Env

TS = "2026-11-20T12:00:00Z"
PKG = "com.simplivity.restapi.exceptions."


def _error(exception: str, path: str, message: str, status: int) -> dict[str, Any]:
    return {"exception": exception, "path": path, "message": message, "timestamp": TS, "status": str(status)}


@pytest.mark.parametrize(
    ("path", "singular"),
    [
        ("/api/virtual_machines/{id}", "virtual_machine"),
        ("/api/backups/{id}", "backup"),
        ("/api/datastores/{id}", "datastore"),
        ("/api/hosts/{id}", "host"),
        ("/api/omnistack_clusters/{id}", "omnistack_cluster"),
        ("/api/policies/{id}", "policy"),
        ("/api/tasks/{id}", "task"),
        ("/api/hosts/{id}/hardware", "host"),
        ("/api/virtual_machines/{id}/backups", "virtual_machine"),
        ("/api/datastores/{id}/standard_hosts", "datastore"),
        ("/api/omnistack_clusters/{id}/connected_clusters", "omnistack_cluster"),
        ("/api/policies/{id}/virtual_machines", "policy"),
    ],
)
@pytest.mark.parametrize("object_id", ["4ab3b3c2-0000-4000-8000-000000000000", "badid", "a b"])
def test_unknown_or_malformed_id_is_404(
    env: Env, admin: dict[str, str], path: str, singular: str, object_id: str
) -> None:
    url = path.format(id=object_id)
    resp = env.client.get(url, headers=admin)
    assert resp.status_code == 404
    assert resp.json() == _error(
        PKG + "ObjectNotFoundException",
        url,
        f"Object type: {singular} id: {object_id} could not be found",
        404,
    )


def test_unknown_rule_is_404(env: Env, admin: dict[str, str]) -> None:
    policy = env.federation.rows["policies"][0]["id"]
    url = f"/api/policies/{policy}/rules/nope"
    resp = env.client.get(url, headers=admin)
    assert (resp.status_code, resp.json()) == (
        404, _error(PKG + "ObjectNotFoundException", url, "Object type: rule id: nope could not be found", 404),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("query", "exception", "message"),
    [
        ("limit=5001", "InvalidSortCriteriaException", "Invalid limit: 5001. The limit must be between 1 and 5000"),
        ("limit=-3", "InvalidSortCriteriaException", "Invalid limit: -3. The limit must be between 1 and 5000"),
        ("offset=-1", "InvalidParameterException", "Invalid value '-1' for parameter 'offset': must be at least 0"),
        ("offset=x", "TypeMismatchException", "Invalid value 'x' for parameter 'offset': expected an integer"),
        ("sort=bogus", "InvalidSortCriteriaException",
         "Invalid sort criteria: 'bogus' is not a sortable field of backups"),
        ("size_min=big", "TypeMismatchException", "Invalid value 'big' for parameter 'size_min': expected an integer"),
        ("created_after=soon", "InvalidParameterException",
         "Invalid value 'soon' for parameter 'created_after': expected an ISO-8601 date and time"),
        ("type=WEEKLY", "InvalidParameterException",
         "Invalid value 'WEEKLY' for parameter 'type': expected one of MANUAL, POLICY, UNSPECIFIED"),
        ("fields=id,nope", "InvalidParameterException",
         "Invalid value for parameter 'fields': nope is not a field of backups"),
    ],
)  # fmt: skip
def test_bad_query_parameters(
    env: Env, admin: dict[str, str], query: str, exception: str, message: str
) -> None:
    resp = env.client.get(f"/api/backups?{query}", headers=admin)
    assert resp.status_code == 400
    assert resp.json() == _error(PKG + exception, "/api/backups", message, 400)


def test_unknown_filter_is_ignored(env: Env, admin: dict[str, str]) -> None:
    plain = env.client.get("/api/hosts", headers=admin).json()
    assert env.client.get("/api/hosts?colour=blue&show_optional_field=true", headers=admin).json() == plain


def test_unknown_path_is_json_404(env: Env, admin: dict[str, str]) -> None:
    resp = env.client.get("/api/nothing/here", headers=admin)
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/json"
    assert resp.json() == _error(
        "org.springframework.web.servlet.NoHandlerFoundException", "/api/nothing/here",
        "No handler found for GET /api/nothing/here", 404,
    )  # fmt: skip


def test_wrong_method_is_json_405(env: Env, admin: dict[str, str]) -> None:
    resp = env.client.put("/api/hosts", headers=admin, json={})
    assert resp.status_code == 405
    assert resp.json() == _error(
        "org.springframework.web.HttpRequestMethodNotSupportedException", "/api/hosts",
        "Request method 'PUT' not supported", 405,
    )  # fmt: skip


@pytest.mark.parametrize("ctype", ["application/vnd.simplivity.v1.15+json", "application/json", "text/plain"])
def test_too_old_media_type_on_a_write_is_415(env: Env, admin: dict[str, str], ctype: str) -> None:
    path = "/api/security/rbac/policies/role_assignments"
    resp = env.client.post(
        path, headers={**admin, "Content-Type": ctype}, content=b'{"role":"r","groups":["g"]}'
    )
    assert resp.status_code == 415
    assert resp.json() == _error(
        "org.springframework.web.HttpMediaTypeNotSupportedException",
        path,
        f"Content type '{ctype}' not supported",
        415,
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"null", "Invalid body: body: Input should be a valid dictionary or object to extract fields from"),
        (b"[]", "Invalid body: body: Input should be a valid dictionary or object to extract fields from"),
        (b'{"groups":["g"]}', "Invalid body: role: Field required"),
        (b'{"role":"Administrator","groups":"g"}', "Invalid body: groups: Input should be a valid list"),
        (
            b"{not json",
            "Invalid body: malformed JSON at character 1: Expecting property name enclosed in double quotes",
        ),
    ],
)
def test_malformed_bodies_are_400(env: Env, admin: dict[str, str], body: bytes, message: str) -> None:
    path = "/api/security/rbac/policies/role_assignments"
    headers = {**admin, "Content-Type": "application/vnd.simplivity.v1.16+json"}
    resp = env.client.post(path, headers=headers, content=body)
    assert resp.status_code == 400
    assert resp.json() == _error(PKG + "InvalidBodyException", path, message, 400)


def test_vendor_accept_is_echoed(env: Env, admin: dict[str, str]) -> None:
    resp = env.client.get("/api/hosts", headers={**admin, "Accept": "application/vnd.simplivity.v1.9+json"})
    assert resp.headers["content-type"] == "application/vnd.simplivity.v1.9+json"
    assert env.client.get("/api/hosts", headers=admin).headers["content-type"] == "application/json"


def test_double_and_trailing_slashes_route(env: Env, admin: dict[str, str]) -> None:
    plain = env.client.get("/api/hosts", headers=admin).json()
    assert env.client.get("/api//hosts/", headers=admin).json() == plain


def test_real_response_headers(env: Env, admin: dict[str, str]) -> None:
    resp = env.client.get("/api/version", headers=admin)
    assert resp.headers["access-control-allow-origin"] == "*"
    assert resp.headers["cache-control"] == "no-cache, no-store, max-age=0, must-revalidate"
