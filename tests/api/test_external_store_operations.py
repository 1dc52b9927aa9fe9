"""External store operations through HTTP tasks: register, update_credentials and unregister."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from openovc.services.auth import verify_password
from tests.support.errors import MEDIA_EXCEPTION, NOT_A_DICT, PKG, TASK_EXCEPTION
from tests.support.errors import error_body as _error
from tests.support.inprocess import READER, Env
from tests.support.tasks import completed, media

SECRET = "Catalyst-s3cret!"


def _post(env: Env, headers: dict[str, str], path: str, body: Any, version: str) -> Any:
    h = {**headers, **media(version)}
    if isinstance(body, str):
        return env.client.post(path, headers=h, content=body.encode())
    return env.client.post(path, headers=h, json=body)


def _stores(env: Env, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
    resp = env.client.get("/api/external_stores", headers=headers)
    assert resp.status_code == 200, resp.text
    return {s["name"]: s for s in resp.json()["external_stores"]}


def _cluster(env: Env, index: int = 0) -> dict[str, Any]:
    cluster: dict[str, Any] = env.federation.rows["omnistack_clusters"][index]
    return cluster


def _register_body(env: Env, name: str = "StoreOnce-02", **extra: Any) -> dict[str, Any]:
    return {"name": name, "management_ip": "10.1.40.20", "omnistack_cluster_id": _cluster(env)["id"],
            "username": "svt-client", "password": SECRET, **extra}  # fmt: skip


def _credentials(env: Env, name: str) -> tuple[str, str] | None:
    with env.runtime.storage.engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT username, password_hash FROM external_store_credentials WHERE name = ?", (name,)
        ).first()
    return (str(row[0]), str(row[1])) if row is not None else None


def _nothing_in_clear(env: Env, *secrets: str) -> None:
    """No password is kept in clear, in a task's payload or anywhere else the server stores."""
    with env.runtime.storage.engine.connect() as conn:
        payloads = [str(r[0]) for r in conn.exec_driver_sql("SELECT payload FROM tasks")]
        stored = [
            str(r[0]) for r in conn.exec_driver_sql("SELECT password_hash FROM external_store_credentials")
        ]
    for secret in secrets:
        assert not any(secret in text for text in payloads + stored)


# ---------------------------------------------------------------------------------------- register


def test_register(own_env: Env) -> None:
    h = own_env.headers()
    cluster = _cluster(own_env)
    affected = completed(own_env, "POST", "/api/external_stores", h, {**_register_body(own_env), "color": "red"},
                         version="1.11")  # fmt: skip
    assert affected == [{"object_id": "StoreOnce-02", "object_type": "external_store"}]
    assert _stores(own_env, h)["StoreOnce-02"] == {
        "name": "StoreOnce-02", "management_ip": "10.1.40.20", "management_port": 9387, "storage_port": 9388,
        "omnistack_cluster_id": cluster["id"], "type": "StoreOnceOnPrem",
        "cluster_group_ids": cluster["cluster_group_ids"],
    }  # fmt: skip
    creds = _credentials(own_env, "StoreOnce-02")
    assert creds is not None and creds[0] == "svt-client" and verify_password(creds[1], SECRET)
    other = _cluster(own_env, 1)
    completed(own_env, "POST", "/api/external_stores", h,
              _register_body(own_env, "cloud-1", omnistack_cluster_id=other["id"], type="StoreOnceCloud",
                             management_port="9390", storage_port=9391), version="1.25")  # fmt: skip
    cloud = _stores(own_env, h)["cloud-1"]
    assert (cloud["type"], cloud["management_port"], cloud["storage_port"], cloud["omnistack_cluster_id"]) == (
        "StoreOnceCloud", 9390, 9391, other["id"],
    )  # fmt: skip
    filtered = own_env.client.get(
        "/api/external_stores", headers=h, params={"omnistack_cluster_id": other["id"]}
    )
    assert [s["name"] for s in filtered.json()["external_stores"]] == ["cloud-1"]
    _nothing_in_clear(own_env, SECRET)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": None}, "Invalid body: name: Input should be a valid string"),
        ({"password": None}, "Invalid body: password: Input should be a valid string"),
        ({"management_ip": "10.1.40"}, "Invalid body: management_ip: '10.1.40' is not a valid IPv4 address"),
        ({"management_ip": "store.example.com"},
         "Invalid body: management_ip: 'store.example.com' is not a valid IPv4 address"),
        ({"management_port": 0}, "Invalid body: management_port: 0 is not a TCP port (1 to 65535)"),
        ({"storage_port": 70000}, "Invalid body: storage_port: 70000 is not a TCP port (1 to 65535)"),
        ({"storage_port": "fast"},
         "Invalid body: storage_port: Input should be a valid integer, unable to parse string as an integer"),
        ({"type": "DataDomain"}, "Invalid body: type: Input should be 'StoreOnceOnPrem' or 'StoreOnceCloud'"),
        ({"name": "Store Once"},
         "Invalid body: The external store name contains characters that are not allowed: ' '."),
        ({"name": ""}, "Invalid body: The external store name must not be empty."),
        ({"username": ""}, "Invalid body: username: must not be empty"),
        ({"password": ""}, "Invalid body: password: must not be empty"),
    ],
)  # fmt: skip
def test_register_bad_bodies(env: Env, admin: dict[str, str], change: dict[str, Any], message: str) -> None:
    resp = _post(env, admin, "/api/external_stores", {**_register_body(env), **change}, "1.11")
    assert (resp.status_code, resp.json()) == (
        400, _error("/api/external_stores", PKG + "InvalidBodyException", message),
    )  # fmt: skip
    assert set(_stores(env, admin)) == {"StoreOnce-01"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"name": "x", "management_ip": "10.0.0.1", "omnistack_cluster_id": "c", "username": "u"},
         "Invalid body: password: Field required"),
        ({}, "Invalid body: name: Field required; management_ip: Field required; omnistack_cluster_id: Field required; "
             "username: Field required; password: Field required"),
        ("null", NOT_A_DICT),
        ([], NOT_A_DICT),
    ],
)  # fmt: skip
def test_register_missing_and_malformed(env: Env, admin: dict[str, str], body: Any, message: str) -> None:
    resp = _post(env, admin, "/api/external_stores", body, "1.11")
    assert (resp.status_code, resp.json()) == (
        400, _error("/api/external_stores", PKG + "InvalidBodyException", message),
    )  # fmt: skip


