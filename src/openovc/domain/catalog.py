"""The collections of HPE's REST 1.25 spec: every property and every filter it lists."""

from __future__ import annotations

from typing import Any

from openovc.domain.fields import Collection, Field, Filter, Kind, Op
from openovc.domain.records import (
    Backup,
    Certificate,
    ClusterGroup,
    Datastore,
    ExternalStore,
    Host,
    OmnistackCluster,
    PersistentVolume,
    Policy,
    VirtualMachine,
)

HYPERVISOR_TYPES = ("VSPHERE", "HYPERV")
CONSISTENCY_TYPES = ("NONE", "DEFAULT", "FAILEDVSS", "NOT_APPLICABLE", "VSS")
VM_STATES = ("ALIVE", "REMOVED", "DELETED")
BACKUP_STATES = (
    "NEW", "SAVING", "FAILED", "PROTECTED", "UNKNOWN", "CANCELING",
    "CANCELED", "QUEUED", "REBUILDING", "DELETED", "DEGRADED",
)  # fmt: skip


def _s(name: str, optional: bool = False, index: bool = False) -> Field:
    return Field(name, Kind.STR, optional=optional, index=index)


def _i(name: str, optional: bool = False) -> Field:
    return Field(name, Kind.INT, optional=optional)


def _b(name: str, optional: bool = False) -> Field:
    return Field(name, Kind.BOOL, optional=optional)


def _t(name: str, optional: bool = False, index: bool = False) -> Field:
    return Field(name, Kind.TIME, optional=optional, index=index)


def _e(name: str, values: tuple[str, ...], optional: bool = False, index: bool = False) -> Field:
    return Field(name, Kind.ENUM, enum=values, optional=optional, index=index)


def _r(name: str, optional: bool = False) -> Field:
    return Field(name, Kind.RATIO, optional=optional)


def _j(name: str, optional: bool = False) -> Field:
    return Field(name, Kind.JSON, optional=optional)


def _m(param: str, *, field: str | None = None, wildcard: bool = False, listable: bool = True) -> Filter:
    return Filter(param, field or param, Op.MATCH, listable=listable, wildcard=wildcard)


def _w(param: str) -> Filter:
    return _m(param, wildcard=True)


def _range(field: str, low: str, high: str, low_op: Op, high_op: Op) -> tuple[Filter, Filter]:
    return Filter(low, field, low_op), Filter(high, field, high_op)


def _int_range(field: str, prefix: bool = False) -> tuple[Filter, Filter]:
    if prefix:
        return _range(field, f"min_{field}", f"max_{field}", Op.MIN, Op.MAX)
    return _range(field, f"{field}_min", f"{field}_max", Op.MIN, Op.MAX)


def _time_range(field: str, stem: str) -> tuple[Filter, Filter]:
    return _range(field, f"{stem}_after", f"{stem}_before", Op.AFTER, Op.BEFORE)


def _bool(param: str) -> Filter:
    return Filter(param, param, Op.BOOL, listable=False)


def _group(cluster_field: str) -> Filter:
    return Filter("cluster_group_id", cluster_field, Op.CLUSTER_GROUP)


_CAPACITY = (
    "allocated_capacity", "capacity_savings", "free_space", "local_backup_capacity",
    "remote_backup_capacity", "stored_compressed_data", "stored_uncompressed_data",
    "stored_virtual_machine_data", "used_capacity", "used_logical_capacity",
)  # fmt: skip
_RATIOS = ("compression_ratio", "deduplication_ratio", "efficiency_ratio")
CAPACITY_FIELDS = _CAPACITY + _RATIOS


def _capacity(optional: bool) -> tuple[Field, ...]:
    return tuple(_i(n, optional) for n in _CAPACITY) + tuple(_r(n, optional) for n in _RATIOS)


