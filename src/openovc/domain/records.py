"""Typed rows of the catalog's collections: one TypedDict per collection, a key per field."""

from __future__ import annotations

from typing import Any, TypedDict

# Every stored column but the collection's key is nullable, hence the Optionals. JSON-kind values are
# JSON text as the reader returns them, and Python lists and dicts inside a transaction (Txn): Any.


class VirtualMachine(TypedDict):
    """A row of virtual_machines."""

    id: str
    name: str | None
    state: str | None
    created_at: str | None
    deleted_at: str | None
    omnistack_cluster_id: str | None
    omnistack_cluster_name: str | None
    datastore_id: str | None
    datastore_name: str | None
    policy_id: str | None
    policy_name: str | None
    host_id: str | None
    host_name: str | None
    hypervisor_object_id: str | None
    hypervisor_type: str | None
    hypervisor_management_system: str | None
    hypervisor_management_system_name: str | None
    compute_cluster_parent_hypervisor_object_id: str | None
    compute_cluster_parent_name: str | None
    app_aware_vm_status: str | None
    replica_set: Any
    cluster_group_ids: Any
    ha_status: str | None
    ha_resynchronization_progress: int | None
    hypervisor_virtual_machine_power_state: str | None
    hypervisor_is_template: bool | None
    hypervisor_allocated_capacity: int | None
    hypervisor_free_space: int | None
    hypervisor_cpu_count: int | None
    hypervisor_total_memory: int | None
    hypervisor_virtual_disk_count: int | None
    hypervisor_allocated_cpu: int | None
    hypervisor_consumed_cpu: int | None
    hypervisor_consumed_memory: int | None
    hypervisor_folder_name: str | None
    hypervisor_instance_id: str | None
    hypervisor_uuid: str | None
    hypervisor_managed_by: str | None
    network_interfaces: Any


class PersistentVolume(TypedDict):
    """A row of persistent_volumes."""

    id: str
    name: str | None
    state: str | None
    created_at: str | None
    deleted_at: str | None
    omnistack_cluster_id: str | None
    omnistack_cluster_name: str | None
    datastore_id: str | None
    datastore_name: str | None
    policy_id: str | None
    policy_name: str | None
    host_id: str | None
    hypervisor_object_id: str | None
    hypervisor_type: str | None
    hypervisor_management_system: str | None
    hypervisor_management_system_name: str | None
    compute_cluster_parent_hypervisor_object_id: str | None
    compute_cluster_parent_name: str | None
    app_aware_vm_status: str | None
    replica_set: Any
    cluster_group_ids: Any
    hypervisor_allocated_capacity: int | None
    hypervisor_free_space: int | None


# What a backup is taken of: a VM, or a persistent volume (its fields are a VM's, fewer).
BackupSource = VirtualMachine | PersistentVolume


class Backup(TypedDict):
    """A row of backups."""

    id: str
    name: str | None
    state: str | None
    type: str | None
    created_at: str | None
    expiration_time: str | None
    size: int | None
    sent: int | None
    application_consistent: bool | None
    consistency_type: str | None
    virtual_machine_id: str | None
    virtual_machine_name: str | None
    virtual_machine_state: str | None
    virtual_machine_type: str | None
    omnistack_cluster_id: str | None
    omnistack_cluster_name: str | None
    datastore_id: str | None
    datastore_name: str | None
    compute_cluster_parent_hypervisor_object_id: str | None
    compute_cluster_parent_name: str | None
    hypervisor_type: str | None
    unique_size_bytes: int | None
    unique_size_timestamp: str | None
    sent_completion_time: str | None
    sent_duration: int | None
    cluster_group_ids: Any
    external_store_name: str | None
    associated_cluster: str | None
    backup_store_type: str | None


