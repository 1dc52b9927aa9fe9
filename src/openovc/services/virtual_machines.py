"""Virtual machine operations: power, policy, clone and move, as tasks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from openovc.domain.catalog import BACKUPS, DATASTORES, VIRTUAL_MACHINES
from openovc.domain.errors import TaskError
from openovc.domain.ports.federation import FederationReader, Record, Txn
from openovc.domain.ports.simulator import Simulator
from openovc.domain.records import VirtualMachine
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services import assign_policy
from openovc.services.common import (
    alive_vm_named,
    existing,
    fail_duplicate,
    name_key,
    new_id,
    refuse_duplicate_now,
    stamp,
    still_there,
    valid_name,
)

VM = "virtual_machine"
POWER_STATE_MESSAGE = "The VM power state is not acceptable."


def _vm(vm_id: str) -> list[AffectedObject]:
    return [AffectedObject(vm_id, VM)]


def _alive(txn: Txn, vm_id: str) -> VirtualMachine:
    vm = still_there(txn, VIRTUAL_MACHINES, vm_id)
    if vm["state"] != "ALIVE":
        raise TaskFailure(Codes.INVALID_STATE, f"The virtual machine {vm['name']} is {vm['state']}.")
    return vm


# ------------------------------------------------------------------------------------------- power


def power(reader: FederationReader, tasks: TaskEngine, vm_id: str, state: str) -> Record:
    existing(reader, VIRTUAL_MACHINES, vm_id)
    return tasks.submit(f"virtual_machine.power_{state.lower()}", {"vm": vm_id}, [vm_id])


def _power_to(state: str) -> Callable[[Simulator, Txn, Mapping[str, Any], datetime], list[AffectedObject]]:
    def run(sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
        vm = _alive(txn, payload["vm"])
        if vm["hypervisor_virtual_machine_power_state"] == state or (
            state == "ON" and vm["hypervisor_is_template"]
        ):
            raise TaskFailure(Codes.POWER_STATE, POWER_STATE_MESSAGE)
        cpus, memory = int(vm["hypervisor_cpu_count"] or 1), int(vm["hypervisor_total_memory"] or 0)
        on = state == "ON"
        # Its workload runs while it does: what it wrote until now stays, then it stops (or starts).
        sim.power_changed(txn, vm, on, now)
        txn.update(
            VIRTUAL_MACHINES,
            vm["id"],
            {
                "hypervisor_virtual_machine_power_state": state,
                # A running guest uses a steady share of what it was given; a stopped one nothing.
                "hypervisor_consumed_cpu": cpus * 260 if on else 0,
                "hypervisor_consumed_memory": memory // 4 if on else 0,
                "app_aware_vm_status": _app_aware_after_power(sim, txn, vm, on),
            },
        )
        return _vm(vm["id"])

    return run


def _app_aware_after_power(sim: Simulator, txn: Txn, vm: VirtualMachine, on: bool) -> str:
    # A stopped guest's Tools cannot report; once it runs again, it reports what it knew before.
    if not on:
        sim.guest_stopped(txn, vm)
        return "VMWARE_TOOLS_UNAVAILABLE"
    return sim.guest_started(txn.state(), vm)


# ------------------------------------------------------------------------------------------ policy


def set_policy(reader: FederationReader, tasks: TaskEngine, vm_ids: Sequence[str], policy_id: str) -> Record:
    """One task for one or many VMs; its affected objects name each VM."""
    return assign_policy.set_policy(reader, tasks, VIRTUAL_MACHINES, vm_ids, policy_id)


# ------------------------------------------------------------------------------------------- clone


def clone(reader: FederationReader, tasks: TaskEngine, vm_id: str, name: str, consistency: str) -> Record:
    vm = existing(reader, VIRTUAL_MACHINES, vm_id)
    valid_name(VM, name)
    if vm["state"] != "ALIVE":
        raise TaskError(Codes.INVALID_STATE, f"The virtual machine {vm['name']} is {vm['state']}.")
    refuse_duplicate_now(alive_vm_named(reader, name))
    # The source's datastore and cluster cannot change under it (a VM that moves is a new VM), so they
    # can be named now; the cluster stands for its stored pieces and capacity rows, which a clone changes.
    scope = [vm_id, str(vm["datastore_id"]), str(vm["omnistack_cluster_id"]), name_key(VM, name)]
    payload = {"vm": vm_id, "name": name, "consistency": consistency}
    return tasks.submit("virtual_machine.clone", payload, [vm_id], scope=scope)


def _run_clone(sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    # The clone is the source's content as its workload has made it by now (its datastore too).
    vm = sim.vm_now(txn, _alive(txn, payload["vm"]), now)
    fail_duplicate(alive_vm_named(txn, payload["name"]))
    datastore = still_there(txn, DATASTORES, str(vm["datastore_id"]))
    # It is powered off: no workload runs.
    new = new_id()
    sim.clone_vm(txn, vm, datastore, new, now)
    txn.insert(VIRTUAL_MACHINES, {**vm, **sim.new_identity(vm, new, payload["name"], now)})
    sim.guest_copied(txn, vm, new)
    return _vm(new)


# -------------------------------------------------------------------------------------------- move


def move(
    reader: FederationReader, tasks: TaskEngine, vm_id: str, datastore_id: str, name: str | None
) -> Record:
    vm = existing(reader, VIRTUAL_MACHINES, vm_id)
    target = existing(reader, DATASTORES, datastore_id)
    if name is not None:
        valid_name(VM, name)
        refuse_duplicate_now(alive_vm_named(reader, name, except_id=vm_id))
    payload: dict[str, Any] = {"vm": vm_id, "datastore": datastore_id, "name": name or vm["name"]}
    clusters = [str(vm["omnistack_cluster_id"]), str(target["omnistack_cluster_id"])]
    scope = [vm_id, datastore_id, str(vm["datastore_id"]), *clusters, name_key(VM, payload["name"])]
    return tasks.submit("virtual_machine.move", payload, [vm_id, datastore_id], scope=scope)


def _run_move(sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    vm = _alive(txn, payload["vm"])
    # Only a powered-off VM moves: its workload is stopped, so its content is as it was.
    if vm["hypervisor_virtual_machine_power_state"] != "OFF":
        raise TaskFailure(Codes.POWER_STATE, POWER_STATE_MESSAGE)
    target = still_there(txn, DATASTORES, payload["datastore"])
    if target["id"] == vm["datastore_id"]:
        raise TaskFailure(
            Codes.INVALID_DESTINATION, f"The virtual machine is already on datastore {target['name']}."
        )
    fail_duplicate(alive_vm_named(txn, payload["name"], except_id=vm["id"]))
    moved: Record = {**vm, **sim.new_identity(vm, new_id(), payload["name"], now)}
    moved.update(
        datastore_id=target["id"], datastore_name=target["name"],
        hypervisor_virtual_machine_power_state="OFF", created_at=vm["created_at"],
    )  # fmt: skip
    if target["omnistack_cluster_id"] != vm["omnistack_cluster_id"]:
        moved.update(sim.placement(txn, target))
    sim.move_vm(txn, vm, moved, target)
    sim.guest_copied(txn, vm, str(moved["id"]))
    # The moved VM is a new object; the old one is gone, but its backups stay (they name it DELETED).
    txn.update(VIRTUAL_MACHINES, vm["id"], {"state": "DELETED", "deleted_at": stamp(now)})
    txn.update_where(BACKUPS, {"virtual_machine_id": vm["id"]}, {"virtual_machine_state": "DELETED"})
    txn.insert(VIRTUAL_MACHINES, moved)
    return _vm(str(moved["id"]))


def handlers(sim: Simulator) -> dict[str, Handler]:
    return {
        "virtual_machine.power_on": partial(_power_to("ON"), sim),
        "virtual_machine.power_off": partial(_power_to("OFF"), sim),
        "virtual_machine.set_policy": assign_policy.handler(VIRTUAL_MACHINES),
        "virtual_machine.clone": partial(_run_clone, sim),
        "virtual_machine.move": partial(_run_move, sim),
    }