def test_register_refusals(env: Env, admin: dict[str, str]) -> None:
    path = "/api/external_stores"
    resp = _post(env, admin, path, _register_body(env, "StoreOnce-01"), "1.11")
    assert (resp.status_code, resp.json()) == (
        400,
        _error(path, TASK_EXCEPTION, "Duplicate name exists.", code="13"),
    )
    resp = _post(env, admin, path, _register_body(env, omnistack_cluster_id="nope"), "1.11")
    assert (resp.status_code, resp.json()) == (
        404, _error(path, PKG + "ObjectNotFoundException", "Object type: omnistack_cluster id: nope could not be found", 404),
    )  # fmt: skip
    resp = _post(env, admin, path, _register_body(env), "1.10")
    assert (resp.status_code, resp.json()) == (
        415, _error(path, MEDIA_EXCEPTION, "Content type 'application/vnd.simplivity.v1.10+json' not supported", 415),
    )  # fmt: skip
    resp = _post(env, env.headers(READER), path, _register_body(env), "1.11")
    assert (resp.status_code, resp.json()["exception"]) == (403, PKG + "PermissionDeniedException")
    assert set(_stores(env, admin)) == {"StoreOnce-01"}


def test_register_the_same_name_twice_at_once(own_env: Env) -> None:
    h = own_env.headers()
    first = _post(own_env, h, "/api/external_stores", _register_body(own_env), "1.11")
    second = _post(
        own_env, h, "/api/external_stores", _register_body(own_env, management_ip="10.1.40.99"), "1.11"
    )
    assert (first.status_code, second.status_code) == (202, 202)  # neither has run yet
    one = own_env.client.get(f"/api/tasks/{first.json()['task']['id']}", headers=h).json()["task"]
    two = own_env.client.get(f"/api/tasks/{second.json()['task']['id']}", headers=h).json()["task"]
    assert one["state"] == "COMPLETED"
    assert (two["state"], two["error_code"], two["message"]) == ("FAILED", 13, "Duplicate name exists.")
    assert _stores(own_env, h)["StoreOnce-02"]["management_ip"] == "10.1.40.20"


# ------------------------------------------------------------------------------ update credentials


