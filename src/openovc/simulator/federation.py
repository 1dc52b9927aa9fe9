"""A generated federation as plain rows per table, and the counts that describe one to generate."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openovc.simulator.content.ledger import MemoryLedger

# The tables a federation fills, in load order: each collection plural, then the two extra tables.
COLLECTION_TABLES = (
    "omnistack_clusters", "hosts", "policies", "datastores", "virtual_machines", "backups",
    "cluster_groups", "external_stores", "persistent_volumes",
)  # fmt: skip
EXTRA_TABLES = ("host_hardware", "standard_hosts")
TABLES = COLLECTION_TABLES + EXTRA_TABLES


@dataclass
class Federation:
    """Rows keyed by table name; each row has exactly its collection's field names.

    Values are already in storage form: text times (None = "NA"), floats for ratios, and plain
    lists/dicts for JSON fields, which storage serialises.
    """

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: {t: [] for t in TABLES})
    # What every VM and backup holds (simulator/content/model.py), built with the rows and loaded with them.
    content: MemoryLedger = field(default_factory=MemoryLedger)

    def count(self, table: str) -> int:
        return len(self.rows.get(table, ()))


@dataclass(frozen=True)
class FederationSpec:
    """How big a generated federation is; the same spec and seed always give the same federation."""

    clusters: int = 2
    hosts_per_cluster: int = 3
    datastores: int = 6  # in total, spread over the clusters
    vms: int = 40  # in total, including templates and deleted VMs whose backups remain
    policies: int = 4
    backups: int = 300  # the whole retained history, policy and manual
    cluster_groups: int = 1
    external_stores: int = 1
    seed: int = 1
    persistent_volumes: int = 0  # the CSI driver's first-class disks, beside the VMs

    def __post_init__(self) -> None:
        if self.clusters < 1 or self.hosts_per_cluster < 1:
            raise ValueError("a federation needs at least one cluster of one host")
        if self.datastores < 0 or self.vms < 0 or self.policies < 0 or self.backups < 0:
            raise ValueError("counts must not be negative")
        if self.vms and (self.datastores < 1 or self.policies < 1):
            raise ValueError("VMs need at least one datastore and one policy")
        if self.datastores and self.policies < 1:
            raise ValueError("datastores need at least one policy")
        if not 0 <= self.cluster_groups <= self.clusters:
            raise ValueError("each cluster group needs at least one cluster of its own")
        if self.external_stores < 0:
            raise ValueError("counts must not be negative")
        if self.backups and not self.vms:
            raise ValueError("backups need at least one VM")
        if self.persistent_volumes < 0:
            raise ValueError("counts must not be negative")
        if self.persistent_volumes and (self.datastores < 1 or self.policies < 1):
            raise ValueError("persistent volumes need at least one datastore and one policy")
        if self.hosts_per_cluster > 64 or self.clusters > 250:
            raise ValueError("at most 250 clusters of at most 64 hosts")

    @property
    def hosts(self) -> int:
        return self.clusters * self.hosts_per_cluster

    @classmethod
    def demo(cls, seed: int = 1) -> FederationSpec:
        """Two sites of three hosts: small enough to read, with every feature clients look at."""
        return cls(seed=seed, persistent_volumes=6)

    @classmethod
    def largest(cls, seed: int = 1) -> FederationSpec:
        """Three linked vCenters of 32 hosts each: the peer-managed federation's published ceiling."""
        return cls(
            clusters=12,
            hosts_per_cluster=8,
            datastores=72,
            vms=10_000,
            policies=12,
            backups=300_000,
            cluster_groups=3,
            external_stores=3,
            seed=seed,
            persistent_volumes=200,
        )
