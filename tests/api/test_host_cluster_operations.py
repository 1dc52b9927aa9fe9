"""Host, cluster and cluster group operations through HTTP: shutdown and its status (direct answers),
remove_from_federation, set_time_zone, set_iwo and cluster group rename (tasks)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.errors import MEDIA_EXCEPTION, NOT_A_DICT, PKG, TASK_EXCEPTION
from tests.support.errors import error_body as _error
from tests.support.inprocess import READER, Env
from tests.support.invariants import problems, snapshot
from tests.support.tasks import completed, failed, media, submit


def _post(env: Env, headers: dict[str, str], path: str, body: Any, version: str | None = "1.8") -> Any:
    """POST a JSON value, or raw text when `body` is a str; plain application/json when version is None."""
    h = {**headers, **(media(version) if version is not None else {"Content-Type": "application/json"})}
    if isinstance(body, str):
        return env.client.post(path, headers=h, content=body.encode())
    return env.client.post(path, headers=h, json=body)


def _get(env: Env, headers: dict[str, str], path: str, **params: str) -> Any:
    resp = env.client.get(path, headers=headers, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _controller(env: Env) -> str:
    serving: str = min(h["id"] for h in env.federation.rows["hosts"])
    return serving


def _cluster_hosts(env: Env, cluster_id: str) -> list[dict[str, Any]]:
    return [h for h in env.federation.rows["hosts"] if h["omnistack_cluster_id"] == cluster_id]


def _other_cluster(env: Env) -> dict[str, Any]:
    """A cluster that does not contain the serving controller's host."""
    serving = next(h for h in env.federation.rows["hosts"] if h["id"] == _controller(env))
    return next(
        c for c in env.federation.rows["omnistack_clusters"] if c["id"] != serving["omnistack_cluster_id"]
    )


def _consistent(env: Env, headers: dict[str, str]) -> None:
    assert problems(snapshot(lambda path, params: _get(env, headers, path, **params))) == []


# ------------------------------------------------------------------------------------------ time zone


def test_set_time_zone(own_env: Env) -> None:
    h = own_env.headers()
    cluster = own_env.federation.rows["omnistack_clusters"][0]
    path = f"/api/omnistack_clusters/{cluster['id']}/set_time_zone"
    # Unknown keys are ignored; the oldest media type (v1) is accepted.
    affected = completed(own_env, "POST", path, h, {"time_zone": "Europe/Paris", "zone": "x"}, version="1")
    assert affected == [{"object_id": cluster["id"], "object_type": "omnistack_cluster"}]
    assert _get(own_env, h, f"/api/omnistack_clusters/{cluster['id']}")["omnistack_cluster"]["time_zone"] == (
        "Europe/Paris"
    )
    listed = _get(own_env, h, "/api/omnistack_clusters", id=cluster["id"], show_optional_fields="true")
    assert listed["omnistack_clusters"][0]["time_zone"] == "Europe/Paris"
    completed(own_env, "POST", path, h, {"time_zone": "UTC"})
    assert (
        _get(own_env, h, f"/api/omnistack_clusters/{cluster['id']}")["omnistack_cluster"]["time_zone"]
        == "UTC"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Invalid body: time_zone: Field required"),
        ({"time_zone": 5}, "Invalid body: time_zone: Input should be a valid string"),
        ({"time_zone": "europe/paris"}, "Invalid body: time_zone: 'europe/paris' is not a time zone of "
         "GET /omnistack_clusters/time_zone_list (names are case-sensitive)"),
        ({"time_zone": "Mars/Olympus_Mons"}, "Invalid body: time_zone: 'Mars/Olympus_Mons' is not a time zone of "
         "GET /omnistack_clusters/time_zone_list (names are case-sensitive)"),
        ("null", NOT_A_DICT),
        ([], NOT_A_DICT),
        ("", "Invalid body: a JSON request body is required"),
    ],
)  # fmt: skip
def test_set_time_zone_bad_bodies(env: Env, admin: dict[str, str], body: Any, message: str) -> None:
    cluster = env.federation.rows["omnistack_clusters"][0]
    path = f"/api/omnistack_clusters/{cluster['id']}/set_time_zone"
    resp = _post(env, admin, path, body)
    assert (resp.status_code, resp.json()) == (400, _error(path, PKG + "InvalidBodyException", message))
    assert (
        _get(env, admin, f"/api/omnistack_clusters/{cluster['id']}")["omnistack_cluster"]["time_zone"]
        == (cluster["time_zone"])
    )


