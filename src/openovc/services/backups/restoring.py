"""Restores: a backup to a new VM, over its original VM, or some of its files into a VM."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from openovc.domain import timefmt
from openovc.domain.backups import in_cluster
from openovc.domain.catalog import DATASTORES, HOSTS, VIRTUAL_MACHINES
from openovc.domain.errors import InvalidBody
from openovc.domain.ports.federation import FederationReader, Finder, Record, Txn
from openovc.domain.ports.operations_store import OperationsStore
from openovc.domain.ports.simulator import Simulator
from openovc.domain.records import Backup, Datastore, VirtualMachine
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.backups.checks import VM, alive_vm, as_of, current, found, protected, refused_now
from openovc.services.common import alive_vm_named, fail_duplicate, new_id, refuse_duplicate_now, valid_name


def restore(
    reader: FederationReader,
    tasks: TaskEngine,
    sim: Simulator,
    backup_id: str,
    *,
    original: bool,
    name: str | None,
    datastore_id: str | None,
) -> Record:
    """Over the original VM (its data goes back to the backup's point in time), or to a new VM."""
    backup = as_of(reader, sim, backup_id, tasks.clock.now())
    if original:
        with refused_now():
            _restorable_over(reader, backup)
        vm_id = str(backup["virtual_machine_id"])
        payload = {"backup": backup_id, "original": True}
        return tasks.submit("backup.restore", payload, [backup_id, vm_id])
    if name is None:
        raise InvalidBody("Invalid body: virtual_machine_name: Field required")
    valid_name(VM, name)
    target = datastore_id or str(backup["datastore_id"])
    with refused_now():
        protected(backup, "restored")
        _source_vm(reader, backup)
        found(reader, DATASTORES, target)
    refuse_duplicate_now(alive_vm_named(reader, name))
    payload = {"backup": backup_id, "original": False, "name": name, "datastore": target}
    return tasks.submit("backup.restore", payload, [backup_id, target])


def _source_vm(finder: Finder, backup: Backup) -> VirtualMachine:
    return found(finder, VIRTUAL_MACHINES, str(backup["virtual_machine_id"]))


def _restorable_over(finder: Finder, backup: Backup) -> VirtualMachine:
    protected(backup, "restored")
    if not in_cluster(backup):
        raise TaskFailure(
            Codes.INVALID_ARGUMENT,
            "A backup kept in an external store cannot be restored over its original virtual machine; "
            "restore it to a new virtual machine.",
        )
    return alive_vm(finder, str(backup["virtual_machine_id"]))


def _run_restore(sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    backup = current(sim, txn, payload["backup"], now)
    if payload["original"]:
        return _restore_over(sim, txn, backup, now)
    protected(backup, "restored")
    source = _source_vm(txn, backup)
    datastore = found(txn, DATASTORES, payload["datastore"])
    fail_duplicate(alive_vm_named(txn, payload["name"]))
    vm: Record = {**source, **sim.new_identity(source, new_id(), payload["name"], now)}
    vm.update(
        state="ALIVE", datastore_id=datastore["id"], datastore_name=datastore["name"],
        policy_id=datastore["policy_id"], policy_name=datastore["policy_name"],
        hypervisor_is_template=backup["virtual_machine_type"] == "TEMPLATE",
    )  # fmt: skip
    host = txn.get(HOSTS, str(source["host_id"]))
    if (
        datastore["omnistack_cluster_id"] != source["omnistack_cluster_id"]
        or host is None
        or host["state"] != "ALIVE"
    ):
        _place(sim, txn, vm, datastore)
    # Placed first: the restore's IO is on the host it runs on.
    vm.update(sim.restore_vm(txn, backup, vm, datastore, now))
    txn.insert(VIRTUAL_MACHINES, vm)
    sim.guest_copied(txn, source, str(vm["id"]))
    return [AffectedObject(str(vm["id"]), VM)]


def _place(sim: Simulator, txn: Txn, vm: Record, datastore: Datastore) -> None:
    """A restored VM runs in its datastore's cluster, on its least loaded hosts."""
    single = bool(datastore["single_replica"])
    placed = sim.placement(txn, datastore)
    safe = len(placed["replica_set"]) > 1
    vm.update(
        placed,
        ha_status="SAFE" if safe else "OUT_OF_SCOPE" if single else "DEGRADED",
        ha_resynchronization_progress=100 if safe else 0,
    )


def _restore_over(sim: Simulator, txn: Txn, backup: Backup, now: datetime) -> list[AffectedObject]:
    vm = _restorable_over(txn, backup)
    capacity = sim.restore_over(txn, backup, vm, now)
    # The same guest, stopped: what its Tools knew comes back once it runs (as after a power-off).
    sim.guest_stopped(txn, vm)
    # vSphere registers the restored VM again: it comes back powered off.
    txn.update(
        VIRTUAL_MACHINES,
        vm["id"],
        {
            **capacity,
            "hypervisor_virtual_machine_power_state": "OFF",
            "hypervisor_consumed_cpu": 0,
            "hypervisor_consumed_memory": 0,
            "app_aware_vm_status": "VMWARE_TOOLS_UNAVAILABLE",
        },
    )
    # Its disks went back to the backup: what was restored into it since is gone again.
    taken = timefmt.from_text(str(backup["created_at"]))
    txn.state().undo_restored_files(vm["id"], int(taken.timestamp()), int(now.timestamp()))
    return [AffectedObject(vm["id"], VM)]


def restore_files(
    reader: FederationReader,
    store: OperationsStore,
    tasks: TaskEngine,
    sim: Simulator,
    backup_id: str,
    vm_id: str,
    paths: Sequence[str],
) -> Record:
    """Files of a backup written into a VM: later backups of the VM show them, and their sizes are
    written to the VM's data."""
    backup = as_of(reader, sim, backup_id, tasks.clock.now())
    with refused_now():
        target = alive_vm(reader, vm_id)
        protected(backup, "restored")
    if not paths:
        raise InvalidBody("Invalid body: paths: Specify at least one file or directory to restore.")
    unique = list(dict.fromkeys(paths))
    with store.reading() as state, refused_now():
        sim.check_restore_files(reader, state, backup, target, unique)
    # What they write is worked out when the task runs, from the backup and the VM as they are then.
    payload = {"backup": backup_id, "vm": vm_id, "paths": unique}
    return tasks.submit("backup.restore_files", payload, [backup_id, vm_id])


def _run_restore_files(
    sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime
) -> list[AffectedObject]:
    backup = current(sim, txn, payload["backup"], now)
    protected(backup, "restored")
    vm = sim.vm_now(txn, alive_vm(txn, payload["vm"]), now)
    written = sim.restore_files(txn, backup, vm, payload["paths"], now)
    txn.state().add_restored_files(vm["id"], written)
    return [AffectedObject(vm["id"], VM)]


def handlers(sim: Simulator) -> dict[str, Handler]:
    return {
        "backup.restore": partial(_run_restore, sim),
        "backup.restore_files": partial(_run_restore_files, sim),
    }
