"""OAuth password grant, token lifetimes, revocation, roles and login throttling over HTTP."""

from __future__ import annotations

import base64
from datetime import timedelta

from openovc.domain.auth import Role
from tests.support.inprocess import ADMIN, BASIC, READER, Env


def _token_request(
    env: Env, username: str, password: str, auth: str = BASIC
) -> tuple[int, dict[str, object]]:
    resp = env.client.post(
        "/api/oauth/token",
        headers={"Authorization": auth},
        data={"grant_type": "password", "username": username, "password": password},
    )
    return resp.status_code, resp.json()


def test_token_response_fields(own_env: Env) -> None:
    status, body = _token_request(own_env, *ADMIN)
    assert status == 200
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "updated_at"}
    assert body["token_type"] == "bearer" and body["scope"] == "read write"
    assert body["expires_in"] == 86399
    assert body["updated_at"] == int(own_env.clock.now().timestamp() * 1000)


def test_bad_password_is_json_without_a_token(own_env: Env) -> None:
    assert _token_request(own_env, ADMIN[0], "wrong") == (
        400, {"error": "invalid_grant", "error_description": "Invalid credentials"},
    )  # fmt: skip
    assert _token_request(own_env, "nobody@vsphere.local", "x") == (
        400, {"error": "invalid_grant", "error_description": "Invalid credentials"},
    )  # fmt: skip


def test_wrong_client_credentials(own_env: Env) -> None:
    bad = "Basic " + base64.b64encode(b"other:secret").decode()
    status, body = _token_request(own_env, *ADMIN, auth=bad)
    assert status == 401
    assert body == {
        "exception": "BadCredentialsException",
        "path": "/api/oauth/token",
        "message": "Bad Credentials",
        "timestamp": "2026-11-20T12:00:00Z",
        "status": "401",
    }


def test_unsupported_grant_and_missing_fields(own_env: Env) -> None:
    resp = own_env.client.post(
        "/api/oauth/token", headers={"Authorization": BASIC}, data={"grant_type": "client_credentials"}
    )
    assert (resp.status_code, resp.json()) == (
        400, {"error": "unsupported_grant_type", "error_description": "Unsupported grant type: client_credentials"},
    )  # fmt: skip
    resp = own_env.client.post(
        "/api/oauth/token", headers={"Authorization": BASIC}, data={"grant_type": "password"}
    )
    assert (resp.status_code, resp.json()) == (
        400, {"error": "invalid_request", "error_description": "Missing username or password"},
    )  # fmt: skip


def test_grant_type_in_query_and_multipart_body(own_env: Env) -> None:
    resp = own_env.client.post(
        "/api/oauth/token?grant_type=password",
        headers={"Authorization": BASIC},
        files={"username": (None, ADMIN[0]), "password": (None, ADMIN[1])},
    )
    assert resp.status_code == 200 and "access_token" in resp.json()


def test_repeated_failures_lock_the_account(own_env: Env) -> None:
    for _ in range(5):
        assert _token_request(own_env, ADMIN[0], "wrong")[0] == 400
    status, body = _token_request(own_env, *ADMIN)
    assert status == 400
    assert body == {
        "error": "invalid_grant",
        "error_description": "User account is locked after too many failed logins; try again in 300 seconds",
    }
    own_env.clock.advance(timedelta(seconds=301))
    assert _token_request(own_env, *ADMIN)[0] == 200


def _hosts(env: Env, token: str) -> tuple[int, dict[str, object]]:
    resp = env.client.get("/api/hosts", headers={"Authorization": f"Bearer {token}"})
    return resp.status_code, resp.json()


def test_idle_expiry_after_ten_minutes(own_env: Env) -> None:
    token = own_env.login()
    own_env.clock.advance(timedelta(seconds=599))
    assert _hosts(own_env, token)[0] == 200  # use slides the window
    own_env.clock.advance(timedelta(seconds=599))
    assert _hosts(own_env, token)[0] == 200
    own_env.clock.advance(timedelta(seconds=600))
    assert _hosts(own_env, token) == (
        401, {"error": "invalid_token", "error_description": f"Access token expired due to inactivity: {token}"},
    )  # fmt: skip


def test_absolute_expiry_after_a_day_of_use(own_env: Env) -> None:
    token = own_env.login()
    for _ in range(24 * 7):
        own_env.clock.advance(timedelta(minutes=9, seconds=59))
        if _hosts(own_env, token)[0] != 200:
            break
    assert _hosts(own_env, token) == (
        401, {"error": "invalid_token", "error_description": f"Access token expired: {token}"},
    )  # fmt: skip


