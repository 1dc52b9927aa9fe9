"""A cluster's and its hosts' capacity rows from the content model's totals: the one rule both the
generator and the operations follow.

Hosts split their cluster's bytes by replica load (content_model's module doc): a host's weight is the
logical bytes of the live VMs whose replica_set names it. Backups are kept with their VM's replicas,
so they follow the same split; a cluster without live VMs splits evenly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .content_ledger import Totals
from .content_model import host_fields, place_fields


@dataclass(frozen=True)
class ReplicaLoad:
    """A live VM's logical bytes and the hosts holding its replicas."""

    hosts: Sequence[str]
    logical: int


def replica_weights(host_ids: Sequence[str], loads: Iterable[ReplicaLoad]) -> list[int]:
    """Per host (in order), the logical bytes of the replicas it holds."""
    index = {host_id: i for i, host_id in enumerate(host_ids)}
    weights = [0] * len(host_ids)
    for load in loads:
        for host_id in load.hosts:
            i = index.get(host_id)
            if i is not None:
                weights[i] += load.logical
    return weights


def cluster_capacity(
    totals: Totals, host_ids: Sequence[str], allocated: Sequence[int], loads: Iterable[ReplicaLoad]
) -> tuple[dict[str, object], list[dict[str, object]]]:
    """The cluster's capacity fields, and each host's (in `host_ids` order)."""
    if not host_ids:
        return place_fields(totals, 0), []
    hosts = host_fields(totals, allocated, replica_weights(host_ids, loads))
    return place_fields(totals, sum(allocated)), hosts
