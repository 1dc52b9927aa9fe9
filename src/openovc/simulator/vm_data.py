"""What operations that make, move or restore VMs share: a new VM's own identity, placement, datastore space."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from openovc.domain.catalog import DATASTORES, HOSTS, VIRTUAL_MACHINES
from openovc.domain.ports.federation import Record, Txn
from openovc.domain.records import Datastore, Host, VirtualMachine
from openovc.domain.tasks import Codes, TaskFailure
from openovc.domain.timefmt import to_text


def vmware_uuid(seed: str) -> str:
    """A vCenter-style UUID (`42xxxxxx-...`) derived from a seed."""
    digest = hashlib.sha1(seed.encode()).hexdigest()
    return f"42{digest[2:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def vm_data(vm: Mapping[str, Any]) -> int:
    """Bytes of a VM's data: what its datastore counts for it."""
    return max(0, _int(vm.get("hypervisor_allocated_capacity")) - _int(vm.get("hypervisor_free_space")))


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


def take_space(txn: Txn, datastore: Datastore, amount: int) -> None:
    free = int(datastore["hypervisor_free_space"] or 0)
    if amount > free:
        raise TaskFailure(
            Codes.INSUFFICIENT_CAPACITY,
            f"Datastore {datastore['name']} has {free} bytes free; {amount} bytes are needed.",
        )
    txn.update(DATASTORES, datastore["id"], {"hypervisor_free_space": free - amount})


def give_space(txn: Txn, datastore_id: str, amount: int) -> None:
    datastore = txn.get(DATASTORES, datastore_id)
    if datastore is not None:
        free = int(datastore["hypervisor_free_space"] or 0) + amount
        txn.update(
            DATASTORES, datastore_id, {"hypervisor_free_space": min(free, int(datastore["size"] or 0))}
        )


def shift_space(txn: Txn, datastore_id: str, grown: int) -> None:
    """The datastore's free space after its VMs' data grew by `grown` bytes (negative: shrank).

    A workload rewrites data in place: it is not refused for want of space, as a new VM would be.
    """
    datastore = txn.get(DATASTORES, datastore_id)
    if datastore is not None and datastore["hypervisor_free_space"] is not None:
        free = int(datastore["hypervisor_free_space"]) - grown
        txn.update(DATASTORES, datastore_id, {"hypervisor_free_space": free})


def shift_spaces(txn: Txn, grown: Mapping[str, int]) -> None:
    """`shift_space` for several datastores (bytes grown by id): one read and one write for all."""
    found = txn.get_many(DATASTORES, list(grown)) if grown else []
    txn.update_each(
        DATASTORES,
        [
            (ds["id"], {"hypervisor_free_space": int(ds["hypervisor_free_space"]) - grown[ds["id"]]})
            for ds in found
            if ds["hypervisor_free_space"] is not None
        ],
    )


def fresh_identity(vm: VirtualMachine, new: str, name: str, now: datetime) -> Record:
    """What a new VM does not share with its source: ids, name, times, MAC addresses, power."""
    nics = [
        {**nic, "mac_address": "00:50:56:" + ":".join(vmware_uuid(new + str(i))[j : j + 2] for j in (2, 4, 6)),
         "ipv4_addresses": []}
        for i, nic in enumerate(vm["network_interfaces"] or [])
    ]  # fmt: skip
    return {
        "id": new,
        "name": name,
        "created_at": to_text(now),
        "deleted_at": None,
        "hypervisor_object_id": f"vm-{int(vmware_uuid(new)[2:8], 16) % 900000 + 1000}",
        "hypervisor_instance_id": vmware_uuid("instance" + new).replace("42", "50", 1),
        "hypervisor_uuid": vmware_uuid(new),
        "network_interfaces": nics,
        "hypervisor_virtual_machine_power_state": "OFF",
        "hypervisor_consumed_cpu": 0,
        "hypervisor_consumed_memory": 0,
        "app_aware_vm_status": "VMWARE_TOOLS_UNAVAILABLE",
    }


def placement(txn: Txn, cluster_id: str, single_replica: bool) -> tuple[Host, list[dict[str, str]]]:
    """The host a moved VM runs on in another cluster, and its replicas: the least loaded hosts."""
    hosts = [h for h in txn.find(HOSTS, omnistack_cluster_id=cluster_id) if h["state"] == "ALIVE"]
    if not hosts:
        raise TaskFailure(Codes.INVALID_DESTINATION, "Invalid or unexpected destination specified.")
    hosts.sort(key=lambda h: (txn.count(VIRTUAL_MACHINES, host_id=h["id"], state="ALIVE"), h["id"]))
    replicas = [{"id": hosts[0]["id"], "role": "PRIMARY"}]
    if not single_replica and len(hosts) > 1:
        replicas.append({"id": hosts[1]["id"], "role": "SECONDARY"})
    return hosts[0], replicas


def placed_on(txn: Txn, datastore: Datastore) -> Record:
    """Where a VM arriving on a datastore of another cluster runs: that cluster, its least loaded hosts,
    and the datacenter and vCenter the datastore belongs to."""
    host, replicas = placement(txn, str(datastore["omnistack_cluster_id"]), bool(datastore["single_replica"]))
    return {
        "omnistack_cluster_id": datastore["omnistack_cluster_id"],
        "omnistack_cluster_name": datastore["omnistack_cluster_name"],
        "host_id": host["id"],
        "host_name": host["name"],
        "replica_set": replicas,
        "cluster_group_ids": datastore["cluster_group_ids"],
        "compute_cluster_parent_hypervisor_object_id": datastore[
            "compute_cluster_parent_hypervisor_object_id"
        ],
        "compute_cluster_parent_name": datastore["compute_cluster_parent_name"],
        "hypervisor_management_system": datastore["hypervisor_management_system"],
        "hypervisor_management_system_name": datastore["hypervisor_management_system_name"],
    }