def test_set_time_zone_unknown_cluster_reader_and_media(env: Env, admin: dict[str, str]) -> None:
    path = "/api/omnistack_clusters/nope/set_time_zone"
    resp = _post(env, admin, path, {"time_zone": "UTC"})
    assert (resp.status_code, resp.json()) == (
        404, _error(path, PKG + "ObjectNotFoundException", "Object type: omnistack_cluster id: nope could not be found", 404),
    )  # fmt: skip
    cluster = env.federation.rows["omnistack_clusters"][0]
    path = f"/api/omnistack_clusters/{cluster['id']}/set_time_zone"
    resp = _post(env, env.headers(READER), path, {"time_zone": "UTC"})
    assert (resp.status_code, resp.json()) == (
        403, _error(path, PKG + "PermissionDeniedException",
                    f"User {READER[0]} has a read-only role and may not perform this operation", 403),
    )  # fmt: skip
    # Plain application/json is outside the operation's `consumes` list.
    resp = env.client.post(
        path, headers={**admin, "Content-Type": "application/json"}, json={"time_zone": "UTC"}
    )
    assert (resp.status_code, resp.json()) == (
        415, _error(path, MEDIA_EXCEPTION, "Content type 'application/json' not supported", 415),
    )  # fmt: skip


def test_set_time_zone_fails_when_the_cluster_went_away(own_env: Env) -> None:
    h = own_env.headers()
    cluster = own_env.federation.rows["omnistack_clusters"][0]
    path = f"/api/omnistack_clusters/{cluster['id']}/set_time_zone"
    resp = _post(own_env, h, path, {"time_zone": "UTC"})
    assert resp.status_code == 202
    with own_env.runtime.storage.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE omnistack_clusters SET id = 'gone' WHERE id = ?", (cluster["id"],))
    task = _get(own_env, h, f"/api/tasks/{resp.json()['task']['id']}")["task"]
    assert (task["state"], task["error_code"], task["message"]) == (
        "FAILED", 20, f"Object type: omnistack_cluster id: {cluster['id']} could not be found",
    )  # fmt: skip
    assert (
        _get(own_env, h, "/api/omnistack_clusters/gone")["omnistack_cluster"]["time_zone"]
        == cluster["time_zone"]
    )


# ------------------------------------------------------------------------------------------------ IWO


def test_set_iwo_on_and_off(own_env: Env) -> None:
    h = own_env.headers()
    cluster = own_env.federation.rows["omnistack_clusters"][1]
    path = f"/api/omnistack_clusters/{cluster['id']}/set_iwo"
    assert completed(own_env, "POST", path, h, {"enabled": True}, version="1.16") == [
        {"object_id": cluster["id"], "object_type": "omnistack_cluster"}
    ]
    after = _get(own_env, h, f"/api/omnistack_clusters/{cluster['id']}")["omnistack_cluster"]
    assert (after["iwo_enabled"], after["iwo_active"]) == (True, True)
    completed(own_env, "POST", path, h, {"enabled": "false"}, version="1.25")  # booleans may come as strings
    after = _get(own_env, h, f"/api/omnistack_clusters/{cluster['id']}")["omnistack_cluster"]
    assert (after["iwo_enabled"], after["iwo_active"]) == (False, False)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Invalid body: enabled: Field required"),
        ({"enabled": "maybe"}, "Invalid body: enabled: Input should be a valid boolean, unable to interpret input"),
        ({"enabled": [True]}, "Invalid body: enabled: Input should be a valid boolean"),
        ("null", NOT_A_DICT),
        ([], NOT_A_DICT),
    ],
)  # fmt: skip
def test_set_iwo_bad_bodies(env: Env, admin: dict[str, str], body: Any, message: str) -> None:
    cluster = env.federation.rows["omnistack_clusters"][0]
    path = f"/api/omnistack_clusters/{cluster['id']}/set_iwo"
    resp = _post(env, admin, path, body, version="1.16")
    assert (resp.status_code, resp.json()) == (400, _error(path, PKG + "InvalidBodyException", message))


