"""The official SDK's host, cluster, cluster group, external store and guest credential operations,
against the live TLS server; every change is checked with plain GETs.

Tests on the shared server put back what they change (time zone, group name, a controller shutdown)
or work on objects of their own (a store, a clone). Removing a host for good runs on a private server (the plugin's `openovc_start`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from simplivity.exceptions import HPESimpliVityException, HPESimpliVityResourceNotFound

from openovc.testing import OpenOVCServer
from tests.contract.conftest import Api, http_client, login

pytestmark = pytest.mark.slow


def _controller(api: Api) -> str:
    serving: str = min(h["id"] for h in api.everything("hosts"))
    return serving


def _peer_host(api: Api) -> dict[str, Any]:
    """A host of a cluster that the serving controller's host is not in."""
    hosts = api.everything("hosts")
    serving = next(h for h in hosts if h["id"] == _controller(api))
    return next(h for h in hosts if h["omnistack_cluster_id"] != serving["omnistack_cluster_id"])


def _host_state(api: Api, host_id: str) -> str:
    state: str = api.json(f"/api/hosts/{host_id}")["host"]["state"]
    return state


# ----------------------------------------------------------------------------------------- clusters


def test_set_time_zone(ovc: Any, api: Api) -> None:
    cluster = ovc.omnistack_clusters.get_all()[0]
    original = api.json(f"/api/omnistack_clusters/{cluster.data['id']}")["omnistack_cluster"]["time_zone"]
    wanted = "Pacific/Auckland" if original != "Pacific/Auckland" else "Europe/Oslo"
    try:
        assert cluster.set_time_zone(wanted) is cluster
        assert cluster.data["time_zone"] == wanted
        assert (
            api.json(f"/api/omnistack_clusters/{cluster.data['id']}")["omnistack_cluster"]["time_zone"]
            == wanted
        )
        with pytest.raises(HPESimpliVityException) as caught:
            cluster.set_time_zone(wanted.lower())
        assert caught.value.msg == (
            f"Invalid body: time_zone: {wanted.lower()!r} is not a time zone of "
            "GET /omnistack_clusters/time_zone_list (names are case-sensitive)"
        )
    finally:
        cluster.set_time_zone(original)
    assert (
        api.json(f"/api/omnistack_clusters/{cluster.data['id']}")["omnistack_cluster"]["time_zone"]
        == original
    )


def test_rename_cluster_group(ovc: Any, api: Api) -> None:
    group = ovc.cluster_groups.get_all()[0]
    original = group.data["name"]
    new = f"group-{uuid.uuid4().hex[:8]}"
    try:
        assert group.rename(new) is group
        assert group.data["name"] == new
        assert api.members("cluster_groups", {"id": group.data["id"]})[0]["name"] == new
    finally:
        group.rename(original)
    assert api.members("cluster_groups", {"id": group.data["id"]})[0]["name"] == original


# ---------------------------------------------------------------------------------------------- hosts


def test_shutdown_and_cancel_a_virtual_controller(ovc: Any, api: Api) -> None:
    host = ovc.hosts.get_by_id(_peer_host(api)["id"])
    assert host.get_virtual_controller_shutdown_status() == "NONE"
    try:
        assert host.shutdown_virtual_controller(ha_wait=True) == "SUCCESS"
        assert host.get_virtual_controller_shutdown_status() == "IN_PROGRESS"
        assert _host_state(api, host.data["id"]) == "FAULTY"
        host.reload_data()
        assert host.data["state"] == "FAULTY"
        assert host.shutdown_virtual_controller() == "IN_PROGRESS"
    finally:
        assert host.cancel_virtual_controller_shutdown() == "SUCCESS"
    assert host.get_virtual_controller_shutdown_status() == "NONE"
    assert _host_state(api, host.data["id"]) == "ALIVE"
    assert host.cancel_virtual_controller_shutdown() == "FAILURE"


def test_remove_refusals_leave_the_host(ovc: Any, api: Api) -> None:
    serving = ovc.hosts.get_by_id(_controller(api))
    with pytest.raises(HPESimpliVityException) as caught:
        serving.remove(force=True)
    assert caught.value.msg.startswith(
        f"Host {serving.data['name']} runs the Virtual Controller serving this request"
    )
    peer = ovc.hosts.get_by_id(_peer_host(api)["id"])
    with pytest.raises(HPESimpliVityException) as caught:
        peer.remove()  # without force: it still holds VM replicas, so the task fails
    assert caught.value.msg.startswith(f"Host {peer.data['name']} still holds the data of ")
    for host_id in (serving.data["id"], peer.data["id"]):
        assert _host_state(api, host_id) == "ALIVE"


@pytest.fixture
def private_ovc(openovc_start: Callable[..., OpenOVCServer]) -> Iterator[tuple[Any, Api]]:
    """A server of this test's own (the demo, as the shared one), for a change the tests that follow on the
    shared server must not see."""
    server = openovc_start()
    with http_client(server) as client:
        yield server.ovc, Api(client, login(client, server.username, server.password))


