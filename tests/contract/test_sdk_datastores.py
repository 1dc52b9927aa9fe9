"""The official SDK's datastore operations against a real TLS server: create, resize, set_policy,
standard_hosts, share, unshare and delete, each checked against what the next plain GET shows.

The server is shared by every contract test, so these tests work on datastores they create themselves.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from simplivity.exceptions import HPESimpliVityException, HPESimpliVityResourceNotFound

from tests.contract.conftest import Api

pytestmark = pytest.mark.slow

GiB = 1 << 30


def _name() -> str:
    return f"sdk-ds-{uuid.uuid4().hex[:12]}"


def _cluster_with_standard_hosts(api: Api) -> dict[str, Any]:
    for ds in api.everything("datastores"):
        if api.json(f"/api/datastores/{ds['id']}/standard_hosts")["standard_hosts"]:
            found: dict[str, Any] = api.json(f"/api/omnistack_clusters/{ds['omnistack_cluster_id']}")
            cluster: dict[str, Any] = found["omnistack_cluster"]
            return cluster
    raise AssertionError("the demo federation has no standard hosts")


def _single(api: Api, ds_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.json(f"/api/datastores/{ds_id}")["datastore"]
    return found


def _listed(api: Api, ds_id: str) -> dict[str, Any]:
    """The datastore as the SDK's get_by_id reads it: through the list, without optional fields."""
    (found,) = api.members("datastores", {"id": ds_id})
    return found


@pytest.fixture
def cluster(api: Api) -> dict[str, Any]:
    return _cluster_with_standard_hosts(api)


@pytest.fixture
def policies(api: Api) -> list[dict[str, Any]]:
    return api.everything("policies")


@pytest.fixture
def fresh(ovc: Any, api: Api, cluster: dict[str, Any], policies: list[dict[str, Any]]) -> Iterator[Any]:
    """A datastore of this test's own, created through the SDK and gone afterwards."""
    datastore = ovc.datastores.create(_name(), cluster["name"], policies[0]["name"], 100 * GiB)
    ds_id = datastore.data["id"]
    yield datastore
    if api.get(f"/api/datastores/{ds_id}").status_code == 200:
        ovc.datastores.get_by_id(ds_id).delete()


def test_create_returns_the_new_datastore(
    ovc: Any, api: Api, cluster: dict[str, Any], policies: list[dict[str, Any]]
) -> None:
    name = _name()
    # The SDK takes objects or names for the cluster and the policy.
    cluster_obj = ovc.omnistack_clusters.get_by_id(cluster["id"])
    datastore = ovc.datastores.create(name, cluster_obj, policies[-1]["name"], 64 * GiB)
    try:
        assert datastore.data == _listed(api, datastore.data["id"])
        single = _single(api, datastore.data["id"])
        assert (single["name"], single["size"], single["hypervisor_free_space"]) == (name, 64 * GiB, 64 * GiB)
        assert (single["omnistack_cluster_id"], single["omnistack_cluster_name"]) == (
            cluster["id"],
            cluster["name"],
        )
        assert (single["policy_id"], single["policy_name"]) == (policies[-1]["id"], policies[-1]["name"])
        assert single["shares"] == [] and single["cluster_group_ids"] == cluster["cluster_group_ids"]
        assert single["mount_directory"] == f"/mnt/svtfs/0/{single['id']}"
        assert ovc.datastores.get_by_name(name).data["id"] == single["id"]
    finally:
        datastore.delete()


def test_create_refusals_raise(
    ovc: Any, fresh: Any, cluster: dict[str, Any], policies: list[dict[str, Any]]
) -> None:
    with pytest.raises(HPESimpliVityException) as info:
        ovc.datastores.create(fresh.data["name"], cluster["name"], policies[0]["name"], GiB)
    assert info.value.msg == "Duplicate name exists."
    assert (info.value.response["status"], info.value.response["error_code"]) == ("400", "13")
    too_big = cluster["allocated_capacity"] + 1
    with pytest.raises(HPESimpliVityException) as info:
        ovc.datastores.create(_name(), cluster["name"], policies[0]["name"], too_big)
    assert info.value.msg == (
        f"The datastore size ({too_big} bytes) exceeds the capacity of cluster {cluster['name']} "
        f"({cluster['allocated_capacity']} bytes)."
    )
    # The SDK's default size is 0, which no datastore can have.
    with pytest.raises(HPESimpliVityException) as info:
        ovc.datastores.create(_name(), cluster["name"], policies[0]["name"])
    assert info.value.msg == "Invalid body: size: Input should be greater than 0"


def test_resize(api: Api, fresh: Any) -> None:
    resized = fresh.resize(fresh.data["size"] + GiB)
    assert resized is fresh
    assert fresh.data == _listed(api, fresh.data["id"])
    single = _single(api, fresh.data["id"])
    assert (single["size"], single["hypervisor_free_space"]) == (101 * GiB, 101 * GiB)


