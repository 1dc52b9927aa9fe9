"""VMs' storage HA from where their replicas are: which hosts serve them, failover, and resyncs.

A host serves its replicas while it is ALIVE (its controller running) and its storage holds (no logical
drive failed past parity); its cluster counts its capacity only while it is ALIVE (share_capacity). A
live VM is SAFE when every replica's host serves it and none is catching up, SYNCING while one is
(ha_resynchronization_progress says how far), DEGRADED when a replica's host does not serve, DEFUNCT
when none does; a single-replica datastore keeps no HA copy (OUT_OF_SCOPE). What a replica catches up
is what its VM wrote while it was away (Simulator.rewritten).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from openovc.domain.catalog import DATASTORES, HOSTS, VIRTUAL_MACHINES
from openovc.domain.hardware_faults import resync_progress, resync_seconds, storage_lost, usable_capacity
from openovc.domain.ports.federation import Record, Txn
from openovc.domain.ports.operations import Resync
from openovc.domain.ports.simulator import Simulator
from openovc.domain.records import VirtualMachine

SAFE, SYNCING, DEGRADED, DEFUNCT, OUT_OF_SCOPE = "SAFE", "SYNCING", "DEGRADED", "DEFUNCT", "OUT_OF_SCOPE"


def replica_hosts(vm: Mapping[str, Any]) -> list[str]:
    return [str(r["id"]) for r in vm["replica_set"] or []]


def serving_hosts(txn: Txn, cluster_id: str) -> set[str]:
    """The cluster's hosts that serve their replicas now."""
    state = txn.state()
    serving = set()
    for host in txn.find(HOSTS, omnistack_cluster_id=cluster_id):
        if host["state"] != "ALIVE":
            continue
        document = state.host_hardware(host["id"])
        if document is None or not storage_lost(document):
            serving.add(host["id"])
    return serving


class SingleReplica:
    """Whether a datastore keeps one copy only, read once per datastore."""

    def __init__(self, txn: Txn) -> None:
        self.txn = txn
        self.known: dict[str, bool] = {}

    def __call__(self, datastore_id: str) -> bool:
        if datastore_id not in self.known:
            found = self.txn.get(DATASTORES, datastore_id)
            self.known[datastore_id] = bool(found["single_replica"]) if found is not None else False
        return self.known[datastore_id]


def ha_status(vm: Mapping[str, Any], serving: set[str], single: bool) -> str:
    """Storage HA of a live VM from which of its replicas' hosts serve, resyncs aside."""
    replicas = replica_hosts(vm)
    up = sum(1 for h in replicas if h in serving)
    if up == 0:
        return DEFUNCT  # no controller serves its data
    if single:
        return OUT_OF_SCOPE
    return SAFE if up >= 2 and up == len(replicas) else DEGRADED


def ha_values(ha: str, progress: int | None = None) -> Record:
    if progress is None:
        progress = 100 if ha == SAFE else 0
    return {"ha_status": ha, "ha_resynchronization_progress": progress}


def refresh(
    txn: Txn, cluster_id: str, now_ms: int, hosts: Collection[str] = (), vms: Collection[str] = ()
) -> Counter[str]:
    """Recompute the HA of the cluster's live VMs with a replica on one of `hosts`, or among `vms`; how
    many VMs came to be in each status, of those whose status changed."""
    serving = serving_hosts(txn, cluster_id)
    single = SingleReplica(txn)
    pending: dict[str, list[Resync]] = {}
    for resync in txn.state().resyncs():
        pending.setdefault(resync.vm_id, []).append(resync)
    changed: Counter[str] = Counter()
    for vm in txn.find(VIRTUAL_MACHINES, omnistack_cluster_id=cluster_id, state="ALIVE"):
        if vm["id"] not in vms and not any(h in hosts for h in replica_hosts(vm)):
            continue
        ha = ha_status(vm, serving, single(str(vm["datastore_id"])))
        progress = None
        syncing = [r for r in pending.get(vm["id"], []) if r.done_ms > now_ms]
        if ha == SAFE and syncing:
            ha, progress = SYNCING, min(resync_progress(r, now_ms) for r in syncing)
        values = ha_values(ha, progress)
        if (vm["ha_status"], vm["ha_resynchronization_progress"]) != (
            ha,
            values["ha_resynchronization_progress"],
        ):
            txn.update(VIRTUAL_MACHINES, vm["id"], values)
            if vm["ha_status"] != ha:
                changed[ha] += 1
    return changed