def test_set_iwo_refusals(env: Env, admin: dict[str, str]) -> None:
    cluster = env.federation.rows["omnistack_clusters"][0]
    path = f"/api/omnistack_clusters/{cluster['id']}/set_iwo"
    resp = _post(env, admin, path, {"enabled": True}, version="1.15")
    assert (resp.status_code, resp.json()) == (
        415, _error(path, MEDIA_EXCEPTION, "Content type 'application/vnd.simplivity.v1.15+json' not supported", 415),
    )  # fmt: skip
    assert _post(env, env.headers(READER), path, {"enabled": True}, version="1.16").status_code == 403
    resp = _post(env, admin, "/api/omnistack_clusters/nope/set_iwo", {"enabled": True}, version="1.16")
    assert (resp.status_code, resp.json()["message"]) == (
        404, "Object type: omnistack_cluster id: nope could not be found",
    )  # fmt: skip
    assert (
        _get(env, admin, f"/api/omnistack_clusters/{cluster['id']}")["omnistack_cluster"]["iwo_enabled"]
        is False
    )


# -------------------------------------------------------------------------------- cluster group rename


def _groups(env: Env, headers: dict[str, str]) -> dict[str, str]:
    return {g["id"]: g["name"] for g in _get(env, headers, "/api/cluster_groups")["cluster_groups"]}


def test_rename_cluster_group(own_env: Env) -> None:
    h = own_env.headers()
    group = own_env.federation.rows["cluster_groups"][0]
    path = f"/api/cluster_groups/{group['id']}/rename"
    # The real one reports no affected object for this task.
    assert completed(own_env, "POST", path, h, {"cluster_group_name": "Worldwide"}) == []
    assert _groups(own_env, h)[group["id"]] == "Worldwide"
    # id and revision (1.17+) are accepted when the id is the path's; renaming to its own name is fine.
    assert completed(own_env, "POST", path, h,
                     {"cluster_group_name": "Worldwide", "id": group["id"], "revision": 3}, version="1.17") == []  # fmt: skip
    assert _groups(own_env, h)[group["id"]] == "Worldwide"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Invalid body: cluster_group_name: Field required"),
        ({"cluster_group_name": 7}, "Invalid body: cluster_group_name: Input should be a valid string"),
        ({"cluster_group_name": ""}, "Invalid body: The cluster group name must not be empty."),
        ({"cluster_group_name": "a/b"}, "Invalid body: The cluster group name contains characters that are not allowed: '/'."),
        ({"cluster_group_name": "g" * 65}, "Invalid body: The cluster group name must be at most 64 characters long."),
        ({"cluster_group_name": "ok", "revision": "two"},
         "Invalid body: revision: Input should be a valid integer, unable to parse string as an integer"),
        ("null", NOT_A_DICT),
        ([], NOT_A_DICT),
    ],
)  # fmt: skip
def test_rename_cluster_group_bad_bodies(env: Env, admin: dict[str, str], body: Any, message: str) -> None:
    group = env.federation.rows["cluster_groups"][0]
    path = f"/api/cluster_groups/{group['id']}/rename"
    resp = _post(env, admin, path, body)
    assert (resp.status_code, resp.json()) == (400, _error(path, PKG + "InvalidBodyException", message))
    assert _groups(env, admin)[group["id"]] == group["name"]


