"""Backup rule schedules: which days and local times a policy rule fires, as UTC instants."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 1440


@dataclass(frozen=True)
class Days:
    """A rule's `days`: every day, weekday names, days of the month and/or the month's last day."""

    every_day: bool = False
    weekdays: frozenset[int] = frozenset()
    monthdays: frozenset[int] = frozenset()
    last: bool = False

    def matches(self, day: date) -> bool:
        if self.every_day or day.weekday() in self.weekdays or day.day in self.monthdays:
            return True
        return self.last and day.day == calendar.monthrange(day.year, day.month)[1]


def parse_days(text: str) -> Days:
    """`All`, `Mon,Wed,Fri`, `1,15`, `last` (and mixtures); raises ValueError naming the bad part."""
    tokens = [t.strip().lower() for t in text.split(",")]
    if tokens == ["all"]:
        return Days(every_day=True)
    weekdays: set[int] = set()
    monthdays: set[int] = set()
    last = False
    for token in tokens:
        if token in WEEKDAYS:
            weekdays.add(WEEKDAYS.index(token))
        elif token == "last":
            last = True
        elif token.isdigit() and 1 <= int(token) <= 31:
            monthdays.add(int(token))
        else:
            raise ValueError(
                f"unknown day {token!r} in {text!r} (use All, weekdays like Mon,Wed,Fri, month days like 1,15, or last)"
            )
    return Days(False, frozenset(weekdays), frozenset(monthdays), last)


def parse_clock(text: str) -> int:
    """Minutes after midnight of an `HH:MM` time; raises ValueError."""
    hours, sep, minutes = text.partition(":")
    if sep and len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit():
        h, m = int(hours), int(minutes)
        if h < 24 and m < 60:
            return h * 60 + m
    raise ValueError(f"expected a time HH:MM, got {text!r}")


def instants(
    frequency: int, days: Days, start: int, end: int, tz: ZoneInfo, after: int, before: int
) -> list[int]:
    """Ascending epoch seconds in (after, before) when the rule fires.

    From `start` every `frequency` minutes up to `end` inclusive; an `end` not after `start`
    (the default 00:00) means until midnight. Daily and longer rules fire once, at `start`.
    """
    if frequency >= DAY_MINUTES:
        minutes = [start]
    else:
        stop = end + 1 if end > start else DAY_MINUTES
        minutes = list(range(start, stop, frequency))
    day = datetime.fromtimestamp(after, tz).date() - timedelta(days=1)
    last_day = datetime.fromtimestamp(before, tz).date()
    out: list[int] = []
    while day <= last_day:
        if days.matches(day):
            for minute in minutes:
                local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=tz)
                ts = int(local.timestamp())
                if after < ts < before:
                    out.append(ts)
        day += timedelta(days=1)
    return out