class Datastore(TypedDict):
    """A row of datastores."""

    id: str
    name: str | None
    size: int | None
    created_at: str | None
    mount_directory: str | None
    omnistack_cluster_id: str | None
    omnistack_cluster_name: str | None
    policy_id: str | None
    policy_name: str | None
    hypervisor_object_id: str | None
    hypervisor_type: str | None
    hypervisor_management_system: str | None
    hypervisor_management_system_name: str | None
    compute_cluster_parent_hypervisor_object_id: str | None
    compute_cluster_parent_name: str | None
    shares: Any
    cluster_group_ids: Any
    single_replica: bool | None
    deleted: bool | None
    hypervisor_free_space: int | None


class Host(TypedDict):
    """A row of hosts."""

    id: str
    name: str | None
    state: str | None
    type: str | None
    model: str | None
    version: str | None
    omnistack_cluster_id: str | None
    management_ip: str | None
    management_mask: str | None
    management_mtu: str | None
    storage_ip: str | None
    storage_mask: str | None
    storage_mtu: str | None
    federation_ip: str | None
    federation_mask: str | None
    federation_mtu: str | None
    virtual_controller_name: str | None
    hypervisor_object_id: str | None
    hypervisor_management_system: str | None
    hypervisor_management_system_name: str | None
    compute_cluster_name: str | None
    compute_cluster_hypervisor_object_id: str | None
    compute_cluster_parent_name: str | None
    compute_cluster_parent_hypervisor_object_id: str | None
    policy_enabled: bool | None
    current_feature_level: int | None
    potential_feature_level: int | None
    cluster_feature_level: int | None
    upgrade_state: str | None
    can_rollback: bool | None
    cluster_group_ids: Any
    availability_zone_effective: str | None
    availability_zone_planned: str | None
    date: str | None
    allocated_capacity: int | None
    capacity_savings: int | None
    free_space: int | None
    local_backup_capacity: int | None
    remote_backup_capacity: int | None
    stored_compressed_data: int | None
    stored_uncompressed_data: int | None
    stored_virtual_machine_data: int | None
    used_capacity: int | None
    used_logical_capacity: int | None
    compression_ratio: float | None
    deduplication_ratio: float | None
    efficiency_ratio: float | None


class OmnistackCluster(TypedDict):
    """A row of omnistack_clusters."""

    id: str
    name: str | None
    type: str | None
    members: Any
    version: str | None
    hypervisor_object_id: str | None
    hypervisor_object_parent_id: str | None
    hypervisor_object_parent_name: str | None
    hypervisor_management_system: str | None
    hypervisor_management_system_name: str | None
    hypervisor_type: str | None
    arbiter_address: str | None
    arbiter_connected: bool | None
    arbiter_required: bool | None
    arbiter_configured: bool | None
    cluster_feature_level: int | None
    cluster_group_ids: Any
    infosight_configuration: Any
    iwo_enabled: bool | None
    iwo_active: bool | None
    time_zone: str | None
    upgrade_state: str | None
    upgrade_task_id: str | None
    allocated_capacity: int | None
    capacity_savings: int | None
    free_space: int | None
    local_backup_capacity: int | None
    remote_backup_capacity: int | None
    stored_compressed_data: int | None
    stored_uncompressed_data: int | None
    stored_virtual_machine_data: int | None
    used_capacity: int | None
    used_logical_capacity: int | None
    compression_ratio: float | None
    deduplication_ratio: float | None
    efficiency_ratio: float | None


class Policy(TypedDict):
    """A row of policies."""

    id: str
    name: str | None
    rules: Any
    cluster_group_ids: Any
    owner_cluster_id: str | None
    owner_cluster_name: str | None


class ClusterGroup(TypedDict):
    """A row of cluster_groups."""

    id: str
    name: str | None
    clusters: Any


class ExternalStore(TypedDict):
    """A row of external_stores."""

    name: str
    management_ip: str | None
    management_port: int | None
    storage_port: int | None
    omnistack_cluster_id: str | None
    type: str | None
    cluster_group_ids: Any


class Certificate(TypedDict):
    """A row of certificates."""

    hash: str
    certificate: str | None
    subject: str | None
    issuer: str | None
    serialno: str | None
