"""Persistent volumes: drawn as disks of their own (no image, no guest, no workload) and their rows.

They are VMs to the rest of the generator (records.Vm, flagged by their plan): their policy's schedule and
the hand-made backups take them, and the content model holds their data on their datastore's cluster.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

from openovc.simulator.generator.plan import GiB
from openovc.simulator.generator.records import DAY, Draft, Ids, Vm
from openovc.simulator.generator.vms import place

# How well the data applications keep on volumes compresses (uncompressed / compressed).
COMPRESSION = (1.3, 1.8, 2.4)
DEFAULT_SIZE = 10 * GiB  # a volume planned without a size


@contextmanager
def _own_draws(draft: Draft) -> Iterator[None]:
    """Volumes draw from a stream of their own (seeded by their planned names, which the spec's seed gave),
    so that adding them leaves the draws of everything else, and so its ids, as they were."""
    names = ",".join(vp.name for vp in draft.plan.vms if vp.persistent_volume)
    shared = draft.rng, draft.ids
    draft.rng = random.Random(f"persistent_volumes:{names}")
    draft.ids = Ids(draft.rng)
    try:
        yield
    finally:
        draft.rng, draft.ids = shared


def draw_volumes(draft: Draft) -> None:
    """Each planned volume: its data, age and hosts. Nothing runs on it here, so it has no workload."""
    with _own_draws(draft):
        _draw_volumes(draft)


def _draw_volumes(draft: Draft) -> None:
    rng = draft.rng
    for index, vp in enumerate(draft.plan.vms):
        if not vp.persistent_volume:
            continue
        ds = draft.datastores[vp.datastore]
        allocated = vp.size or DEFAULT_SIZE
        unique = int(allocated * rng.uniform(0.2, 0.6))
        created = draft.ago(60, 300) if vp.deleted else draft.ago(20, 300)
        primary, secondary = place(draft, ds.cluster, vp, ds.plan.single_replica)
        volume = Vm(
            plan=vp, index=index, id=draft.ids.uuid4(), ds=ds,
            policy=draft.policies[vp.policy] if vp.policy else ds.policy,
            image=None, segment=None, unique=unique, compression=rng.choice(COMPRESSION),
            allocated=allocated, written=unique, created=max(created, ds.created + DAY),
            deleted=draft.ago(3, 20) if vp.deleted else None, primary=primary, secondary=secondary,
            rate=0.0, power="OFF", windows=False,
        )  # fmt: skip
        draft.vms.append(volume)
        ds.vms.append(volume)


def volume_rows(draft: Draft) -> None:
    """The persistent_volumes rows, with the figures the content model gave each volume."""
    with _own_draws(draft):
        _volume_rows(draft)


def _volume_rows(draft: Draft) -> None:
    for pv in draft.vms:
        if not pv.plan.persistent_volume:
            continue
        cluster, ds = pv.cluster, pv.ds
        replica_set = [
            {"id": host, "role": role}
            for host, role in zip(pv.replica_hosts, ("PRIMARY", "SECONDARY"), strict=False)
        ]
        draft.fed.rows["persistent_volumes"].append(
            {
                "id": pv.id,
                "name": pv.plan.name,
                "state": "DELETED" if pv.deleted is not None else "ALIVE",
                "created_at": draft.text(pv.created),
                "deleted_at": draft.text(pv.deleted) if pv.deleted is not None else None,
                "omnistack_cluster_id": cluster.id,
                "omnistack_cluster_name": cluster.name,
                "datastore_id": ds.id,
                "datastore_name": ds.plan.name,
                "policy_id": pv.policy.id,
                "policy_name": pv.policy.plan.name,
                "host_id": cluster.host_ids[pv.primary],
                # vSphere names a first-class disk by a UUID of its own.
                "hypervisor_object_id": draft.ids.uuid4(),
                "hypervisor_type": "VSPHERE",
                "hypervisor_management_system": cluster.vcenter.ip,
                "hypervisor_management_system_name": cluster.vcenter.name,
                "compute_cluster_parent_hypervisor_object_id": cluster.dc_moref,
                "compute_cluster_parent_name": cluster.dc_name,
                "app_aware_vm_status": "UNKNOWN",  # no guest to quiesce
                "replica_set": replica_set,
                "cluster_group_ids": draft.groups_of(cluster),
                "hypervisor_allocated_capacity": pv.allocated,
                "hypervisor_free_space": pv.allocated - pv.written,
            }
        )