def test_rename_cluster_group_refusals(env: Env, admin: dict[str, str]) -> None:
    group = env.federation.rows["cluster_groups"][0]
    path = f"/api/cluster_groups/{group['id']}/rename"
    resp = _post(env, admin, path, {"cluster_group_name": "x", "id": "another"}, version="1.17")
    assert (resp.status_code, resp.json()) == (
        400, _error(path, PKG + "InvalidBodyException",
                    f"Invalid body: id: another is not the cluster group {group['id']} of the path"),
    )  # fmt: skip
    resp = _post(env, admin, path, {"cluster_group_name": "x"}, version="1.6")
    assert (resp.status_code, resp.json()) == (
        415, _error(path, MEDIA_EXCEPTION, "Content type 'application/vnd.simplivity.v1.6+json' not supported", 415),
    )  # fmt: skip
    assert _post(env, env.headers(READER), path, {"cluster_group_name": "x"}).status_code == 403
    resp = _post(env, admin, "/api/cluster_groups/nope/rename", {"cluster_group_name": "x"})
    assert (resp.status_code, resp.json()) == (
        404, _error("/api/cluster_groups/nope/rename", PKG + "ObjectNotFoundException",
                    "Object type: cluster_group id: nope could not be found", 404),
    )  # fmt: skip
    assert _groups(env, admin)[group["id"]] == group["name"]


def _add_group(env: Env, group_id: str, name: str) -> None:
    with env.runtime.storage.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO cluster_groups (id, name, clusters) VALUES (?, ?, '[]')", (group_id, name)
        )


def test_rename_cluster_group_to_a_taken_name(own_env: Env) -> None:
    h = own_env.headers()
    group = own_env.federation.rows["cluster_groups"][0]
    _add_group(own_env, "g2", "Europe")
    path = f"/api/cluster_groups/{group['id']}/rename"
    resp = _post(own_env, h, path, {"cluster_group_name": "Europe"})
    assert (resp.status_code, resp.json()) == (
        400, _error(path, TASK_EXCEPTION, "Duplicate name exists.", code="13"),
    )  # fmt: skip
    # Taken after the task was accepted: it fails when it runs and renames nothing.
    resp = _post(own_env, h, path, {"cluster_group_name": "Americas"})
    assert resp.status_code == 202
    _add_group(own_env, "g3", "Americas")
    task = _get(own_env, h, f"/api/tasks/{resp.json()['task']['id']}")["task"]
    assert (task["state"], task["error_code"], task["message"]) == ("FAILED", 13, "Duplicate name exists.")
    assert _groups(own_env, h) == {group["id"]: group["name"], "g2": "Europe", "g3": "Americas"}


# ------------------------------------------------------------------------------ Virtual Controller shutdown


def _shutdown(env: Env, headers: dict[str, str], host_id: str, body: Any = None, **kw: Any) -> Any:
    path = f"/api/hosts/{host_id}/shutdown_virtual_controller"
    if body is None:
        return env.client.post(path, headers=headers, **kw)
    return _post(env, headers, path, body, version=None)


def _status(env: Env, headers: dict[str, str], host_id: str) -> str:
    body = _get(env, headers, f"/api/hosts/{host_id}/virtual_controller_shutdown_status")
    status: str = body["shutdown_status"]["status"]
    return status


def _host(env: Env, headers: dict[str, str], host_id: str) -> dict[str, Any]:
    host: dict[str, Any] = _get(env, headers, f"/api/hosts/{host_id}")["host"]
    return host


def _ha(env: Env, headers: dict[str, str], cluster_id: str) -> dict[str, tuple[str, frozenset[str]]]:
    vms = _get(env, headers, "/api/virtual_machines", omnistack_cluster_id=cluster_id,
               show_optional_fields="true", limit="5000")["virtual_machines"]  # fmt: skip
    return {v["id"]: (v["ha_status"], frozenset(r["id"] for r in v["replica_set"])) for v in vms}


