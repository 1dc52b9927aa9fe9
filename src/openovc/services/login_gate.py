"""A cap on the password checks one server process runs at once, in a small thread pool of their own."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Logins that may wait for a free slot, per slot: a few clients logging in together all get in (a
# check takes about a third of a second), a flood gets refused at once instead of piling up.
WAITING_PER_SLOT = 4
RETRY_AFTER_S = 1
# Password-check threads run at a lower priority (a higher nice value) than the request threads: a
# flood of checks then takes the CPU left over, and other requests keep their latency.
CHECK_NICENESS = 10


class LoginBusy(Exception):
    """Every password-check slot is taken and enough logins wait: the client should retry shortly."""

    def __init__(self, retry_after_s: int = RETRY_AFTER_S) -> None:
        super().__init__("Too many logins at once; try again shortly")
        self.retry_after_s = retry_after_s


class PasswordCheckGate:
    """Runs at most `slots` logins at once in its own threads, lets a few more wait, refuses the rest.

    One source (domain.lockout.source_key) may hold at most half the places, running or waiting: a flood
    from one address leaves the other half to everyone else.
    """

    def __init__(self, slots: int, waiting_per_slot: int = WAITING_PER_SLOT) -> None:
        if slots < 1:
            raise ValueError("at least one password check must be allowed")
        self.slots = slots
        self.capacity = slots * (1 + waiting_per_slot)
        self.per_source = max(1, self.capacity // 2)
        self._admitted = 0
        self._by_source: Counter[str] = Counter()
        self._lock = threading.Lock()
        # Own threads: a check never holds one of the threads the other requests are served from.
        self._pool = ThreadPoolExecutor(slots, thread_name_prefix="openovc-password", initializer=_yield_cpu)

    @property
    def admitted(self) -> int:
        """Logins running or waiting now."""
        return self._admitted

    def submit(self, check: Callable[[], T], source: str = "") -> Future[T]:
        """Run `check` in the pool; LoginBusy when `capacity` logins, or `per_source` from this source,
        are already running or waiting."""
        with self._lock:
            if self._admitted >= self.capacity or self._by_source[source] >= self.per_source:
                raise LoginBusy()
            self._admitted += 1
            self._by_source[source] += 1
        release = functools.partial(self._release, source)
        try:
            future = self._pool.submit(check)
        except BaseException:
            release()
            raise
        future.add_done_callback(release)
        return future

    def _release(self, source: str, _done: object = None) -> None:
        with self._lock:
            self._admitted -= 1
            self._by_source[source] -= 1
            if not self._by_source[source]:
                del self._by_source[source]  # the counter holds only the sources with logins in flight


def _yield_cpu() -> None:
    # On Linux a nice value is per thread; the hash's own worker threads, started from this one, inherit it.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CHECK_NICENESS)