def holding(txn: Txn, cluster_id: str, host_id: str) -> list[VirtualMachine]:
    """The cluster's live VMs with a replica on the host."""
    found = txn.find(VIRTUAL_MACHINES, omnistack_cluster_id=cluster_id, state="ALIVE")
    return [vm for vm in found if host_id in replica_hosts(vm)]


def share_capacity(txn: Txn, sim: Simulator, host_id: str) -> None:
    """The host's allocated capacity as its cluster counts it: what its logical drives hold while it
    serves, nothing while it is down (its copy of the data is out of reach until it returns); its
    cluster's figures are shared anew among its hosts when the transaction commits."""
    host = txn.get(HOSTS, host_id)
    document = txn.state().host_hardware(host_id)
    if host is None or document is None:
        return  # no drives known: nothing to count anew
    held = usable_capacity(document) if host["state"] == "ALIVE" else 0
    if held != host["allocated_capacity"]:
        txn.update(HOSTS, host_id, {"allocated_capacity": held})
    sim.hosts_changed(txn, str(host["omnistack_cluster_id"]))


def went_away(txn: Txn, host_id: str) -> None:
    """The host stopped serving: what its replicas were catching up, they will catch up anew."""
    txn.state().drop_resyncs(host_id=host_id)


def came_back(
    txn: Txn, sim: Simulator, cluster_id: str, host_id: str, away_ms: int | None, now_ms: int
) -> list[Resync]:
    """The host serves again after `away_ms` (None: its storage was lost, every replica is rebuilt): each
    replica there whose VM another serving host kept running catches up what the VM wrote meanwhile."""
    serving = serving_hosts(txn, cluster_id)
    if host_id not in serving:
        return []
    single = SingleReplica(txn)
    started = []
    state = txn.state()
    behind = [
        vm
        for vm in holding(txn, cluster_id, host_id)
        # Only a replica whose VM went on in another copy has anything to catch up.
        if not single(str(vm["datastore_id"])) and serving.intersection(replica_hosts(vm)) - {host_id}
    ]
    written = sim.rewritten(txn, behind, now_ms - away_ms, now_ms) if away_ms is not None else {}
    for vm in behind:
        if away_ms is None:
            changed = max(
                0, int(vm["hypervisor_allocated_capacity"] or 0) - int(vm["hypervisor_free_space"] or 0)
            )
        else:
            changed = written.get(vm["id"], 0)
        seconds = resync_seconds(changed)
        if seconds:
            resync = Resync(vm["id"], host_id, now_ms, now_ms + seconds * 1000, changed)
            state.put_resync(resync)
            started.append(resync)
    return started


def fail_over(txn: Txn, host_id: str, serving: set[str], names: Mapping[str, str]) -> int:
    """vSphere HA restarts the VMs that ran on a failed host on the host of their other replica, which
    becomes the primary; how many moved (a VM with no other serving replica stays, DEFUNCT)."""
    moved = 0
    for vm in txn.find(VIRTUAL_MACHINES, host_id=host_id, state="ALIVE"):
        others = [h for h in replica_hosts(vm) if h != host_id and h in serving]
        if not others:
            continue
        target = others[0]
        roles = [{"id": h, "role": "PRIMARY" if h == target else "SECONDARY"} for h in replica_hosts(vm)]
        txn.update(
            VIRTUAL_MACHINES, vm["id"], {"host_id": target, "host_name": names[target], "replica_set": roles}
        )
        moved += 1
    return moved


def counts(
    changed: Counter[str], statuses: Sequence[str] = (SAFE, SYNCING, DEGRADED, DEFUNCT)
) -> dict[str, int]:
    """A control answer's tally: VMs that came to each status."""
    return {s.lower(): changed.get(s, 0) for s in statuses}
