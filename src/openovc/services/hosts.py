"""Host operations: Virtual Controller shutdown and its cancellation (direct), and removal (a task).

A shutdown that is accepted stays IN_PROGRESS (FORCE_IN_PROGRESS without `ha_wait`) until it is
cancelled, and the host shows FAULTY meanwhile, as the other Virtual Controllers see it. A real
controller stops answering once it is off and comes back when its VM is powered on in vCenter; this
server answers for every host and has no way to power a controller on, so cancelling is the way back.

Removing a host deletes it: GET /hosts no longer lists it and GET /hosts/{id} answers 404, as for an
object that never existed. Its VMs move to the cluster's other hosts first (with `force`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from openovc.domain.catalog import BACKUPS, DATASTORES, HOSTS, OMNISTACK_CLUSTERS, VIRTUAL_MACHINES
from openovc.domain.errors import ObjectNotFound, TaskError
from openovc.domain.ports.federation import FederationReader, Record, Txn
from openovc.domain.ports.operations import Shutdown
from openovc.domain.ports.operations_store import OperationsStore
from openovc.domain.ports.simulator import Simulator
from openovc.domain.records import Host, VirtualMachine
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.common import existing, still_there

HOST = "host"
SUCCESS, FAILURE, IN_PROGRESS = "SUCCESS", "FAILURE", "IN_PROGRESS"
FORCE_IN_PROGRESS, NONE = "FORCE_IN_PROGRESS", "NONE"


def _replica_hosts(vm: Mapping[str, Any]) -> list[str]:
    return [str(r["id"]) for r in vm["replica_set"] or []]


def _ha_status(vm: Mapping[str, Any], live: set[str], single: bool) -> str:
    """Storage HA of a live VM from which of its replicas' controllers are up."""
    replicas = _replica_hosts(vm)
    up = sum(1 for h in replicas if h in live)
    if up == 0:
        return "DEFUNCT"  # no controller serves its data
    if single:
        return "OUT_OF_SCOPE"  # a single-replica datastore keeps no HA copy
    return "SAFE" if up >= 2 and up == len(replicas) else "DEGRADED"


class _SingleReplica:
    """Whether a datastore keeps one copy only, read once per datastore."""

    def __init__(self, txn: Txn) -> None:
        self.txn = txn
        self.known: dict[str, bool] = {}

    def __call__(self, datastore_id: str) -> bool:
        if datastore_id not in self.known:
            found = self.txn.get(DATASTORES, datastore_id)
            self.known[datastore_id] = bool(found["single_replica"]) if found is not None else False
        return self.known[datastore_id]


def _ha_values(ha: str) -> Record:
    return {"ha_status": ha, "ha_resynchronization_progress": 100 if ha == "SAFE" else 0}


def _refresh_ha(txn: Txn, cluster_id: str, host_id: str) -> None:
    """Recompute the HA status of the live VMs with a replica on this host."""
    live = {h["id"] for h in txn.find(HOSTS, omnistack_cluster_id=cluster_id) if h["state"] == "ALIVE"}
    single = _SingleReplica(txn)
    for vm in txn.find(VIRTUAL_MACHINES, omnistack_cluster_id=cluster_id, state="ALIVE"):
        if host_id in _replica_hosts(vm):
            ha = _ha_status(vm, live, single(str(vm["datastore_id"])))
            txn.update(VIRTUAL_MACHINES, vm["id"], _ha_values(ha))


# ------------------------------------------------------------------------------------------ shutdown


def _host_now(txn: Txn, host_id: str) -> Host:
    host = txn.get(HOSTS, host_id)
    if host is None:
        raise ObjectNotFound(HOST, host_id)
    return host


def _unprotected(txn: Txn, host: Host) -> list[VirtualMachine]:
    """Live VMs that would have no replica on a running controller once this host's controller stops."""
    others_up = {
        h["id"]
        for h in txn.find(HOSTS, omnistack_cluster_id=host["omnistack_cluster_id"])
        if h["state"] == "ALIVE" and h["id"] != host["id"]
    }
    return [
        vm
        for vm in txn.find(VIRTUAL_MACHINES, omnistack_cluster_id=host["omnistack_cluster_id"], state="ALIVE")
        if host["id"] in _replica_hosts(vm) and not others_up.intersection(_replica_hosts(vm))
    ]