VIRTUAL_MACHINES: Collection[VirtualMachine] = Collection(
    plural="virtual_machines",
    singular="virtual_machine",
    has_optional_fields=True,
    default_filters={"state": "ALIVE"},
    fields=(
        _s("id"),
        _s("name", index=True),
        _e("state", VM_STATES),
        _t("created_at"),
        _t("deleted_at"),
        _s("omnistack_cluster_id", index=True),
        _s("omnistack_cluster_name"),
        _s("datastore_id", index=True),
        _s("datastore_name"),
        _s("policy_id", index=True),
        _s("policy_name"),
        _s("host_id", index=True),
        _s("host_name"),
        _s("hypervisor_object_id"),
        _e("hypervisor_type", HYPERVISOR_TYPES),
        _s("hypervisor_management_system"),
        _s("hypervisor_management_system_name"),
        _s("compute_cluster_parent_hypervisor_object_id"),
        _s("compute_cluster_parent_name"),
        _e(
            "app_aware_vm_status",
            (
                "UNKNOWN",
                "CAPABLE",
                "INVALID_CREDS",
                "VALID_CREDS",
                "VMWARE_TOOLS_UNAVAILABLE",
                "INVALID_OS",
                "UNKNOWN_FAULT",
            ),
        ),
        _j("replica_set"),
        _j("cluster_group_ids"),
        _e(
            "ha_status",
            ("UNKNOWN", "OUT_OF_SCOPE", "NOT_APPLICABLE", "DEGRADED", "SAFE", "SYNCING", "DEFUNCT"),
            optional=True,
        ),
        _i("ha_resynchronization_progress", optional=True),
        _e("hypervisor_virtual_machine_power_state", ("ON", "OFF", "SUSPENDED", "UNKNOWN"), optional=True),
        _b("hypervisor_is_template", optional=True),
        _i("hypervisor_allocated_capacity"),
        _i("hypervisor_free_space"),
        _i("hypervisor_cpu_count"),
        _i("hypervisor_total_memory"),
        _i("hypervisor_virtual_disk_count"),
        _i("hypervisor_allocated_cpu"),
        _i("hypervisor_consumed_cpu"),
        _i("hypervisor_consumed_memory"),
        _s("hypervisor_folder_name"),
        _s("hypervisor_instance_id"),
        _s("hypervisor_uuid"),
        _s("hypervisor_managed_by"),
        _j("network_interfaces"),
    ),
    filters=(
        _m("id"),
        _w("name"),
        _m("omnistack_cluster_id"),
        _m("omnistack_cluster_name"),
        _m("compute_cluster_parent_hypervisor_object_id"),
        _m("compute_cluster_parent_name"),
        _w("hypervisor_management_system"),
        _w("hypervisor_management_system_name"),
        _m("datastore_id"),
        _m("datastore_name"),
        _m("policy_id"),
        _m("policy_name"),
        _m("hypervisor_object_id"),
        *_time_range("created_at", "created"),
        _m("state"),
        _m("app_aware_vm_status"),
        _bool("hypervisor_is_template"),
        _m("host_id", listable=False),
        _group("omnistack_cluster_id"),
    ),
)

# A persistent volume (a vSphere first-class disk the CSI driver made) is shown as a VM is, but for what
# only a VM has (a guest, power, CPUs, NICs, HA): the same fields, in the same order, and the same filters.
_PV_FIELDS = frozenset({
    "id", "name", "state", "created_at", "deleted_at", "omnistack_cluster_id", "omnistack_cluster_name",
    "datastore_id", "datastore_name", "policy_id", "policy_name", "host_id", "hypervisor_object_id",
    "hypervisor_type", "hypervisor_management_system", "hypervisor_management_system_name",
    "compute_cluster_parent_hypervisor_object_id", "compute_cluster_parent_name", "app_aware_vm_status",
    "replica_set", "cluster_group_ids", "hypervisor_allocated_capacity", "hypervisor_free_space",
})  # fmt: skip

PERSISTENT_VOLUMES: Collection[PersistentVolume] = Collection(
    plural="persistent_volumes",
    singular="persistent_volume",
    default_filters=dict(VIRTUAL_MACHINES.default_filters),
    fields=tuple(f for f in VIRTUAL_MACHINES.fields if f.name in _PV_FIELDS),
    filters=tuple(f for f in VIRTUAL_MACHINES.filters if f.field in _PV_FIELDS),
)