def test_shutdown_and_cancel(own_env: Env) -> None:
    h = own_env.headers()
    cluster = _other_cluster(own_env)
    first, second, _third = (x["id"] for x in _cluster_hosts(own_env, cluster["id"]))
    assert _status(own_env, h, first) == "NONE"
    # No body at all: ha_wait defaults to true; the operation takes any Content-Type.
    resp = _shutdown(own_env, h, first)
    assert (resp.status_code, resp.json()) == (200, {"shutdown_status": {"status": "SUCCESS"}})
    assert _host(own_env, h, first)["state"] == "FAULTY"
    assert _status(own_env, h, first) == "IN_PROGRESS"
    for ha, replicas in _ha(own_env, h, cluster["id"]).values():
        assert ha == ("DEGRADED" if first in replicas else "SAFE")
    # Asked again while it is in progress.
    resp = _shutdown(own_env, h, first, {"ha_wait": True})
    assert resp.json() == {"shutdown_status": {"status": "IN_PROGRESS"}}

    # A second controller of the cluster would leave VMs without a live replica: refused with ha_wait.
    resp = _shutdown(own_env, h, second, {"ha_wait": True})
    assert (resp.status_code, resp.json()) == (200, {"shutdown_status": {"status": "FAILURE"}})
    assert (_host(own_env, h, second)["state"], _status(own_env, h, second)) == ("ALIVE", "NONE")
    # Forced, it goes down anyway; VMs with both replicas there lose their data path.
    resp = _shutdown(own_env, h, second, {"ha_wait": "false"})
    assert resp.json() == {"shutdown_status": {"status": "SUCCESS"}}
    assert (_host(own_env, h, second)["state"], _status(own_env, h, second)) == (
        "FAULTY",
        "FORCE_IN_PROGRESS",
    )
    for ha, replicas in _ha(own_env, h, cluster["id"]).values():
        down = len(replicas & {first, second})
        assert ha == {0: "SAFE", 1: "DEGRADED", 2: "DEFUNCT"}[down]

    for host_id in (second, first):
        resp = own_env.client.post(f"/api/hosts/{host_id}/cancel_virtual_controller_shutdown", headers=h)
        assert (resp.status_code, resp.json()) == (200, {"cancellation_status": {"status": "SUCCESS"}})
        assert (_host(own_env, h, host_id)["state"], _status(own_env, h, host_id)) == ("ALIVE", "NONE")
    assert {ha for ha, _ in _ha(own_env, h, cluster["id"]).values()} == {"SAFE"}
    # Nothing left to cancel.
    resp = own_env.client.post(f"/api/hosts/{first}/cancel_virtual_controller_shutdown", headers={**h, **media()},
                               content=b"null")  # fmt: skip
    assert (resp.status_code, resp.json()) == (200, {"cancellation_status": {"status": "FAILURE"}})
    _consistent(own_env, h)


def test_shutdown_bodies(own_env: Env) -> None:
    h = own_env.headers()
    host = _cluster_hosts(own_env, _other_cluster(own_env)["id"])[0]["id"]
    path = f"/api/hosts/{host}/shutdown_virtual_controller"
    for body, message in [
        ({"ha_wait": "perhaps"}, "Invalid body: ha_wait: Input should be a valid boolean, unable to interpret input"),
        ([], "Invalid body: body: Input should be a valid dictionary or object to extract fields from"),
        ("{", "Invalid body: malformed JSON at character 1: Expecting property name enclosed in double quotes"),
    ]:  # fmt: skip
        resp = _post(own_env, h, path, body, version=None)
        assert (resp.status_code, resp.json()) == (400, _error(path, PKG + "InvalidBodyException", message))
        assert _status(own_env, h, host) == "NONE"
    # A JSON null, an old vendor media type and extra keys are all fine.
    resp = own_env.client.post(path, headers={**h, **media("1")}, content=b"null")
    assert resp.json() == {"shutdown_status": {"status": "SUCCESS"}}
    assert _status(own_env, h, host) == "IN_PROGRESS"


