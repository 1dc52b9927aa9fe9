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
    spans = [_span(host, vm, began_ms, plan.take, size // METADATA_SHARE, 0, backup)] if host else []
    if plan.send and plan.sent:
        sending = began_ms + plan.take * 1000
        if host:
            spans.append(_span(host, vm, sending, plan.send, plan.sent, 0, backup))
        if receiver:
            spans.append(_span(receiver, "", sending, plan.send, 0, plan.sent, backup))
    return spans


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
