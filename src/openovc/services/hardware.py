"""Faults of the simulated hardware, as the control API (/_openovc/hardware) sets and clears them.

- A drive fails or is replaced: its host's hardware document shows it (domain/hardware_faults.py), the
  host's allocated capacity follows what its drives hold, and its cluster's figures with it. A new drive
  in an array that held rebuilds on the simulated clock (a row of drive_rebuilds), its share back when
  done; its host's VMs stay as they were, the array serving throughout. Past parity the host's storage
  is lost: its replicas stop serving until the drive is replaced, then rebuild whole (SYNCING).
- A host fails (power, board) or is repaired: FAULTY, then ALIVE. The VMs that ran there restart on the
  host of their other replica (vSphere HA), which becomes their primary; they stay there after. While
  it is down (failed, or its controller off) its cluster counts none of its capacity.
- A controller shuts down at once (as powered off in vCenter) or restarts, after a shutdown through HPE's
  API or this one: FAULTY, then ALIVE. Its host runs on, and so do its VMs, their IO served by the
  partner's controller.

Whatever stops a host serving leaves its VMs' replicas there DEGRADED (DEFUNCT with no copy served);
when it serves again they resync what their VMs wrote meanwhile, SYNCING until done on the simulated
clock (services/replicas.py). `settle` moves resyncs and drive rebuilds on: the worker's chore, and each
clock move.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson

from openovc.domain.catalog import HOSTS, OMNISTACK_CLUSTERS, VIRTUAL_MACHINES
from openovc.domain.clock import Clock
from openovc.domain.errors import ObjectNotFound
from openovc.domain.hardware_faults import (
    FAILED,
    REBUILDING,
    SUCCESS,
    HardwareConflict,
    drive_in,
    drive_view,
    rebuild_seconds,
    resync_progress,
    shutdown_status,
    storage_lost,
    with_drive,
    with_progress,
)
from openovc.domain.ports.federation import FederationReader, Txn
from openovc.domain.ports.operations import DriveRebuild, HostFault, OperationsState, Resync, Shutdown
from openovc.domain.ports.operations_store import OperationsStore
from openovc.domain.ports.simulator import Simulator
from openovc.domain.records import Host
from openovc.domain.timefmt import epoch_ms, to_text
from openovc.services import replicas
from openovc.services.hosts import HOST, NONE, back_up

Answer = dict[str, Any]


class _Change:
    """What one fault did, for the answer: VMs by new HA status, failovers, resyncs started."""

    def __init__(self) -> None:
        self.statuses: Counter[str] = Counter()
        self.failed_over = 0
        self.resyncs: list[Resync] = []


class HardwareService:
    """Sets and clears hardware faults (module doc); each call is one write transaction."""

    def __init__(
        self, store: OperationsStore, reader: FederationReader, sim: Simulator, clock: Clock
    ) -> None:
        self._store = store
        self._reader = reader
        self._sim = sim
        self._clock = clock

    # ---- drives --------------------------------------------------------------------------------

    def fail_drive(self, host_id: str, slot: str) -> Answer:
        return self._drive(host_id, slot, failed=True)

    def repair_drive(self, host_id: str, slot: str) -> Answer:
        return self._drive(host_id, slot, failed=False)

    def _drive(self, host_id: str, slot: str, failed: bool) -> Answer:
        now_ms = self._now_ms()
        change = _Change()
        rebuild = None
        with self._store.changing() as (txn, state):
            host, document = _hardware(txn, state, host_id)
            if (drive_in(document, host_id, slot)["health"] == FAILED) == failed:
                verb = "failed already" if failed else "not failed: there is nothing to repair"
                raise HardwareConflict(f"Drive {slot} of host {host['name']} has {verb}")
            changed = with_drive(document, host_id, slot, failed)
            state.drop_rebuilds(host_id, slot)  # a drive failing while it rebuilt
            if storage_lost(changed):
                state.drop_rebuilds(host_id)  # nothing to rebuild from: the array is lost
            elif drive_in(changed, host_id, slot)["health"] == REBUILDING:
                seconds = rebuild_seconds(int(drive_in(changed, host_id, slot)["capacity"]))
                rebuild = DriveRebuild(host_id, slot, now_ms, now_ms + seconds * 1000)
                state.put_rebuild(rebuild)
            state.put_host_hardware(host_id, changed)
            before = int(host["allocated_capacity"] or 0)
            replicas.share_capacity(txn, self._sim, host_id)  # its bytes are shared anew by capacity
            cluster_id = str(host["omnistack_cluster_id"])
            lost, was_lost = storage_lost(changed), storage_lost(document)
            if lost and not was_lost:
                replicas.went_away(txn, host_id)
            elif was_lost and not lost:
                # What the host held is gone: every replica rebuilds from its partner, whole.
                change.resyncs = replicas.came_back(txn, self._sim, cluster_id, host_id, None, now_ms)
            change.statuses = replicas.refresh(txn, cluster_id, now_ms, hosts={host_id})
        drive = {**drive_view(drive_in(changed, host_id, slot)), "rebuilt_at": None}
        if rebuild is not None:
            drive["rebuilt_at"] = to_text_ms(rebuild.done_ms)
        return {"drive": drive, **self._answer(host_id, cluster_id, before, change)}

    # ---- hosts ---------------------------------------------------------------------------------

    def fail_host(self, host_id: str) -> Answer:
        now_ms = self._now_ms()
        change = _Change()
        with self._store.changing() as (txn, state):
            host = _host(txn, host_id)
            if host["state"] != "ALIVE":
                raise HardwareConflict(f"Host {host['name']} is {host['state']} already")
            state.put_host_fault(HostFault(host_id, now_ms))
            txn.update(HOSTS, host_id, {"state": "FAULTY"})
            replicas.share_capacity(txn, self._sim, host_id)
            cluster_id = str(host["omnistack_cluster_id"])
            replicas.went_away(txn, host_id)
            names = {h["id"]: str(h["name"]) for h in txn.find(HOSTS, omnistack_cluster_id=cluster_id)}
            running = {vm["id"] for vm in txn.find(VIRTUAL_MACHINES, host_id=host_id, state="ALIVE")}
            change.failed_over = replicas.fail_over(
                txn, host_id, replicas.serving_hosts(txn, cluster_id), names
            )
            change.statuses = replicas.refresh(txn, cluster_id, now_ms, hosts={host_id}, vms=running)
        return self._answer(host_id, cluster_id, int(host["allocated_capacity"] or 0), change)

    def repair_host(self, host_id: str) -> Answer:
        now_ms = self._now_ms()
        change = _Change()
        with self._store.changing() as (txn, state):
            host = _host(txn, host_id)
            fault = state.host_fault(host_id)
            if fault is None:
                raise HardwareConflict(f"Host {host['name']} has not failed: there is nothing to repair")
            state.drop_host_fault(host_id)
            change.resyncs, change.statuses = back_up(txn, self._sim, host, now_ms - fault.since_ms, now_ms)
            cluster_id = str(host["omnistack_cluster_id"])
        return self._answer(host_id, cluster_id, int(host["allocated_capacity"] or 0), change)

    # ---- Virtual Controllers -------------------------------------------------------------------

    def shutdown_controller(self, host_id: str) -> Answer:
        """The controller stops at once (its VM powered off): its shutdown status is SUCCESS."""
        now_ms = self._now_ms()
        change = _Change()
        with self._store.changing() as (txn, state):
            host = _host(txn, host_id)
            if state.shutdown(host_id) is not None:
                raise HardwareConflict(f"The Virtual Controller of host {host['name']} is shut down already")
            if host["state"] != "ALIVE":
                raise HardwareConflict(f"Host {host['name']} is {host['state']}: its controller does not run")
            state.put_shutdown(Shutdown(host_id, SUCCESS, False, now_ms))
            txn.update(HOSTS, host_id, {"state": "FAULTY"})
            replicas.share_capacity(txn, self._sim, host_id)
            replicas.went_away(txn, host_id)
            cluster_id = str(host["omnistack_cluster_id"])
            change.statuses = replicas.refresh(txn, cluster_id, now_ms, hosts={host_id})
        return self._answer(host_id, cluster_id, int(host["allocated_capacity"] or 0), change)

    def restart_controller(self, host_id: str) -> Answer:
        """A controller that shut down runs again (a shutdown still in progress is cancelled instead)."""
        now_ms = self._now_ms()
        change = _Change()
        with self._store.changing() as (txn, state):
            host = _host(txn, host_id)
            found = state.shutdown(host_id)
            if found is None:
                raise HardwareConflict(f"The Virtual Controller of host {host['name']} runs already")
            if shutdown_status(found, now_ms) != SUCCESS:
                raise HardwareConflict(
                    f"The Virtual Controller of host {host['name']} is still shutting down; "
                    "cancel the shutdown (cancel_virtual_controller_shutdown) to keep it running"
                )
            away = now_ms - found.requested_ms
            change.resyncs, change.statuses = back_up(txn, self._sim, host, away, now_ms)
            cluster_id = str(host["omnistack_cluster_id"])
        return self._answer(host_id, cluster_id, int(host["allocated_capacity"] or 0), change)

    # ---- time ----------------------------------------------------------------------------------

    def settle(self) -> int:
        """The resyncs and drive rebuilds due by the clock's now end (VMs SAFE, drives HEALTHY), the others'
        progress moves on; how many ended. One read when nothing resyncs or rebuilds."""
        now_ms = self._now_ms()
        with self._store.reading() as state:
            if not state.resyncs() and not state.rebuilds():
                return 0
        with self._store.changing() as (txn, _):
            return settle_in(txn, self._sim, now_ms)

    # ---- answers -------------------------------------------------------------------------------

    def _now_ms(self) -> int:
        return epoch_ms(self._clock.now())

    def _answer(self, host_id: str, cluster_id: str, before: int, change: _Change) -> Answer:
        """The host and cluster as they are now (their figures written at commit), and what changed."""
        host = self._reader.get(HOSTS, host_id)
        cluster = self._reader.get(OMNISTACK_CLUSTERS, cluster_id)
        raw = self._reader.hardware(host_id)
        if host is None or cluster is None or raw is None:
            raise ObjectNotFound(HOST, host_id)  # removed meanwhile by another call
        with self._store.reading() as state:
            found = state.shutdown(host_id)
        now_ms = self._now_ms()
        done = max((r.done_ms for r in change.resyncs), default=None)
        return {
            "host": {
                "id": host_id,
                "name": host["name"],
                "state": host["state"],
                "hardware_status": orjson.loads(raw)["status"],
                "virtual_controller_shutdown_status": shutdown_status(found, now_ms) if found else NONE,
                "allocated_capacity": host["allocated_capacity"],
                "free_space": host["free_space"],
            },
            "omnistack_cluster": {
                "id": cluster_id,
                "name": cluster["name"],
                "allocated_capacity": cluster["allocated_capacity"],
                "free_space": cluster["free_space"],
            },
            "capacity_change": int(host["allocated_capacity"] or 0) - before,
            "virtual_machines": {**replicas.counts(change.statuses), "failed_over": change.failed_over},
            "resync": {
                "virtual_machines": len(change.resyncs),
                "bytes": sum(r.changed for r in change.resyncs),
                "done_at": to_text_ms(done) if done is not None else None,
            },
        }


def settle_in(txn: Txn, sim: Simulator, now_ms: int) -> int:
    """`settle` in the caller's transaction."""
    state = txn.state()
    ended = 0
    for rebuild in state.rebuilds():
        document = state.host_hardware(rebuild.host_id)
        if document is None:  # the host left the federation
            state.drop_rebuilds(rebuild.host_id)
            continue
        percent = resync_progress(rebuild, now_ms)
        if percent == drive_in(document, rebuild.host_id, rebuild.slot)["percent_rebuilt"]:
            continue  # one write per percent at most
        state.put_host_hardware(
            rebuild.host_id, with_progress(document, rebuild.host_id, rebuild.slot, percent)
        )
        if percent == 100:
            state.drop_rebuilds(rebuild.host_id, rebuild.slot)
            replicas.share_capacity(txn, sim, rebuild.host_id)  # the drive gives its share again
            ended += 1
    pending = state.resyncs()
    clusters: dict[str, set[str]] = {}
    vms = {vm["id"]: vm for vm in txn.get_many(VIRTUAL_MACHINES, sorted({r.vm_id for r in pending}))}
    for resync in pending:
        vm = vms.get(resync.vm_id)
        if vm is None or vm["state"] != "ALIVE" or resync.done_ms <= now_ms:
            state.drop_resyncs(resync.vm_id, resync.host_id)
            ended += 1
        if vm is not None:
            clusters.setdefault(str(vm["omnistack_cluster_id"]), set()).add(vm["id"])
    for cluster_id, ids in clusters.items():
        replicas.refresh(txn, cluster_id, now_ms, vms=ids)
    return ended


def to_text_ms(ms: int) -> str:
    return to_text(datetime.fromtimestamp(ms / 1000, UTC))


def _host(txn: Txn, host_id: str) -> Host:
    host = txn.get(HOSTS, host_id)
    if host is None:
        raise ObjectNotFound(HOST, host_id)
    return host


def _hardware(txn: Txn, state: OperationsState, host_id: str) -> tuple[Host, dict[str, Any]]:
    host = _host(txn, host_id)
    document = state.host_hardware(host_id)
    if document is None:
        raise ObjectNotFound(HOST, host_id)
    return host, document