BACKUPS: Collection[Backup] = Collection(
    plural="backups",
    singular="backup",
    insensitive_sort=frozenset({"name"}),
    fields=(
        _s("id"),
        _s("name", index=True),
        _e("state", BACKUP_STATES, index=True),
        _e("type", ("MANUAL", "POLICY", "UNSPECIFIED")),
        _t("created_at", index=True),
        _t("expiration_time", index=True),
        _i("size"),
        _i("sent"),
        _b("application_consistent"),
        _e("consistency_type", CONSISTENCY_TYPES),
        _s("virtual_machine_id", index=True),
        _s("virtual_machine_name"),
        _e("virtual_machine_state", VM_STATES),
        _e("virtual_machine_type", ("VM", "TEMPLATE", "UNKNOWN")),
        _s("omnistack_cluster_id", index=True),
        _s("omnistack_cluster_name"),
        _s("datastore_id", index=True),
        _s("datastore_name"),
        _s("compute_cluster_parent_hypervisor_object_id"),
        _s("compute_cluster_parent_name"),
        _e("hypervisor_type", HYPERVISOR_TYPES),
        _i("unique_size_bytes"),
        _t("unique_size_timestamp"),
        _t("sent_completion_time"),
        _i("sent_duration"),
        _j("cluster_group_ids"),
        _s("external_store_name"),
        _s("associated_cluster"),
        _e("backup_store_type", ("SimplivityStore", "StoreOnceOnPrem", "StoreOnceCloud", "Unknown")),
    ),
    filters=(
        _m("id"),
        _w("name"),
        *_int_range("sent"),
        _m("state"),
        _m("type"),
        _m("omnistack_cluster_id"),
        _m("omnistack_cluster_name"),
        _m("compute_cluster_parent_hypervisor_object_id"),
        _m("compute_cluster_parent_name"),
        _m("datastore_id"),
        _m("datastore_name"),
        *_time_range("expiration_time", "expires"),
        _m("virtual_machine_id"),
        _m("virtual_machine_name"),
        _m("virtual_machine_type"),
        _m("virtual_machine_state"),
        *_int_range("size"),
        _bool("application_consistent"),
        _m("consistency_type"),
        *_time_range("created_at", "created"),
        *_int_range("sent_duration"),
        *_time_range("sent_completion_time", "sent_completion"),
        *_int_range("unique_size_bytes"),
        _group("omnistack_cluster_id"),
        _w("external_store_name"),
        _m("backup_store_type"),
        _m("associated_cluster"),
    ),
)

DATASTORES: Collection[Datastore] = Collection(
    plural="datastores",
    singular="datastore",
    has_optional_fields=True,
    fields=(
        _s("id"),
        _s("name", index=True),
        _i("size"),
        _t("created_at"),
        _s("mount_directory"),
        _s("omnistack_cluster_id", index=True),
        _s("omnistack_cluster_name"),
        _s("policy_id", index=True),
        _s("policy_name"),
        _s("hypervisor_object_id"),
        _e("hypervisor_type", HYPERVISOR_TYPES),
        _s("hypervisor_management_system"),
        _s("hypervisor_management_system_name"),
        _s("compute_cluster_parent_hypervisor_object_id"),
        _s("compute_cluster_parent_name"),
        _j("shares"),
        _j("cluster_group_ids"),
        _b("single_replica"),
        _b("deleted"),
        _i("hypervisor_free_space", optional=True),
    ),
    filters=(
        _m("id"),
        _w("name"),
        *_int_range("size", prefix=True),
        *_time_range("created_at", "created"),
        _m("omnistack_cluster_id"),
        _m("omnistack_cluster_name"),
        _m("compute_cluster_parent_hypervisor_object_id"),
        _m("compute_cluster_parent_name"),
        _w("hypervisor_management_system_name"),
        _m("policy_id"),
        _m("policy_name"),
        _m("hypervisor_object_id"),
        _m("mount_directory"),
        _group("omnistack_cluster_id"),
        _bool("single_replica"),
    ),
)

HOSTS: Collection[Host] = Collection(
    plural="hosts",
    singular="host",
    has_optional_fields=True,
    fields=(
        _s("id"),
        _s("name", index=True),
        _e("state", ("ALIVE", "FAULTY", "MANAGED", "REMOVED", "SUSPECTED", "UNKNOWN")),
        _s("type"),
        _s("model"),
        _s("version"),
        _s("omnistack_cluster_id", index=True),
        _s("management_ip"),
        _s("management_mask"),
        _s("management_mtu"),
        _s("storage_ip"),
        _s("storage_mask"),
        _s("storage_mtu"),
        _s("federation_ip"),
        _s("federation_mask"),
        _s("federation_mtu"),
        _s("virtual_controller_name"),
        _s("hypervisor_object_id"),
        _s("hypervisor_management_system"),
        _s("hypervisor_management_system_name"),
        _s("compute_cluster_name"),
        _s("compute_cluster_hypervisor_object_id"),
        _s("compute_cluster_parent_name"),
        _s("compute_cluster_parent_hypervisor_object_id"),
        _b("policy_enabled"),
        _i("current_feature_level"),
        _i("potential_feature_level"),
        _i("cluster_feature_level"),
        _e("upgrade_state", ("SUCCESS", "FAIL", "IN_PROGRESS", "NOOP", "UNKNOWN")),
        _b("can_rollback"),
        _j("cluster_group_ids"),
        _s("availability_zone_effective"),
        _s("availability_zone_planned"),
        _t("date", optional=True),
        *_capacity(optional=True),
    ),
    filters=(
        _m("id"),
        _w("name"),
        _w("type"),
        _w("model"),
        _w("version"),
        _w("hypervisor_management_system"),
        _w("hypervisor_management_system_name"),
        _w("hypervisor_object_id"),
        _w("compute_cluster_name"),
        _w("compute_cluster_hypervisor_object_id"),
        _w("management_ip"),
        _w("storage_ip"),
        _w("federation_ip"),
        _w("virtual_controller_name"),
        _w("compute_cluster_parent_name"),
        _w("compute_cluster_parent_hypervisor_object_id"),
        _bool("policy_enabled"),
        *_int_range("current_feature_level"),
        *_int_range("potential_feature_level"),
        *_int_range("cluster_feature_level"),
        _m("upgrade_state"),
        _bool("can_rollback"),
        _m("omnistack_cluster_id", listable=False),
        _m("state", listable=False),
        _group("omnistack_cluster_id"),
        _m("availability_zone_planned", listable=False),
        _m("availability_zone_effective", listable=False),
    ),
)