def shutdown(
    store: OperationsStore, reader: FederationReader, host_id: str, ha_wait: bool, now_ms: int
) -> str:
    """Shut the host's Virtual Controller down; the answer's status (SUCCESS, FAILURE or IN_PROGRESS)."""
    existing(reader, HOSTS, host_id)
    with store.changing() as (txn, state):
        host = _host_now(txn, host_id)
        if state.shutdown(host_id) is not None:
            return IN_PROGRESS  # asked again while the first request is still being carried out
        if host["state"] != "ALIVE":
            return FAILURE  # no running controller to shut down
        # With ha_wait the controller refuses to leave VMs without a live copy of their data.
        if ha_wait and _unprotected(txn, host):
            return FAILURE
        status = IN_PROGRESS if ha_wait else FORCE_IN_PROGRESS
        state.put_shutdown(Shutdown(host_id, status, ha_wait, now_ms))
        txn.update(HOSTS, host_id, {"state": "FAULTY"})
        _refresh_ha(txn, str(host["omnistack_cluster_id"]), host_id)
    return SUCCESS


def cancel_shutdown(store: OperationsStore, reader: FederationReader, host_id: str) -> str:
    """Cancel a shutdown still in progress (SUCCESS, the host back ALIVE), else FAILURE."""
    existing(reader, HOSTS, host_id)
    with store.changing() as (txn, state):
        host = _host_now(txn, host_id)
        if not state.drop_shutdown(host_id):
            return FAILURE
        txn.update(HOSTS, host_id, {"state": "ALIVE"})
        _refresh_ha(txn, str(host["omnistack_cluster_id"]), host_id)
    return SUCCESS


def shutdown_status(store: OperationsStore, reader: FederationReader, host_id: str) -> str:
    existing(reader, HOSTS, host_id)
    with store.reading() as state:
        found = state.shutdown(host_id)
    return found.status if found is not None else NONE


# ------------------------------------------------------------------------------ remove from federation


def _serving(name: str) -> str:
    return (
        f"Host {name} runs the Virtual Controller serving this request and cannot remove itself; "
        "send the request to another host's Virtual Controller."
    )


def remove_from_federation(reader: FederationReader, tasks: TaskEngine, host_id: str, force: bool) -> Record:
    host = existing(reader, HOSTS, host_id)
    if reader.controller_host_id() == host_id:
        raise TaskError(Codes.INVALID_ARGUMENT, _serving(str(host["name"])))
    locks = [host_id, str(host["omnistack_cluster_id"])]
    return tasks.submit("host.remove_from_federation", {"host": host_id, "force": force}, locks)


def _holders(txn: Txn, cluster_id: str, host_id: str) -> list[VirtualMachine]:
    """Every VM (any state) that names the host as where it runs or keeps a replica."""
    return [
        vm
        for vm in txn.find(VIRTUAL_MACHINES, omnistack_cluster_id=cluster_id)
        if vm["host_id"] == host_id or host_id in _replica_hosts(vm)
    ]


class _Loads:
    """Replicas per remaining host, so that re-homed VMs go to the least loaded ones (ALIVE first)."""

    def __init__(self, txn: Txn, cluster_id: str, hosts: Sequence[Host]) -> None:
        self.hosts = {h["id"]: h for h in hosts}
        self.count = dict.fromkeys(self.hosts, 0)
        for vm in txn.find(VIRTUAL_MACHINES, omnistack_cluster_id=cluster_id, state="ALIVE"):
            for h in _replica_hosts(vm):
                if h in self.count:
                    self.count[h] += 1

    def pick(self, exclude: Sequence[str]) -> str | None:
        free = [h for h in self.hosts if h not in exclude]
        if not free:
            return None
        best = min(free, key=lambda h: (self.hosts[h]["state"] != "ALIVE", self.count[h], h))
        self.count[best] += 1
        return best


