"""Virtual machines: drawn from the plan (image, size, age, placement, workload) and their rows."""

from __future__ import annotations

from openovc.simulator.content.workload import workload_rate
from openovc.simulator.generator.plan import IMAGES, GiB, Image, VmPlan, image_for, power_state, typical_size
from openovc.simulator.generator.records import DAY, Cluster, Draft, Vm


def place(draft: Draft, cluster: Cluster, vp: VmPlan, single_replica: bool) -> tuple[int, int | None]:
    """Primary and secondary hosts: the least loaded ones, unless the plan names the host."""
    n = len(cluster.host_ids)
    if vp.host is not None:
        primary = draft.hosts_by_name[vp.host][1]
    else:
        primary = min(range(n), key=lambda i: (cluster.primaries[i] + cluster.replicas[i], i))
    cluster.primaries[primary] += 1
    if single_replica or n < 2:
        return primary, None
    others = [(primary + k) % n for k in range(1, n)]
    secondary = min(others, key=lambda i: cluster.primaries[i] + cluster.replicas[i])
    cluster.replicas[secondary] += 1
    return primary, secondary


def draw_vms(draft: Draft) -> None:
    """Each planned VM: its image, size, age, hosts and workload rate."""
    rng = draft.rng
    for index, vp in enumerate(draft.plan.vms):
        if vp.persistent_volume:
            continue  # drawn by volumes.draw_volumes
        ds = draft.datastores[vp.datastore]
        policy = draft.policies[vp.policy] if vp.policy else ds.policy
        image = IMAGES[vp.image or image_for(vp.name, rng)]
        allocated = vp.size or (min(image.typical_size) if vp.template else typical_size(image.name, rng))
        if allocated >= image.content * 1.25:
            clone: Image | None = image
            content = image.content
            spare = allocated - content
            unique = int(spare * (0.02 if vp.template else rng.uniform(0.08, 0.45)))
        else:
            clone, content = None, 0
            unique = int(allocated * rng.uniform(0.3, 0.7))
        if vp.template:
            created = draft.ago(700, 900)
        elif vp.deleted:
            created = draft.ago(120, 400)
        else:
            created = draft.ago(60, 700)
        created = max(created, ds.created + DAY)
        deleted = draft.ago(3, 20) if vp.deleted else None
        primary, secondary = place(draft, ds.cluster, vp, ds.plan.single_replica)
        power = vp.power_state or ("OFF" if vp.template or vp.deleted else power_state(rng))
        vm = Vm(
            plan=vp,
            index=index,
            id=draft.ids.uuid4(),
            ds=ds,
            policy=policy,
            image=clone,
            segment=draft.segments[clone.name] if clone else None,
            unique=unique,
            compression=image.compression,
            allocated=allocated,
            written=content + unique,
            created=created,
            deleted=deleted,
            primary=primary,
            secondary=secondary,
            rate=0.0 if vp.template else workload_rate(unique, rng.uniform(0.005, 0.03)),
            power=power,
            windows=image.windows,
        )
        draft.vms.append(vm)
        ds.vms.append(vm)


# ---- rows, once the content model has the VMs' figures ---------------------------------------------


def _app_aware(vm: Vm) -> str:
    if vm.deleted is not None or vm.plan.template:
        return "UNKNOWN"
    if vm.power != "ON":
        return "VMWARE_TOOLS_UNAVAILABLE"
    if not vm.windows:
        return "INVALID_OS"
    vss = any(r.consistency_type == "VSS" for r in vm.policy.plan.rules)
    return "VALID_CREDS" if vss else "CAPABLE"


def vm_rows(draft: Draft) -> None:
    """The virtual_machines rows, with the figures the content model gave each VM."""
    rng = draft.rng
    folders = ("Production", "Infrastructure", "Development", "Discovered virtual machine")
    for vm in draft.vms:
        cluster, ds, vp = vm.cluster, vm.ds, vm.plan
        if vp.persistent_volume:
            continue  # a row of persistent_volumes: volumes.volume_rows
        hosts = cluster.host_ids
        replica_set = [{"id": hosts[vm.primary], "role": "PRIMARY"}]
        if vm.secondary is not None:
            replica_set.append({"id": hosts[vm.secondary], "role": "SECONDARY"})
        if vm.deleted is not None:
            ha = "UNKNOWN"
        else:
            ha = "SAFE" if vm.secondary is not None else "OUT_OF_SCOPE"
        cpus = rng.choice((1, 2, 2, 4, 4, 8))
        memory = rng.choice((2048, 4096, 8192, 8192, 16384, 32768))
        on = vm.power == "ON"
        addresses: list[str] = []
        if on:
            n = cluster.vm_ips
            cluster.vm_ips += 1
            addresses.append(cluster.ip(64 + n // 250, n % 250 + 1))
        nic = {
            "adapter_type": "VMXNET3" if not vm.windows or rng.random() < 0.8 else "E1000E",
            "device_number": "4000",
            "ipv4_addresses": addresses,
            "mac_address": draft.ids.mac(),
            "mac_generation": "ASSIGNED",
            "network_label": "VM Network"
            if vp.template
            else f"VLAN-{100 + cluster.index * 10 + vm.index % 4}",
        }
        draft.fed.rows["virtual_machines"].append(
            {
                "id": vm.id,
                "name": vp.name,
                "state": "DELETED" if vm.deleted is not None else "ALIVE",
                "created_at": draft.text(vm.created),
                "deleted_at": draft.text(vm.deleted) if vm.deleted is not None else None,
                "omnistack_cluster_id": cluster.id,
                "omnistack_cluster_name": cluster.name,
                "datastore_id": ds.id,
                "datastore_name": ds.plan.name,
                "policy_id": vm.policy.id,
                "policy_name": vm.policy.plan.name,
                "host_id": hosts[vm.primary],
                "host_name": cluster.plan.hosts[vm.primary],
                "hypervisor_object_id": cluster.vcenter.moref("vm-", rng),
                "hypervisor_type": "VSPHERE",
                "hypervisor_management_system": cluster.vcenter.ip,
                "hypervisor_management_system_name": cluster.vcenter.name,
                "compute_cluster_parent_hypervisor_object_id": cluster.dc_moref,
                "compute_cluster_parent_name": cluster.dc_name,
                "app_aware_vm_status": _app_aware(vm),
                "replica_set": replica_set,
                "cluster_group_ids": draft.groups_of(cluster),
                "ha_status": ha,
                "ha_resynchronization_progress": 100 if ha == "SAFE" else 0,
                "hypervisor_virtual_machine_power_state": vm.power,
                "hypervisor_is_template": vp.template,
                "hypervisor_allocated_capacity": vm.allocated,
                "hypervisor_free_space": vm.allocated - vm.written,
                "hypervisor_cpu_count": cpus,
                "hypervisor_total_memory": memory,
                "hypervisor_virtual_disk_count": 1
                + int(vm.allocated > 100 * GiB)
                + int(vm.allocated > 150 * GiB),
                "hypervisor_allocated_cpu": cpus * 2600,
                "hypervisor_consumed_cpu": int(cpus * 2600 * rng.uniform(0.02, 0.35)) if on else 0,
                "hypervisor_consumed_memory": int(memory * rng.uniform(0.1, 0.6)) if on else 0,
                "hypervisor_folder_name": "Templates" if vp.template else rng.choice(folders),
                "hypervisor_instance_id": draft.ids.vmware("50"),
                "hypervisor_uuid": draft.ids.vmware("42"),
                "hypervisor_managed_by": "",
                "network_interfaces": [nic],
            }
        )