def test_resize_below_what_its_vms_use_raises(ovc: Any, api: Api) -> None:
    busy = max(
        api.everything("datastores"),
        key=lambda d: len(api.members("virtual_machines", {"datastore_id": d["id"]})),
    )
    datastore = ovc.datastores.get_by_id(busy["id"])
    with pytest.raises(HPESimpliVityException) as info:
        datastore.resize(1)
    assert info.value.msg.startswith(
        f"Datastore {busy['name']} cannot be resized to 1 bytes: its virtual machines use "
    )
    assert info.value.response["error_code"] == "30"
    assert _listed(api, busy["id"])["size"] == busy["size"]


def test_set_policy(api: Api, fresh: Any, policies: list[dict[str, Any]]) -> None:
    other = policies[-1]
    assert fresh.set_policy(other["name"]) is fresh
    assert (fresh.data["policy_id"], fresh.data["policy_name"]) == (other["id"], other["name"])
    assert fresh.data == _single(api, fresh.data["id"])


def test_share_and_unshare(api: Api, fresh: Any) -> None:
    hosts = fresh.standard_hosts()["standard_hosts"]
    assert hosts and not any(h["shared"] for h in hosts)
    host = hosts[0]
    assert fresh.share(host["name"]) is fresh
    assert fresh.data["shares"] == [{"address": host["ip_address"], "host": host["name"], "rw": True}]
    assert fresh.data == _single(api, fresh.data["id"])
    flags = {h["name"]: h["shared"] for h in fresh.standard_hosts()["standard_hosts"]}
    assert flags == {h["name"]: h["name"] == host["name"] for h in hosts}
    with pytest.raises(HPESimpliVityException) as info:
        fresh.share(host["name"])
    assert info.value.msg == f"Datastore {fresh.data['name']} is already shared with host {host['name']}."
    fresh.unshare(host["name"])
    assert fresh.data["shares"] == [] and _single(api, fresh.data["id"])["shares"] == []
    with pytest.raises(HPESimpliVityException) as info:
        fresh.unshare(host["name"])
    assert info.value.msg == f"Datastore {fresh.data['name']} is not shared with host {host['name']}."
    with pytest.raises(HPESimpliVityException) as info:
        fresh.share("nowhere.example.local")
    assert (
        info.value.msg
        == f"nowhere.example.local is not a standard host of cluster {fresh.data['omnistack_cluster_name']}."
    )


def test_delete(ovc: Any, api: Api, fresh: Any) -> None:
    ds_id = fresh.data["id"]
    fresh.delete()
    assert fresh.data is None
    assert api.get(f"/api/datastores/{ds_id}").status_code == 404
    with pytest.raises(HPESimpliVityResourceNotFound):
        ovc.datastores.get_by_id(ds_id)


def test_delete_while_vms_live_on_it_raises(ovc: Any, api: Api) -> None:
    busy = next(
        d
        for d in api.everything("datastores")
        if api.members("virtual_machines", {"datastore_id": d["id"]})
        and not api.members("persistent_volumes", {"datastore_id": d["id"], "state": "ALIVE"})
    )
    n = len(api.members("virtual_machines", {"datastore_id": busy["id"]}))
    with pytest.raises(HPESimpliVityException) as info:
        ovc.datastores.get_by_id(busy["id"]).delete()
    virtual_machines = "virtual machine" if n == 1 else "virtual machines"
    assert info.value.msg == f"Datastore {busy['name']} cannot be deleted: it stores {n} {virtual_machines}."
    assert _listed(api, busy["id"]) == busy


def test_read_only_user_cannot_change_datastores(ro_ovc: Any, api: Api, fresh: Any) -> None:
    datastore = ro_ovc.datastores.get_by_id(fresh.data["id"])
    for change in (lambda: datastore.resize(GiB), datastore.delete, lambda: datastore.share("x")):
        with pytest.raises(HPESimpliVityException) as info:
            change()
        assert info.value.response["status"] == "403"
    assert _listed(api, fresh.data["id"]) == fresh.data


def test_delete_while_persistent_volumes_live_on_it_raises(ovc: Any, api: Api) -> None:
    holding = next(
        d
        for d in api.everything("datastores")
        if api.members("persistent_volumes", {"datastore_id": d["id"], "state": "ALIVE"})
    )
    vms = len(api.members("virtual_machines", {"datastore_id": holding["id"]}))
    volumes = len(api.members("persistent_volumes", {"datastore_id": holding["id"], "state": "ALIVE"}))
    held = [f"{vms} virtual machine{'s' * (vms != 1)}"] if vms else []
    held.append(f"{volumes} persistent volume{'s' * (volumes != 1)}")
    with pytest.raises(HPESimpliVityException) as info:
        ovc.datastores.get_by_id(holding["id"]).delete()
    assert info.value.msg == f"Datastore {holding['name']} cannot be deleted: it stores {' and '.join(held)}."
    assert info.value.response["status"] == "400"
    assert _listed(api, holding["id"]) == holding
