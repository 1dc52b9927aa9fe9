"""Every byte figure and transfer time the operations set: the content model's figures as row fields.

The figures themselves come from the content model (content/model.py), in the operation's own
transaction (the simulator's per-transaction model); this module turns them into the fields of the rows
they show on:

- a VM's data (allocated minus free) is the logical size of its content;
- a backup's `size` is its content's logical size; `unique_size_bytes` what deleting it would free at
  its place when it was measured (when it was made, then by calculate_unique_size, as the real one);
  `sent` the compressed bytes of the pieces its place lacked, which is all a copy sends;
- a datastore's free space is its size minus its live VMs' data;
- a cluster's and its hosts' capacity fields are its stored totals, apportioned over its hosts by
  replica load (domain/figures.py).

Timing: sending takes time proportional to the bytes sent, at the bandwidth of the link into its
destination (40 to 160 MiB/s, from a hash of the destination); taking a backup is a metadata
operation of a few seconds, longer when the guest is quiesced first (a VMware snapshot for DEFAULT,
VSS inside Windows for VSS).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from openovc.domain.catalog import HOSTS, OMNISTACK_CLUSTERS
from openovc.domain.figures import cluster_capacity
from openovc.domain.ports.federation import Record, Txn
from openovc.simulator.content.model import ContentModel

MiB = 1024**2
GiB = 1024**3
NEW_SECONDS = 1  # a backup shows NEW while its controller registers it
_TAKE_BASE = 2
_TAKE_QUIESCE = {"DEFAULT": 8, "VSS": 15}
_TAKE_RATE = 50 * GiB  # bytes of metadata walked per second


def _hash(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


# ---- rows from the model --------------------------------------------------------------------------


def refresh_clusters(
    txn: Txn, model: ContentModel, places: Iterable[str]
) -> list[tuple[str, dict[str, object]]]:
    """Write the capacity fields of each cluster among `places` (stores have none) and of its hosts; the
    hosts' fields, as written."""
    written: list[tuple[str, dict[str, object]]] = []
    for place in dict.fromkeys(places):
        cluster = txn.get(OMNISTACK_CLUSTERS, place)
        if cluster is None:
            continue
        hosts = txn.find(HOSTS, omnistack_cluster_id=place)
        host_ids = [h["id"] for h in hosts]
        allocated = [_int(h["allocated_capacity"]) for h in hosts]
        fields, per_host = cluster_capacity(model.totals(place), host_ids, allocated)
        txn.update(OMNISTACK_CLUSTERS, place, fields)
        txn.update_each(HOSTS, list(zip(host_ids, per_host, strict=True)))
        written += zip(host_ids, per_host, strict=True)
    return written


def bandwidth(destination: str) -> int:
    """Bytes per second of the link into a destination cluster or store."""
    return (40 + _hash("link", destination) % 121) * MiB


def send_seconds(sent: int, destination: str) -> int:
    return max(1, sent // bandwidth(destination))


def take_seconds(size: int, consistency: str) -> int:
    return _TAKE_BASE + _TAKE_QUIESCE.get(consistency, 0) + size // _TAKE_RATE


@dataclass(frozen=True)
class Transfer:
    """How a backup comes to be at its place: seconds taking it, then bytes sent over seconds."""

    take: int
    sent: int
    send: int

    @property
    def total(self) -> int:
        return self.take + self.send


def transfer(size: int, sent: int, consistency: str, destination: str | None) -> Transfer:
    """`destination`: the remote cluster's id or the store's name; None when the backup stays local.

    `sent`: the compressed bytes the destination lacked when the backup arrived (the model's change).
    """
    take = take_seconds(size, consistency)
    if destination is None:
        return Transfer(take, 0, 0)
    return Transfer(take, sent, send_seconds(sent, destination))


def sent_so_far(plan: Transfer, elapsed: float) -> tuple[int, int]:
    """Bytes sent and seconds spent sending `elapsed` seconds after the backup began."""
    sending = min(max(0.0, elapsed - plan.take), float(plan.send))
    if sending <= 0 or plan.send <= 0:
        return 0, 0
    return int(plan.sent * sending / plan.send), int(sending)


# ---- restores -------------------------------------------------------------------------------------


def restored_vm(source_allocated: int, size: int) -> Record:
    """Capacity fields of a VM whose data is a backup's: its disks hold at least the data."""
    allocated = max(source_allocated, size)
    return {"hypervisor_allocated_capacity": allocated, "hypervisor_free_space": allocated - size}


def with_data(vm: Mapping[str, Any], size: int) -> Record | None:
    """Capacity fields of a VM whose data became `size` bytes; None if that does not fit its disks."""
    allocated = _int(vm.get("hypervisor_allocated_capacity"))
    if size > allocated:
        return None
    return {"hypervisor_free_space": allocated - size}
