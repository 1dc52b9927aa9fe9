"""Persistent volumes (the Go SDK's and vSphere CSI driver's calls): reads, filters, set_policy and backups."""

from __future__ import annotations

from typing import Any

import pytest

from openovc.domain.catalog import PERSISTENT_VOLUMES
from tests.support.content_check import mirror_of_store
from tests.support.errors import PKG, TASK_EXCEPTION, TS
from tests.support.errors import error_body as _error
from tests.support.inprocess import READER, Env
from tests.support.tasks import completed, media, submit

Row = dict[str, Any]
PATH = "/api/persistent_volumes"
V116 = "1.16"
NOT_FOUND = PKG + "ObjectNotFoundException"
GO_DEFAULTS = {"limit": "500", "offset": "0", "sort": "", "order": "", "fields": "", "case": "",
               "show_optional_fields": "false"}  # fmt: skip


def _volumes(env: Env, state: str = "ALIVE") -> list[Row]:
    return [v for v in env.federation.rows["persistent_volumes"] if v["state"] == state]


def _shown(row: Row) -> Row:
    """A stored volume as the API shows it: absent times are "NA"."""
    return {**row, "deleted_at": row["deleted_at"] or "NA"}


def _get(env: Env, headers: dict[str, str], path: str, params: dict[str, str] | None = None) -> Any:
    resp = env.client.get(path, headers=headers, params=params or {})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _post(env: Env, headers: dict[str, str], path: str, body: Any, version: str = V116) -> Any:
    return env.client.post(path, headers={**headers, **media(version)}, json=body)


def _used(pv: Row) -> int:
    return int(pv["hypervisor_allocated_capacity"]) - int(pv["hypervisor_free_space"])


# ---- reads ---------------------------------------------------------------------------------------------


def test_the_list_shows_live_volumes_by_name_descending(env: Env, admin: dict[str, str]) -> None:
    alive = sorted(_volumes(env), key=lambda v: v["name"], reverse=True)
    assert len(alive) >= 2
    body = _get(env, admin, PATH)
    assert body == {
        "offset": 0,
        "limit": 500,
        "count": len(alive),
        "persistent_volumes": [_shown(v) for v in alive],
    }
    assert list(body["persistent_volumes"][0]) == [f.name for f in PERSISTENT_VOLUMES.fields]


def test_the_go_sdks_empty_paging_values_mean_the_defaults(env: Env, admin: dict[str, str]) -> None:
    assert _get(env, admin, PATH, GO_DEFAULTS) == _get(env, admin, PATH)
    pv = _volumes(env)[0]
    # GetById and GetByName: a list filtered by one id or one name.
    for key in ("id", "name"):
        body = _get(env, admin, PATH, {**GO_DEFAULTS, key: pv[key]})
        assert body == {"offset": 0, "limit": 500, "count": 1, "persistent_volumes": [_shown(pv)]}


def test_one_volume_and_an_unknown_one(env: Env, admin: dict[str, str]) -> None:
    for pv in env.federation.rows["persistent_volumes"]:
        assert _get(env, admin, f"{PATH}/{pv['id']}") == {"persistent_volume": _shown(pv)}
    resp = env.client.get(f"{PATH}/nope", headers=admin)
    assert (resp.status_code, resp.json()) == (
        404, _error(f"{PATH}/nope", NOT_FOUND, "Object type: persistent_volume id: nope could not be found", 404),
    )  # fmt: skip


def test_filters_sort_and_fields(env: Env, admin: dict[str, str]) -> None:
    (deleted,) = _volumes(env, "DELETED")
    assert _get(env, admin, PATH, {"id": deleted["id"]})["count"] == 0  # only live ones unless asked
    body = _get(env, admin, PATH, {"id": deleted["id"], "state": "deleted"})
    assert body["persistent_volumes"] == [_shown(deleted)]
    alive = _volumes(env)
    some = alive[0]
    body = _get(env, admin, PATH, {"datastore_id": some["datastore_id"], "fields": "id,name", "sort": "id",
                                   "order": "ascending"})  # fmt: skip
    on_it = sorted((v for v in alive if v["datastore_id"] == some["datastore_id"]), key=lambda v: v["id"])
    assert body["persistent_volumes"] == [{"id": v["id"], "name": v["name"]} for v in on_it]
    body = _get(env, admin, PATH, {"name": "PVC-*", "case": "insensitive", "limit": "2", "offset": "1"})
    assert (body["count"], len(body["persistent_volumes"]), body["offset"]) == (len(alive), 2, 1)
    assert _get(env, admin, PATH, {"name": "PVC-*"})["count"] == 0  # case-sensitive by default
    policy = some["policy_name"]
    body = _get(env, admin, PATH, {"policy_name": policy, "fields": "name"})
    assert body["count"] == sum(1 for v in alive if v["policy_name"] == policy)