OMNISTACK_CLUSTERS: Collection[OmnistackCluster] = Collection(
    plural="omnistack_clusters",
    singular="omnistack_cluster",
    has_optional_fields=True,
    fields=(
        _s("id"),
        _s("name", index=True),
        _e("type", ("OMNISTACK", "EXTINCT_CLOUD_TYPE", "UNKNOWN")),
        _j("members"),
        _s("version"),
        _s("hypervisor_object_id"),
        _s("hypervisor_object_parent_id"),
        _s("hypervisor_object_parent_name"),
        _s("hypervisor_management_system"),
        _s("hypervisor_management_system_name"),
        _e("hypervisor_type", HYPERVISOR_TYPES),
        _s("arbiter_address"),
        _b("arbiter_connected"),
        _b("arbiter_required"),
        _b("arbiter_configured"),
        _i("cluster_feature_level"),
        _j("cluster_group_ids"),
        _j("infosight_configuration"),
        _b("iwo_enabled"),
        _b("iwo_active"),
        _s("time_zone", optional=True),
        _e(
            "upgrade_state",
            (
                "FAIL_CAN_ROLLBACK",
                "FAIL_CANNOT_ROLLBACK",
                "IN_PROGRESS",
                "SUCCESS_COMMITTED",
                "SUCCESS_COMMIT_NEEDED",
                "SUCCESS_MIXED_VERSION",
                "UNKNOWN",
            ),
            optional=True,
        ),
        _s("upgrade_task_id", optional=True),
        *_capacity(optional=True),
    ),
    filters=(
        _m("id"),
        _w("name"),
        _m("hypervisor_object_id"),
        _m("hypervisor_object_parent_id"),
        _w("hypervisor_object_parent_name"),
        _w("hypervisor_management_system_name"),
        _m("type"),
        _group("id"),
        _m("arbiter_address"),
        _bool("arbiter_connected"),
        _bool("arbiter_required"),
        _bool("arbiter_configured"),
    ),
)

POLICIES: Collection[Policy] = Collection(
    plural="policies",
    singular="policy",
    fields=(
        _s("id"),
        _s("name", index=True),
        _j("rules"),
        _j("cluster_group_ids"),
        _s("owner_cluster_id"),
        _s("owner_cluster_name"),
    ),
    filters=(
        _m("id"),
        _m("name"),
        _group("owner_cluster_id"),
        _m("owner_cluster_id"),
        _m("owner_cluster_name"),
    ),
)

CLUSTER_GROUPS: Collection[ClusterGroup] = Collection(
    plural="cluster_groups",
    singular="cluster_group",
    fields=(_s("id"), _s("name", index=True), _j("clusters")),
    filters=(_m("id"), _w("name")),
)

EXTERNAL_STORES: Collection[ExternalStore] = Collection(
    plural="external_stores",
    singular="external_store",
    key="name",
    fields=(
        _s("name"),
        _s("management_ip"),
        _i("management_port"),
        _i("storage_port"),
        _s("omnistack_cluster_id", index=True),
        _s("type"),
        _j("cluster_group_ids"),
    ),
    filters=(
        _w("name"),
        _m("omnistack_cluster_id", listable=False),
        _w("management_ip"),
        _group("omnistack_cluster_id"),
    ),
)

CERTIFICATES: Collection[Certificate] = Collection(
    plural="certificates",
    singular="certificate",
    default_sort="hash",
    key="hash",
    fields=(_s("hash"), _s("certificate"), _s("subject"), _s("issuer"), _s("serialno")),
    filters=(),
)

ALL: tuple[Collection[Any], ...] = (
    VIRTUAL_MACHINES, BACKUPS, DATASTORES, HOSTS, OMNISTACK_CLUSTERS, POLICIES,
    CLUSTER_GROUPS, EXTERNAL_STORES, PERSISTENT_VOLUMES,
)  # fmt: skip
BY_PLURAL: dict[str, Collection[Any]] = {c.plural: c for c in (*ALL, CERTIFICATES)}
