"""Clusters and their hosts: vCenters, cluster groups, standard hosts and external stores; and their rows."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from openovc import SVTFS_VERSION
from openovc.domain.figures import cluster_capacity
from openovc.simulator.generator import hardware
from openovc.simulator.generator.plan import DOMAIN
from openovc.simulator.generator.records import STORE_TYPE, Cluster, Draft, Store, VCenter

VERSION = f"Release {SVTFS_VERSION}"
FEATURE_LEVEL = 80
HOSTS_PER_VCENTER = 32  # a peer-managed federation's limit per vCenter
_MASK = "255.255.255.0"
_LOOPBACK_FIRST = (127 << 24) | (1 << 8)  # 127.0.1.0: 127.0.0.x is the loopback interface's own
_PER_NETWORK = 254  # each /24 gives .1 to .254, as a real management network would


def loopback_address(ordinal: int) -> str:
    """The `ordinal`-th host's (from 0) management address in 127.0.0.0/8: 127.0.1.1, ... 127.0.1.254,
    127.0.2.1, ... (never a network's .0 or .255, which a real management network would not give out)."""
    network, n = divmod(ordinal, _PER_NETWORK)
    value = _LOOPBACK_FIRST + (network << 8) + n + 1
    if value >> 24 != 127:
        raise ValueError(f"no loopback address is left for host number {ordinal + 1}")
    return ".".join(str((value >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def draw_clusters(draft: Draft) -> None:
    """Clusters and their hosts' ids, each under a vCenter until it manages its limit of hosts."""
    vcenters: list[VCenter] = []
    for index, cp in enumerate(draft.plan.clusters):
        if not vcenters or vcenters[-1].hosts + len(cp.hosts) > HOSTS_PER_VCENTER:
            vcenters.append(VCenter(len(vcenters)))
        vc = vcenters[-1]
        vc.hosts += len(cp.hosts)
        cluster = Cluster(
            plan=cp,
            index=index,
            id=draft.ids.uuid4(),
            vcenter=vc,
            tz=ZoneInfo(cp.time_zone),
            dc_name=f"DC-{cp.name}",
            dc_moref=vc.moref("datacenter-", draft.rng),
            moref=vc.moref("domain-c", draft.rng),
        )
        for i, name in enumerate(cp.hosts):
            cluster.host_ids.append(draft.ids.vmware())
            cluster.host_morefs.append(vc.moref("host-", draft.rng))
            draft.hosts_by_name[name] = (cluster, i)
        cluster.primaries = [0] * len(cp.hosts)
        cluster.replicas = [0] * len(cp.hosts)
        draft.clusters[cp.name] = cluster


def draw_cluster_groups(draft: Draft) -> None:
    for gp in draft.plan.cluster_groups:
        gid = draft.ids.uuid4()
        members = [draft.clusters[name] for name in gp.clusters]
        for cluster in members:
            cluster.group_ids.append(gid)
        draft.fed.rows["cluster_groups"].append(
            {"id": gid, "name": gp.name, "clusters": [c.id for c in members]}
        )


def draw_external_stores(draft: Draft) -> None:
    per_cluster: dict[str, int] = {}
    for sp in draft.plan.external_stores:
        cluster = draft.clusters[sp.cluster]
        n = per_cluster[cluster.name] = per_cluster.get(cluster.name, 0) + 1
        draft.stores[sp.name] = Store(sp, cluster)
        draft.fed.rows["external_stores"].append(
            {
                "name": sp.name,
                "management_ip": sp.management_ip or cluster.ip(40, 10 + n),
                "management_port": 9387,
                "storage_port": 9388,
                "omnistack_cluster_id": cluster.id,
                "type": STORE_TYPE,
                "cluster_group_ids": draft.groups_of(cluster),
            }
        )


def draw_standard_hosts(draft: Draft) -> None:
    for cluster in draft.clusters.values():
        stem = cluster.name.lower().replace(" ", "-")
        for n in range(1, draft.rng.randint(1, 2) + 1):
            row: dict[str, object] = {
                "name": f"{stem}-esx{n:02d}.{DOMAIN}",
                "ip_address": cluster.ip(10, 200 + n),
                "hypervisor_object_id": cluster.vcenter.moref("host-", draft.rng),
                "omnistack_cluster_id": cluster.id,
            }
            cluster.standard.append(row)
            draft.fed.rows["standard_hosts"].append(row)


# ---- rows, once the content model has the clusters' figures ----------------------------------------


def host_and_cluster_rows(draft: Draft) -> None:
    """The hosts, host_hardware and omnistack_clusters rows, with the capacity the content model gives."""
    date_text = draft.text(draft.now_ts)
    ordinal = 0  # the host's number in the federation, for its loopback address
    for cluster in draft.clusters.values():
        totals = draft.content.totals(cluster.id)
        n = len(cluster.host_ids)
        # The drives are sized for a host's share: an even one, as they all get the same drives.
        _, first = cluster_capacity(totals, cluster.host_ids, [0] * n)
        layout = hardware.layout_for(max(_int(f["used_capacity"]) for f in first))
        fields_of_cluster, host_capacity = cluster_capacity(totals, cluster.host_ids, [layout.capacity] * n)
        for i, (host_id, name) in enumerate(zip(cluster.host_ids, cluster.plan.hosts, strict=True)):
            fields = host_capacity[i]
            mgmt = loopback_address(ordinal) if draft.plan.loopback_addresses else cluster.ip(10, 11 + i)
            ordinal += 1
            draft.fed.rows["hosts"].append(
                {
                    "id": host_id,
                    "name": name,
                    "state": "ALIVE",
                    "type": "OmniStack",
                    "model": hardware.HOST_MODEL,
                    "version": VERSION,
                    "omnistack_cluster_id": cluster.id,
                    "management_ip": mgmt,
                    "management_mask": _MASK,
                    "management_mtu": "1500",
                    "storage_ip": cluster.ip(20, 11 + i),
                    "storage_mask": _MASK,
                    "storage_mtu": "9000",
                    "federation_ip": cluster.ip(30, 11 + i),
                    "federation_mask": _MASK,
                    "federation_mtu": "9000",
                    "virtual_controller_name": "OmniStackVC-" + mgmt.replace(".", "-"),
                    "hypervisor_object_id": cluster.host_morefs[i],
                    "hypervisor_management_system": cluster.vcenter.ip,
                    "hypervisor_management_system_name": cluster.vcenter.name,
                    "compute_cluster_name": cluster.name,
                    "compute_cluster_hypervisor_object_id": cluster.moref,
                    "compute_cluster_parent_name": cluster.dc_name,
                    "compute_cluster_parent_hypervisor_object_id": cluster.dc_moref,
                    "policy_enabled": True,
                    "current_feature_level": FEATURE_LEVEL,
                    "potential_feature_level": FEATURE_LEVEL,
                    "cluster_feature_level": FEATURE_LEVEL,
                    "upgrade_state": "SUCCESS",
                    "can_rollback": False,
                    "cluster_group_ids": draft.groups_of(cluster),
                    "availability_zone_effective": "",
                    "availability_zone_planned": "",
                    "date": date_text,
                    **fields,
                }
            )
            draft.fed.rows["host_hardware"].append(
                {"host_id": host_id, "document": hardware.document(draft.rng, host_id, name, layout)}
            )
        draft.fed.rows["omnistack_clusters"].append(
            {
                "id": cluster.id,
                "name": cluster.name,
                "type": "OMNISTACK",
                "members": list(cluster.host_ids),
                "version": VERSION,
                "hypervisor_object_id": cluster.moref,
                "hypervisor_object_parent_id": cluster.dc_moref,
                "hypervisor_object_parent_name": cluster.dc_name,
                "hypervisor_management_system": cluster.vcenter.ip,
                "hypervisor_management_system_name": cluster.vcenter.name,
                "hypervisor_type": "VSPHERE",
                "arbiter_address": f"10.0.0.{51 + cluster.vcenter.index}",
                "arbiter_connected": True,
                "arbiter_required": len(cluster.host_ids) == 2,
                "arbiter_configured": True,
                "cluster_feature_level": FEATURE_LEVEL,
                "cluster_group_ids": draft.groups_of(cluster),
                "infosight_configuration": {
                    "infosight_enabled": True,
                    "infosight_registered": True,
                    "infosight_proxy_url": "",
                    "infosight_claim_tag": draft.ids.hex(12).upper(),
                    "infosight_tenant_name": "Example Corp",
                },
                "iwo_enabled": False,
                "iwo_active": False,
                "time_zone": cluster.plan.time_zone,
                "upgrade_state": "SUCCESS_COMMITTED",
                "upgrade_task_id": "",
                **fields_of_cluster,
            }
        )


def _int(value: object) -> int:
    assert isinstance(value, int)
    return value