def _rehome(vm: VirtualMachine, gone: str, loads: _Loads, single: bool) -> Record:
    """The VM's new replica set and host once `gone` is removed; empty when no host is left."""
    kept = [dict(r) for r in vm["replica_set"] or [] if r["id"] != gone]
    if not kept:
        primary = loads.pick([])
        kept = [{"id": primary, "role": "PRIMARY"}] if primary is not None else []
    elif not any(r["role"] == "PRIMARY" for r in kept):
        kept[0]["role"] = "PRIMARY"  # the surviving copy takes over
    if kept and not single and len(kept) < 2:
        secondary = loads.pick([r["id"] for r in kept])
        if secondary is not None:
            kept.append({"id": secondary, "role": "SECONDARY"})
    primary_id = next((r["id"] for r in kept if r["role"] == "PRIMARY"), None)
    values: Record = {"replica_set": kept}
    if vm["host_id"] == gone or primary_id is None:
        runs_on = loads.hosts.get(primary_id) if primary_id is not None else None
        values.update(host_id=primary_id or "", host_name=str(runs_on["name"]) if runs_on is not None else "")
    return values


def _run_remove(sim: Simulator, txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    host = still_there(txn, HOSTS, payload["host"])
    host_id, name, cluster_id = host["id"], str(host["name"]), str(host["omnistack_cluster_id"])
    if min(h["id"] for h in txn.find(HOSTS)) == host_id:
        raise TaskFailure(Codes.INVALID_ARGUMENT, _serving(name))
    others = [h for h in txn.find(HOSTS, omnistack_cluster_id=cluster_id) if h["id"] != host_id]
    holders = _holders(txn, cluster_id, host_id)
    if not payload["force"]:
        alive = [vm for vm in holders if vm["state"] == "ALIVE"]
        if alive:
            raise TaskFailure(
                Codes.OBJECT_IN_USE,
                f"Host {name} still holds the data of {len(alive)} virtual machine(s), such as "
                f"{alive[0]['name']}; move them to other hosts or set force to remove it anyway.",
            )
        if not others:
            raise TaskFailure(
                Codes.INVALID_STATE,
                f"Host {name} is the last host of its omnistack_cluster; set force to remove it anyway.",
            )
    _move_vms(sim, txn, holders, host_id, _Loads(txn, cluster_id, others))
    _leave_cluster(txn, cluster_id, host_id)
    state = txn.state()
    state.drop_shutdown(host_id)
    state.drop_host_hardware(host_id)
    txn.delete(HOSTS, host_id)
    # The remaining hosts share the cluster's bytes; the host's share goes.
    sim.hosts_changed(txn, cluster_id)
    return [AffectedObject(host_id, HOST)]


def _move_vms(sim: Simulator, txn: Txn, holders: Sequence[VirtualMachine], gone: str, loads: _Loads) -> None:
    live = {h for h, rec in loads.hosts.items() if rec["state"] == "ALIVE"}
    single = _SingleReplica(txn)
    for vm in holders:
        one_copy = single(str(vm["datastore_id"]))
        values = _rehome(vm, gone, loads, one_copy)
        if vm["state"] == "ALIVE":
            if values["replica_set"]:
                values.update(_ha_values(_ha_status({**vm, **values}, live, one_copy)))
            else:
                # No host is left to run it: it leaves the inventory, as a VM deleted outside SimpliVity.
                values.update(state="REMOVED", ha_status="UNKNOWN", ha_resynchronization_progress=0)
                sim.remove_vm(txn, vm)
                txn.update_where(
                    BACKUPS, {"virtual_machine_id": vm["id"]}, {"virtual_machine_state": "REMOVED"}
                )
        txn.update(VIRTUAL_MACHINES, vm["id"], values)


def _leave_cluster(txn: Txn, cluster_id: str, gone: str) -> None:
    cluster = txn.get(OMNISTACK_CLUSTERS, cluster_id)
    if cluster is None:
        return
    members = [m for m in cluster["members"] or [] if m != gone]
    txn.update(OMNISTACK_CLUSTERS, cluster_id, {"members": members, "arbiter_required": len(members) == 2})


def handlers(sim: Simulator) -> dict[str, Handler]:
    return {"host.remove_from_federation": partial(_run_remove, sim)}
