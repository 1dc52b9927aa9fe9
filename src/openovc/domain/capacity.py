"""Capacity arithmetic shared by the model and the operations: bytes to the API's capacity properties."""

from __future__ import annotations


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
