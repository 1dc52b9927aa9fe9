"""Datastore operations: create, resize, delete, set_policy, share and unshare, as tasks."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson

from openovc.domain.catalog import (
    DATASTORES,
    OMNISTACK_CLUSTERS,
    PERSISTENT_VOLUMES,
    POLICIES,
    VIRTUAL_MACHINES,
)
from openovc.domain.errors import TaskError
from openovc.domain.ports.federation import FederationReader, Finder, Record, Txn
from openovc.domain.records import Datastore, OmnistackCluster, PersistentVolume, VirtualMachine
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.common import (
    existing,
    fail_duplicate,
    new_id,
    refuse_duplicate_now,
    stamp,
    still_there,
    valid_name,
)

DS = "datastore"
VM = "virtual_machine"
PV = "persistent_volume"
_MOREF = re.compile(r"^datastore-(\d+)$")


def _ds(ds_id: str) -> list[AffectedObject]:
    return [AffectedObject(ds_id, DS)]


def _vms(n: int) -> str:
    return f"{n} virtual machine{'' if n == 1 else 's'}"


def _volumes(n: int) -> str:
    return f"{n} persistent volume{'' if n == 1 else 's'}"


def _json(value: Any) -> Any:
    """A JSON-kind value as Python: the reader gives JSON text, a transaction Python objects."""
    return orjson.loads(value) if isinstance(value, str) else value


def _alive_vms(finder: Finder, ds_id: str, **more: object) -> list[VirtualMachine]:
    return finder.find(VIRTUAL_MACHINES, datastore_id=ds_id, state="ALIVE", **more)


def _alive_volumes(finder: Finder, ds_id: str, **more: object) -> list[PersistentVolume]:
    return finder.find(PERSISTENT_VOLUMES, datastore_id=ds_id, state="ALIVE", **more)


def _data(vms: Sequence[VirtualMachine | PersistentVolume]) -> int:
    """Bytes the VMs' data takes on their datastore (what clone and move count against its space)."""
    return sum(
        max(0, int(vm["hypervisor_allocated_capacity"] or 0) - int(vm["hypervisor_free_space"] or 0))
        for vm in vms
    )


def _used(finder: Finder, ds_id: str) -> int:
    """Bytes the datastore's live VMs and persistent volumes (which take its space as VMs do) hold."""
    return _data([*_alive_vms(finder, ds_id), *_alive_volumes(finder, ds_id)])


def _too_big(size: int, cluster: OmnistackCluster) -> str | None:
    # Datastores are thin-provisioned, so together they may promise more than the cluster holds;
    # but one datastore larger than the cluster's whole physical capacity could never be filled.
    allocated = cluster["allocated_capacity"]
    if allocated is not None and size > int(allocated):
        return (
            f"The datastore size ({size} bytes) exceeds the capacity of cluster {cluster['name']} "
            f"({int(allocated)} bytes)."
        )
    return None


def _refuse_too_big(size: int, cluster: OmnistackCluster) -> None:
    problem = _too_big(size, cluster)
    if problem is not None:
        raise TaskError(Codes.INSUFFICIENT_CAPACITY, problem)


def _fail_too_big(size: int, cluster: OmnistackCluster) -> None:
    problem = _too_big(size, cluster)
    if problem is not None:
        raise TaskFailure(Codes.INSUFFICIENT_CAPACITY, problem)


def _below_used(datastore: Datastore, size: int, used: int) -> str | None:
    if size < used:
        return (
            f"Datastore {datastore['name']} cannot be resized to {size} bytes: "
            f"its virtual machines use {used} bytes."
        )
    return None


def _in_use(datastore: Datastore, vms: int, volumes: int) -> str | None:
    """Why the datastore cannot go: the live VMs and persistent volumes whose data it holds, if any."""
    held = [*([_vms(vms)] if vms else []), *([_volumes(volumes)] if volumes else [])]
    if not held:
        return None
    return f"Datastore {datastore['name']} cannot be deleted: it stores {' and '.join(held)}."


# ------------------------------------------------------------------------------------------ create


def create(
    reader: FederationReader,
    tasks: TaskEngine,
    name: str,
    cluster_id: str,
    policy_id: str,
    size: int,
    single_replica: bool,
) -> Record:
    valid_name(DS, name)
    cluster = existing(reader, OMNISTACK_CLUSTERS, cluster_id)
    existing(reader, POLICIES, policy_id)
    refuse_duplicate_now(bool(reader.find(DATASTORES, name=name)))
    _refuse_too_big(size, cluster)
    payload = {
        "name": name, "cluster": cluster_id, "policy": policy_id, "size": size,
        "single_replica": single_replica,
    }  # fmt: skip
    return tasks.submit("datastore.create", payload, [cluster_id, policy_id])


