"""A VM's workload over time: how fast it rewrites its data, and which of its rewrites are due at an instant.

The generator and the running server follow the same rate. A workload rewrites its VM's data (mostly
the hot part, see lineage.py) at `rate` bytes per second, a rate drawn per VM when it is made (a
share of its own data per day) and kept with its content's lineage, so that a clone or a restored VM
runs the same workload. Templates have none.

The generator ages a VM between two backups by one workload step of `workload_pieces` pieces. The
running server writes one hot piece per step, each due at its own instant: the k-th after the workload
started is due `k` piece intervals later, so a VM's content at an instant does not depend on when
anybody looked at it. A VM whose steps were last applied more than a week ago writes a week's worth
and skips the rest, as the generator does: by then its workload rewrites what it rewrote already.

A workload needs its VM running: powering it off stops it (the part of a piece it was writing is
lost), powering it on starts it again; the generator's history has every VM running until the moment
it was generated (the power state it shows is as of then).
"""

from __future__ import annotations

import math

from openovc.simulator.content.pieces import HOT_CLASS, SIZE_CLASSES

DAY = 86_400
WEEK = 7 * DAY
PIECE = SIZE_CLASSES[HOT_CLASS]


def workload_rate(own_bytes: int, share: float) -> float:
    """Bytes per second of a workload that rewrites `share` of its VM's own data a day."""
    return own_bytes * share / DAY


def workload_pieces(rate: float, seconds: float) -> int:
    """Hot pieces a workload rewrites in `seconds` (a week at most: then it rewrites the same)."""
    return round(rate * min(max(0.0, seconds), WEEK) / PIECE)


def piece_interval_ms(rate: float) -> float:
    """Milliseconds between two of a workload's one-piece steps."""
    return PIECE * 1000 / rate


def first_due(rate: float, now_ms: int) -> int | None:
    """When the first step of a workload starting now is due; None for a VM without a workload."""
    if rate <= 0:
        return None
    return now_ms + math.ceil(piece_interval_ms(rate))


def due_steps(rate: float, due_ms: int, now_ms: int) -> tuple[int, int]:
    """The one-piece steps due by `now_ms` from the one due at `due_ms`, and when the next one is due.

    Steps more than a week's worth behind are skipped (module doc): the next is then due one interval
    after now.
    """
    if rate <= 0:
        raise ValueError("a workload without a rate has no steps")
    if now_ms < due_ms:
        return 0, due_ms
    interval = piece_interval_ms(rate)
    count = math.floor((now_ms - due_ms) / interval) + 1
    cap = max(1, workload_pieces(rate, WEEK))
    if count > cap:
        return cap, now_ms + math.ceil(interval)
    return count, due_ms + math.ceil(count * interval)
