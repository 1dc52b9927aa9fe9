"""A cluster's and its hosts' capacity rows from the content model's totals: the one rule both the
generator and the operations follow.

Deduplication is cluster-wide, so no host owns a piece; the storage layer spreads a cluster's data over
its hosts in proportion to their capacity. A host's figures are therefore the cluster's bytes
apportioned by the hosts' allocated capacity (evenly when none is known yet), exactly: the hosts add up
to the cluster. Refreshing them costs one read per host, whatever the number of VMs.
"""

from __future__ import annotations

from collections.abc import Sequence

from .content_ledger import Totals
from .content_model import host_fields, place_fields


def cluster_capacity(
    totals: Totals, host_ids: Sequence[str], allocated: Sequence[int]
) -> tuple[dict[str, object], list[dict[str, object]]]:
    """The cluster's capacity fields, and each host's (in `host_ids` order)."""
    if not host_ids:
        return place_fields(totals, 0), []
    # Apportioned in the order of the hosts' ids, so that the bytes a tie leaves over go to the same
    # host whichever order the hosts were listed in.
    order = sorted(range(len(host_ids)), key=lambda i: host_ids[i])
    sorted_fields = host_fields(totals, [allocated[i] for i in order], [allocated[i] for i in order])
    hosts: list[dict[str, object]] = [{} for _ in host_ids]
    for position, i in enumerate(order):
        hosts[i] = sorted_fields[position]
    return place_fields(totals, sum(allocated)), hosts
