"""VM workloads as the clock runs (domain/content_workload.py): content brought up to now, and the chore.

A running VM's content changes with the clock, but nothing is written until somebody needs it:

- before an operation reads or changes a VM's content (a backup, a clone, a move, files restored into
  it, a power change), `catch_up` applies the workload steps due since its last one, in the
  operation's own transaction, and writes the VM's and its datastore's figures;
- so that the clusters' figures keep moving for VMs nobody touches, the worker's chore (`housekeeping`)
  advances, each turn, a bounded batch of the VMs whose steps are longest due, and then writes their
  clusters' and hosts' figures once per cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from openovc.domain.catalog import VIRTUAL_MACHINES
from openovc.domain.clock import Clock
from openovc.domain.ports.federation import Record, Txn
from openovc.domain.ports.operations import OperationsStore
from openovc.domain.timefmt import epoch_ms
from openovc.simulator import backup_data as data
from openovc.simulator.content.ledger import WorkloadSchedule
from openovc.simulator.content.model import ContentModel
from openovc.simulator.vm_data import shift_space

BATCH = 200  # VMs advanced per chore turn: a turn stays a short write transaction


def catch_up(txn: Txn, model: ContentModel, vm: Record, now: datetime) -> Record:
    """The VM with its workload's due steps applied (its row and its datastore's written); the caller
    writes its cluster's figures (refresh_clusters), as it does after its own change."""
    if vm["state"] != "ALIVE" or model.ledger.holder(str(vm["id"])) is None:
        return vm
    if not model.advance(str(vm["id"]), epoch_ms(now)):
        return vm
    size = model.size(str(vm["id"]))
    grown = size - data.vm_data(vm)
    values = {"hypervisor_free_space": int(vm["hypervisor_allocated_capacity"] or 0) - size}
    txn.update(VIRTUAL_MACHINES, str(vm["id"]), values)
    shift_space(txn, str(vm["datastore_id"]), grown)
    return {**vm, **values}


def start(model: ContentModel, vm: Record, now: datetime) -> None:
    """The VM was powered on: its workload runs from now."""
    if model.ledger.holder(str(vm["id"])) is not None:
        model.start_workload(str(vm["id"]), epoch_ms(now))


def stop(model: ContentModel, vm_id: str) -> None:
    """The VM stopped (powered off, or registered again after a restore): its workload stops."""
    if model.ledger.holder(vm_id) is not None:
        model.stop_workload(vm_id)


def advance_due(txn: Txn, vm_ids: list[str], now: datetime) -> int:
    """Apply the due workload steps of these VMs and write every figure that follows; how many moved."""
    model = txn.content()
    clusters: list[str] = []
    for vm_id in vm_ids:
        vm = txn.get(VIRTUAL_MACHINES, vm_id)
        if vm is None or vm["state"] != "ALIVE" or vm["hypervisor_virtual_machine_power_state"] != "ON":
            stop(model, vm_id)  # a schedule left behind by a VM that no longer runs
            continue
        if catch_up(txn, model, vm, now) is not vm:
            clusters.append(str(vm["omnistack_cluster_id"]))
    data.refresh_clusters(txn, model, clusters)
    return len(clusters)


def housekeeping(
    schedule: WorkloadSchedule, store: OperationsStore, clock: Clock, batch: int = BATCH
) -> Callable[[], int]:
    """The worker's chore: advance the VMs whose workload steps are longest due, `batch` at most a turn.

    One indexed read finds them, so an idle server only reads; each is checked again in the write
    transaction (a task may have advanced it meanwhile).
    """

    def run() -> int:
        now = clock.now()
        due = schedule.due(epoch_ms(now), batch)
        if not due:
            return 0
        with store.changing() as (txn, _):
            return advance_due(txn, due, now)

    return run