def test_shutdown_unknown_host_and_reader(env: Env, admin: dict[str, str]) -> None:
    for method, suffix in [
        ("POST", "shutdown_virtual_controller"),
        ("POST", "cancel_virtual_controller_shutdown"),
        ("GET", "virtual_controller_shutdown_status"),
    ]:
        path = f"/api/hosts/nope/{suffix}"
        resp = env.client.request(method, path, headers=admin)
        assert (resp.status_code, resp.json()) == (
            404, _error(path, PKG + "ObjectNotFoundException", "Object type: host id: nope could not be found", 404),
        )  # fmt: skip
    host = env.federation.rows["hosts"][1]["id"]
    reader = env.headers(READER)
    for suffix in ("shutdown_virtual_controller", "cancel_virtual_controller_shutdown"):
        resp = env.client.post(f"/api/hosts/{host}/{suffix}", headers=reader)
        assert (resp.status_code, resp.json()["exception"]) == (403, PKG + "PermissionDeniedException")
    assert _status(env, reader, host) == "NONE"
    assert _host(env, admin, host)["state"] == "ALIVE"


# ------------------------------------------------------------------------------- remove from federation


def _remove_path(host_id: str) -> str:
    return f"/api/hosts/{host_id}/remove_from_federation"


def test_the_serving_host_cannot_remove_itself(env: Env, admin: dict[str, str]) -> None:
    host = next(h for h in env.federation.rows["hosts"] if h["id"] == _controller(env))
    path = _remove_path(host["id"])
    resp = _post(env, admin, path, {"force": True}, version="1.9")
    assert (resp.status_code, resp.json()) == (
        400, _error(path, TASK_EXCEPTION,
                    f"Host {host['name']} runs the Virtual Controller serving this request and cannot remove "
                    "itself; send the request to another host's Virtual Controller.", code="30"),
    )  # fmt: skip
    assert _host(env, admin, host["id"])["state"] == "ALIVE"


def test_remove_refuses_a_host_that_holds_data(own_env: Env) -> None:
    h = own_env.headers()
    cluster = _other_cluster(own_env)
    host = _cluster_hosts(own_env, cluster["id"])[0]
    holding = [v for v in own_env.federation.rows["virtual_machines"]
               if v["state"] == "ALIVE" and host["id"] in {r["id"] for r in v["replica_set"]}]  # fmt: skip
    before = snapshot(lambda path, params: _get(own_env, h, path, **params))
    # A JSON null body means the defaults: force false.
    code, message = failed(own_env, "POST", _remove_path(host["id"]), h, None, version="1.9")
    assert (code, message) == (
        40, f"Host {host['name']} still holds the data of {len(holding)} virtual machine(s), such as "
            f"{sorted(holding, key=lambda v: v['id'])[0]['name']}; move them to other hosts or set force to remove it anyway.",
    )  # fmt: skip
    assert snapshot(lambda path, params: _get(own_env, h, path, **params)) == before


