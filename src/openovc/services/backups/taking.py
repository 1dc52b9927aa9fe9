"""Backing up a VM and copying a backup: a new backup, kept in a cluster or an external store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from openovc.domain.backups import in_cluster
from openovc.domain.catalog import BACKUPS, OMNISTACK_CLUSTERS, VIRTUAL_MACHINES
from openovc.domain.errors import InvalidBody
from openovc.domain.ports.federation import FederationReader, Finder, Record, Txn
from openovc.domain.ports.simulator import Simulator
from openovc.domain.records import Backup, ExternalStore, OmnistackCluster, VirtualMachine
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.backups.checks import (
    BACKUP,
    INVALID_DESTINATION,
    LOCAL_STORE,
    affected,
    alive_vm,
    as_of,
    current,
    found,
    holder,
    paced,
    protected,
    refused_now,
    store_takes,
    target,
)
from openovc.services.common import new_id, stamp, valid_name


def backup_vm(
    reader: FederationReader,
    tasks: TaskEngine,
    vm_id: str,
    *,
    name: str,
    cluster_id: str | None,
    store_name: str | None,
    consistency: str,
    retention: int,
) -> Record:
    with refused_now():
        vm = found(reader, VIRTUAL_MACHINES, vm_id)
    valid_name(BACKUP, name)
    with refused_now():
        alive_vm(reader, vm_id)
        _, store = target(reader, cluster_id, store_name)
        if store is not None:
            store_takes(store, str(vm["omnistack_cluster_id"]), LOCAL_STORE)
    operation = "virtual_machine.backup"
    backup_id = new_id()
    payload = {
        "vm": vm_id, "backup": backup_id, "name": name, "cluster": cluster_id or None,
        "store": store_name or None, "consistency": consistency, "retention": retention,
        "paced": paced(tasks, operation),
    }  # fmt: skip
    # What it writes: the VM (and, through its workload, its datastore), the new backup, and the content
    # and figures of the VM's cluster and of the destination. A VM's datastore and cluster cannot change
    # under it (a VM that moves is a new VM), so they can be named now.
    places = [str(vm["omnistack_cluster_id"]), *(p for p in (cluster_id, store_name) if p)]
    scope = [vm_id, backup_id, str(vm["datastore_id"]), *places]
    return tasks.submit(operation, payload, [vm_id, backup_id], scope=scope)


def consistency_for(vm: VirtualMachine, wanted: str) -> str:
    """VSS needs a running Windows guest whose credentials it accepted; else the backup is FAILEDVSS
    (crash-consistent). A VMware snapshot (DEFAULT) needs nothing more."""
    if wanted != "VSS":
        return wanted
    running = vm["hypervisor_virtual_machine_power_state"] == "ON"
    return "VSS" if running and vm["app_aware_vm_status"] == "VALID_CREDS" else "FAILEDVSS"


def vm_facts(vm: VirtualMachine) -> Record:
    """What a backup records of its VM."""
    return {
        "virtual_machine_id": vm["id"],
        "virtual_machine_name": vm["name"],
        "virtual_machine_state": vm["state"],
        "virtual_machine_type": "TEMPLATE" if vm["hypervisor_is_template"] else "VM",
        "datastore_id": vm["datastore_id"],
        "datastore_name": vm["datastore_name"],
        "compute_cluster_parent_hypervisor_object_id": vm["compute_cluster_parent_hypervisor_object_id"],
        "compute_cluster_parent_name": vm["compute_cluster_parent_name"],
        "hypervisor_type": vm["hypervisor_type"],
    }


def _run_backup(sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    # The backup holds the VM's content as its workload has made it by now.
    vm = sim.vm_now(txn, alive_vm(txn, payload["vm"]), now)
    home = str(vm["omnistack_cluster_id"])
    cluster, store = target(txn, payload["cluster"], payload["store"])
    if store is not None:
        store_takes(store, home, LOCAL_STORE)
    elif cluster is None:
        cluster = found(txn, OMNISTACK_CLUSTERS, home)
    consistency = consistency_for(vm, payload["consistency"])
    retention = int(payload["retention"])
    created = stamp(now)
    backup: Record = {
        "id": payload["backup"],
        "name": payload["name"],
        "type": "MANUAL",
        "created_at": created,
        "expiration_time": stamp(now + timedelta(minutes=retention)) if retention else None,
        "application_consistent": consistency in ("DEFAULT", "VSS"),
        "consistency_type": consistency,
        **vm_facts(vm),
        **holder(txn, cluster, store),
        "unique_size_timestamp": created,
    }
    txn.insert(BACKUPS, sim.take_backup(txn, vm, backup, bool(payload["paced"]), now))
    return affected([str(backup["id"])])


def copy(
    reader: FederationReader,
    tasks: TaskEngine,
    sim: Simulator,
    backup_id: str,
    cluster_id: str | None,
    store_name: str | None,
) -> Record:
    backup = as_of(reader, sim, backup_id, tasks.clock.now())
    if not cluster_id and not store_name:
        raise InvalidBody(
            "Invalid body: Specify a destination_id or an external_store_name key/value to copy the backup."
        )
    with refused_now():
        _copyable(reader, backup, cluster_id, store_name)
    operation = "backup.copy"
    copy_id = new_id()
    payload = {
        "backup": backup_id, "copy": copy_id, "cluster": cluster_id or None, "store": store_name or None,
        "paced": paced(tasks, operation),
    }  # fmt: skip
    return tasks.submit(operation, payload, [backup_id, copy_id])


def _copyable(
    finder: Finder, backup: Backup, cluster_id: str | None, store_name: str | None
) -> tuple[OmnistackCluster | None, ExternalStore | None]:
    protected(backup, "copied")
    cluster, store = target(finder, cluster_id, store_name)
    if cluster is not None and in_cluster(backup) and cluster["id"] == backup["omnistack_cluster_id"]:
        raise TaskFailure(Codes.INVALID_DESTINATION, INVALID_DESTINATION)
    if store is not None:
        if store["name"] == backup["external_store_name"]:
            raise TaskFailure(Codes.INVALID_DESTINATION, INVALID_DESTINATION)
        store_takes(store, str(backup["associated_cluster"]), str(backup["backup_store_type"]))
    return cluster, store


def _run_copy(sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    source = current(sim, txn, payload["backup"], now)
    cluster, store = _copyable(txn, source, payload["cluster"], payload["store"])
    # A copy is the same point in time (name, creation and expiration); it began now, at its new place.
    copied: Record = {
        **source, "id": payload["copy"], **holder(txn, cluster, store), "unique_size_timestamp": stamp(now),
    }  # fmt: skip
    txn.insert(BACKUPS, sim.copy_backup(txn, source, copied, bool(payload["paced"]), now))
    return affected([str(copied["id"])])


def handlers(sim: Simulator) -> dict[str, Handler]:
    return {"virtual_machine.backup": partial(_run_backup, sim), "backup.copy": partial(_run_copy, sim)}