@pytest.mark.parametrize(
    ("params", "exception", "message"),
    [
        ({"sort": "nope"}, "InvalidSortCriteriaException",
         "Invalid sort criteria: 'nope' is not a sortable field of persistent_volumes"),
        ({"state": "GONE"}, "InvalidParameterException",
         "Invalid value 'GONE' for parameter 'state': expected one of ALIVE, REMOVED, DELETED"),
        ({"fields": "id,power"}, "InvalidParameterException",
         "Invalid value for parameter 'fields': power is not a field of persistent_volumes"),
    ],
)  # fmt: skip
def test_bad_query_values(
    env: Env, admin: dict[str, str], params: dict[str, str], exception: str, message: str
) -> None:
    resp = env.client.get(PATH, headers=admin, params=params)
    assert (resp.status_code, resp.json()) == (400, _error(PATH, PKG + exception, message))


# ---- set_policy ---------------------------------------------------------------------------------------


def test_set_policy_for_many_volumes(own_env: Env) -> None:
    h = own_env.headers()
    pvs = _volumes(own_env)[:3]
    policy = next(
        p for p in own_env.federation.rows["policies"] if p["id"] not in {v["policy_id"] for v in pvs}
    )
    body = {"persistent_volume_id": [v["id"] for v in pvs], "policy_id": policy["id"]}
    affected = completed(own_env, "POST", f"{PATH}/set_policy", h, body, version=V116)
    assert affected == [{"object_id": v["id"], "object_type": "persistent_volume"} for v in pvs]
    for pv in pvs:
        shown = _get(own_env, h, f"{PATH}/{pv['id']}")["persistent_volume"]
        assert shown == _shown({**pv, "policy_id": policy["id"], "policy_name": policy["name"]})
    # A policy renamed later is renamed on its volumes too.
    completed(own_env, "POST", f"/api/policies/{policy['id']}/rename", h, {"name": "Kubernetes"})
    assert _get(own_env, h, PATH, {"policy_name": "Kubernetes"})["count"] == len(pvs)


def test_set_policy_refusals(env: Env, admin: dict[str, str]) -> None:
    path = f"{PATH}/set_policy"
    pv = _volumes(env)[0]
    policy = env.federation.rows["policies"][0]
    resp = _post(env, admin, path, {"persistent_volume_id": [pv["id"]], "policy_id": "nope"})
    assert (resp.status_code, resp.json()) == (
        404, _error(path, NOT_FOUND, "Object type: policy id: nope could not be found", 404),
    )  # fmt: skip
    resp = _post(env, admin, path, {"persistent_volume_id": [pv["id"], "nope"], "policy_id": policy["id"]})
    assert (resp.status_code, resp.json()) == (
        404, _error(path, NOT_FOUND, "Object type: persistent_volume id: nope could not be found", 404),
    )  # fmt: skip
    message = "Invalid body: Specify a persistent_volume_id key/value to set a policy for persistent_volume instances."
    for body in ({"policy_id": policy["id"]}, {"persistent_volume_id": [], "policy_id": policy["id"]}):
        resp = _post(env, admin, path, body)
        assert (resp.status_code, resp.json()) == (400, _error(path, PKG + "InvalidBodyException", message))
    resp = _post(env, admin, path, {"persistent_volume_id": [pv["id"]]})
    assert (resp.status_code, resp.json()) == (
        400, _error(path, PKG + "InvalidBodyException", "Invalid body: policy_id: Field required"),
    )  # fmt: skip
    body = {"persistent_volume_id": [pv["id"]], "policy_id": policy["id"]}
    assert _post(env, env.headers(READER), path, body).status_code == 403
    # The volumes' media type is v1.16; an older one is refused.
    resp = _post(env, admin, path, body, version="1.15")
    assert resp.status_code == 415


def test_set_policy_on_a_deleted_volume_fails_its_task(env: Env, admin: dict[str, str]) -> None:
    (deleted,) = _volumes(env, "DELETED")
    policy = env.federation.rows["policies"][0]
    task = submit(env, "POST", f"{PATH}/set_policy", admin,
                  {"persistent_volume_id": [deleted["id"]], "policy_id": policy["id"]}, version=V116)  # fmt: skip
    message = f"The persistent volume {deleted['name']} is DELETED."
    assert (task["state"], task["error_code"], task["message"]) == ("FAILED", 60, message)
    assert (
        _get(env, admin, f"{PATH}/{deleted['id']}")["persistent_volume"]["policy_id"] == deleted["policy_id"]
    )


# ---- backups ------------------------------------------------------------------------------------------