def _next_moref(txn: Txn, vcenter: object) -> str:
    """The next `datastore-N` of this vCenter: one above its highest datastore's, as vCenter counts up."""
    numbers = [
        int(m.group(1))
        for ds in txn.find(DATASTORES, hypervisor_management_system=vcenter)
        if (m := _MOREF.match(str(ds["hypervisor_object_id"] or "")))
    ]
    return f"datastore-{max(numbers, default=0) + 1}"


def _run_create(txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    cluster = still_there(txn, OMNISTACK_CLUSTERS, payload["cluster"])
    policy = still_there(txn, POLICIES, payload["policy"])
    fail_duplicate(bool(txn.find(DATASTORES, name=payload["name"])))
    size = int(payload["size"])
    _fail_too_big(size, cluster)
    new = new_id()
    txn.insert(
        DATASTORES,
        {
            "id": new,
            "name": payload["name"],
            "size": size,
            "created_at": stamp(now),
            "mount_directory": f"/mnt/svtfs/0/{new}",
            "omnistack_cluster_id": cluster["id"],
            "omnistack_cluster_name": cluster["name"],
            "policy_id": policy["id"],
            "policy_name": policy["name"],
            "hypervisor_object_id": _next_moref(txn, cluster["hypervisor_management_system"]),
            "hypervisor_type": cluster["hypervisor_type"],
            "hypervisor_management_system": cluster["hypervisor_management_system"],
            "hypervisor_management_system_name": cluster["hypervisor_management_system_name"],
            # The datastore lives in the datacenter that holds the cluster.
            "compute_cluster_parent_hypervisor_object_id": cluster["hypervisor_object_parent_id"],
            "compute_cluster_parent_name": cluster["hypervisor_object_parent_name"],
            "shares": [],
            "cluster_group_ids": list(_json(cluster["cluster_group_ids"]) or []),
            "single_replica": bool(payload["single_replica"]),
            "deleted": False,
            "hypervisor_free_space": size,
        },
    )
    return _ds(new)


# ------------------------------------------------------------------------------------------ resize


def resize(reader: FederationReader, tasks: TaskEngine, ds_id: str, size: int) -> Record:
    datastore = existing(reader, DATASTORES, ds_id)
    problem = _below_used(datastore, size, _used(reader, ds_id))
    if problem is not None:
        raise TaskError(Codes.INVALID_ARGUMENT, problem)
    cluster = reader.get(OMNISTACK_CLUSTERS, str(datastore["omnistack_cluster_id"]))
    if cluster is not None:
        _refuse_too_big(size, cluster)
    return tasks.submit("datastore.resize", {"datastore": ds_id, "size": size}, [ds_id])


def _run_resize(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    datastore = still_there(txn, DATASTORES, payload["datastore"])
    size = int(payload["size"])
    used = _used(txn, datastore["id"])
    problem = _below_used(datastore, size, used)
    if problem is not None:
        raise TaskFailure(Codes.INVALID_ARGUMENT, problem)
    cluster = txn.get(OMNISTACK_CLUSTERS, str(datastore["omnistack_cluster_id"]))
    if cluster is not None:
        _fail_too_big(size, cluster)
    txn.update(DATASTORES, datastore["id"], {"size": size, "hypervisor_free_space": size - used})
    return _ds(datastore["id"])


# ------------------------------------------------------------------------------------------ delete


def delete(reader: FederationReader, tasks: TaskEngine, ds_id: str) -> Record:
    datastore = existing(reader, DATASTORES, ds_id)
    problem = _in_use(datastore, len(_alive_vms(reader, ds_id)), len(_alive_volumes(reader, ds_id)))
    if problem is not None:
        raise TaskError(Codes.OBJECT_IN_USE, problem)
    return tasks.submit("datastore.delete", {"datastore": ds_id}, [ds_id])


def _run_delete(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    datastore = still_there(txn, DATASTORES, payload["datastore"])
    alive = {"datastore_id": datastore["id"], "state": "ALIVE"}
    problem = _in_use(datastore, txn.count(VIRTUAL_MACHINES, **alive), txn.count(PERSISTENT_VOLUMES, **alive))
    if problem is not None:
        raise TaskFailure(Codes.OBJECT_IN_USE, problem)
    # Deleted and removed VMs and volumes, and backups, keep naming the datastore: they are history.
    txn.delete(DATASTORES, datastore["id"])
    return _ds(datastore["id"])


# -------------------------------------------------------------------------------------- set_policy


def set_policy(reader: FederationReader, tasks: TaskEngine, ds_id: str, policy_id: str) -> Record:
    existing(reader, DATASTORES, ds_id)
    existing(reader, POLICIES, policy_id)
    return tasks.submit("datastore.set_policy", {"datastore": ds_id, "policy": policy_id}, [ds_id, policy_id])


def _run_set_policy(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    datastore = still_there(txn, DATASTORES, payload["datastore"])
    policy = still_there(txn, POLICIES, payload["policy"])
    ds_id, old = datastore["id"], datastore["policy_id"]
    values = {"policy_id": policy["id"], "policy_name": policy["name"]}
    txn.update(DATASTORES, ds_id, values)
    # A VM inherits its datastore's policy unless one was set on it; the store does not record which,
    # so the live VMs that carry the datastore's old policy are taken to be inheriting it. Persistent
    # volumes take a policy as VMs do (their own set_policy), so they follow it alike.
    affected = _ds(ds_id)
    for coll, kind, alive in ((VIRTUAL_MACHINES, VM, _alive_vms), (PERSISTENT_VOLUMES, PV, _alive_volumes)):
        followers = [] if old == policy["id"] else alive(txn, ds_id, policy_id=old)
        if followers:
            txn.update_where(coll, {"datastore_id": ds_id, "state": "ALIVE", "policy_id": old}, values)
        affected += [AffectedObject(obj["id"], kind) for obj in followers]
    return affected


# -------------------------------------------------------------------------------- share / unshare


def _standard_host(reader: FederationReader, datastore: Datastore, host_name: str) -> Record:
    """Quick check: the host is a standard (non-OmniStack) host of the datastore's cluster."""
    for host in reader.standard_hosts(str(datastore["omnistack_cluster_id"])):
        if host["name"] == host_name:
            return host
    raise TaskError(
        Codes.INVALID_ARGUMENT,
        f"{host_name} is not a standard host of cluster {datastore['omnistack_cluster_name']}.",
    )


def _shared_with(shares: Any, host_name: str) -> bool:
    return any(share.get("host") == host_name for share in _json(shares) or [])


def _already_shared(datastore: Datastore, host_name: str) -> str:
    return f"Datastore {datastore['name']} is already shared with host {host_name}."


def _not_shared(datastore: Datastore, host_name: str) -> str:
    return f"Datastore {datastore['name']} is not shared with host {host_name}."


def _host_uses(datastore: Datastore, host_name: str, n: int) -> str:
    return (
        f"Datastore {datastore['name']} cannot be unshared from host {host_name}: "
        f"it stores {_vms(n)} running on that host."
    )


def share(reader: FederationReader, tasks: TaskEngine, ds_id: str, host_name: str) -> Record:
    datastore = existing(reader, DATASTORES, ds_id)
    host = _standard_host(reader, datastore, host_name)
    if _shared_with(datastore["shares"], host_name):
        raise TaskError(Codes.INVALID_STATE, _already_shared(datastore, host_name))
    # Standard hosts are fixed inventory no operation changes, so the address travels with the task.
    payload = {"datastore": ds_id, "host": host_name, "address": host["ip_address"]}
    return tasks.submit("datastore.share", payload, [ds_id])


def _run_share(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    datastore = still_there(txn, DATASTORES, payload["datastore"])
    shares = list(datastore["shares"] or [])
    if _shared_with(shares, payload["host"]):
        raise TaskFailure(Codes.INVALID_STATE, _already_shared(datastore, payload["host"]))
    shares.append({"address": payload["address"], "host": payload["host"], "rw": True})
    txn.update(DATASTORES, datastore["id"], {"shares": shares})
    return _ds(datastore["id"])


def unshare(reader: FederationReader, tasks: TaskEngine, ds_id: str, host_name: str) -> Record:
    datastore = existing(reader, DATASTORES, ds_id)
    _standard_host(reader, datastore, host_name)
    if not _shared_with(datastore["shares"], host_name):
        raise TaskError(Codes.INVALID_STATE, _not_shared(datastore, host_name))
    n = reader.count_vms(ds_id, [host_name]).get(host_name, 0)
    if n:
        raise TaskError(Codes.OBJECT_IN_USE, _host_uses(datastore, host_name, n))
    return tasks.submit("datastore.unshare", {"datastore": ds_id, "host": host_name}, [ds_id])


def _run_unshare(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    datastore = still_there(txn, DATASTORES, payload["datastore"])
    host_name = payload["host"]
    shares = list(datastore["shares"] or [])
    if not _shared_with(shares, host_name):
        raise TaskFailure(Codes.INVALID_STATE, _not_shared(datastore, host_name))
    n = txn.count(VIRTUAL_MACHINES, datastore_id=datastore["id"], host_name=host_name, state="ALIVE")
    if n:
        raise TaskFailure(Codes.OBJECT_IN_USE, _host_uses(datastore, host_name, n))
    kept = [s for s in shares if s.get("host") != host_name]
    txn.update(DATASTORES, datastore["id"], {"shares": kept})
    return _ds(datastore["id"])


HANDLERS: dict[str, Handler] = {
    "datastore.create": _run_create,
    "datastore.resize": _run_resize,
    "datastore.delete": _run_delete,
    "datastore.set_policy": _run_set_policy,
    "datastore.share": _run_share,
    "datastore.unshare": _run_unshare,
}