def test_update_credentials(own_env: Env) -> None:
    h = own_env.headers()
    path = "/api/external_stores/update_credentials"
    affected = completed(own_env, "POST", path, h, {"name": "StoreOnce-01", "username": "svt2", "password": SECRET},
                         version="1.15")  # fmt: skip
    assert affected == [{"object_id": "StoreOnce-01", "object_type": "external_store"}]
    before = own_env.federation.rows["external_stores"][0]
    assert _stores(own_env, h)["StoreOnce-01"] == before  # the address stays when none is given
    creds = _credentials(own_env, "StoreOnce-01")
    assert creds is not None and creds[0] == "svt2" and verify_password(creds[1], SECRET)
    completed(own_env, "POST", path, h,
              {"name": "StoreOnce-01", "username": "svt3", "password": "other-pass", "management_ip": "10.1.40.77"},
              version="1.25")  # fmt: skip
    assert _stores(own_env, h)["StoreOnce-01"] == {**before, "management_ip": "10.1.40.77"}
    creds = _credentials(own_env, "StoreOnce-01")
    assert creds is not None and creds[0] == "svt3" and verify_password(creds[1], "other-pass")
    _nothing_in_clear(own_env, SECRET, "other-pass")


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "StoreOnce-01", "username": "u"}, 400, "Invalid body: password: Field required"),
        ({"name": "StoreOnce-01", "username": "u", "password": 5}, 400, "Invalid body: password: Input should be a valid string"),
        ({"name": "StoreOnce-01", "username": "u", "password": "p", "management_ip": "300.1.1.1"}, 400,
         "Invalid body: management_ip: '300.1.1.1' is not a valid IPv4 address"),
        ({"name": "StoreOnce-01", "username": "", "password": "p"}, 400, "Invalid body: username: must not be empty"),
        ({"name": "nope", "username": "u", "password": "p"}, 404, "Object type: external_store id: nope could not be found"),
        ("null", 400, NOT_A_DICT),
        ([], 400, NOT_A_DICT),
    ],
)  # fmt: skip
def test_update_credentials_bad_requests(
    env: Env, admin: dict[str, str], body: Any, status: int, message: str
) -> None:
    path = "/api/external_stores/update_credentials"
    resp = _post(env, admin, path, body, "1.15")
    exception = PKG + ("InvalidBodyException" if status == 400 else "ObjectNotFoundException")
    assert (resp.status_code, resp.json()) == (status, _error(path, exception, message, status))
    assert _credentials(env, "StoreOnce-01") is None


def test_update_credentials_media_and_reader(env: Env, admin: dict[str, str]) -> None:
    path = "/api/external_stores/update_credentials"
    body = {"name": "StoreOnce-01", "username": "u", "password": "p"}
    resp = _post(env, admin, path, body, "1.14")
    assert (resp.status_code, resp.json()) == (
        415, _error(path, MEDIA_EXCEPTION, "Content type 'application/vnd.simplivity.v1.14+json' not supported", 415),
    )  # fmt: skip
    assert _post(env, env.headers(READER), path, body, "1.15").status_code == 403


# -------------------------------------------------------------------------------------- unregister


def test_unregister(own_env: Env) -> None:
    h = own_env.headers()
    completed(own_env, "POST", "/api/external_stores", h, _register_body(own_env), version="1.11")
    affected = completed(own_env, "POST", "/api/external_stores/unregister", h,
                         {"name": "StoreOnce-02", "omnistack_cluster_id": _cluster(own_env)["id"]}, version="1.15")  # fmt: skip
    assert affected == [{"object_id": "StoreOnce-02", "object_type": "external_store"}]
    assert set(_stores(own_env, h)) == {"StoreOnce-01"}
    assert _credentials(own_env, "StoreOnce-02") is None
    # The name is free again.
    completed(own_env, "POST", "/api/external_stores", h, _register_body(own_env), version="1.11")


def test_unregister_refuses_a_store_in_use(own_env: Env) -> None:
    h = own_env.headers()
    path = "/api/external_stores/unregister"
    cluster = _cluster(own_env)["id"]
    with own_env.runtime.storage.engine.begin() as conn:
        kept = conn.exec_driver_sql(
            "SELECT count(*) FROM backups WHERE external_store_name = 'StoreOnce-01'"
        ).scalar_one()
    assert kept  # backups in the store do not hold it; the rules that target it do
    users = sorted(p["name"] for p in own_env.federation.rows["policies"]
                   if any(r["external_store_name"] == "StoreOnce-01" for r in p["rules"]))  # fmt: skip
    resp = _post(own_env, h, path, {"name": "StoreOnce-01", "omnistack_cluster_id": cluster}, "1.15")
    assert (resp.status_code, resp.json()["error_code"], resp.json()["message"]) == (
        400, "40", f"External store StoreOnce-01 is the destination of backup rules of policy {', '.join(users)}; "
                   "remove those rules before unregistering it.",
    )  # fmt: skip
    # In use by the time the task runs: it fails and the store stays.
    completed(own_env, "POST", "/api/external_stores", h, _register_body(own_env), version="1.11")
    resp = _post(own_env, h, path, {"name": "StoreOnce-02", "omnistack_cluster_id": cluster}, "1.15")
    assert resp.status_code == 202
    policy = own_env.federation.rows["policies"][0]
    rules = [*policy["rules"], {**policy["rules"][0], "id": "r-new", "external_store_name": "StoreOnce-02"}]
    with own_env.runtime.storage.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE policies SET rules = ? WHERE id = ?", (orjson.dumps(rules).decode(), policy["id"])
        )
    task = own_env.client.get(f"/api/tasks/{resp.json()['task']['id']}", headers=h).json()["task"]
    assert (task["state"], task["error_code"], task["message"]) == (
        "FAILED", 40, f"External store StoreOnce-02 is the destination of backup rules of policy {policy['name']}; "
                      "remove those rules before unregistering it.",
    )  # fmt: skip
    assert set(_stores(own_env, h)) == {"StoreOnce-01", "StoreOnce-02"}
    assert _credentials(own_env, "StoreOnce-02") is not None


