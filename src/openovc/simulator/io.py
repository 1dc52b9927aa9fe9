"""The IO that backups, copies, clones and restores do on the hosts and VMs involved (IoSpan).

A local backup, clone or restore moves no data: it walks and writes the metadata of the VM's data,
about a 32-byte hash per 8 KiB block (its size / METADATA_SHARE), while it is being taken. What
crosses a link (a backup sent to another cluster or a store, a restore from one) is read in full by
the sending host and written in full by the receiving one while it is sent.
"""

from __future__ import annotations

from openovc.domain.metrics import IoSpan
from openovc.simulator import backup_data as data

METADATA_SHARE = 256


def _span(host: str, vm: str, start_ms: int, seconds: int, read: int, write: int, source: str) -> IoSpan:
    return IoSpan(host, vm, start_ms, start_ms + max(seconds, 1) * 1000, read, write, source)


def backup_taken(
    host: str, vm: str, backup: str, size: int, plan: data.Transfer, began_ms: int, receiver: str | None
) -> list[IoSpan]:
    """A backup of `vm` (on `host`) that began at `began_ms`: its metadata walked while it is taken, then
    what it sends read there and written on `receiver` (a host of the destination cluster; None: a store
    or no host)."""
    walked = [_span(host, vm, began_ms, plan.take, size // METADATA_SHARE, 0, backup)] if host else []
    return walked + sent(host or None, receiver, backup, plan, began_ms, vm)


def sent(
    sender: str | None, receiver: str | None, backup: str, plan: data.Transfer, began_ms: int, vm: str = ""
) -> list[IoSpan]:
    """What a backup or copy sends once taken: read on `sender` (for `vm`, when it is the VM's own host),
    written on `receiver`; a store or a cluster without a live host is no end in the federation."""
    if not (plan.send and plan.sent):
        return []
    sending = began_ms + plan.take * 1000
    ends = [(sender, vm, plan.sent, 0), (receiver, "", 0, plan.sent)]
    return [_span(h, v, sending, plan.send, r, w, backup) for h, v, r, w in ends if h]


def cloned(host: str, vm: str, clone: str, size: int, at_ms: int) -> list[IoSpan]:
    """A clone of `vm` on `host`: the source's metadata read, the clone's written."""
    seconds = data.take_seconds(size, "NONE")
    metadata = size // METADATA_SHARE
    return [
        _span(host, vm, at_ms, seconds, metadata, 0, clone),
        _span(host, clone, at_ms, seconds, 0, metadata, clone),
    ]


def restored(
    host: str, vm: str, size: int, at_ms: int, sender: str | None, source: str, across: str | None
) -> list[IoSpan]:
    """A restore of `size` bytes into `vm` on `host`. `across`: the cluster or store it comes from when
    the backup is kept elsewhere (its data is sent, read on `sender` when that is a host); None: local."""
    spans = [_span(host, vm, at_ms, data.take_seconds(size, "NONE"), 0, size // METADATA_SHARE, source)]
    if across is not None and size:
        seconds = data.send_seconds(size, across)
        spans.append(_span(host, vm, at_ms, seconds, 0, size, source))
        if sender:
            spans.append(_span(sender, "", at_ms, seconds, size, 0, source))
    return spans
