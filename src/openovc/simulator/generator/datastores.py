"""Backup policies and the datastores that use them: drawn from the plan, and their rows."""

from __future__ import annotations

from openovc.domain.rules import max_backups
from openovc.simulator.generator.plan import RulePlan, TiB
from openovc.simulator.generator.records import Datastore, Draft, Policy


def draw_policies(draft: Draft) -> None:
    first = next(iter(draft.clusters.values()))
    for pp in draft.plan.policies:
        owner = draft.clusters[pp.owner_cluster] if pp.owner_cluster else first
        rule_ids = [draft.ids.uuid4() for _ in pp.rules]
        draft.policies[pp.name] = Policy(
            pp, draft.ids.uuid4(), owner, rule_ids, [r.retention for r in pp.rules]
        )


def draw_datastores(draft: Draft) -> None:
    for dp in draft.plan.datastores:
        cluster = draft.clusters[dp.cluster]
        draft.datastores[dp.name] = Datastore(
            plan=dp,
            id=draft.ids.uuid4(),
            cluster=cluster,
            policy=draft.policies[dp.policy],
            moref=cluster.vcenter.moref("datastore-", draft.rng),
            created=draft.ago(800, 1000),
        )


# ---- rows, once the VMs' figures and the fitted retentions are known -------------------------------


def policy_rows(draft: Draft) -> None:
    """The policies rows, with the retentions fitted to the history."""
    for policy in draft.policies.values():
        rules: list[dict[str, object]] = []
        for number, (rp, rid) in enumerate(zip(policy.plan.rules, policy.rule_ids, strict=True)):
            rules.append(_rule_row(draft, rp, rid, number, policy.retentions[number]))
        draft.fed.rows["policies"].append(
            {
                "id": policy.id,
                "name": policy.plan.name,
                "rules": rules,
                "cluster_group_ids": draft.groups_of(policy.owner),
                "owner_cluster_id": policy.owner.id,
                "owner_cluster_name": policy.owner.name,
            }
        )


def _rule_row(draft: Draft, rp: RulePlan, rid: str, number: int, retention: int) -> dict[str, object]:
    if rp.external_store:
        dest_id, dest_name = "", rp.external_store
    elif rp.destination:
        dest_id, dest_name = draft.clusters[rp.destination].id, rp.destination
    else:
        dest_id, dest_name = "", "<local>"
    return {
        "id": rid,
        "number": number,
        "destination_id": dest_id,
        "destination_name": dest_name,
        "external_store_name": rp.external_store or "",
        "frequency": rp.frequency,
        "retention": retention,
        "days": rp.days,
        "start_time": rp.start_time,
        "end_time": rp.end_time,
        "max_backups": max_backups(rp.frequency, retention),
        "application_consistent": rp.consistency_type != "NONE",
        "consistency_type": rp.consistency_type,
    }


def datastore_rows(draft: Draft) -> None:
    """The datastores rows, sized for their live VMs unless the plan gives a size."""
    sizes = [n * TiB for n in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)]
    shared_done: set[str] = set()
    for ds in draft.datastores.values():
        cluster = ds.cluster
        alive = [vm for vm in ds.vms if vm.deleted is None]
        written = sum(vm.written for vm in alive)
        if ds.plan.size is not None:
            size = ds.plan.size
            if size < written:
                raise ValueError(
                    f"datastore {ds.plan.name!r} (size {size} bytes) is too small for its VMs "
                    f"({written} bytes written)"
                )
        else:
            need = int(sum(vm.allocated for vm in alive) * 1.25)
            size = next((s for s in sizes if s >= need), need)
        shared = ds.plan.shared
        if shared is None:
            shared = cluster.name not in shared_done
        if shared:
            shared_done.add(cluster.name)
        std = cluster.standard[0] if cluster.standard else None
        shares = [{"address": std["ip_address"], "host": std["name"], "rw": True}] if shared and std else []
        draft.fed.rows["datastores"].append(
            {
                "id": ds.id,
                "name": ds.plan.name,
                "size": size,
                "created_at": draft.text(ds.created),
                "mount_directory": f"/mnt/svtfs/0/{ds.id}",
                "omnistack_cluster_id": cluster.id,
                "omnistack_cluster_name": cluster.name,
                "policy_id": ds.policy.id,
                "policy_name": ds.policy.plan.name,
                "hypervisor_object_id": ds.moref,
                "hypervisor_type": "VSPHERE",
                "hypervisor_management_system": cluster.vcenter.ip,
                "hypervisor_management_system_name": cluster.vcenter.name,
                "compute_cluster_parent_hypervisor_object_id": cluster.dc_moref,
                "compute_cluster_parent_name": cluster.dc_name,
                "shares": shares,
                "cluster_group_ids": draft.groups_of(cluster),
                "single_replica": ds.plan.single_replica,
                "deleted": False,
                "hypervisor_free_space": size - written,
            }
        )
