"""The clock controls of /_openovc/clock: show it (and the schedule's lag), advance it, set it to an instant."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

from openovc.domain.clock import MANUAL, parse_instant
from openovc.domain.errors import InvalidBody
from openovc.domain.timefmt import epoch_ms
from openovc.services.clock import SharedClock, clock_text
from openovc.services.schedule import Counts, PolicyScheduler

MAX_ADVANCE_S = 10 * 366 * 86_400  # ten years at a time
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str) -> float:
    """Seconds of `90s`, `15m`, `6h`, `7d`, `2w` or a plain number of seconds; raises ValueError."""
    found = _DURATION.match(text.lower())
    if found is None:
        raise ValueError(f"expected a duration such as 90s, 15m, 6h or 7d; got {text!r}")
    return float(found.group(1)) * _UNIT_S[found.group(2)]


class TimeControl:
    """What the clock controls do, synchronously: when they answer, every process sees the new time."""

    def __init__(
        self, clock: SharedClock, scheduler: PolicyScheduler, after_move: Sequence[Callable[[], int]] = ()
    ) -> None:
        self._clock = clock
        self._scheduler = scheduler
        # What else comes due as time passes (the hardware's resyncs), settled at the move's end.
        self._after_move = after_move

    def is_manual(self) -> bool:
        """Whether time stands still until told (then only these controls move it)."""
        return self._clock.state().mode == MANUAL

    def show(self) -> dict[str, object]:
        """The clock; on a running one also how far the policy schedule is behind it (a manual clock's
        moves go through every slot before they answer, so it is never behind)."""
        state = self._clock.state()
        shown = state.as_json(self._clock.real_ms())
        if state.mode != MANUAL:
            shown["schedule_lag_seconds"] = self._scheduler.lag_ms() / 1000
        return shown

    def advance(self, body: Mapping[str, object]) -> dict[str, object]:
        seconds = _seconds(body)
        return self._move(self._clock.now_ms() + round(seconds * 1000))

    def set(self, body: Mapping[str, object]) -> dict[str, object]:
        raw = body.get("to")
        if not isinstance(raw, str):
            raise InvalidBody("Invalid body: to: Field required (a time such as 2027-02-01T00:00:00Z)")
        try:
            to = parse_instant(raw)
        except ValueError as problem:
            raise InvalidBody(f"Invalid body: to: {problem}") from None
        now = self._clock.now_ms()
        if epoch_ms(to) < now:
            raise InvalidBody(f"Invalid body: to: the clock cannot go back from {clock_text(now)} to {raw}")
        if epoch_ms(to) - now > MAX_ADVANCE_S * 1000:
            # As advance: the slots of a longer move could pass the last date a datetime holds.
            raise InvalidBody(
                f"Invalid body: to: at most {MAX_ADVANCE_S} seconds (ten years) after {clock_text(now)} "
                f"at a time, got {raw}"
            )
        return self._move(epoch_ms(to))

    def _move(self, target_ms: int) -> dict[str, object]:
        counts: Counts = self._scheduler.advance_to(target_ms)
        for settle in self._after_move:
            settle()
        self._clock.settle()
        return {
            **self.show(),
            "backups_taken": counts.backups_taken,
            "backups_expired": counts.backups_expired,
            "tasks_completed": counts.tasks_completed,
        }


def _seconds(body: Mapping[str, object]) -> float:
    raw = body.get("seconds")
    if raw is None:
        raise InvalidBody("Invalid body: seconds: Field required (how far to move the clock, in seconds)")
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InvalidBody(f"Invalid body: seconds: must be a number of seconds, got {raw!r}")
    try:
        seconds = parse_duration(raw) if isinstance(raw, str) else float(raw)
    except ValueError as problem:
        raise InvalidBody(f"Invalid body: seconds: {problem}") from None
    if seconds != seconds or seconds < 0:
        raise InvalidBody(f"Invalid body: seconds: the clock cannot go back: {raw!r} is negative")
    if seconds > MAX_ADVANCE_S:
        raise InvalidBody(
            f"Invalid body: seconds: at most {MAX_ADVANCE_S} (ten years) at a time, got {raw!r}"
        )
    return seconds
