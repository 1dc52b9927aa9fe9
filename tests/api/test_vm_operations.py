"""Virtual machine operations: power, set_policy (one and many), clone and move, through HTTP tasks."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.errors import PKG, TS
from tests.support.errors import error_body as _error
from tests.support.inprocess import READER, Env, pick_vm
from tests.support.tasks import completed, failed, media


def _vm(env: Env, headers: dict[str, str], vm_id: str) -> dict[str, Any]:
    resp = env.client.get(f"/api/virtual_machines/{vm_id}", headers=headers)
    assert resp.status_code == 200, resp.text
    vm: dict[str, Any] = resp.json()["virtual_machine"]
    return vm


def _datastore(env: Env, headers: dict[str, str], ds_id: str) -> dict[str, Any]:
    body: dict[str, Any] = env.client.get(f"/api/datastores/{ds_id}", headers=headers).json()["datastore"]
    return body


def test_power_off_and_on(own_env: Env) -> None:
    h = own_env.headers()
    vm = pick_vm(own_env, "ON")
    path = f"/api/virtual_machines/{vm['id']}"
    assert completed(own_env, "POST", f"{path}/power_off", h, None, version="1.11") == [
        {"object_id": vm["id"], "object_type": "virtual_machine"}
    ]
    after = _vm(own_env, h, vm["id"])
    assert after["hypervisor_virtual_machine_power_state"] == "OFF"
    assert after["hypervisor_consumed_cpu"] == 0 and after["hypervisor_consumed_memory"] == 0
    assert failed(own_env, "POST", f"{path}/power_off", h, version="1.11") == (
        130, "The VM power state is not acceptable.",
    )  # fmt: skip
    completed(own_env, "POST", f"{path}/power_on", h, version="1.14")
    assert _vm(own_env, h, vm["id"])["hypervisor_virtual_machine_power_state"] == "ON"


def test_power_needs_v1_9(env: Env, admin: dict[str, str]) -> None:
    vm = pick_vm(env, "ON")
    path = f"/api/virtual_machines/{vm['id']}/power_off"
    resp = env.client.post(path, headers={**admin, **media("1.8")})
    assert resp.status_code == 415
    assert resp.json() == _error(
        path, "org.springframework.web.HttpMediaTypeNotSupportedException",
        "Content type 'application/vnd.simplivity.v1.8+json' not supported", 415,
    )  # fmt: skip


def test_set_policy_for_one_and_many(own_env: Env) -> None:
    h = own_env.headers()
    vms = [v for v in own_env.federation.rows["virtual_machines"] if v["state"] == "ALIVE"][:3]
    policy = own_env.federation.rows["policies"][-1]
    one = completed(
        own_env, "POST", f"/api/virtual_machines/{vms[0]['id']}/set_policy", h, {"policy_id": policy["id"]}
    )
    assert one == [{"object_id": vms[0]["id"], "object_type": "virtual_machine"}]
    many = completed(
        own_env, "POST", "/api/virtual_machines/set_policy", h,
        {"virtual_machine_id": [v["id"] for v in vms], "policy_id": policy["id"]},
    )  # fmt: skip
    assert [a["object_id"] for a in many] == [v["id"] for v in vms]
    for v in vms:
        after = _vm(own_env, h, v["id"])
        assert (after["policy_id"], after["policy_name"]) == (policy["id"], policy["name"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"policy_id": "p"}, "Invalid body: Specify a virtual_machine_id key/value to set a policy for virtual_machine instances."),
        ({"virtual_machine_id": [], "policy_id": "p"},
         "Invalid body: Specify a virtual_machine_id key/value to set a policy for virtual_machine instances."),
        ({"virtual_machine_id": "abc", "policy_id": "p"}, "Invalid body: virtual_machine_id: Input should be a valid list"),
        ({"virtual_machine_id": ["a"]}, "Invalid body: policy_id: Field required"),
        ("null", "Invalid body: body: Input should be a valid dictionary or object to extract fields from"),
        ("", "Invalid body: a JSON request body is required"),
        ([], "Invalid body: body: Input should be a valid dictionary or object to extract fields from"),
    ],
)  # fmt: skip
def test_set_policy_bad_bodies(env: Env, admin: dict[str, str], body: Any, message: str) -> None:
    path = "/api/virtual_machines/set_policy"
    if isinstance(body, str):
        resp = env.client.post(path, headers={**admin, **media()}, content=body.encode())
    else:
        resp = env.client.post(path, headers={**admin, **media()}, json=body)
    assert (resp.status_code, resp.json()) == (400, _error(path, PKG + "InvalidBodyException", message))


def test_set_policy_unknown_objects(env: Env, admin: dict[str, str]) -> None:
    vm = pick_vm(env, "ON")
    path = f"/api/virtual_machines/{vm['id']}/set_policy"
    resp = env.client.post(path, headers={**admin, **media()}, json={"policy_id": "nope"})
    assert (resp.status_code, resp.json()) == (
        404, _error(path, PKG + "ObjectNotFoundException", "Object type: policy id: nope could not be found", 404),
    )  # fmt: skip
    path = "/api/virtual_machines/nope/set_policy"
    resp = env.client.post(path, headers={**admin, **media()}, json={"policy_id": "x"})
    assert resp.status_code == 404
    assert resp.json()["message"] == "Object type: virtual_machine id: nope could not be found"


def test_clone_shares_the_source_and_takes_its_space(own_env: Env) -> None:
    h = own_env.headers()
    vm = pick_vm(own_env, "ON")
    before = _datastore(own_env, h, vm["datastore_id"])["hypervisor_free_space"]
    (created,) = completed(
        own_env, "POST", f"/api/virtual_machines/{vm['id']}/clone", h, {"virtual_machine_name": "web-clone-1"}
    )
    assert created["object_type"] == "virtual_machine" and created["object_id"] != vm["id"]
    clone = _vm(own_env, h, created["object_id"])
    assert clone["name"] == "web-clone-1" and clone["state"] == "ALIVE"
    for same in (
        "datastore_id",
        "omnistack_cluster_id",
        "host_id",
        "policy_id",
        "hypervisor_allocated_capacity",
    ):
        assert clone[same] == vm[same]
    assert clone["hypervisor_virtual_machine_power_state"] == "OFF"
    assert clone["created_at"] == TS and clone["hypervisor_object_id"] != vm["hypervisor_object_id"]
    used = vm["hypervisor_allocated_capacity"] - vm["hypervisor_free_space"]
    assert _datastore(own_env, h, vm["datastore_id"])["hypervisor_free_space"] == before - used


def test_clone_refusals(own_env: Env) -> None:
    h = own_env.headers()
    vm, other = [v for v in own_env.federation.rows["virtual_machines"] if v["state"] == "ALIVE"][:2]
    path = f"/api/virtual_machines/{vm['id']}/clone"
    resp = own_env.client.post(path, headers={**h, **media()}, json={"virtual_machine_name": other["name"]})
    assert (resp.status_code, resp.json()) == (
        400, _error(path, "com.simplivity.rpc.common.TaskException", "Duplicate name exists.", code="13"),
    )  # fmt: skip
    for name, problem in [
        ("", "The virtual machine name must not be empty."),
        ("a/b", "The virtual machine name contains characters that are not allowed: '/'."),
        ("x" * 81, "The virtual machine name must be at most 80 characters long."),
    ]:
        resp = own_env.client.post(path, headers={**h, **media()}, json={"virtual_machine_name": name})
        assert (resp.status_code, resp.json()) == (
            400,
            _error(path, PKG + "InvalidBodyException", f"Invalid body: {problem}"),
        )
    resp = own_env.client.post(
        path, headers={**h, **media()}, json={"virtual_machine_name": "ok", "consistency_type": "SOME"}
    )
    assert resp.status_code == 400
    assert resp.json()["message"].startswith(
        "Invalid body: consistency_type: Input should be 'NONE', 'DEFAULT'"
    )
    resp = own_env.client.post(path, headers={**h, **media()}, json={"virtual_machine_name": 5})
    assert resp.json()["message"] == "Invalid body: virtual_machine_name: Input should be a valid string"


def test_clone_fails_when_the_datastore_is_full(own_env: Env) -> None:
    h = own_env.headers()
    vm = pick_vm(own_env, "ON")
    engine = own_env.runtime.storage.engine
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE datastores SET hypervisor_free_space = 10 WHERE id = ?", (vm["datastore_id"],)
        )
    count = own_env.client.get("/api/virtual_machines", headers=h).json()["count"]
    code, message = failed(
        own_env, "POST", f"/api/virtual_machines/{vm['id']}/clone", h, {"virtual_machine_name": "c2"}
    )
    ds = _datastore(own_env, h, vm["datastore_id"])
    used = vm["hypervisor_allocated_capacity"] - vm["hypervisor_free_space"]
    assert (code, message) == (50, f"Datastore {ds['name']} has 10 bytes free; {used} bytes are needed.")
    assert own_env.client.get("/api/virtual_machines", headers=h).json()["count"] == count
    assert ds["hypervisor_free_space"] == 10


def test_move_gives_a_new_id_and_moves_capacity(own_env: Env) -> None:
    h = own_env.headers()
    vm = pick_vm(own_env, "OFF")
    target = next(d for d in own_env.federation.rows["datastores"]
                  if d["omnistack_cluster_id"] != vm["omnistack_cluster_id"])  # fmt: skip
    src_before = _datastore(own_env, h, vm["datastore_id"])["hypervisor_free_space"]
    dst_before = _datastore(own_env, h, target["id"])["hypervisor_free_space"]
    (moved,) = completed(
        own_env, "POST", f"/api/virtual_machines/{vm['id']}/move", h,
        {"destination_datastore_id": target["id"], "virtual_machine_name": "moved-vm"},
    )  # fmt: skip
    assert moved["object_id"] != vm["id"]
    new = _vm(own_env, h, moved["object_id"])
    assert (new["name"], new["datastore_id"], new["omnistack_cluster_id"]) == (
        "moved-vm", target["id"], target["omnistack_cluster_id"],
    )  # fmt: skip
    host_ids = {m for c in own_env.federation.rows["omnistack_clusters"] if c["id"] == target["omnistack_cluster_id"]
                for m in c["members"]}  # fmt: skip
    assert new["host_id"] in host_ids and {r["id"] for r in new["replica_set"]} <= host_ids
    used = vm["hypervisor_allocated_capacity"] - vm["hypervisor_free_space"]
    assert _datastore(own_env, h, target["id"])["hypervisor_free_space"] == dst_before - used
    assert _datastore(own_env, h, vm["datastore_id"])["hypervisor_free_space"] == src_before + used
    old = _vm(own_env, h, vm["id"])
    assert (old["state"], old["deleted_at"]) == ("DELETED", TS)


def test_move_refusals(own_env: Env) -> None:
    h = own_env.headers()
    on = pick_vm(own_env, "ON")
    target = next(d for d in own_env.federation.rows["datastores"] if d["id"] != on["datastore_id"])
    assert failed(own_env, "POST", f"/api/virtual_machines/{on['id']}/move", h,
                  {"destination_datastore_id": target["id"]}) == (130, "The VM power state is not acceptable.")  # fmt: skip
    off = pick_vm(own_env, "OFF")
    ds = _datastore(own_env, h, off["datastore_id"])
    assert failed(own_env, "POST", f"/api/virtual_machines/{off['id']}/move", h,
                  {"destination_datastore_id": off["datastore_id"]}) == (
        142, f"The virtual machine is already on datastore {ds['name']}.",
    )  # fmt: skip
    path = f"/api/virtual_machines/{off['id']}/move"
    resp = own_env.client.post(path, headers={**h, **media()}, json={"destination_datastore_id": "nope"})
    assert (resp.status_code, resp.json()["message"]) == (
        404,
        "Object type: datastore id: nope could not be found",
    )
    resp = own_env.client.post(path, headers={**h, **media()}, json={})
    assert (resp.status_code, resp.json()["message"]) == (
        400,
        "Invalid body: destination_datastore_id: Field required",
    )
    assert _vm(own_env, h, off["id"])["state"] == "ALIVE"


def test_read_only_user_cannot_operate(env: Env) -> None:
    vm = pick_vm(env, "ON")
    path = f"/api/virtual_machines/{vm['id']}/clone"
    resp = env.client.post(
        path, headers={**env.headers(READER), **media()}, json={"virtual_machine_name": "x"}
    )
    assert resp.status_code == 403
    assert resp.json()["exception"] == PKG + "PermissionDeniedException"


def test_tasks_stay_readable_and_unknown_tasks_are_404(own_env: Env) -> None:
    h = own_env.headers()
    vm = pick_vm(own_env, "ON")
    resp = own_env.client.post(f"/api/virtual_machines/{vm['id']}/clone", headers={**h, **media()},
                               json={"virtual_machine_name": "again"})  # fmt: skip
    task_id = resp.json()["task"]["id"]
    host = task_id.split(":")[0]
    assert task_id.split(":")[1] == host and len(task_id.split(":")) == 3
    first = own_env.client.get(f"/api/tasks/{task_id}", headers=h).json()
    assert own_env.client.get(f"/api/tasks/{task_id}", headers=h).json() == first
    assert first["task"]["percent_complete"] == 100
