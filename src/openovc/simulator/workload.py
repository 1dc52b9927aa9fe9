"""VM workloads as the clock runs (content/workload.py): content brought up to now, and the chore.

A running VM's content changes with the clock, but nothing is written until somebody needs it:

- before an operation reads or changes a VM's content (a backup, a clone, a move, files restored into
  it, a power change), `catch_up` applies the workload steps due since its last one, in the
  operation's own transaction, and writes the VM's and its datastore's figures;
- so that the clusters' figures keep moving for VMs nobody touches, the worker's chore (the simulator's
  `chores`) advances, each turn, a bounded batch of the VMs whose steps are longest due; their clusters'
  and hosts' figures are written once per cluster when its transaction commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from openovc.domain.catalog import VIRTUAL_MACHINES
from openovc.domain.ports.federation import Record, Txn
from openovc.domain.records import BackupSource, VirtualMachine
from openovc.domain.timefmt import epoch_ms
from openovc.simulator.content.model import ContentModel
from openovc.simulator.vm_data import shift_space, shift_spaces, vm_data

BATCH = 200  # VMs advanced per chore turn: a turn stays a short write transaction


def catch_up(txn: Txn, model: ContentModel, vm: VirtualMachine, now: datetime) -> VirtualMachine:
    """The VM with its workload's due steps applied (its row and its datastore's written; its cluster's
    figures follow when the transaction commits)."""
    if vm["state"] != "ALIVE" or model.ledger.holder(vm["id"]) is None:
        return vm
    if not model.advance(vm["id"], epoch_ms(now)):
        return vm
    size = model.size(vm["id"])
    grown = size - vm_data(vm)
    free = int(vm["hypervisor_allocated_capacity"] or 0) - size
    txn.update(VIRTUAL_MACHINES, vm["id"], {"hypervisor_free_space": free})
    shift_space(txn, str(vm["datastore_id"]), grown)
    return {**vm, "hypervisor_free_space": free}


def catch_up_many(txn: Txn, model: ContentModel, vms: Sequence[BackupSource], now: datetime) -> None:
    """`catch_up` for several VMs (a slot's backups): their rows written in one statement, their
    datastores read in one and written in one, where each VM would take three. A slot's persistent
    volumes pass through: nothing starts a workload on one, so none is ever due."""
    at = epoch_ms(now)
    freed: list[tuple[str, Record]] = []
    grown: dict[str, int] = {}
    for vm in vms:
        if vm["state"] != "ALIVE" or model.ledger.holder(vm["id"]) is None:
            continue
        if not model.advance(vm["id"], at):
            continue
        size = model.size(vm["id"])
        free = int(vm["hypervisor_allocated_capacity"] or 0) - size
        freed.append((vm["id"], {"hypervisor_free_space": free}))
        datastore = str(vm["datastore_id"])
        grown[datastore] = grown.get(datastore, 0) + size - vm_data(vm)
    txn.update_each(VIRTUAL_MACHINES, freed)
    shift_spaces(txn, grown)


def start(model: ContentModel, vm: VirtualMachine, now: datetime) -> None:
    """The VM was powered on: its workload runs from now."""
    if model.ledger.holder(vm["id"]) is not None:
        model.start_workload(vm["id"], epoch_ms(now))


def stop(model: ContentModel, vm_id: str) -> None:
    """The VM stopped (powered off, or registered again after a restore): its workload stops."""
    if model.ledger.holder(vm_id) is not None:
        model.stop_workload(vm_id)


def advance_due(txn: Txn, model: ContentModel, vm_ids: list[str], now: datetime) -> int:
    """Apply the due workload steps of these VMs (their rows and datastores written); how many moved."""
    moved = 0
    for vm_id in vm_ids:
        vm = txn.get(VIRTUAL_MACHINES, vm_id)
        if vm is None or vm["state"] != "ALIVE" or vm["hypervisor_virtual_machine_power_state"] != "ON":
            stop(model, vm_id)  # a schedule left behind by a VM that no longer runs
            continue
        moved += catch_up(txn, model, vm, now) is not vm
    return moved
