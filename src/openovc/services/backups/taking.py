"""Backing up a VM and copying a backup: a new backup, kept in a cluster or an external store."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from openovc.domain.backups import in_cluster, source_type
from openovc.domain.catalog import BACKUPS, OMNISTACK_CLUSTERS, PERSISTENT_VOLUMES, VIRTUAL_MACHINES
from openovc.domain.errors import InvalidBody
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import FederationReader, Finder, Record, Txn
from openovc.domain.ports.simulator import Simulator
from openovc.domain.records import Backup, BackupSource, ExternalStore, OmnistackCluster
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.backups.checks import (
    BACKUP,
    INVALID_DESTINATION,
    LOCAL_STORE,
    affected,
    alive,
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
    return backup_of(
        reader, tasks, VIRTUAL_MACHINES, vm_id, name=name, cluster_id=cluster_id, store_name=store_name,
        consistency=consistency, retention=retention,
    )  # fmt: skip


def backup_of(
    reader: FederationReader,
    tasks: TaskEngine,
    coll: Collection[BackupSource],
    key: str,
    *,
    name: str,
    cluster_id: str | None,
    store_name: str | None,
    consistency: str,
    retention: int,
) -> Record:
    """A manual backup of a VM or of a persistent volume (`coll` says which): one task, as the real one."""
    with refused_now():
        source = found(reader, coll, key)
    valid_name(BACKUP, name)
    with refused_now():
        alive(reader, coll, key)
        _, store = target(reader, cluster_id, store_name)
        if store is not None:
            store_takes(store, str(source["omnistack_cluster_id"]), LOCAL_STORE)
    operation = f"{coll.singular}.backup"
    backup_id = new_id()
    payload = {
        "vm": key, "backup": backup_id, "name": name, "cluster": cluster_id or None,
        "store": store_name or None, "consistency": consistency, "retention": retention,
        "paced": paced(tasks, operation),
    }  # fmt: skip
    # What it writes: the source (and, through a VM's workload, its datastore), the new backup, and the
    # content and figures of the source's cluster and of the destination. A source's datastore and cluster
    # cannot change under it (a VM that moves is a new VM), so they can be named now.
    places = [str(source["omnistack_cluster_id"]), *(p for p in (cluster_id, store_name) if p)]
    scope = [key, backup_id, str(source["datastore_id"]), *places]
    return tasks.submit(operation, payload, [key, backup_id], scope=scope)


def consistency_for(source: Mapping[str, Any], wanted: str) -> str:
    """VSS needs a running Windows guest whose credentials it accepted; else the backup is FAILEDVSS
    (crash-consistent), as it is for a persistent volume, which has no guest. A VMware snapshot (DEFAULT)
    needs nothing more."""
    if wanted != "VSS":
        return wanted
    running = source.get("hypervisor_virtual_machine_power_state") == "ON"
    return "VSS" if running and source["app_aware_vm_status"] == "VALID_CREDS" else "FAILEDVSS"


def vm_facts(source: Mapping[str, Any], coll: Collection[BackupSource] = VIRTUAL_MACHINES) -> Record:
    """What a backup records of its VM (or persistent volume: `coll`)."""
    return {
        "virtual_machine_id": source["id"],
        "virtual_machine_name": source["name"],
        "virtual_machine_state": source["state"],
        "virtual_machine_type": source_type(
            bool(source.get("hypervisor_is_template")), coll is PERSISTENT_VOLUMES
        ),
        "datastore_id": source["datastore_id"],
        "datastore_name": source["datastore_name"],
        "compute_cluster_parent_hypervisor_object_id": source["compute_cluster_parent_hypervisor_object_id"],
        "compute_cluster_parent_name": source["compute_cluster_parent_name"],
        "hypervisor_type": source["hypervisor_type"],
    }


def _source_now(
    sim: Simulator, txn: Txn, coll: Collection[BackupSource], key: str, now: datetime
) -> BackupSource:
    """The live source as it is now: a VM with what its workload wrote until now (only VMs run one)."""
    if coll is VIRTUAL_MACHINES:
        return sim.vm_now(txn, alive(txn, VIRTUAL_MACHINES, key), now)
    return alive(txn, coll, key)


def _run_backup(
    sim: Simulator, coll: Collection[BackupSource], txn: Txn, payload: Mapping[str, Any], now: datetime
) -> list[AffectedObject]:
    # The backup holds the source's content as it is now.
    source = _source_now(sim, txn, coll, payload["vm"], now)
    home = str(source["omnistack_cluster_id"])
    cluster, store = target(txn, payload["cluster"], payload["store"])
    if store is not None:
        store_takes(store, home, LOCAL_STORE)
    elif cluster is None:
        cluster = found(txn, OMNISTACK_CLUSTERS, home)
    consistency = consistency_for(source, payload["consistency"])
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
        **vm_facts(source, coll),
        **holder(txn, cluster, store),
        "unique_size_timestamp": created,
    }
    txn.insert(BACKUPS, sim.take_backup(txn, source, backup, bool(payload["paced"]), now))
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
    return {
        "virtual_machine.backup": partial(_run_backup, sim, VIRTUAL_MACHINES),
        "persistent_volume.backup": partial(_run_backup, sim, PERSISTENT_VOLUMES),
        "backup.copy": partial(_run_copy, sim),
    }