def test_unregister_refusals(env: Env, admin: dict[str, str]) -> None:
    path = "/api/external_stores/unregister"
    other = _cluster(env, 1)["id"]
    resp = _post(env, admin, path, {"name": "StoreOnce-01", "omnistack_cluster_id": other}, "1.15")
    assert (resp.status_code, resp.json()) == (
        400, _error(path, TASK_EXCEPTION, f"External store StoreOnce-01 is not registered with omnistack_cluster {other}.",
                    code="30"),
    )  # fmt: skip
    for body, message in [
        ({"name": "nope", "omnistack_cluster_id": other}, "Object type: external_store id: nope could not be found"),
        ({"name": "StoreOnce-01", "omnistack_cluster_id": "nope"}, "Object type: omnistack_cluster id: nope could not be found"),
    ]:  # fmt: skip
        resp = _post(env, admin, path, body, "1.15")
        assert (resp.status_code, resp.json()) == (
            404,
            _error(path, PKG + "ObjectNotFoundException", message, 404),
        )
    bad: Any
    for bad, message in [
        ({"name": "StoreOnce-01"}, "Invalid body: omnistack_cluster_id: Field required"),
        ({"name": ["StoreOnce-01"], "omnistack_cluster_id": other}, "Invalid body: name: Input should be a valid string"),
        ("null", NOT_A_DICT),
        ([], NOT_A_DICT),
    ]:  # fmt: skip
        resp = _post(env, admin, path, bad, "1.15")
        assert (resp.status_code, resp.json()) == (400, _error(path, PKG + "InvalidBodyException", message))
    body = {"name": "StoreOnce-01", "omnistack_cluster_id": _cluster(env)["id"]}
    resp = _post(env, admin, path, body, "1.14")
    assert (resp.status_code, resp.json()["exception"]) == (415, MEDIA_EXCEPTION)
    assert _post(env, env.headers(READER), path, body, "1.15").status_code == 403
    assert set(_stores(env, admin)) == {"StoreOnce-01"}


def test_unregister_twice(own_env: Env) -> None:
    h = own_env.headers()
    completed(own_env, "POST", "/api/external_stores", h, _register_body(own_env), version="1.11")
    body = {"name": "StoreOnce-02", "omnistack_cluster_id": _cluster(own_env)["id"]}
    first, second = (_post(own_env, h, "/api/external_stores/unregister", body, "1.15") for _ in range(2))
    tasks = [own_env.client.get(f"/api/tasks/{r.json()['task']['id']}", headers=h).json()["task"]
             for r in (first, second)]  # fmt: skip
    assert tasks[0]["state"] == "COMPLETED"
    assert (tasks[1]["state"], tasks[1]["error_code"], tasks[1]["message"]) == (
        "FAILED", 20, "Object type: external_store id: StoreOnce-02 could not be found",
    )  # fmt: skip


def test_backups_kept_in_a_store_do_not_hold_it(own_env: Env) -> None:
    h = own_env.headers()
    completed(own_env, "POST", "/api/external_stores", h, _register_body(own_env), version="1.11")
    backup = own_env.federation.rows["backups"][0]
    with own_env.runtime.storage.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE backups SET external_store_name = 'StoreOnce-02' WHERE id = ?", (backup["id"],)
        )
    completed(own_env, "POST", "/api/external_stores/unregister", h,
              {"name": "StoreOnce-02", "omnistack_cluster_id": _cluster(own_env)["id"]}, version="1.15")  # fmt: skip
    assert set(_stores(own_env, h)) == {"StoreOnce-01"}
    kept = own_env.client.get("/api/backups", headers=h, params={"id": backup["id"]}).json()["backups"]
    assert [b["external_store_name"] for b in kept] == ["StoreOnce-02"]
