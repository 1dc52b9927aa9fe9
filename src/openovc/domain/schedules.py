"""Backup rule arithmetic: when a rule fires, how many backups it takes and keeps, and the schedule report.

A rule fires on the days its `days` names, from `start_time` every `frequency` minutes up to
`end_time` inclusive; an `end_time` not after `start_time` (the default 00:00) means until
midnight, and a rule of a day or more fires once a day, at `start_time` (every N-th day, for a rule of
N days that runs every day). Times are local to the cluster's time zone, daylight-saving changes
included (see `slots`); shares of days do not depend on it.

The schedule report (`GET /policies/policy_schedule_report`, and the impact reports) weighs each
rule by the ALIVE VMs of its policy:

    daily_backup_rate          = sum of runs_per_day(rule) x VMs
    projected_retained_backups = sum of min(runs_per_day(rule) x retention days, max_backups) x VMs
    daily_backup_rate_limit    = DAILY_BACKUPS_PER_HOST x hosts
    retained_backups_limit     = RETAINED_BACKUPS_PER_HOST x hosts
    *_level                    = value x 100 // limit (whole percent, rounded down)

HPE publishes no values for the limits, so they are budgets per host: federation capacity
grows with the hosts that take and store the backups.
"""

from __future__ import annotations

import bisect
import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MINUTES = 1440

# Budgets per host (not REMOVED) of the federation or cluster group the report covers.
DAILY_BACKUPS_PER_HOST = 2_000  # a policy backup started about every 43 s, around the clock
RETAINED_BACKUPS_PER_HOST = 10_000

# Weekdays and month days repeat together every 28 years between 1901 and 2099: averaging over
# one such cycle gives the exact share of days a mixed list (e.g. `Mon,15,last`) names.
_CYCLE_START = date(2001, 1, 1)
_CYCLE_DAYS = 10_227


@dataclass(frozen=True)
class Days:
    """A rule's `days`: every day, weekday names, days of the month and/or the month's last day."""

    every_day: bool = False
    weekdays: frozenset[int] = frozenset()  # Monday = 0
    monthdays: frozenset[int] = frozenset()
    last: bool = False

    def matches(self, day: date) -> bool:
        if self.every_day or day.weekday() in self.weekdays or day.day in self.monthdays:
            return True
        return self.last and day.day == calendar.monthrange(day.year, day.month)[1]


def parse_days(text: str) -> Days:
    """`All`, `Mon,Wed,Fri`, `1,15`, `last` (any case, and mixtures); raises ValueError naming the bad part."""
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
                f"unknown day {token!r} in {text!r} "
                "(use All, weekdays like Mon,Wed,Fri, month days like 1,15, or last)"
            )
    return Days(False, frozenset(weekdays), frozenset(monthdays), last)


def parse_clock(text: str) -> int:
    """Minutes after midnight of an `HH:MM` time; raises ValueError."""
    hours, sep, minutes = text.strip().partition(":")
    if sep and len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit():
        h, m = int(hours), int(minutes)
        if h < 24 and m < 60:
            return h * 60 + m
    raise ValueError(f"expected a time HH:MM, got {text!r}")


