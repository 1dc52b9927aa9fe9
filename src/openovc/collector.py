"""The cyclic garbage collector paused while a command starts, and what the start made kept out of it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """No collection inside, and the collector as it was after.

    A start makes hundreds of thousands of objects that live as long as the process (modules, classes,
    routes, the store's tables) and almost no garbage in cycles: the collector's passes over them cost
    100 to 150 ms of a fresh `serve`'s CPU (docs/architecture.md, Start-up).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def keep_started() -> None:
    """Move every object so far into the permanent generation, which no collection walks: a server's
    later full collections then skip what its start made. The few hundred objects the start left
    unreachable in cycles stay with them."""
    gc.freeze()