def test_remove_a_host_with_force(private_ovc: tuple[Any, Api]) -> None:
    ovc, api = private_ovc
    peer = _peer_host(api)
    cluster_id = peer["omnistack_cluster_id"]
    host = ovc.hosts.get_by_id(peer["id"])
    host.remove(force=True)
    assert host.data is None
    with pytest.raises(HPESimpliVityResourceNotFound):
        ovc.hosts.get_by_id(peer["id"])
    assert api.get(f"/api/hosts/{peer['id']}").status_code == 404
    members = api.json(f"/api/omnistack_clusters/{cluster_id}")["omnistack_cluster"]["members"]
    assert peer["id"] not in members and len(members) == 2
    for vm in api.everything("virtual_machines", {"omnistack_cluster_id": cluster_id}):
        assert vm["host_id"] in members and {r["id"] for r in vm["replica_set"]} == set(members)


# ------------------------------------------------------------------------------------ external stores


def test_register_update_and_unregister_an_external_store(ovc: Any, api: Api) -> None:
    cluster = ovc.omnistack_clusters.get_all()[0]
    name = f"sdk-store-{uuid.uuid4().hex[:8]}"
    store = ovc.external_stores.register_external_store("10.9.8.7", name, cluster, "client", "Catalyst-pass")
    assert store.data == api.members("external_stores", {"name": name})[0]
    assert (store.data["management_ip"], store.data["management_port"], store.data["storage_port"]) == (
        "10.9.8.7", 9387, 9388,
    )  # fmt: skip
    assert (store.data["omnistack_cluster_id"], store.data["type"]) == (cluster.data["id"], "StoreOnceOnPrem")
    assert "password" not in store.data and "username" not in store.data
    assert (
        ovc.external_stores.update_credentials(name, "client2", "new-pass", management_ip="10.9.8.8") is None
    )
    assert api.members("external_stores", {"name": name})[0]["management_ip"] == "10.9.8.8"
    with pytest.raises(HPESimpliVityException) as caught:
        ovc.external_stores.register_external_store("10.9.8.7", name, cluster, "client", "pass")
    assert caught.value.msg == "Duplicate name exists."
    store.unregister_external_store(cluster)
    with pytest.raises(HPESimpliVityResourceNotFound):
        ovc.external_stores.get_by_name(name)


def test_a_store_that_rules_target_stays_registered(ovc: Any, api: Api) -> None:
    targeted = {r["external_store_name"] for p in api.everything("policies") for r in p["rules"]}
    store = next(s for s in ovc.external_stores.get_all() if s.data["name"] in targeted)
    cluster = ovc.omnistack_clusters.get_by_id(store.data["omnistack_cluster_id"])
    with pytest.raises(HPESimpliVityException) as caught:
        store.unregister_external_store(cluster)
    assert caught.value.msg.startswith(
        f"External store {store.data['name']} is the destination of backup rules"
    )
    assert api.members("external_stores", {"name": store.data["name"]}) == [store.data]


def test_guest_credentials_of_a_clone(ovc: Any, api: Api) -> None:
    source = next(
        v for v in api.everything("virtual_machines", {"show_optional_fields": "true"})
        if v["app_aware_vm_status"] == "CAPABLE" and not v["hypervisor_is_template"]
    )  # fmt: skip
    # "win" in the name: the clone's guest is read as the Windows guest its source is.
    clone = ovc.virtual_machines.get_by_id(source["id"]).clone(f"win-sdk-creds-{uuid.uuid4().hex[:8]}")
    assert clone.validate_backup_credentials("Administrator", "pw") == "VM_POWERED_OFF"
    assert clone.power_on() is True
    assert clone.validate_backup_credentials("Administrator", "pw") == "VALID"
    assert clone.validate_backup_credentials("root", "pw") == "INVALID"
    assert clone.set_backup_parameters("Administrator", "pw", app_aware_type="VSS") is clone
    assert clone.data["app_aware_vm_status"] == "VALID_CREDS"
    assert api.json(f"/api/virtual_machines/{clone.data['id']}")["virtual_machine"][
        "app_aware_vm_status"
    ] == ("VALID_CREDS")
    assert clone.validate_backup_credentials("Administrator", "other") == "INVALID"
    clone.set_backup_parameters("Administrator", "other")
    assert clone.data["app_aware_vm_status"] == "INVALID_CREDS"
    clone.set_backup_parameters("Administrator", "other", override_guest_validation=True)
    assert clone.data["app_aware_vm_status"] == "VALID_CREDS"
    with pytest.raises(HPESimpliVityException) as caught:
        clone.set_backup_parameters("Administrator", "pw", app_aware_type="FAILEDVSS")
    assert caught.value.msg == "Invalid body: app_aware_type: Input should be 'NONE', 'DEFAULT' or 'VSS'"
