"""The reads the metrics and report endpoints need beyond FederationReader; storage implements them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from openovc.domain.metrics import ClusterLabel, IoSpan, RemoteSend, VmWorkload


@dataclass(frozen=True)
class PolicyUsage:
    """A policy's stored rules (as decoded JSON) and its ALIVE VMs (and persistent volumes) in scope."""

    policy_id: str
    rules: list[dict[str, object]]
    vm_count: int


class MetricsReader(Protocol):
    """Small focused queries over the federation store."""

    def vm_workload(self, vm_id: str) -> tuple[VmWorkload, str] | None:
        """A VM's workload inputs and its cluster id, or None when there is no such VM."""
        ...

    def workloads_on_hosts(self, host_ids: Sequence[str]) -> list[VmWorkload]:
        """Every VM, whatever its state, whose host_id is one of these hosts, with its power changes."""
        ...

    def io_spans(
        self, since_ms: int, until_ms: int, host_ids: Sequence[str] | None = None, vm_id: str | None = None
    ) -> list[IoSpan]:
        """The IO of backups, copies, clones and restores in [since, until) on these hosts or this VM."""
        ...

    def host_ids(self, cluster_id: str) -> list[str]: ...

    def time_zone(self, cluster_id: str) -> str | None: ...

    def cluster_labels(self, cluster_ids: Sequence[str] | None = None) -> list[ClusterLabel]:
        """The named clusters (all when None) that exist, ordered by name then id."""
        ...

    def group_clusters(self, group_ids: Sequence[str]) -> dict[str, list[str]]:
        """Member cluster ids of each of these cluster groups that exists."""
        ...

    def remote_sends(
        self,
        start: datetime,
        end: datetime,
        sources: Sequence[str] | None = None,
        destinations: Sequence[str] | None = None,
    ) -> list[RemoteSend]:
        """Replications of backups stored in `destinations` of VMs in `sources` (None: any) that
        were under way at some time in (start, end)."""
        ...

    def policy_usage(self, cluster_ids: Sequence[str] | None = None) -> list[PolicyUsage]:
        """Every policy with the number of its ALIVE VMs in these clusters (all when None)."""
        ...

    def host_count(self, cluster_ids: Sequence[str] | None = None) -> int:
        """Hosts not REMOVED in these clusters (all when None)."""
        ...