def test_remove_with_force_rehomes_the_vms(own_env: Env) -> None:
    h = own_env.headers()
    cluster = _other_cluster(own_env)
    host, *others = _cluster_hosts(own_env, cluster["id"])
    other_ids = {o["id"] for o in others}
    affected = completed(
        own_env, "POST", _remove_path(host["id"]), h, {"force": "true", "extra": 1}, version="1.9"
    )
    assert affected == [{"object_id": host["id"], "object_type": "host"}]
    for path in (f"/api/hosts/{host['id']}", f"/api/hosts/{host['id']}/hardware"):
        assert own_env.client.get(path, headers=h).status_code == 404
    assert host["id"] not in {x["id"] for x in _get(own_env, h, "/api/hosts")["hosts"]}
    after = _get(own_env, h, f"/api/omnistack_clusters/{cluster['id']}")["omnistack_cluster"]
    assert sorted(after["members"]) == sorted(other_ids)
    remaining = [_host(own_env, h, o) for o in sorted(other_ids)]
    assert after["allocated_capacity"] == sum(x["allocated_capacity"] for x in remaining)
    assert after["used_capacity"] == sum(x["used_capacity"] for x in remaining)
    for ha, replicas in _ha(own_env, h, cluster["id"]).values():
        assert (ha, replicas) == ("SAFE", frozenset(other_ids))
    vms = _get(own_env, h, "/api/virtual_machines", omnistack_cluster_id=cluster["id"], limit="5000",
               state="ALIVE,DELETED,REMOVED")["virtual_machines"]  # fmt: skip
    for vm in vms:
        assert vm["host_id"] in other_ids and {r["role"] for r in vm["replica_set"]} == {
            "PRIMARY",
            "SECONDARY",
        }
    _consistent(own_env, h)
    # It is gone: removing it again is a 404, and a task accepted before it went fails.
    resp = _post(own_env, h, _remove_path(host["id"]), {"force": True}, version="1.9")
    assert (resp.status_code, resp.json()["message"]) == (
        404,
        f"Object type: host id: {host['id']} could not be found",
    )


def test_remove_the_last_hosts_of_a_cluster(own_env: Env) -> None:
    h = own_env.headers()
    cluster = _other_cluster(own_env)
    first, second, last = (x["id"] for x in _cluster_hosts(own_env, cluster["id"]))
    # Both removals are accepted before either runs; they run in order.
    one = submit(own_env, "POST", _remove_path(first), h, {"force": True}, version="1.9")
    two = submit(own_env, "POST", _remove_path(second), h, {"force": True}, version="1.9")
    assert (one["state"], two["state"]) == ("COMPLETED", "COMPLETED")
    for ha, replicas in _ha(own_env, h, cluster["id"]).values():
        assert (ha, replicas) == ("DEGRADED", frozenset({last}))  # no second host to keep a copy
    assert failed(own_env, "POST", _remove_path(last), h, {}, version="1.9")[0] == 40
    alive = _ha(own_env, h, cluster["id"])
    completed(own_env, "POST", _remove_path(last), h, {"force": True}, version="1.9")
    after = _get(own_env, h, f"/api/omnistack_clusters/{cluster['id']}")["omnistack_cluster"]
    assert (after["members"], after["allocated_capacity"]) == ([], 0)
    assert _get(own_env, h, "/api/virtual_machines", omnistack_cluster_id=cluster["id"])["count"] == 0
    removed = _get(own_env, h, "/api/virtual_machines", omnistack_cluster_id=cluster["id"], state="REMOVED",
                   limit="5000")["virtual_machines"]  # fmt: skip
    assert {v["id"] for v in removed} == set(alive)
    assert all(v["replica_set"] == [] and v["host_id"] == "" for v in removed)
    # With no live VM left, every datastore of the cluster is empty again.
    for ds in _get(own_env, h, "/api/datastores", omnistack_cluster_id=cluster["id"],
                   show_optional_fields="true")["datastores"]:  # fmt: skip
        assert ds["hypervisor_free_space"] == ds["size"]
    _consistent(own_env, h)


