"""How many cores this process may run on: whether long work is worth splitting over forked processes."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """How many cores this process may run on."""
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else os.cpu_count() or 1
