"""Host operations: Virtual Controller shutdown and its cancellation (direct), and removal (a task).

A shutdown that is accepted shows the host FAULTY at once, as the other Virtual Controllers see it, its
VMs' replicas there unserved (DEGRADED) and its capacity out of its cluster's. It is IN_PROGRESS
(FORCE_IN_PROGRESS without `ha_wait`) for the few simulated minutes the controller takes to stop
(domain/hardware_faults.py), then SUCCESS: the controller is off. Cancelling before then brings it
back (ALIVE, its replicas resyncing what their VMs wrote meanwhile, services/replicas.py); after, a real
controller comes back when its VM is powered on in vCenter, which the control API's restart does here
(services/hardware.py).

Removing a host deletes it: GET /hosts no longer lists it and GET /hosts/{id} answers 404, as for an
object that never existed. Its VMs move to the cluster's other hosts first (with `force`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from openovc.domain.catalog import (
    BACKUPS,
    HOSTS,
    OMNISTACK_CLUSTERS,
    PERSISTENT_VOLUMES,
    VIRTUAL_MACHINES,
)
from openovc.domain.errors import ObjectNotFound, TaskError
from openovc.domain.hardware_faults import shutdown_status as shutdown_status_at
from openovc.domain.ports.federation import FederationReader, Record, Txn
from openovc.domain.ports.operations import Resync, Shutdown
from openovc.domain.ports.operations_store import OperationsStore
from openovc.domain.ports.simulator import Simulator
from openovc.domain.records import Host, PersistentVolume, VirtualMachine
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services import replicas
from openovc.services.common import existing, still_there

HOST = "host"
SUCCESS, FAILURE, IN_PROGRESS = "SUCCESS", "FAILURE", "IN_PROGRESS"
FORCE_IN_PROGRESS, NONE = "FORCE_IN_PROGRESS", "NONE"


# ------------------------------------------------------------------------------------------ shutdown


def _host_now(txn: Txn, host_id: str) -> Host:
    host = txn.get(HOSTS, host_id)
    if host is None:
        raise ObjectNotFound(HOST, host_id)
    return host


def _unprotected(txn: Txn, host: Host) -> list[VirtualMachine]:
    """Live VMs that would have no replica on a serving host once this host's controller stops."""
    others = replicas.serving_hosts(txn, str(host["omnistack_cluster_id"])) - {host["id"]}
    return [
        vm
        for vm in replicas.holding(txn, str(host["omnistack_cluster_id"]), host["id"])
        if not others.intersection(replicas.replica_hosts(vm))
    ]


def shutdown(
    store: OperationsStore, reader: FederationReader, sim: Simulator, host_id: str, ha_wait: bool, now_ms: int
) -> str:
    """Shut the host's Virtual Controller down; the answer's status (SUCCESS, FAILURE or IN_PROGRESS)."""
    existing(reader, HOSTS, host_id)
    with store.changing() as (txn, state):
        host = _host_now(txn, host_id)
        found = state.shutdown(host_id)
        if found is not None:
            # Asked again while the first request is still being carried out; once off, nothing runs.
            return IN_PROGRESS if shutdown_status_at(found, now_ms) != SUCCESS else FAILURE
        if host["state"] != "ALIVE":
            return FAILURE  # no running controller to shut down
        # With ha_wait the controller refuses to leave VMs without a live copy of their data.
        if ha_wait and _unprotected(txn, host):
            return FAILURE
        status = IN_PROGRESS if ha_wait else FORCE_IN_PROGRESS
        state.put_shutdown(Shutdown(host_id, status, ha_wait, now_ms))
        txn.update(HOSTS, host_id, {"state": "FAULTY"})
        replicas.share_capacity(txn, sim, host_id)
        replicas.went_away(txn, host_id)
        replicas.refresh(txn, str(host["omnistack_cluster_id"]), now_ms, hosts={host_id})
    return SUCCESS


def cancel_shutdown(
    store: OperationsStore, reader: FederationReader, sim: Simulator, host_id: str, now_ms: int
) -> str:
    """Cancel a shutdown still in progress (SUCCESS, the host back ALIVE, its replicas resyncing what
    changed meanwhile), else FAILURE (none, or the controller is off already)."""
    existing(reader, HOSTS, host_id)
    with store.changing() as (txn, state):
        host = _host_now(txn, host_id)
        found = state.shutdown(host_id)
        if found is None or shutdown_status_at(found, now_ms) == SUCCESS:
            return FAILURE
        back_up(txn, sim, host, now_ms - found.requested_ms, now_ms)
    return SUCCESS


def back_up(
    txn: Txn, sim: Simulator, host: Host, away_ms: int, now_ms: int
) -> tuple[list[Resync], Counter[str]]:
    """The host's controller runs again after `away_ms`: ALIVE, and its replicas catch up; the resyncs
    that began, and how many VMs came to each HA status."""
    state = txn.state()
    state.drop_shutdown(host["id"])
    txn.update(HOSTS, host["id"], {"state": "ALIVE"})
    replicas.share_capacity(txn, sim, host["id"])
    cluster_id = str(host["omnistack_cluster_id"])
    started = replicas.came_back(txn, sim, cluster_id, host["id"], away_ms, now_ms)
    return started, replicas.refresh(txn, cluster_id, now_ms, hosts={host["id"]})


