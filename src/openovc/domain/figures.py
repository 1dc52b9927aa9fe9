"""Capacity arithmetic: a cluster's and its hosts' capacity properties from the bytes they store.

Deduplication is cluster-wide, so no host owns a piece; the storage layer spreads a cluster's data over
its hosts in proportion to their capacity. A host's figures are therefore the cluster's bytes
apportioned by the hosts' allocated capacity (evenly when none is known yet), by largest remainder, so
the hosts add up exactly to the cluster (cluster_fields sums them back) and each host's ratios equal
the cluster's to within a byte. Both the generator and the operations follow this one rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class StoredBytes(Protocol):
    """What a place stores (distinct pieces) and the logical bytes its VMs and backups hold."""

    @property
    def uncompressed(self) -> int: ...

    @property
    def compressed(self) -> int: ...

    @property
    def vm_logical(self) -> int: ...

    @property
    def local_logical(self) -> int: ...

    @property
    def remote_logical(self) -> int: ...


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator > 0 and numerator > 0 else 1.0


def capacity_fields(
    allocated: int, vm_logical: int, local: int, remote: int, uncompressed: int, compressed: int
) -> dict[str, object]:
    """The capacity properties of a host or cluster from its bytes: logical, deduplicated, compressed."""
    logical = vm_logical + local + remote
    dedup = _ratio(logical, uncompressed)
    compression = _ratio(uncompressed, compressed)
    return {
        "allocated_capacity": allocated,
        "capacity_savings": logical - compressed,
        "free_space": max(0, allocated - compressed),
        "local_backup_capacity": local,
        "remote_backup_capacity": remote,
        "stored_compressed_data": compressed,
        "stored_uncompressed_data": uncompressed,
        "stored_virtual_machine_data": vm_logical,
        "used_capacity": compressed,
        "used_logical_capacity": logical,
        "compression_ratio": compression,
        "deduplication_ratio": dedup,
        "efficiency_ratio": dedup * compression,
    }


def _int(fields: dict[str, object], name: str) -> int:
    value = fields[name]
    assert isinstance(value, int)
    return value


def cluster_fields(hosts: list[dict[str, object]]) -> dict[str, object]:
    """A cluster's capacity: its hosts' bytes summed, ratios recomputed from the sums."""

    def total(name: str) -> int:
        return sum(_int(h, name) for h in hosts)

    fields = capacity_fields(
        allocated=total("allocated_capacity"),
        vm_logical=total("stored_virtual_machine_data"),
        local=total("local_backup_capacity"),
        remote=total("remote_backup_capacity"),
        uncompressed=total("stored_uncompressed_data"),
        compressed=total("stored_compressed_data"),
    )
    fields["free_space"] = total("free_space")  # a full host's shortfall is not another's free space
    return fields


def place_fields(totals: StoredBytes, allocated: int) -> dict[str, object]:
    """A cluster's capacity properties from what it stores."""
    return capacity_fields(
        allocated=allocated,
        vm_logical=totals.vm_logical,
        local=totals.local_logical,
        remote=totals.remote_logical,
        uncompressed=totals.uncompressed,
        compressed=totals.compressed,
    )


def apportion(total: int, weights: Sequence[int]) -> list[int]:
    """`total` split in proportion to the weights, exactly (largest remainder; equal if all are 0)."""
    if not weights:
        raise ValueError("nothing to apportion among")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    if sum(weights) == 0:
        weights = [1] * len(weights)
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def host_fields(
    totals: StoredBytes, allocated: Sequence[int], weights: Sequence[int]
) -> list[dict[str, object]]:
    """Each host's capacity properties: the cluster's bytes apportioned by weight (module doc)."""
    if len(allocated) != len(weights):
        raise ValueError("one allocated capacity and one weight per host")
    parts = {
        name: apportion(getattr(totals, name), weights)
        for name in ("vm_logical", "local_logical", "remote_logical", "uncompressed", "compressed")
    }
    return [
        capacity_fields(
            allocated=allocated[i],
            vm_logical=parts["vm_logical"][i],
            local=parts["local_logical"][i],
            remote=parts["remote_logical"][i],
            uncompressed=parts["uncompressed"][i],
            compressed=parts["compressed"][i],
        )
        for i in range(len(weights))
    ]


def cluster_capacity(
    totals: StoredBytes, host_ids: Sequence[str], allocated: Sequence[int]
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
