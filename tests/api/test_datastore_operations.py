"""Datastore operations over HTTP: create, resize, delete, set_policy, share and unshare, as tasks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.errors import MEDIA_EXCEPTION, PKG, TASK_EXCEPTION, TS
from tests.support.errors import error_body as _error
from tests.support.inprocess import READER, Env
from tests.support.invariants import problems, snapshot
from tests.support.tasks import completed, media

GiB = 1 << 30
OBJECT_ERROR = "Invalid body: body: Input should be a valid dictionary or object to extract fields from"


# ------------------------------------------------------------------------------------------ helpers


def _refused(path: str, code: int, message: str) -> tuple[int, dict[str, Any]]:
    """What a quick check that refuses an operation answers: 400 TaskException with its code."""
    return 400, _error(path, TASK_EXCEPTION, message, code=str(code))


def _invalid(path: str, message: str) -> tuple[int, dict[str, Any]]:
    return 400, _error(path, PKG + "InvalidBodyException", message)


def _not_found(path: str, kind: str, key: str) -> tuple[int, dict[str, Any]]:
    message = f"Object type: {kind} id: {key} could not be found"
    return 404, _error(path, PKG + "ObjectNotFoundException", message, 404)


def _send(env: Env, h: dict[str, str], method: str, path: str, body: Any, version: str = "1.8") -> Any:
    """Send a body as given: a Python value as JSON, bytes verbatim."""
    headers = {**h, **media(version)}
    if isinstance(body, bytes):
        return env.client.request(method, path, headers=headers, content=body)
    return env.client.request(method, path, headers=headers, json=body)


def _answer(resp: Any) -> tuple[int, Any]:
    return resp.status_code, resp.json()


def _accepted(env: Env, h: dict[str, str], method: str, path: str, body: Any = None) -> str:
    """Submit without polling (nothing runs a task before its first poll here); returns the task id."""
    resp = _send(env, h, method, path, body)
    assert resp.status_code == 202, resp.text
    task_id: str = resp.json()["task"]["id"]
    return task_id


def _poll(env: Env, h: dict[str, str], task_id: str) -> dict[str, Any]:
    task: dict[str, Any] = env.client.get(f"/api/tasks/{task_id}", headers=h).json()["task"]
    return task


def _outcome(task: dict[str, Any]) -> tuple[str, int, str | None]:
    return task["state"], task["error_code"], task.get("message")


def _get(env: Env, h: dict[str, str], ds_id: str) -> dict[str, Any]:
    resp = env.client.get(f"/api/datastores/{ds_id}", headers=h)
    assert resp.status_code == 200, resp.text
    ds: dict[str, Any] = resp.json()["datastore"]
    return ds


def _vm(env: Env, h: dict[str, str], vm_id: str) -> dict[str, Any]:
    vm: dict[str, Any] = env.client.get(f"/api/virtual_machines/{vm_id}", headers=h).json()["virtual_machine"]
    return vm


def _sql(env: Env, statement: str, *params: object) -> None:
    """Change the store behind the server's back: what another controller's work would do."""
    with env.runtime.storage.engine.begin() as conn:
        conn.exec_driver_sql(statement, params)


def _consistent(env: Env, h: dict[str, str]) -> None:
    """Every invariant of the federation still holds (names, references, capacity)."""

    def fetch(path: str, params: dict[str, str]) -> Any:
        return env.client.get(path, headers=h, params=params).json()

    assert problems(snapshot(fetch)) == []


def _alive_on(env: Env, ds_id: str) -> list[dict[str, Any]]:
    return [v for v in env.federation.rows["virtual_machines"]
            if v["datastore_id"] == ds_id and v["state"] == "ALIVE"]  # fmt: skip


def _holding(env: Env, ds_id: str) -> list[dict[str, Any]]:
    """The live VMs and persistent volumes whose data the datastore holds."""
    holders = [*env.federation.rows["virtual_machines"], *env.federation.rows["persistent_volumes"]]
    return [v for v in holders if v["datastore_id"] == ds_id and v["state"] == "ALIVE"]


def _data(vms: list[dict[str, Any]]) -> int:
    return sum(v["hypervisor_allocated_capacity"] - v["hypervisor_free_space"] for v in vms)


def _empty(env: Env) -> dict[str, Any]:
    """A datastore that holds no live VM or persistent volume."""
    return next(d for d in env.federation.rows["datastores"] if not _holding(env, d["id"]))


def _volumes_on(env: Env, ds_id: str, state: str = "ALIVE") -> list[dict[str, Any]]:
    return [v for v in env.federation.rows["persistent_volumes"]
            if v["datastore_id"] == ds_id and v["state"] == state]  # fmt: skip


def _pv(env: Env, h: dict[str, str], pv_id: str) -> dict[str, Any]:
    resp = env.client.get(f"/api/persistent_volumes/{pv_id}", headers={**h, **media("1.16")})
    assert resp.status_code == 200, resp.text
    pv: dict[str, Any] = resp.json()["persistent_volume"]
    return pv


def _busy(env: Env) -> dict[str, Any]:
    """The datastore with the most live VMs."""
    return max(env.federation.rows["datastores"], key=lambda d: len(_alive_on(env, d["id"])))


def _standard(env: Env, cluster_id: str) -> list[dict[str, Any]]:
    return sorted(
        (s for s in env.federation.rows["standard_hosts"] if s["omnistack_cluster_id"] == cluster_id),
        key=lambda s: str(s["name"]),
    )


def _unshared(env: Env) -> dict[str, Any]:
    """A datastore shared with no host, in a cluster that has standard hosts."""
    return next(d for d in env.federation.rows["datastores"]
                if not d["shares"] and _standard(env, d["omnistack_cluster_id"]))  # fmt: skip


def _shared(env: Env) -> dict[str, Any]:
    return next(d for d in env.federation.rows["datastores"] if d["shares"])


def _create_body(env: Env, **changes: Any) -> dict[str, Any]:
    cluster = env.federation.rows["omnistack_clusters"][0]
    body = {"name": "DS-Fresh", "omnistack_cluster_id": cluster["id"],
            "policy_id": env.federation.rows["policies"][0]["id"], "size": 100 * GiB}  # fmt: skip
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


# ------------------------------------------------------------------------------------------ create


def test_create_makes_a_complete_datastore_consistent_with_its_cluster(own_env: Env) -> None:
    h = own_env.headers()
    cluster = own_env.federation.rows["omnistack_clusters"][-1]
    policy = own_env.federation.rows["policies"][-1]
    vcenter = cluster["hypervisor_management_system"]
    highest = max(int(d["hypervisor_object_id"].split("-")[1]) for d in own_env.federation.rows["datastores"]
                  if d["hypervisor_management_system"] == vcenter)  # fmt: skip
    body = {"name": "DS-New-01", "omnistack_cluster_id": cluster["id"], "policy_id": policy["id"],
            "size": str(512 * GiB), "single_replica": True, "comment": "unknown keys are ignored"}  # fmt: skip
    (made,) = completed(own_env, "POST", "/api/datastores", h, body, version="1")
    assert made["object_type"] == "datastore"
    new = made["object_id"]
    assert _get(own_env, h, new) == {
        "id": new,
        "name": "DS-New-01",
        "size": 512 * GiB,
        "created_at": TS,
        "mount_directory": f"/mnt/svtfs/0/{new}",
        "omnistack_cluster_id": cluster["id"],
        "omnistack_cluster_name": cluster["name"],
        "policy_id": policy["id"],
        "policy_name": policy["name"],
        "hypervisor_object_id": f"datastore-{highest + 1}",
        "hypervisor_type": cluster["hypervisor_type"],
        "hypervisor_management_system": vcenter,
        "hypervisor_management_system_name": cluster["hypervisor_management_system_name"],
        "compute_cluster_parent_hypervisor_object_id": cluster["hypervisor_object_parent_id"],
        "compute_cluster_parent_name": cluster["hypervisor_object_parent_name"],
        "shares": [],
        "cluster_group_ids": cluster["cluster_group_ids"],
        "single_replica": True,
        "deleted": False,
        "hypervisor_free_space": 512 * GiB,
    }
    listed = own_env.client.get("/api/datastores", params={"name": "DS-New-01"}, headers=h).json()
    assert [d["id"] for d in listed["datastores"]] == [new]
    hosts = own_env.client.get(f"/api/datastores/{new}/standard_hosts", headers=h).json()["standard_hosts"]
    assert [(s["name"], s["shared"], s["virtual_machine_count"]) for s in hosts] == [
        (s["name"], False, 0) for s in _standard(own_env, cluster["id"])
    ]
    # Without single_replica a datastore keeps two copies, as before 1.16.
    (other,) = completed(own_env, "POST", "/api/datastores", h, _create_body(own_env, name="DS-New-02"))
    assert _get(own_env, h, other["object_id"])["single_replica"] is False
    _consistent(own_env, h)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": ..., "omnistack_cluster_id": ..., "policy_id": ..., "size": ...},
         "Invalid body: name: Field required; omnistack_cluster_id: Field required; policy_id: Field required; "
         "size: Field required"),
        ({"size": ...}, "Invalid body: size: Field required"),
        ({"policy_id": ...}, "Invalid body: policy_id: Field required"),
        ({"size": "big"}, "Invalid body: size: Input should be a valid integer, unable to parse string as an integer"),
        ({"size": True}, "Invalid body: size: Input should be a valid integer"),
        ({"size": None}, "Invalid body: size: Input should be a valid integer"),
        ({"size": 1.5}, "Invalid body: size: Input should be a valid integer, got a number with a fractional part"),
        ({"size": 0}, "Invalid body: size: Input should be greater than 0"),
        ({"size": -GiB}, "Invalid body: size: Input should be greater than 0"),
        ({"size": 2**63}, "Invalid body: size: Input should be less than or equal to 9223372036854775807"),
        ({"name": 5}, "Invalid body: name: Input should be a valid string"),
        ({"omnistack_cluster_id": ""}, "Invalid body: omnistack_cluster_id: String should have at least 1 character"),
        ({"policy_id": ["p"]}, "Invalid body: policy_id: Input should be a valid string"),
        ({"single_replica": "maybe"},
         "Invalid body: single_replica: Input should be a valid boolean, unable to interpret input"),
        ({"name": ""}, "Invalid body: The datastore name must not be empty."),
        ({"name": " DS"}, "Invalid body: The datastore name must not begin or end with white space."),
        ({"name": "D" * 43}, "Invalid body: The datastore name must be at most 42 characters long."),
        ({"name": "DS/1:2"}, "Invalid body: The datastore name contains characters that are not allowed: '/', ':'."),
    ],
)  # fmt: skip
def test_create_bad_bodies(env: Env, admin: dict[str, str], changes: dict[str, Any], message: str) -> None:
    path = "/api/datastores"
    assert _answer(_send(env, admin, "POST", path, _create_body(env, **changes))) == _invalid(path, message)


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"null", OBJECT_ERROR), (b"[]", OBJECT_ERROR), (b"", "Invalid body: a JSON request body is required"),
     (b'[{"name": "x"}]', OBJECT_ERROR)],
)  # fmt: skip
def test_create_needs_an_object(env: Env, admin: dict[str, str], body: bytes, message: str) -> None:
    path = "/api/datastores"
    assert _answer(_send(env, admin, "POST", path, body)) == _invalid(path, message)


def test_create_refusals(env: Env, admin: dict[str, str]) -> None:
    path = "/api/datastores"
    taken = env.federation.rows["datastores"][0]["name"]
    assert _answer(_send(env, admin, "POST", path, _create_body(env, name=taken))) == _refused(
        path, 13, "Duplicate name exists."
    )
    resp = _send(env, admin, "POST", path, _create_body(env, omnistack_cluster_id="nope"))
    assert _answer(resp) == _not_found(path, "omnistack_cluster", "nope")
    resp = _send(env, admin, "POST", path, _create_body(env, policy_id="nope"))
    assert _answer(resp) == _not_found(path, "policy", "nope")
    cluster = env.federation.rows["omnistack_clusters"][0]
    capacity = cluster["allocated_capacity"]
    resp = _send(env, admin, "POST", path, _create_body(env, size=capacity + 1))
    assert _answer(resp) == _refused(
        path, 50,
        f"The datastore size ({capacity + 1} bytes) exceeds the capacity of cluster {cluster['name']} "
        f"({capacity} bytes).",
    )  # fmt: skip
    names = [d["name"] for d in env.client.get("/api/datastores", headers=admin).json()["datastores"]]
    assert "DS-Fresh" not in names


def test_create_thin_provisions_up_to_the_cluster_capacity(own_env: Env) -> None:
    """Datastores together may promise more than the cluster holds; one alone may not exceed it."""
    h = own_env.headers()
    capacity = own_env.federation.rows["omnistack_clusters"][0]["allocated_capacity"]
    for name in ("DS-Big-1", "DS-Big-2"):
        (made,) = completed(
            own_env, "POST", "/api/datastores", h, _create_body(own_env, name=name, size=capacity)
        )
        assert _get(own_env, h, made["object_id"])["size"] == capacity


def test_create_fails_when_the_name_is_taken_by_run_time(own_env: Env) -> None:
    h = own_env.headers()
    first = _accepted(own_env, h, "POST", "/api/datastores", _create_body(own_env, name="DS-Twin"))
    second = _accepted(own_env, h, "POST", "/api/datastores", _create_body(own_env, name="DS-Twin"))
    assert _poll(own_env, h, first)["state"] == "COMPLETED"
    task = _poll(own_env, h, second)
    assert _outcome(task) == ("FAILED", 13, "Duplicate name exists.")
    assert task["affected_objects"] == []
    found = own_env.client.get("/api/datastores", params={"name": "DS-Twin"}, headers=h).json()
    assert found["count"] == 1


def test_create_fails_when_the_policy_went_away(own_env: Env) -> None:
    h = own_env.headers()
    policy = own_env.federation.rows["policies"][-1]
    task_id = _accepted(own_env, h, "POST", "/api/datastores", _create_body(own_env, policy_id=policy["id"]))
    _sql(own_env, "DELETE FROM policies WHERE id = ?", policy["id"])
    assert _outcome(_poll(own_env, h, task_id)) == (
        "FAILED", 20, f"Object type: policy id: {policy['id']} could not be found",
    )  # fmt: skip
    found = own_env.client.get("/api/datastores", params={"name": "DS-Fresh"}, headers=h).json()
    assert found["count"] == 0


# ------------------------------------------------------------------------------------------ resize


def test_resize_grows_and_shrinks_to_what_its_vms_use(own_env: Env) -> None:
    h = own_env.headers()
    ds = _busy(own_env)
    used = _data(_holding(own_env, ds["id"]))
    assert ds["size"] - ds["hypervisor_free_space"] == used
    path = f"/api/datastores/{ds['id']}/resize"
    assert completed(own_env, "POST", path, h, {"size": 2 * ds["size"]}, version="1") == [
        {"object_id": ds["id"], "object_type": "datastore"}
    ]
    grown = _get(own_env, h, ds["id"])
    assert (grown["size"], grown["hypervisor_free_space"]) == (2 * ds["size"], 2 * ds["size"] - used)
    completed(own_env, "POST", path, h, {"size": used})
    shrunk = _get(own_env, h, ds["id"])
    assert (shrunk["size"], shrunk["hypervisor_free_space"]) == (used, 0)
    assert {k: v for k, v in shrunk.items() if k not in ("size", "hypervisor_free_space")} == {
        k: v for k, v in ds.items() if k not in ("size", "hypervisor_free_space")
    }
    _consistent(own_env, h)


def test_resize_refusals(env: Env, admin: dict[str, str]) -> None:
    ds = _busy(env)
    used = _data(_holding(env, ds["id"]))
    path = f"/api/datastores/{ds['id']}/resize"
    assert _answer(_send(env, admin, "POST", path, {"size": used - 1})) == _refused(
        path, 30, f"Datastore {ds['name']} cannot be resized to {used - 1} bytes: its virtual machines use {used} bytes."
    )  # fmt: skip
    cluster = next(
        c for c in env.federation.rows["omnistack_clusters"] if c["id"] == ds["omnistack_cluster_id"]
    )
    too_big = cluster["allocated_capacity"] + 1
    assert _answer(_send(env, admin, "POST", path, {"size": too_big})) == _refused(
        path, 50,
        f"The datastore size ({too_big} bytes) exceeds the capacity of cluster {cluster['name']} "
        f"({cluster['allocated_capacity']} bytes).",
    )  # fmt: skip
    gone = "/api/datastores/nope/resize"
    assert _answer(_send(env, admin, "POST", gone, {"size": GiB})) == _not_found(gone, "datastore", "nope")
    assert _get(env, admin, ds["id"]) == {**ds}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Invalid body: size: Field required"),
        ({"bytes": 5}, "Invalid body: size: Field required"),
        ({"size": "x"}, "Invalid body: size: Input should be a valid integer, unable to parse string as an integer"),
        ({"size": 0}, "Invalid body: size: Input should be greater than 0"),
        ({"size": [1]}, "Invalid body: size: Input should be a valid integer"),
        (b"null", OBJECT_ERROR),
        (b"[]", OBJECT_ERROR),
        (b"", "Invalid body: a JSON request body is required"),
    ],
)  # fmt: skip
def test_resize_bad_bodies(env: Env, admin: dict[str, str], body: Any, message: str) -> None:
    path = f"/api/datastores/{_busy(env)['id']}/resize"
    assert _answer(_send(env, admin, "POST", path, body)) == _invalid(path, message)


def test_resize_fails_when_its_vms_grew_by_run_time(own_env: Env) -> None:
    h = own_env.headers()
    ds = _busy(own_env)
    vms = _alive_on(own_env, ds["id"])
    used = _data(_holding(own_env, ds["id"]))
    task_id = _accepted(own_env, h, "POST", f"/api/datastores/{ds['id']}/resize", {"size": used})
    _sql(own_env, "UPDATE virtual_machines SET hypervisor_free_space = hypervisor_free_space - 4096 WHERE id = ?",
         vms[0]["id"])  # fmt: skip
    assert _outcome(_poll(own_env, h, task_id)) == (
        "FAILED", 30,
        f"Datastore {ds['name']} cannot be resized to {used} bytes: its virtual machines use {used + 4096} bytes.",
    )  # fmt: skip
    assert _get(own_env, h, ds["id"])["size"] == ds["size"]


# ------------------------------------------------------------------------------------------ delete


def test_delete_removes_an_empty_datastore(own_env: Env) -> None:
    h = own_env.headers()
    ds = _empty(own_env)
    path = f"/api/datastores/{ds['id']}"
    # DELETE takes any content type (the spec lists plain JSON); the SDK sends `{}`.
    resp = own_env.client.delete(path, headers={**h, "Content-Type": "application/json"})
    assert resp.status_code == 202
    task = _poll(own_env, h, resp.json()["task"]["id"])
    assert task["state"] == "COMPLETED"
    assert task["affected_objects"] == [{"object_id": ds["id"], "object_type": "datastore"}]
    assert _answer(own_env.client.get(path, headers=h)) == _not_found(path, "datastore", ds["id"])
    listed = own_env.client.get("/api/datastores", headers=h).json()["datastores"]
    assert ds["id"] not in [d["id"] for d in listed]
    _consistent(own_env, h)


def test_delete_keeps_the_history_that_names_the_datastore(own_env: Env) -> None:
    h = own_env.headers()
    ds = next(d for d in own_env.federation.rows["datastores"] if not _volumes_on(own_env, d["id"])
              and any(b["datastore_id"] == d["id"] for b in own_env.federation.rows["backups"]))  # fmt: skip
    # Its VMs were deleted in vCenter: nothing live is left on it, but their backups remain.
    _sql(
        own_env,
        "UPDATE virtual_machines SET state = 'DELETED', deleted_at = ? WHERE datastore_id = ?",
        TS,
        ds["id"],
    )
    backups = own_env.client.get(
        "/api/backups", params={"datastore_id": ds["id"], "limit": "3"}, headers=h
    ).json()
    assert backups["count"] > 0
    completed(own_env, "DELETE", f"/api/datastores/{ds['id']}", h, {})
    after = own_env.client.get(
        "/api/backups", params={"datastore_id": ds["id"], "limit": "3"}, headers=h
    ).json()
    assert after == backups
    assert {b["datastore_name"] for b in after["backups"]} == {ds["name"]}
    vm = next(v for v in own_env.federation.rows["virtual_machines"] if v["datastore_id"] == ds["id"])
    assert (_vm(own_env, h, vm["id"])["datastore_id"], _vm(own_env, h, vm["id"])["datastore_name"]) == (
        ds["id"], ds["name"],
    )  # fmt: skip


def test_delete_refuses_while_vms_live_on_it(env: Env, admin: dict[str, str]) -> None:
    ds = max((d for d in env.federation.rows["datastores"] if not _volumes_on(env, d["id"])),
             key=lambda d: len(_alive_on(env, d["id"])))  # fmt: skip
    n = len(_alive_on(env, ds["id"]))
    path = f"/api/datastores/{ds['id']}"
    assert _answer(env.client.delete(path, headers=admin)) == _refused(
        path, 40, f"Datastore {ds['name']} cannot be deleted: it stores {n} virtual machines."
    )
    assert _get(env, admin, ds["id"]) == ds
    gone = "/api/datastores/nope"
    assert _answer(env.client.delete(gone, headers=admin)) == _not_found(gone, "datastore", "nope")


def test_delete_refuses_while_persistent_volumes_live_on_it(own_env: Env) -> None:
    h = own_env.headers()
    both = next(d for d in own_env.federation.rows["datastores"]
                if len(_volumes_on(own_env, d["id"])) > 1 and len(_alive_on(own_env, d["id"])) > 1)  # fmt: skip
    vms, volumes = len(_alive_on(own_env, both["id"])), len(_volumes_on(own_env, both["id"]))
    path = f"/api/datastores/{both['id']}"
    assert _answer(own_env.client.delete(path, headers=h)) == _refused(
        path, 40,
        f"Datastore {both['name']} cannot be deleted: it stores {vms} virtual machines and {volumes} persistent volumes.",
    )  # fmt: skip
    # Its VMs deleted in vCenter, what is left alive on it is its volumes.
    _sql(own_env, "UPDATE virtual_machines SET state = 'DELETED', deleted_at = ? WHERE datastore_id = ?",
         TS, both["id"])  # fmt: skip
    assert _answer(own_env.client.delete(path, headers=h)) == _refused(
        path, 40, f"Datastore {both['name']} cannot be deleted: it stores {volumes} persistent volumes."
    )
    assert _get(own_env, h, both["id"])["name"] == both["name"]
    for pv in _volumes_on(own_env, both["id"]):
        assert _pv(own_env, h, pv["id"])["state"] == "ALIVE"


def test_delete_is_not_stopped_by_a_deleted_persistent_volume(own_env: Env) -> None:
    h = own_env.headers()
    ds = next(d for d in own_env.federation.rows["datastores"]
              if _volumes_on(own_env, d["id"], "DELETED") and not _volumes_on(own_env, d["id"]))  # fmt: skip
    [pv] = _volumes_on(own_env, ds["id"], "DELETED")
    before = _pv(own_env, h, pv["id"])
    _sql(own_env, "UPDATE virtual_machines SET state = 'DELETED', deleted_at = ? WHERE datastore_id = ?",
         TS, ds["id"])  # fmt: skip
    assert completed(own_env, "DELETE", f"/api/datastores/{ds['id']}", h, {}) == [
        {"object_id": ds["id"], "object_type": "datastore"}
    ]
    after = _pv(own_env, h, pv["id"])
    assert after == before and (after["datastore_id"], after["datastore_name"]) == (ds["id"], ds["name"])


def test_delete_fails_when_a_persistent_volume_arrived_by_run_time(own_env: Env) -> None:
    h = own_env.headers()
    ds = _empty(own_env)
    pv = next(v for v in own_env.federation.rows["persistent_volumes"] if v["state"] == "ALIVE")
    task_id = _accepted(own_env, h, "DELETE", f"/api/datastores/{ds['id']}")
    _sql(own_env, "UPDATE persistent_volumes SET datastore_id = ?, datastore_name = ? WHERE id = ?",
         ds["id"], ds["name"], pv["id"])  # fmt: skip
    assert _outcome(_poll(own_env, h, task_id)) == (
        "FAILED", 40, f"Datastore {ds['name']} cannot be deleted: it stores 1 persistent volume.",
    )  # fmt: skip
    assert _get(own_env, h, ds["id"])["name"] == ds["name"]


def test_delete_fails_when_a_vm_arrived_by_run_time(own_env: Env) -> None:
    h = own_env.headers()
    ds = _empty(own_env)
    vm = next(v for v in own_env.federation.rows["virtual_machines"] if v["state"] == "ALIVE")
    task_id = _accepted(own_env, h, "DELETE", f"/api/datastores/{ds['id']}")
    _sql(own_env, "UPDATE virtual_machines SET datastore_id = ?, datastore_name = ? WHERE id = ?",
         ds["id"], ds["name"], vm["id"])  # fmt: skip
    assert _outcome(_poll(own_env, h, task_id)) == (
        "FAILED", 40, f"Datastore {ds['name']} cannot be deleted: it stores 1 virtual machine.",
    )  # fmt: skip
    assert _get(own_env, h, ds["id"])["name"] == ds["name"]


# -------------------------------------------------------------------------------------- set_policy


def test_set_policy_moves_the_vms_that_inherit_it(own_env: Env) -> None:
    h = own_env.headers()
    ds = next(d for d in own_env.federation.rows["datastores"]
              if {v["policy_id"] for v in _alive_on(own_env, d["id"])} - {d["policy_id"]})  # fmt: skip
    vms = _alive_on(own_env, ds["id"])
    inheriting = sorted(v["id"] for v in vms if v["policy_id"] == ds["policy_id"])
    own = [v for v in vms if v["policy_id"] != ds["policy_id"]]
    taken = {ds["policy_id"]} | {v["policy_id"] for v in own}
    policy = next(p for p in own_env.federation.rows["policies"] if p["id"] not in taken)
    dead = [v for v in own_env.federation.rows["virtual_machines"]
            if v["datastore_id"] == ds["id"] and v["state"] != "ALIVE"]  # fmt: skip
    affected = completed(
        own_env, "POST", f"/api/datastores/{ds['id']}/set_policy", h, {"policy_id": policy["id"]}, version="1"
    )
    assert affected == [{"object_id": ds["id"], "object_type": "datastore"}] + [
        {"object_id": vm_id, "object_type": "virtual_machine"} for vm_id in inheriting
    ]
    after = _get(own_env, h, ds["id"])
    assert (after["policy_id"], after["policy_name"]) == (policy["id"], policy["name"])
    for vm_id in inheriting:
        vm = _vm(own_env, h, vm_id)
        assert (vm["policy_id"], vm["policy_name"]) == (policy["id"], policy["name"])
    for v in own + dead:
        assert _vm(own_env, h, v["id"])["policy_id"] == v["policy_id"]
    # Setting the policy it already has changes nothing and names only the datastore.
    again = completed(
        own_env, "POST", f"/api/datastores/{ds['id']}/set_policy", h, {"policy_id": policy["id"]}
    )
    assert again == [{"object_id": ds["id"], "object_type": "datastore"}]
    _consistent(own_env, h)


def test_set_policy_moves_the_persistent_volumes_that_inherit_it_as_vms(own_env: Env) -> None:
    h = own_env.headers()
    ds = next(d for d in own_env.federation.rows["datastores"] if len(_volumes_on(own_env, d["id"])) > 2)
    first, *rest = _volumes_on(own_env, ds["id"])
    policies = [p for p in own_env.federation.rows["policies"] if p["id"] != ds["policy_id"]]
    own_policy, policy = policies[0], policies[1]
    # One volume was given a policy of its own (the Go SDK's set_policy): it keeps it, as such VMs do.
    completed(own_env, "POST", "/api/persistent_volumes/set_policy", h,
              {"policy_id": own_policy["id"], "persistent_volume_id": [first["id"]]}, version="1.16")  # fmt: skip
    inheriting = sorted(v["id"] for v in _alive_on(own_env, ds["id"]) if v["policy_id"] == ds["policy_id"])
    elsewhere = [v for v in own_env.federation.rows["persistent_volumes"] if v["datastore_id"] != ds["id"]]
    affected = completed(
        own_env, "POST", f"/api/datastores/{ds['id']}/set_policy", h, {"policy_id": policy["id"]}
    )
    assert affected == [
        {"object_id": ds["id"], "object_type": "datastore"},
        *({"object_id": vm_id, "object_type": "virtual_machine"} for vm_id in inheriting),
        *(
            {"object_id": pv_id, "object_type": "persistent_volume"}
            for pv_id in sorted(v["id"] for v in rest)
        ),
    ]
    for pv in rest:
        after = _pv(own_env, h, pv["id"])
        assert (after["policy_id"], after["policy_name"]) == (policy["id"], policy["name"])
    kept = _pv(own_env, h, first["id"])
    assert (kept["policy_id"], kept["policy_name"]) == (own_policy["id"], own_policy["name"])
    for pv in elsewhere:
        assert _pv(own_env, h, pv["id"])["policy_id"] == pv["policy_id"]
    _consistent(own_env, h)


def test_set_policy_refusals(env: Env, admin: dict[str, str]) -> None:
    ds = _busy(env)
    path = f"/api/datastores/{ds['id']}/set_policy"
    assert _answer(_send(env, admin, "POST", path, {"policy_id": "nope"})) == _not_found(
        path, "policy", "nope"
    )
    gone = "/api/datastores/nope/set_policy"
    policy = env.federation.rows["policies"][0]["id"]
    assert _answer(_send(env, admin, "POST", gone, {"policy_id": policy})) == _not_found(
        gone, "datastore", "nope"
    )
    for body, message in [
        ({}, "Invalid body: policy_id: Field required"),
        ({"policy_id": 7}, "Invalid body: policy_id: Input should be a valid string"),
        ({"policy_id": ""}, "Invalid body: policy_id: String should have at least 1 character"),
        (b"null", OBJECT_ERROR),
        (b"[]", OBJECT_ERROR),
    ]:
        assert _answer(_send(env, admin, "POST", path, body)) == _invalid(path, message)
    assert _get(env, admin, ds["id"]) == ds


def test_set_policy_fails_when_the_policy_went_away(own_env: Env) -> None:
    h = own_env.headers()
    ds = _busy(own_env)
    policy = next(p for p in own_env.federation.rows["policies"] if p["id"] != ds["policy_id"])
    task_id = _accepted(
        own_env, h, "POST", f"/api/datastores/{ds['id']}/set_policy", {"policy_id": policy["id"]}
    )
    _sql(own_env, "DELETE FROM policies WHERE id = ?", policy["id"])
    assert _outcome(_poll(own_env, h, task_id)) == (
        "FAILED", 20, f"Object type: policy id: {policy['id']} could not be found",
    )  # fmt: skip
    assert _get(own_env, h, ds["id"])["policy_id"] == ds["policy_id"]
    assert {_vm(own_env, h, v["id"])["policy_id"] for v in _alive_on(own_env, ds["id"])} == {
        v["policy_id"] for v in _alive_on(own_env, ds["id"])
    }


# -------------------------------------------------------------------------------- share / unshare


def _host_uses(ds: dict[str, Any], host: str) -> str:
    return (
        f"Datastore {ds['name']} cannot be unshared from host {host}: "
        "it stores 1 virtual machine running on that host."
    )


def _flags(env: Env, h: dict[str, str], ds_id: str) -> dict[str, bool]:
    hosts = env.client.get(f"/api/datastores/{ds_id}/standard_hosts", headers=h).json()["standard_hosts"]
    return {s["name"]: s["shared"] for s in hosts}


def test_share_and_unshare_with_standard_hosts(own_env: Env) -> None:
    h = own_env.headers()
    ds = _unshared(own_env)
    hosts = _standard(own_env, ds["omnistack_cluster_id"])
    entries = [{"address": s["ip_address"], "host": s["name"], "rw": True} for s in hosts]
    for s in hosts:
        assert completed(
            own_env, "POST", f"/api/datastores/{ds['id']}/share", h, {"host_name": s["name"]}
        ) == [{"object_id": ds["id"], "object_type": "datastore"}]
    assert _get(own_env, h, ds["id"])["shares"] == entries
    assert _flags(own_env, h, ds["id"]) == {s["name"]: True for s in hosts}
    first = hosts[0]["name"]
    assert completed(
        own_env, "POST", f"/api/datastores/{ds['id']}/unshare", h, {"host_name": first}, version="1.25"
    ) == [{"object_id": ds["id"], "object_type": "datastore"}]
    assert _get(own_env, h, ds["id"])["shares"] == entries[1:]
    assert _flags(own_env, h, ds["id"]) == {s["name"]: s["name"] != first for s in hosts}
    _consistent(own_env, h)


def test_share_refusals(env: Env, admin: dict[str, str]) -> None:
    ds = _unshared(env)
    path = f"/api/datastores/{ds['id']}/share"
    cluster = ds["omnistack_cluster_name"]
    stranger = next(s["name"] for s in env.federation.rows["standard_hosts"]
                    if s["omnistack_cluster_id"] != ds["omnistack_cluster_id"])  # fmt: skip
    omnistack = next(x["name"] for x in env.federation.rows["hosts"]
                     if x["omnistack_cluster_id"] == ds["omnistack_cluster_id"])  # fmt: skip
    for name in (stranger, omnistack, "nowhere.example.local"):
        assert _answer(_send(env, admin, "POST", path, {"host_name": name})) == _refused(
            path, 30, f"{name} is not a standard host of cluster {cluster}."
        )
    shared = _shared(env)
    host = shared["shares"][0]["host"]
    again = f"/api/datastores/{shared['id']}/share"
    assert _answer(_send(env, admin, "POST", again, {"host_name": host})) == _refused(
        again, 60, f"Datastore {shared['name']} is already shared with host {host}."
    )
    gone = "/api/datastores/nope/share"
    assert _answer(_send(env, admin, "POST", gone, {"host_name": host})) == _not_found(
        gone, "datastore", "nope"
    )
    assert _get(env, admin, ds["id"]) == ds and _get(env, admin, shared["id"]) == shared


def test_unshare_refusals(own_env: Env) -> None:
    h = own_env.headers()
    ds = _shared(own_env)
    host = ds["shares"][0]["host"]
    path = f"/api/datastores/{ds['id']}/unshare"
    unshared = _unshared(own_env)
    other = _standard(own_env, unshared["omnistack_cluster_id"])[0]["name"]
    not_shared = f"/api/datastores/{unshared['id']}/unshare"
    assert _answer(_send(own_env, h, "POST", not_shared, {"host_name": other})) == _refused(
        not_shared, 60, f"Datastore {unshared['name']} is not shared with host {other}."
    )
    assert _answer(_send(own_env, h, "POST", path, {"host_name": "nowhere"})) == _refused(
        path, 30, f"nowhere is not a standard host of cluster {ds['omnistack_cluster_name']}."
    )
    # A VM that runs on the standard host keeps its files on the datastore.
    vm = _alive_on(own_env, ds["id"])[0]
    _sql(own_env, "UPDATE virtual_machines SET host_name = ? WHERE id = ?", host, vm["id"])
    assert _answer(_send(own_env, h, "POST", path, {"host_name": host})) == _refused(
        path, 40, _host_uses(ds, host)
    )
    assert _get(own_env, h, ds["id"])["shares"] == ds["shares"]


@pytest.mark.parametrize("operation", ["share", "unshare"])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Invalid body: host_name: Field required"),
        ({"host": "x"}, "Invalid body: host_name: Field required"),
        ({"host_name": 5}, "Invalid body: host_name: Input should be a valid string"),
        ({"host_name": None}, "Invalid body: host_name: Input should be a valid string"),
        (b"null", OBJECT_ERROR),
        (b'["x"]', OBJECT_ERROR),
    ],
)  # fmt: skip
def test_share_bad_bodies(env: Env, admin: dict[str, str], operation: str, body: Any, message: str) -> None:
    path = f"/api/datastores/{_shared(env)['id']}/{operation}"
    assert _answer(_send(env, admin, "POST", path, body)) == _invalid(path, message)


def test_share_fails_when_shared_by_run_time(own_env: Env) -> None:
    h = own_env.headers()
    ds = _unshared(own_env)
    host = _standard(own_env, ds["omnistack_cluster_id"])[0]
    path = f"/api/datastores/{ds['id']}/share"
    first = _accepted(own_env, h, "POST", path, {"host_name": host["name"]})
    second = _accepted(own_env, h, "POST", path, {"host_name": host["name"]})
    assert _poll(own_env, h, first)["state"] == "COMPLETED"
    assert _outcome(_poll(own_env, h, second)) == (
        "FAILED", 60, f"Datastore {ds['name']} is already shared with host {host['name']}.",
    )  # fmt: skip
    assert _get(own_env, h, ds["id"])["shares"] == [
        {"address": host["ip_address"], "host": host["name"], "rw": True}
    ]


def test_unshare_fails_when_a_vm_of_the_host_arrived_by_run_time(own_env: Env) -> None:
    h = own_env.headers()
    ds = _shared(own_env)
    host = ds["shares"][0]["host"]
    task_id = _accepted(own_env, h, "POST", f"/api/datastores/{ds['id']}/unshare", {"host_name": host})
    vm = _alive_on(own_env, ds["id"])[0]
    _sql(own_env, "UPDATE virtual_machines SET host_name = ? WHERE id = ?", host, vm["id"])
    assert _outcome(_poll(own_env, h, task_id)) == ("FAILED", 40, _host_uses(ds, host))
    assert _get(own_env, h, ds["id"])["shares"] == ds["shares"]
    counts = own_env.client.get(f"/api/datastores/{ds['id']}/standard_hosts", headers=h).json()
    assert {s["name"]: s["virtual_machine_count"] for s in counts["standard_hosts"]}[host] == 1


# ------------------------------------------------------------------------------ who and which media


def _operations(env: Env) -> list[tuple[str, str, Any]]:
    ds = _shared(env)
    host = ds["shares"][0]["host"]
    return [
        ("POST", "/api/datastores", _create_body(env)),
        ("POST", f"/api/datastores/{ds['id']}/resize", {"size": ds["size"]}),
        ("DELETE", f"/api/datastores/{_empty(env)['id']}", {}),
        ("POST", f"/api/datastores/{ds['id']}/set_policy", {"policy_id": ds["policy_id"]}),
        ("POST", f"/api/datastores/{_unshared(env)['id']}/share",
         {"host_name": _standard(env, _unshared(env)["omnistack_cluster_id"])[0]["name"]}),
        ("POST", f"/api/datastores/{ds['id']}/unshare", {"host_name": host}),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(6))
def test_read_only_user_cannot_change_datastores(env: Env, index: int) -> None:
    method, path, body = _operations(env)[index]
    resp = _send(env, env.headers(READER), method, path, body)
    assert _answer(resp) == (403, _error(
        path, PKG + "PermissionDeniedException",
        f"User {READER[0]} has a read-only role and may not perform this operation", 403,
    ))  # fmt: skip


@pytest.mark.parametrize(
    ("index", "ctype"),
    [(0, "application/json"), (1, "application/json"), (3, "text/plain"),
     (4, "application/vnd.simplivity.v1.7+json"), (5, "application/vnd.simplivity.v1+json")],
)  # fmt: skip
def test_media_types_older_than_the_spec_lists_are_415(
    env: Env, admin: dict[str, str], index: int, ctype: str
) -> None:
    method, path, body = _operations(env)[index]
    resp = env.client.request(method, path, headers={**admin, "Content-Type": ctype}, json=body)
    assert _answer(resp) == (415, _error(path, MEDIA_EXCEPTION, f"Content type '{ctype}' not supported", 415))