def test_remove_refuses_the_last_host_without_force(own_env: Env) -> None:
    h = own_env.headers()
    cluster = _other_cluster(own_env)
    first, second, last = _cluster_hosts(own_env, cluster["id"])
    with own_env.runtime.storage.engine.begin() as conn:  # a cluster whose VMs and volumes are all gone
        for table in ("virtual_machines", "persistent_volumes"):
            conn.exec_driver_sql(
                f"UPDATE {table} SET state = 'DELETED' WHERE omnistack_cluster_id = ?", (cluster["id"],)
            )
    completed(own_env, "POST", _remove_path(first["id"]), h, {}, version="1.9")
    completed(own_env, "POST", _remove_path(second["id"]), h, {"force": False}, version="1.9")
    assert failed(own_env, "POST", _remove_path(last["id"]), h, {}, version="1.9") == (
        60, f"Host {last['name']} is the last host of its omnistack_cluster; set force to remove it anyway.",
    )  # fmt: skip
    assert _get(own_env, h, f"/api/omnistack_clusters/{cluster['id']}")["omnistack_cluster"]["members"] == [
        last["id"]
    ]


def test_remove_a_shut_down_host_clears_its_shutdown(own_env: Env) -> None:
    h = own_env.headers()
    host = _cluster_hosts(own_env, _other_cluster(own_env)["id"])[0]["id"]
    assert _shutdown(own_env, h, host).json()["shutdown_status"]["status"] == "SUCCESS"
    completed(own_env, "POST", _remove_path(host), h, {"force": True}, version="1.9")
    assert (
        own_env.client.get(f"/api/hosts/{host}/virtual_controller_shutdown_status", headers=h).status_code
        == 404
    )
    with own_env.runtime.storage.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM host_shutdowns").scalar_one() == 0
        assert (
            conn.exec_driver_sql("SELECT count(*) FROM host_hardware WHERE host_id = ?", (host,)).scalar_one()
            == 0
        )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"force": "sometimes"}, "Invalid body: force: Input should be a valid boolean, unable to interpret input"),
        ([], NOT_A_DICT),
        ("[", "Invalid body: malformed JSON at character 1: Expecting value"),
    ],
)  # fmt: skip
def test_remove_bad_bodies(env: Env, admin: dict[str, str], body: Any, message: str) -> None:
    host = _cluster_hosts(env, _other_cluster(env)["id"])[0]["id"]
    path = _remove_path(host)
    resp = _post(env, admin, path, body, version="1.9")
    assert (resp.status_code, resp.json()) == (400, _error(path, PKG + "InvalidBodyException", message))
    assert _host(env, admin, host)["state"] == "ALIVE"


def test_remove_refusals(env: Env, admin: dict[str, str]) -> None:
    host = _cluster_hosts(env, _other_cluster(env)["id"])[0]["id"]
    path = _remove_path(host)
    resp = _post(env, admin, path, {"force": True}, version="1.8")
    assert (resp.status_code, resp.json()) == (
        415, _error(path, MEDIA_EXCEPTION, "Content type 'application/vnd.simplivity.v1.8+json' not supported", 415),
    )  # fmt: skip
    resp = _post(env, env.headers(READER), path, {"force": True}, version="1.9")
    assert resp.status_code == 403
    resp = _post(env, admin, _remove_path("nope"), {"force": True}, version="1.9")
    assert (resp.status_code, resp.json()) == (
        404, _error(_remove_path("nope"), PKG + "ObjectNotFoundException", "Object type: host id: nope could not be found", 404),
    )  # fmt: skip
    assert _host(env, admin, host)["state"] == "ALIVE"


def test_remove_fails_when_the_host_is_already_gone(own_env: Env) -> None:
    h = own_env.headers()
    host = _cluster_hosts(own_env, _other_cluster(own_env)["id"])[0]["id"]
    one = own_env.client.post(_remove_path(host), headers={**h, **media("1.9")}, json={"force": True})
    two = own_env.client.post(_remove_path(host), headers={**h, **media("1.9")}, json={"force": True})
    first = _get(own_env, h, f"/api/tasks/{one.json()['task']['id']}")["task"]
    second = _get(own_env, h, f"/api/tasks/{two.json()['task']['id']}")["task"]
    assert first["state"] == "COMPLETED"
    assert (second["state"], second["error_code"], second["message"]) == (
        "FAILED", 20, f"Object type: host id: {host} could not be found",
    )  # fmt: skip
