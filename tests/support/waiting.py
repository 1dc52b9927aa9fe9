"""Waiting for a condition instead of sleeping a fixed time and hoping it came true meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T | None],
    *,
    timeout: float = 10.0,
    interval: float = 0.01,
    what: str | None = None,
) -> T:
    """Call `predicate` every `interval` seconds until it returns something truthy, and return that.

    Raises AssertionError naming `what` (or the predicate) when `timeout` seconds pass first; the
    predicate is always tried at least once, and a last time once the deadline has passed.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    name = what or getattr(predicate, "__qualname__", repr(predicate))
    raise AssertionError(f"{name} did not happen within {timeout:g} s (last seen: {value!r})")