def _positive(rule: Mapping[str, object], name: str) -> int:
    raw = rule.get(name)
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueError(f"rule {name} must be an integer, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"rule {name} must be at least 1, got {value}")
    return value


def _text(rule: Mapping[str, object], name: str, default: str) -> str:
    raw = rule.get(name)
    return default if raw is None or str(raw).strip() == "" else str(raw)


@dataclass(frozen=True)
class Rule:
    """The schedule part of a policy rule."""

    frequency: int  # minutes between backups
    retention: int  # minutes each backup is kept
    days: Days = Days(every_day=True)
    start: int = 0  # minutes after local midnight
    end: int = 0
    max_backups: int | None = None  # None or 0: no cap beyond retention

    @classmethod
    def from_record(cls, rule: Mapping[str, object]) -> Rule:
        """A stored or requested rule (numbers may arrive as strings); raises ValueError."""
        cap = rule.get("max_backups")
        return cls(
            frequency=_positive(rule, "frequency"),
            retention=_positive(rule, "retention"),
            days=parse_days(_text(rule, "days", "All")),
            start=parse_clock(_text(rule, "start_time", "00:00")),
            end=parse_clock(_text(rule, "end_time", "00:00")),
            max_backups=int(str(cap)) if cap not in (None, "") else None,
        )


def daily_times(rule: Rule) -> list[int]:
    """Minutes after local midnight at which the rule fires, on a day it runs."""
    if rule.frequency >= DAY_MINUTES:
        return [rule.start]
    stop = rule.end + 1 if rule.end > rule.start else DAY_MINUTES
    return list(range(rule.start, stop, rule.frequency))


def day_step(rule: Rule) -> int:
    """Every how many days a rule of several days' frequency runs (1 for a day or less).

    Only a rule that runs every day can skip days: one that names its days runs on each of them.
    """
    return max(1, rule.frequency // DAY_MINUTES) if rule.days.every_day else 1


@lru_cache(maxsize=256)
def day_share(days: Days) -> float:
    """The long-run share of days on which a rule with these `days` runs."""
    if days.every_day:
        return 1.0
    if not days.monthdays and not days.last:
        return len(days.weekdays) / 7
    hits = sum(days.matches(_CYCLE_START + timedelta(days=n)) for n in range(_CYCLE_DAYS))
    return hits / _CYCLE_DAYS


def runs_per_day(rule: Rule) -> float:
    """Backups one VM gets from the rule, averaged per day."""
    return len(daily_times(rule)) * day_share(rule.days) / day_step(rule)


def retained(rule: Rule) -> float:
    """Backups of one VM the rule keeps at any time, on average: runs over the retention, capped."""
    kept = runs_per_day(rule) * rule.retention / DAY_MINUTES
    if rule.max_backups:
        kept = min(kept, float(rule.max_backups))
    return kept


def slots(rule: Rule, tz: tzinfo, after: int, upto: int) -> list[int]:
    """Ascending epoch seconds t, after < t <= upto, at which the rule fires in the zone `tz`.

    A slot is a local wall time on a day the rule runs; it fires when the zone's clock first reads it.
    So a time the clock skips (spring forward) fires at the end of the gap, a time it reads twice (fall
    back) fires once, at its first reading, and slots that land on one instant fire once.
    """
    if upto <= after:
        return []
    day = datetime.fromtimestamp(after, tz).date() - timedelta(days=1)
    last_day = datetime.fromtimestamp(upto, tz).date() + timedelta(days=1)
    found: set[int] = set()
    while day <= last_day:
        times = _day_slots(rule, tz, day)
        found.update(times[bisect.bisect_right(times, after) : bisect.bisect_right(times, upto)])
        day += timedelta(days=1)
    return sorted(found)


@lru_cache(maxsize=4096)
def _day_slots(rule: Rule, tz: tzinfo, day: date) -> tuple[int, ...]:
    """The instants of the rule's slots on one local day (none on a day it does not run), ascending."""
    if not rule.days.matches(day) or day.toordinal() % day_step(rule):
        return ()
    walls = (datetime(day.year, day.month, day.day, m // 60, m % 60) for m in daily_times(rule))
    return tuple(sorted({_first_reading(wall, tz) for wall in walls}))


def _first_reading(wall: datetime, tz: tzinfo) -> int:
    """The first instant at which the zone's clock reads the naive `wall` time (or, skipped, passes it)."""
    early = int(wall.replace(tzinfo=tz, fold=0).timestamp())
    if datetime.fromtimestamp(early, tz).replace(tzinfo=None) == wall:
        return early  # it exists; fold 0 is its first reading when the clock reads it twice
    # Skipped: fold 1 reads it with the offset after the gap, which lands before the gap; fold 0 after.
    low, high = int(wall.replace(tzinfo=tz, fold=1).timestamp()), early
    while low < high:
        mid = (low + high) // 2
        if datetime.fromtimestamp(mid, tz).replace(tzinfo=None) >= wall:
            high = mid
        else:
            low = mid + 1
    return low


def fire_times(rule: Rule, tz: tzinfo, after: int, before: int) -> list[int]:
    """Ascending epoch seconds in (after, before) when the rule fires, in the zone `tz`."""
    return slots(rule, tz, after, before - 1)


@dataclass(frozen=True)
class PolicyLoad:
    """A policy's rules and how many ALIVE VMs use it."""

    rules: tuple[Rule, ...]
    vm_count: int

    @classmethod
    def from_records(cls, rules: Sequence[Mapping[str, object]], vm_count: int) -> PolicyLoad:
        return cls(tuple(Rule.from_record(r) for r in rules), vm_count)


@dataclass(frozen=True)
class ScheduleReport:
    """The `policy_schedule_report` object."""

    daily_backup_rate: int
    daily_backup_rate_limit: int
    backup_rate_level: int
    projected_retained_backups: int
    retained_backups_limit: int
    projected_retained_backups_level: int

    def as_dict(self) -> dict[str, int]:
        return {
            "daily_backup_rate": self.daily_backup_rate,
            "daily_backup_rate_limit": self.daily_backup_rate_limit,
            "backup_rate_level": self.backup_rate_level,
            "projected_retained_backups": self.projected_retained_backups,
            "retained_backups_limit": self.retained_backups_limit,
            "projected_retained_backups_level": self.projected_retained_backups_level,
        }


def _level(value: int, limit: int) -> int:
    return value * 100 // limit if limit > 0 else 0


def _round(value: float) -> int:
    return int(value + 0.5)


def schedule_report(policies: Iterable[PolicyLoad], host_count: int) -> ScheduleReport:
    """What the policies will take and keep, against the budgets of `host_count` hosts."""
    daily = 0.0
    kept = 0.0
    for policy in policies:
        for rule in policy.rules:
            daily += runs_per_day(rule) * policy.vm_count
            kept += retained(rule) * policy.vm_count
    rate, projected = _round(daily), _round(kept)
    rate_limit = DAILY_BACKUPS_PER_HOST * host_count
    kept_limit = RETAINED_BACKUPS_PER_HOST * host_count
    return ScheduleReport(
        daily_backup_rate=rate,
        daily_backup_rate_limit=rate_limit,
        backup_rate_level=_level(rate, rate_limit),
        projected_retained_backups=projected,
        retained_backups_limit=kept_limit,
        projected_retained_backups_level=_level(projected, kept_limit),
    )
