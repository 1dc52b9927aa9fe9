"""The official SDK's VM operations against a real TLS server: clone, move, set_policy (one and many),
power_off and power_on, each checked against what the next plain GET shows.

The server is shared by every contract test, so these tests work on clones they make themselves.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from simplivity.exceptions import HPESimpliVityException

from tests.contract.conftest import Api

pytestmark = pytest.mark.slow


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _source(api: Api) -> dict[str, Any]:
    """A live, powered-on VM that is not a template."""
    return next(
        v for v in api.everything("virtual_machines", {"show_optional_fields": "true"})
        if v["hypervisor_virtual_machine_power_state"] == "ON" and not v["hypervisor_is_template"]
    )  # fmt: skip


def _vm(api: Api, vm_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.json(f"/api/virtual_machines/{vm_id}")["virtual_machine"]
    return found


def test_clone_then_power_on_and_off(ovc: Any, api: Api) -> None:
    source = _source(api)
    name = _name("sdk-clone")
    clone = ovc.virtual_machines.get_by_id(source["id"]).clone(name)
    assert clone.data["name"] == name and clone.data["id"] != source["id"]
    seen = _vm(api, clone.data["id"])
    assert (seen["datastore_id"], seen["hypervisor_virtual_machine_power_state"]) == (
        source["datastore_id"],
        "OFF",
    )
    assert clone.power_on() is True
    assert _vm(api, clone.data["id"])["hypervisor_virtual_machine_power_state"] == "ON"
    assert clone.power_off() is True
    assert _vm(api, clone.data["id"])["hypervisor_virtual_machine_power_state"] == "OFF"


def test_clone_to_a_taken_name_raises(ovc: Any, api: Api) -> None:
    source = _source(api)
    with pytest.raises(HPESimpliVityException) as caught:
        ovc.virtual_machines.get_by_id(source["id"]).clone(source["name"])
    assert caught.value.msg == "Duplicate name exists."


def test_clone_with_a_datastore_moves_the_clone(ovc: Any, api: Api) -> None:
    source = _source(api)
    other = next(d for d in api.everything("datastores") if d["id"] != source["datastore_id"])
    name = _name("sdk-clone-move")
    moved = ovc.virtual_machines.get_by_id(source["id"]).clone(
        name, datastore=ovc.datastores.get_by_id(other["id"])
    )
    seen = _vm(api, moved.data["id"])
    assert (seen["name"], seen["datastore_id"], seen["omnistack_cluster_id"]) == (
        name, other["id"], other["omnistack_cluster_id"],
    )  # fmt: skip


def test_moving_a_powered_on_vm_raises_the_task_error(ovc: Any, api: Api) -> None:
    clone = ovc.virtual_machines.get_by_id(_source(api)["id"]).clone(_name("sdk-hot"))
    clone.power_on()
    other = next(d for d in api.everything("datastores") if d["id"] != clone.data["datastore_id"])
    with pytest.raises(HPESimpliVityException) as caught:
        clone.move(clone.data["name"], ovc.datastores.get_by_id(other["id"]))
    assert caught.value.msg == "The VM power state is not acceptable."
    assert _vm(api, clone.data["id"])["datastore_id"] == clone.data["datastore_id"]


def test_set_policy_for_one_and_many(ovc: Any, api: Api) -> None:
    source = ovc.virtual_machines.get_by_id(_source(api)["id"])
    clones = [source.clone(_name("sdk-pol")) for _ in range(2)]
    policy = ovc.policies.get_by_id(next(p["id"] for p in api.everything("policies")
                                         if p["id"] != source.data["policy_id"]))  # fmt: skip
    clones[0].set_policy(policy)
    assert _vm(api, clones[0].data["id"])["policy_name"] == policy.data["name"]
    updated = ovc.virtual_machines.set_policy_for_multiple_vms(policy, clones)
    assert sorted(vm.data["id"] for vm in updated) == sorted(c.data["id"] for c in clones)
    assert all(vm.data["policy_id"] == policy.data["id"] for vm in updated)