def test_unknown_and_missing_tokens(env: Env) -> None:
    resp = env.client.get("/api/hosts", headers={"Authorization": "Bearer not-a-token"})
    assert (resp.status_code, resp.json()) == (
        401, {"error": "invalid_token", "error_description": "Invalid access token: not-a-token"},
    )  # fmt: skip
    assert resp.headers["www-authenticate"].startswith('Bearer realm="oauth", error="invalid_token"')
    resp = env.client.get("/api/hosts")
    assert (resp.status_code, resp.json()) == (
        401, {"error": "unauthorized", "error_description": "Full authentication is required to access this resource"},
    )  # fmt: skip


def test_revoke(own_env: Env) -> None:
    token = own_env.login()
    resp = own_env.client.get("/api/oauth/revoke", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.content == b""
    assert _hosts(own_env, token) == (
        401, {"error": "invalid_token", "error_description": f"Invalid access token: {token}"},
    )  # fmt: skip


def test_version_needs_no_token(env: Env) -> None:
    resp = env.client.get("/api/version")
    assert resp.status_code == 200
    assert resp.json() == {"REST_API_Version": "1.25", "SVTFS_Version": "5.3.1.1100"}


def test_read_only_user_reads_but_may_not_write(env: Env, reader: dict[str, str]) -> None:
    assert env.client.get("/api/hosts", headers=reader).status_code == 200
    resp = env.client.post(
        "/api/security/rbac/policies/role_assignments",
        headers={**reader, "Content-Type": "application/vnd.simplivity.v1.16+json"},
        json={"role": "Administrator", "groups": ["ops"]},
    )
    assert resp.status_code == 403
    assert resp.json() == {
        "exception": "com.simplivity.restapi.exceptions.PermissionDeniedException",
        "path": "/api/security/rbac/policies/role_assignments",
        "message": f"User {READER[0]} has a read-only role and may not perform this operation",
        "timestamp": "2026-11-20T12:00:00Z",
        "status": "403",
    }


def _emergency_token(env: Env) -> str:
    env.runtime.auth.set_user("svtcli", "Emerg-pass1", Role.EMERGENCY)
    resp = env.client.post(
        "/api/oauth/token",
        headers={"Authorization": BASIC},
        data={"grant_type": "emergency", "username": "svtcli", "password": "Emerg-pass1"},
    )
    assert resp.status_code == 200, resp.text
    token: str = resp.json()["access_token"]
    return token


def test_emergency_grant_reaches_only_its_operations(own_env: Env) -> None:
    headers = {"Authorization": f"Bearer {_emergency_token(own_env)}"}
    assert own_env.client.get("/api/hosts", headers=headers).status_code == 200
    host = own_env.federation.rows["hosts"][0]["id"]
    resp = own_env.client.get(f"/api/hosts/{host}", headers=headers)
    assert resp.status_code == 403
    assert resp.json()["message"] == f"GET /api/hosts/{host} is not available with an emergency grant"
    assert resp.json()["exception"] == "com.simplivity.restapi.exceptions.PermissionDeniedException"
    assert own_env.client.get("/api/policies", headers=headers).status_code == 403
    # Tasks can be followed (a restore is one); an unknown one is a 404, not a refusal.
    assert own_env.client.get("/api/tasks/nope", headers=headers).status_code == 404


def test_emergency_grant_ignores_sorting_filtering_and_optional_fields(own_env: Env) -> None:
    headers = {"Authorization": f"Bearer {_emergency_token(own_env)}"}
    admin = own_env.headers()
    plain = own_env.client.get("/api/virtual_machines", headers=admin).json()
    asked = own_env.client.get(
        "/api/virtual_machines?sort=created_at&order=ascending&name=x*&show_optional_fields=true",
        headers=headers,
    ).json()
    assert asked == plain


def test_grants_do_not_cross(own_env: Env) -> None:
    _emergency_token(own_env)
    assert _token_request(own_env, "svtcli", "Emerg-pass1") == (
        400, {"error": "invalid_grant", "error_description": "Invalid credentials"},
    )  # fmt: skip
    resp = own_env.client.post(
        "/api/oauth/token",
        headers={"Authorization": BASIC},
        data={"grant_type": "emergency", "username": ADMIN[0], "password": ADMIN[1]},
    )
    assert (resp.status_code, resp.json()) == (
        400, {"error": "invalid_grant", "error_description": "Invalid credentials"},
    )  # fmt: skip


def test_tokens_are_forgotten_a_day_after_they_expire(own_env: Env) -> None:
    old = own_env.login()
    own_env.clock.advance(timedelta(hours=47))
    assert _hosts(own_env, old)[1]["error_description"] == f"Access token expired: {old}"
    own_env.clock.advance(timedelta(hours=2))
    own_env.runtime.auth._logins = 0  # the next login purges
    own_env.login()
    assert _hosts(own_env, old)[1]["error_description"] == f"Invalid access token: {old}"
