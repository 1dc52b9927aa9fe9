"""Capacity arithmetic of the simulated federation: every byte and ratio comes from a model of the data.

The model
---------
Every VM is a clone of a golden image (plan.IMAGES) plus data of its own:

    written (logical bytes) = image content + the VM's unique data   (never more than its disks)

A VM that is too small to hold its image is modelled as having unique data only.
Storage HA keeps a VM's data on each host of its replica set (PRIMARY and SECONDARY).

A host stores, deduplicated:

- each image's content once, when any VM or backup on the host uses that image;
- each VM's unique data once, when the VM or any backup of it lives on the host;
- each backup's changed data (its unique_size_bytes): a backup shares everything else with the
  VM or with the backup before it.

Each piece compresses by its image's compression factor. Per host:

    stored_virtual_machine_data = logical bytes of the live VMs whose replicas it holds
    local_backup_capacity       = logical size of backups taken in this cluster and kept here
    remote_backup_capacity      = logical size of backups received from another cluster
    used_logical_capacity       = the three above
    stored_uncompressed_data    = the deduplicated pieces
    stored_compressed_data      = the same pieces, compressed
    used_capacity               = stored_compressed_data
    allocated_capacity          = the host's logical drive (from its hardware)
    free_space                  = allocated - used, never below zero
    capacity_savings            = used_logical - used
    deduplication_ratio         = used_logical / uncompressed
    compression_ratio           = uncompressed / compressed
    efficiency_ratio            = deduplication x compression (= used_logical / used)

A cluster is the sum of its hosts' bytes, with its ratios recomputed from those sums. Backups kept
in an external store (StoreOnce) live outside the federation and count nowhere.

Only this module knows the arithmetic, so a content-addressed model can replace it whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...domain.capacity import capacity_fields

BYTE_FIELDS = (
    "allocated_capacity", "capacity_savings", "free_space", "local_backup_capacity",
    "remote_backup_capacity", "stored_compressed_data", "stored_uncompressed_data",
    "stored_virtual_machine_data", "used_capacity", "used_logical_capacity",
)  # fmt: skip


@dataclass(frozen=True)
class VmData:
    """What the model needs to know of one VM's data."""

    key: str
    image: str | None  # None: not a clone, unique data only
    image_content: int
    unique: int
    compression: float


class _HostStore:
    __slots__ = ("bases", "compressed", "images", "local", "remote", "uncompressed", "vm_logical")

    def __init__(self) -> None:
        self.images: set[str] = set()
        self.bases: set[str] = set()
        self.vm_logical = 0
        self.local = 0
        self.remote = 0
        self.uncompressed = 0
        self.compressed = 0.0


class CapacityModel:
    """Accumulates what each host stores; then answers each host's and cluster's capacity fields."""

    def __init__(self) -> None:
        self._hosts: dict[str, _HostStore] = {}

    def _store(self, host_id: str) -> _HostStore:
        store = self._hosts.get(host_id)
        if store is None:
            store = self._hosts[host_id] = _HostStore()
        return store

    def _place(self, store: _HostStore, vm: VmData) -> None:
        if vm.image is not None and vm.image not in store.images:
            store.images.add(vm.image)
            store.uncompressed += vm.image_content
            store.compressed += vm.image_content / vm.compression
        if vm.key not in store.bases:
            store.bases.add(vm.key)
            store.uncompressed += vm.unique
            store.compressed += vm.unique / vm.compression

    def add_vm(self, hosts: list[str], vm: VmData, logical: int) -> None:
        """A live VM whose replicas are on these hosts."""
        for host_id in hosts:
            store = self._store(host_id)
            self._place(store, vm)
            store.vm_logical += logical

    def add_backups(self, hosts: list[str], vm: VmData, logical: int, changed: int, remote: bool) -> None:
        """Backups of one VM kept on these hosts: their total logical size and changed data."""
        for host_id in hosts:
            store = self._store(host_id)
            self._place(store, vm)
            if remote:
                store.remote += logical
            else:
                store.local += logical
            store.uncompressed += changed
            store.compressed += changed / vm.compression

    def used(self, host_id: str) -> int:
        store = self._hosts.get(host_id)
        return round(store.compressed) if store else 0

    def host_fields(self, host_id: str, allocated: int) -> dict[str, object]:
        store = self._hosts.get(host_id) or _HostStore()
        return capacity_fields(
            allocated=allocated,
            vm_logical=store.vm_logical,
            local=store.local,
            remote=store.remote,
            uncompressed=store.uncompressed,
            compressed=round(store.compressed),
        )
