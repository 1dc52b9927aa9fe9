"""Time as a port: the system clock, and a settable one for tests and simulation."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

from openovc.domain.timefmt import epoch_ms, to_text


class Clock(Protocol):
    """Gives the current UTC time."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock, optionally shifted by an offset."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


class ManualClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._now += delta

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when


# ---- the federation's own clock: real, manual or accelerated, shared by every server process ----------

REAL, MANUAL, ACCELERATED = "real", "manual", "accelerated"


@dataclass(frozen=True)
class ClockState:
    """Where simulated time stands: at `anchor_ms` (simulated) when the real clock read `real_ms`, and how
    it runs from there (real time, standing still, or `rate` times as fast). `version` counts changes."""

    mode: str
    anchor_ms: int
    real_ms: int
    rate: float = 1.0
    version: int = 0

    def at(self, real_now_ms: int) -> int:
        """Simulated epoch milliseconds when the real clock reads `real_now_ms`."""
        if self.mode == MANUAL:
            return self.anchor_ms
        return self.anchor_ms + round((real_now_ms - self.real_ms) * self.rate)

    def moved_to(self, sim_ms: int, real_now_ms: int) -> ClockState:
        """The same clock, set to `sim_ms` now (it runs on from there as before)."""
        return replace(self, anchor_ms=sim_ms, real_ms=real_now_ms, version=self.version + 1)

    def as_json(self, real_now_ms: int) -> dict[str, object]:
        """What GET /_openovc/clock shows: the mode as it was given, and simulated now."""
        mode = f"{ACCELERATED}:{self.rate:g}" if self.mode == ACCELERATED else self.mode
        return {"mode": mode, "now": to_text(datetime.fromtimestamp(self.at(real_now_ms) / 1000, UTC))}


def parse_clock_mode(text: str, real_now_ms: int) -> ClockState:
    """`real`, `manual`, `manual:<ISO time>` or `accelerated:<N>`; raises ValueError naming the problem.

    A clock starts at real now unless `manual:` names its start.
    """
    kind, _, arg = text.strip().partition(":")
    kind = kind.lower()
    if kind == REAL and not arg:
        return ClockState(REAL, real_now_ms, real_now_ms)
    if kind == MANUAL:
        start = real_now_ms if not arg else epoch_ms(parse_instant(arg))
        return ClockState(MANUAL, start, real_now_ms, 0.0)
    if kind == ACCELERATED:
        try:
            rate = float(arg)
        except ValueError:
            raise ValueError(
                f"accelerated needs a speed-up factor, as in accelerated:60; got {text!r}"
            ) from None
        if not 0 < rate <= 1_000_000 or rate != rate:
            raise ValueError(f"the speed-up factor must be above 0 and at most 1000000; got {arg!r}")
        return ClockState(ACCELERATED, real_now_ms, real_now_ms, rate)
    raise ValueError(f"clock mode must be real, manual, manual:<time> or accelerated:<factor>; got {text!r}")


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with its offset (`2027-01-04T00:30:00Z`); raises ValueError."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"expected a time such as 2027-01-04T00:30:00Z; got {text!r}") from None
    if when.tzinfo is None:
        raise ValueError(f"the time must name its offset (Z or +hh:mm); got {text!r}")
    return when.astimezone(UTC)
