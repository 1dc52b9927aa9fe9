"""The federation's clock: real, manual or accelerated, its state shared through the store by every process.

Everything the API shows happens at this clock's time (tasks, backups, metrics); tokens alone live on
real time. Each process re-reads the shared state at most every `FRESH_S` seconds, and a change waits
twice that long before it answers, so the next call to any process sees it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from openovc.domain.clock import MANUAL, Clock, ClockState, SystemClock, parse_clock_mode
from openovc.domain.errors import InvalidBody
from openovc.domain.ports.clock import ClockStore
from openovc.domain.timefmt import epoch_ms, to_text

FRESH_S = 0.05


class ClockConflict(Exception):
    """Another process kept changing the clock: this change did not land."""


class SharedClock:
    """The Clock port over the shared state; `real` reads real time (only tests give another)."""

    def __init__(self, store: ClockStore, real: Clock | None = None) -> None:
        self._store = store
        self._real = real or SystemClock()
        self._lock = threading.Lock()
        self._cached: ClockState | None = None
        self._read_at = 0.0
        self._loading = False  # a thread is reading the state from the store now
        self._passing: int | None = None  # while a move goes through its instants (see passing)

    def real_ms(self) -> int:
        """Real epoch milliseconds, as the state's `at` reads them."""
        return epoch_ms(self._real.now())

    def start(self, mode: str) -> ClockState:
        """At a server's start: the clock runs as `mode` says, from where it stands (never backwards).

        A new store's clock starts where the mode says; a stored clock keeps its time and takes the
        mode's pace from there, and a `manual:<time>` later than it moves it on to that time.
        """
        try:
            wanted = parse_clock_mode(mode, self.real_ms())
        except ValueError as problem:
            raise InvalidBody(f"Invalid clock: {problem}") from None
        for _ in range(20):
            stored = self._store.load()
            if stored is None:
                new = wanted
            else:
                real_now = self.real_ms()
                at = max(stored.at(real_now), wanted.anchor_ms if wanted.mode == MANUAL else 0)
                new = ClockState(wanted.mode, at, real_now, wanted.rate, stored.version + 1)
                if (new.mode, new.rate, new.anchor_ms) == (stored.mode, stored.rate, stored.at(real_now)):
                    new = stored  # the same clock, running on as it was
            if new is stored or self._store.save(new, stored):
                return self._remember(new)
        raise ClockConflict("the clock kept changing while this server started")

    def state(self) -> ClockState:
        """The shared state, as fresh as FRESH_S (while another thread reads it anew, up to half as old again).

        One thread reads the store at a time: under load tens of threads found it stale at once, and each
        read it, some inside the store's single write turn.
        """
        with self._lock:
            cached, age = self._cached, time.monotonic() - self._read_at
            if cached is not None and (age < FRESH_S or (self._loading and age < 1.5 * FRESH_S)):
                return cached
            self._loading = True
        try:
            stored = self._store.load()
        finally:
            with self._lock:
                self._loading = False
        if stored is None:
            return self._remember(ClockState("real", 0, 0))
        return self._remember(stored)

    def _remember(self, state: ClockState) -> ClockState:
        with self._lock:
            self._cached, self._read_at = state, time.monotonic()
        return state

    def now_ms(self) -> int:
        passing = self._passing
        return passing if passing is not None else self.state().at(self.real_ms())

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ms() / 1000, UTC)

    def move_to(self, sim_ms: int) -> ClockState:
        """Set simulated time to `sim_ms` (it runs on from there as before); never backwards."""
        for _ in range(20):
            stored = self._store.load() or self.start("real")
            real_now = self.real_ms()
            current = stored.at(real_now)
            if sim_ms < current:
                raise InvalidBody(
                    f"Invalid body: the clock cannot go back from {clock_text(current)} to {clock_text(sim_ms)}"
                )
            new = stored.moved_to(sim_ms, real_now)
            if self._store.save(new, stored):
                return self._remember(new)
        raise ClockConflict("the clock kept changing while it was being moved")

    @contextmanager
    def passing(self) -> Iterator[Callable[[int], None]]:
        """While a move goes through its instants, this process reads each as now (what runs at an
        instant is stamped with it) without writing every one to the store; the move writes where it ends."""
        try:
            yield self._pass
        finally:
            self._passing = None

    def _pass(self, sim_ms: int) -> None:
        self._passing = max(sim_ms, self._passing or 0)

    @staticmethod
    def settle() -> None:
        """Wait until every process has let go of the state it read before a change."""
        time.sleep(2 * FRESH_S)


def clock_text(ms: int) -> str:
    """Simulated epoch milliseconds as the API writes times."""
    return to_text(datetime.fromtimestamp(ms / 1000, UTC))
