"""Every byte figure and transfer time the backup operations set, from what the records hold today.

A later content-addressed model replaces this module whole, so the operations ask it and never do the
arithmetic themselves. Today's model, in the generator's terms (drivers/simulated/capacity.py):

- A VM's data is what its datastore counts for it: allocated minus free (hypervisor_* fields).
- A backup's `size` is the VM's data when it was taken.
- A VM rewrites a steady share of its data each day (0.2 to 1.5 %, from a hash of its id); a backup's
  `unique_size_bytes` is what it holds that no other backup of the VM at the same place holds: what the
  VM rewrote since the previous one there (a week of changes at most), plus the metadata of a backup
  (1 MiB). The first backup at a cluster or store that never had one of the VM holds all of its data
  there; the first local one shares everything but the changes with the live VM.
- A remote or external copy sends its unique data compressed (1.6 : 1, the generator's typical image)
  plus 1 MiB of metadata, at the bandwidth of the link into its destination (40 to 160 MiB/s, from a
  hash of the destination), so it takes time proportional to that data.
- Taking a backup is a metadata operation of a few seconds, longer when the guest is quiesced first
  (a VMware snapshot for DEFAULT, VSS inside Windows for VSS).
- A restore writes the backup's data back: a new VM's data is the backup's size, an original VM's data
  becomes it again. Files restored from a backup add their sizes to the target VM's data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..domain.ports import Record

MiB = 1024**2
GiB = 1024**3
DAY = 86400
WEEK = 7 * DAY
METADATA = MiB
COMPRESSION = 1.6
NEW_SECONDS = 1  # a backup shows NEW while its controller registers it
_TAKE_BASE = 2
_TAKE_QUIESCE = {"DEFAULT": 8, "VSS": 15}
_TAKE_RATE = 50 * GiB  # bytes of metadata walked per second


def _hash(*parts: object) -> int:
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float) else 0


# ---- a VM's data ----------------------------------------------------------------------------------


def vm_data(vm: Record) -> int:
    """Bytes of a VM's data: what its datastore counts for it."""
    return max(0, _int(vm.get("hypervisor_allocated_capacity")) - _int(vm.get("hypervisor_free_space")))


def daily_change(vm_id: str, data: int) -> int:
    """Bytes a VM rewrites in a day."""
    share = 0.002 + (_hash("change", vm_id) % 1000) / 1000 * 0.013
    return int(data * share)


def changed_since(vm_id: str, data: int, seconds: float) -> int:
    """What a VM rewrote in `seconds` (a week at most: older changes are rewritten again)."""
    span = min(max(0.0, seconds), WEEK)
    return min(data, int(daily_change(vm_id, data) * span / DAY))


# ---- a backup's figures ---------------------------------------------------------------------------


def unique_bytes(vm_id: str, data: int, since_previous: float | None, local: bool, vm_age: float) -> int:
    """What a backup holds that no other backup of the VM at its place holds.

    `since_previous`: seconds since the previous backup of the VM at the same place, None if none.
    `vm_age`: seconds the VM had lived when it was taken.
    """
    if since_previous is not None:
        return changed_since(vm_id, data, since_previous) + METADATA
    if local:
        return changed_since(vm_id, data, vm_age) + METADATA
    return data + METADATA


def bytes_to_send(unique: int) -> int:
    """Bytes a remote or external copy puts on the wire: its unique data, compressed, and metadata."""
    return int(max(0, unique - METADATA) / COMPRESSION) + METADATA


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


def transfer(size: int, unique: int, consistency: str, destination: str | None) -> Transfer:
    """`destination`: the remote cluster's id or the store's name; None when the backup stays local."""
    take = take_seconds(size, consistency)
    if destination is None:
        return Transfer(take, 0, 0)
    sent = bytes_to_send(unique)
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


def with_files(vm: Record, restored: int) -> Record | None:
    """Capacity fields of a VM after `restored` bytes of files are written into it; None if they do not fit."""
    free = _int(vm.get("hypervisor_free_space"))
    if restored > free:
        return None
    return {"hypervisor_free_space": free - restored}