def test_a_backup_of_a_volume_and_the_pv_filter(own_env: Env) -> None:
    h = own_env.headers()
    pv = _volumes(own_env)[0]
    cluster = next(
        c for c in own_env.federation.rows["omnistack_clusters"] if c["id"] == pv["omnistack_cluster_id"]
    )
    before = _get(own_env, h, "/api/backups", {"pv": pv["name"], "limit": "5000"})
    generated = [b["id"] for b in own_env.federation.rows["backups"] if b["virtual_machine_id"] == pv["id"]]
    assert sorted(b["id"] for b in before["backups"]) == sorted(generated)
    body = {"backup_name": "pvc-backup-1", "retention": 60}
    (made,) = completed(own_env, "POST", f"{PATH}/{pv['id']}/backup", h, body, version=V116)
    assert made["object_type"] == "backup"
    backup = _get(own_env, h, f"/api/backups/{made['object_id']}")["backup"]
    mirror = mirror_of_store(own_env.runtime.storage.engine)
    assert backup == {
        "id": made["object_id"], "name": "pvc-backup-1", "state": "PROTECTED", "type": "MANUAL", "created_at": TS,
        "expiration_time": "2026-11-20T13:00:00Z", "size": _used(pv), "sent": 0,
        "application_consistent": False, "consistency_type": "NONE",
        "virtual_machine_id": pv["id"], "virtual_machine_name": pv["name"], "virtual_machine_state": "ALIVE",
        "virtual_machine_type": "UNKNOWN", "omnistack_cluster_id": cluster["id"],
        "omnistack_cluster_name": cluster["name"], "datastore_id": pv["datastore_id"],
        "datastore_name": pv["datastore_name"],
        "compute_cluster_parent_hypervisor_object_id": pv["compute_cluster_parent_hypervisor_object_id"],
        "compute_cluster_parent_name": pv["compute_cluster_parent_name"], "hypervisor_type": "VSPHERE",
        "unique_size_bytes": mirror.unique_size(made["object_id"]), "unique_size_timestamp": TS,
        "sent_completion_time": "NA", "sent_duration": 0, "cluster_group_ids": cluster["cluster_group_ids"],
        "external_store_name": "", "associated_cluster": cluster["id"], "backup_store_type": "SimplivityStore",
    }  # fmt: skip
    # The backup holds the volume's very content.
    assert mirror.maps[made["object_id"]] == mirror.maps[pv["id"]]
    after = _get(own_env, h, "/api/backups", {"pv": pv["name"], "name": "pvc-backup-*"})
    assert after == {"offset": 0, "limit": 500, "count": 1, "backups": [backup]}
    assert _get(own_env, h, "/api/backups", {"pv": pv["name"], "limit": "1"})["count"] == len(generated) + 1


def test_the_pv_filter_of_an_unknown_volume_finds_nothing(env: Env, admin: dict[str, str]) -> None:
    vm = next(v for v in env.federation.rows["virtual_machines"] if v["state"] == "ALIVE")
    # A VM's name is not a volume's: its backups are not a volume's.
    for name in ("pvc-unknown", vm["name"]):
        body = _get(env, admin, "/api/backups", {"pv": name, "offset": "3", "limit": "7"})
        assert body == {"offset": 3, "limit": 7, "count": 0, "backups": []}
    resp = env.client.get("/api/backups", headers=admin, params={"pv": "pvc-unknown", "limit": "0"})
    message = "Invalid limit: 0. The limit must be between 1 and 5000"
    assert (resp.status_code, resp.json()) == (
        400,
        _error("/api/backups", PKG + "InvalidSortCriteriaException", message),
    )


def test_backup_refusals(env: Env, admin: dict[str, str]) -> None:
    count = _get(env, admin, "/api/backups", {"limit": "1"})["count"]
    path = f"{PATH}/nope/backup"
    resp = _post(env, admin, path, {"backup_name": "b"})
    assert (resp.status_code, resp.json()) == (
        404, _error(path, NOT_FOUND, "Object type: persistent_volume id: nope could not be found", 404),
    )  # fmt: skip
    (deleted,) = _volumes(env, "DELETED")
    path = f"{PATH}/{deleted['id']}/backup"
    resp = _post(env, admin, path, {"backup_name": "b"})
    message = f"The persistent volume {deleted['name']} is DELETED."
    assert (resp.status_code, resp.json()) == (400, _error(path, TASK_EXCEPTION, message, code="60"))
    path = f"{PATH}/{_volumes(env)[0]['id']}/backup"
    resp = _post(env, admin, path, {"backup_name": "b", "destination_id": "nope"})
    assert (resp.status_code, resp.json()) == (
        404, _error(path, NOT_FOUND, "Object type: omnistack_cluster id: nope could not be found", 404),
    )  # fmt: skip
    resp = _post(env, admin, path, {"destination_id": "x"})
    assert (resp.status_code, resp.json()) == (
        400, _error(path, PKG + "InvalidBodyException", "Invalid body: backup_name: Field required"),
    )  # fmt: skip
    assert _post(env, env.headers(READER), path, {"backup_name": "b"}).status_code == 403
    assert _get(env, admin, "/api/backups", {"limit": "1"})["count"] == count


def test_a_volume_backup_cannot_be_restored_as_a_vm(own_env: Env) -> None:
    h = own_env.headers()
    pv = _volumes(own_env)[0]
    (made,) = completed(own_env, "POST", f"{PATH}/{pv['id']}/backup", h, {"backup_name": "b"}, version=V116)
    path = f"/api/backups/{made['object_id']}/restore"
    resp = own_env.client.post(
        path,
        headers={**h, **media()},
        params={"restore_original": "false"},
        json={"virtual_machine_name": "x"},
    )
    assert (resp.status_code, resp.json()) == (
        404, _error(path, NOT_FOUND, f"Object type: virtual_machine id: {pv['id']} could not be found", 404),
    )  # fmt: skip