def shutdown_status(store: OperationsStore, reader: FederationReader, host_id: str, now_ms: int) -> str:
    existing(reader, HOSTS, host_id)
    with store.reading() as state:
        found = state.shutdown(host_id)
    return shutdown_status_at(found, now_ms) if found is not None else NONE


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
        if vm["host_id"] == host_id or host_id in replicas.replica_hosts(vm)
    ]


class _Loads:
    """Replicas per remaining host, so that re-homed VMs go to the least loaded ones (ALIVE first)."""

    def __init__(self, txn: Txn, cluster_id: str, hosts: Sequence[Host]) -> None:
        self.hosts = {h["id"]: h for h in hosts}
        self.count = dict.fromkeys(self.hosts, 0)
        for vm in txn.find(VIRTUAL_MACHINES, omnistack_cluster_id=cluster_id, state="ALIVE"):
            for h in replicas.replica_hosts(vm):
                if h in self.count:
                    self.count[h] += 1

    def pick(self, exclude: Sequence[str]) -> str | None:
        free = [h for h in self.hosts if h not in exclude]
        if not free:
            return None
        best = min(free, key=lambda h: (self.hosts[h]["state"] != "ALIVE", self.count[h], h))
        self.count[best] += 1
        return best


def _rehome(vm: VirtualMachine | PersistentVolume, gone: str, loads: _Loads, single: bool) -> Record:
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
        volumes = [pv for pv in _volume_holders(txn, cluster_id, host_id) if pv["state"] == "ALIVE"]
        if volumes:
            raise TaskFailure(
                Codes.OBJECT_IN_USE,
                f"Host {name} still holds the data of {len(volumes)} persistent volume(s), such as "
                f"{volumes[0]['name']}; set force to remove it anyway.",
            )
        if not others:
            raise TaskFailure(
                Codes.INVALID_STATE,
                f"Host {name} is the last host of its omnistack_cluster; set force to remove it anyway.",
            )
    loads = _Loads(txn, cluster_id, others)
    _move_vms(sim, txn, holders, host_id, loads)
    _move_volumes(sim, txn, _volume_holders(txn, cluster_id, host_id), host_id, loads)
    _leave_cluster(txn, cluster_id, host_id)
    state = txn.state()
    state.drop_shutdown(host_id)
    state.drop_host_fault(host_id)
    state.drop_resyncs(host_id=host_id)
    state.drop_host_hardware(host_id)
    txn.delete(HOSTS, host_id)
    # The remaining hosts share the cluster's bytes; the host's share goes.
    sim.hosts_changed(txn, cluster_id)
    return [AffectedObject(host_id, HOST)]


def _move_vms(sim: Simulator, txn: Txn, holders: Sequence[VirtualMachine], gone: str, loads: _Loads) -> None:
    cluster = str(holders[0]["omnistack_cluster_id"]) if holders else ""
    live = replicas.serving_hosts(txn, cluster) & set(loads.hosts)
    single = replicas.SingleReplica(txn)
    for vm in holders:
        one_copy = single(str(vm["datastore_id"]))
        values = _rehome(vm, gone, loads, one_copy)
        if vm["state"] == "ALIVE":
            if values["replica_set"]:
                values.update(replicas.ha_values(replicas.ha_status({**vm, **values}, live, one_copy)))
            else:
                # No host is left to run it: it leaves the inventory, as a VM deleted outside SimpliVity.
                values.update(state="REMOVED", ha_status="UNKNOWN", ha_resynchronization_progress=0)
                sim.remove_vm(txn, vm)
                txn.update_where(
                    BACKUPS, {"virtual_machine_id": vm["id"]}, {"virtual_machine_state": "REMOVED"}
                )
        txn.update(VIRTUAL_MACHINES, vm["id"], values)


def _volume_holders(txn: Txn, cluster_id: str, host_id: str) -> list[PersistentVolume]:
    """Every persistent volume (any state) that keeps a replica on the host."""
    found = txn.find(PERSISTENT_VOLUMES, omnistack_cluster_id=cluster_id)
    return [pv for pv in found if pv["host_id"] == host_id or host_id in replicas.replica_hosts(pv)]


def _move_volumes(
    sim: Simulator, txn: Txn, volumes: Sequence[PersistentVolume], gone: str, loads: _Loads
) -> None:
    """Volumes' replicas move as VMs' do; a volume with no host left leaves the inventory with its data."""
    single = replicas.SingleReplica(txn)
    for pv in volumes:
        values = _rehome(pv, gone, loads, single(str(pv["datastore_id"])))
        values.pop("host_name", None)  # a volume has no host name field
        if pv["state"] == "ALIVE" and not values["replica_set"]:
            values["state"] = "REMOVED"
            sim.remove_vm(txn, pv)
            txn.update_where(BACKUPS, {"virtual_machine_id": pv["id"]}, {"virtual_machine_state": "REMOVED"})
        txn.update(PERSISTENT_VOLUMES, pv["id"], values)


def _leave_cluster(txn: Txn, cluster_id: str, gone: str) -> None:
    cluster = txn.get(OMNISTACK_CLUSTERS, cluster_id)
    if cluster is None:
        return
    members = [m for m in cluster["members"] or [] if m != gone]
    txn.update(OMNISTACK_CLUSTERS, cluster_id, {"members": members, "arbiter_required": len(members) == 2})


def handlers(sim: Simulator) -> dict[str, Handler]:
    return {"host.remove_from_federation": partial(_run_remove, sim)}
