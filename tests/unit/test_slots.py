"""`slots`: the instants a rule fires, in exact examples, at the window's edges and against a brute force.

A slot is a local wall time on a day the rule runs; it fires when the zone's clock FIRST reads it: a time
the clock skips fires at the end of the gap, a time it reads twice fires at its first reading, and slots
landing on one instant fire once. The brute force below walks the clock minute by minute to say the same.
"""

from __future__ import annotations

import bisect
import calendar
import itertools
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openovc.domain.schedules import (
    WEEKDAYS,
    Rule,
    daily_times,
    parse_clock,
    parse_days,
    runs_per_day,
    slots,
)

DAY = 86_400


def rule(days: str = "All", frequency: int = 1440, start: str = "00:00", end: str = "00:00") -> Rule:
    return Rule(frequency, 1440, parse_days(days), parse_clock(start), parse_clock(end))


def at(text: str) -> int:
    """Epoch seconds of an ISO time with its offset, e.g. `2027-03-14T03:00-04:00`."""
    return int(datetime.fromisoformat(text).timestamp())


def iso(times: list[int], tz: tzinfo) -> list[str]:
    return [datetime.fromtimestamp(t, tz).isoformat(timespec="minutes") for t in times]


def midnight(day: date, tz: tzinfo) -> int:
    """The first instant of a local day (fold 0 of a skipped midnight lands at the end of the gap)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def fires(r: Rule, zone: str, first: str, last: str | None = None) -> list[str]:
    """The rule's firings over the local days first..last (inclusive), as local ISO times."""
    tz = ZoneInfo(zone)
    end = date.fromisoformat(last or first) + timedelta(days=1)
    return iso(slots(r, tz, midnight(date.fromisoformat(first), tz) - 1, midnight(end, tz) - 1), tz)


# ---- days ---------------------------------------------------------------------------------------


def test_every_day() -> None:
    assert fires(rule(start="08:00"), "UTC", "2027-01-01", "2027-01-03") == [
        "2027-01-01T08:00+00:00", "2027-01-02T08:00+00:00", "2027-01-03T08:00+00:00",
    ]  # fmt: skip


def test_weekdays() -> None:
    # 2027-01-04 is a Monday.
    assert fires(rule("Mon,Wed,Fri", start="09:30"), "America/New_York", "2027-01-04", "2027-01-17") == [
        "2027-01-04T09:30-05:00", "2027-01-06T09:30-05:00", "2027-01-08T09:30-05:00",
        "2027-01-11T09:30-05:00", "2027-01-13T09:30-05:00", "2027-01-15T09:30-05:00",
    ]  # fmt: skip
    assert fires(rule("sat, SUN"), "UTC", "2027-01-01", "2027-01-10") == [
        "2027-01-02T00:00+00:00", "2027-01-03T00:00+00:00", "2027-01-09T00:00+00:00", "2027-01-10T00:00+00:00",
    ]  # fmt: skip


def test_month_days() -> None:
    assert fires(rule("1,15", start="06:00"), "UTC", "2027-01-01", "2027-03-31") == [
        "2027-01-01T06:00+00:00", "2027-01-15T06:00+00:00", "2027-02-01T06:00+00:00",
        "2027-02-15T06:00+00:00", "2027-03-01T06:00+00:00", "2027-03-15T06:00+00:00",
    ]  # fmt: skip


def test_last_day_of_the_month() -> None:
    assert fires(rule("last", start="23:30"), "UTC", "2027-01-01", "2027-04-30") == [
        "2027-01-31T23:30+00:00", "2027-02-28T23:30+00:00", "2027-03-31T23:30+00:00", "2027-04-30T23:30+00:00",
    ]  # fmt: skip
    assert fires(rule("last", start="23:30"), "UTC", "2028-02-01", "2028-03-30") == ["2028-02-29T23:30+00:00"]


def test_month_days_a_short_month_lacks() -> None:
    """29, 30 and 31 do not happen in months without them (no spill into the next month)."""
    assert fires(rule("29,30,31"), "UTC", "2027-01-28", "2027-05-01") == [
        "2027-01-29T00:00+00:00", "2027-01-30T00:00+00:00", "2027-01-31T00:00+00:00",
        "2027-03-29T00:00+00:00", "2027-03-30T00:00+00:00", "2027-03-31T00:00+00:00",
        "2027-04-29T00:00+00:00", "2027-04-30T00:00+00:00",
    ]  # fmt: skip
    assert fires(rule("29"), "UTC", "2028-01-30", "2028-03-28") == ["2028-02-29T00:00+00:00"]  # leap year
    assert fires(rule("30,31"), "UTC", "2028-02-01", "2028-02-29") == []


def test_a_day_named_twice_fires_once() -> None:
    assert fires(rule("31,last", start="12:00"), "UTC", "2027-01-01", "2027-04-30") == [
        "2027-01-31T12:00+00:00", "2027-02-28T12:00+00:00", "2027-03-31T12:00+00:00", "2027-04-30T12:00+00:00",
    ]  # fmt: skip


def test_mixtures_of_weekdays_month_days_and_last() -> None:
    # February 2027: Mondays 1, 8, 15 (also the 15th), 22; the last day, the 28th, is a Sunday.
    assert fires(rule("Mon,15,last", start="07:00"), "Europe/Berlin", "2027-02-01", "2027-02-28") == [
        "2027-02-01T07:00+01:00", "2027-02-08T07:00+01:00", "2027-02-15T07:00+01:00",
        "2027-02-22T07:00+01:00", "2027-02-28T07:00+01:00",
    ]  # fmt: skip
    # February 2028 (leap): Mondays 7, 14, 21, 28; the 15th a Tuesday; the last day the 29th.
    assert fires(rule("mon,15,LAST", start="07:00"), "Europe/Berlin", "2028-02-01", "2028-02-29") == [
        "2028-02-07T07:00+01:00", "2028-02-14T07:00+01:00", "2028-02-15T07:00+01:00",
        "2028-02-21T07:00+01:00", "2028-02-28T07:00+01:00", "2028-02-29T07:00+01:00",
    ]  # fmt: skip


# ---- times of day -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "start", "end", "minutes"),
    [
        (60, "08:00", "10:00", [480, 540, 600]),  # the end is inclusive
        (60, "08:00", "09:59", [480, 540]),
        (240, "08:00", "08:00", [480, 720, 960, 1200]),  # end == start: until midnight
        (360, "00:00", "00:00", [0, 360, 720, 1080]),
        (60, "22:00", "02:00", [1320, 1380]),  # end before start: until midnight, not past it
        (90, "23:00", "00:00", [1380]),
        (1440, "08:00", "20:00", [480]),  # a day or more: once, at the start; the end is ignored
        (2880, "05:15", "00:00", [315]),
    ],
)
def test_daily_times(frequency: int, start: str, end: str, minutes: list[int]) -> None:
    assert daily_times(rule(frequency=frequency, start=start, end=end)) == minutes


def test_a_window_across_midnight_stops_at_midnight() -> None:
    assert fires(rule(frequency=60, start="22:00", end="02:00"), "UTC", "2027-01-01", "2027-01-02") == [
        "2027-01-01T22:00+00:00", "2027-01-01T23:00+00:00", "2027-01-02T22:00+00:00", "2027-01-02T23:00+00:00",
    ]  # fmt: skip


def test_a_window_across_midnight_runs_on_the_days_named_only() -> None:
    # Friday 2027-01-01 from 22:00; nothing spills into Saturday morning.
    assert fires(rule("Fri", 60, "22:00", "02:00"), "UTC", "2027-01-01", "2027-01-03") == [
        "2027-01-01T22:00+00:00", "2027-01-01T23:00+00:00",
    ]  # fmt: skip


# ---- daylight saving ----------------------------------------------------------------------------


def test_new_york_spring_forward() -> None:
    """2027-03-14: 02:00 EST becomes 03:00 EDT; 02:00, 02:30 and 03:00 all fire at the jump, once."""
    assert fires(rule(frequency=30, start="01:00", end="04:00"), "America/New_York", "2027-03-14") == [
        "2027-03-14T01:00-05:00", "2027-03-14T01:30-05:00", "2027-03-14T03:00-04:00",
        "2027-03-14T03:30-04:00", "2027-03-14T04:00-04:00",
    ]  # fmt: skip
    assert fires(rule(start="02:30"), "America/New_York", "2027-03-13", "2027-03-15") == [
        "2027-03-13T02:30-05:00", "2027-03-14T03:00-04:00", "2027-03-15T02:30-04:00",
    ]  # fmt: skip


def test_new_york_fall_back() -> None:
    """2027-11-07: 02:00 EDT becomes 01:00 EST; 01:00 and 01:30 fire at their first (EDT) reading only."""
    assert fires(rule(frequency=30, start="01:00", end="04:00"), "America/New_York", "2027-11-07") == [
        "2027-11-07T01:00-04:00", "2027-11-07T01:30-04:00", "2027-11-07T02:00-05:00",
        "2027-11-07T02:30-05:00", "2027-11-07T03:00-05:00", "2027-11-07T03:30-05:00", "2027-11-07T04:00-05:00",
    ]  # fmt: skip
    assert fires(rule(start="01:30"), "America/New_York", "2027-11-06", "2027-11-08") == [
        "2027-11-06T01:30-04:00", "2027-11-07T01:30-04:00", "2027-11-08T01:30-05:00",
    ]  # fmt: skip


def test_berlin() -> None:
    hourly = rule(frequency=60, start="00:00", end="05:00")
    assert fires(hourly, "Europe/Berlin", "2027-03-28") == [  # 02:00 CET becomes 03:00 CEST
        "2027-03-28T00:00+01:00", "2027-03-28T01:00+01:00", "2027-03-28T03:00+02:00",
        "2027-03-28T04:00+02:00", "2027-03-28T05:00+02:00",
    ]  # fmt: skip
    assert fires(hourly, "Europe/Berlin", "2027-10-31") == [  # 03:00 CEST becomes 02:00 CET
        "2027-10-31T00:00+02:00", "2027-10-31T01:00+02:00", "2027-10-31T02:00+02:00",
        "2027-10-31T03:00+01:00", "2027-10-31T04:00+01:00", "2027-10-31T05:00+01:00",
    ]  # fmt: skip


def test_sydney_southern_hemisphere() -> None:
    hourly = rule(frequency=60, start="01:00", end="04:00")
    assert fires(hourly, "Australia/Sydney", "2027-04-04") == [  # 03:00 AEDT becomes 02:00 AEST
        "2027-04-04T01:00+11:00", "2027-04-04T02:00+11:00", "2027-04-04T03:00+10:00", "2027-04-04T04:00+10:00",
    ]  # fmt: skip
    assert fires(hourly, "Australia/Sydney", "2027-10-03") == [  # 02:00 AEST becomes 03:00 AEDT
        "2027-10-03T01:00+10:00", "2027-10-03T03:00+11:00", "2027-10-03T04:00+11:00",
    ]  # fmt: skip
    assert fires(rule(start="02:00"), "Australia/Sydney", "2027-07-01") == ["2027-07-01T02:00+10:00"]
    assert fires(rule(start="02:00"), "Australia/Sydney", "2027-01-01") == ["2027-01-01T02:00+11:00"]


def test_adelaide_half_hour_zone() -> None:
    quarterly = rule(frequency=15, start="01:45", end="03:15")
    assert fires(quarterly, "Australia/Adelaide", "2027-10-03") == [  # 02:00 +09:30 becomes 03:00 +10:30
        "2027-10-03T01:45+09:30", "2027-10-03T03:00+10:30", "2027-10-03T03:15+10:30",
    ]  # fmt: skip
    assert fires(quarterly, "Australia/Adelaide", "2027-04-04") == [  # 03:00 +10:30 becomes 02:00 +09:30
        "2027-04-04T01:45+10:30", "2027-04-04T02:00+10:30", "2027-04-04T02:15+10:30", "2027-04-04T02:30+10:30",
        "2027-04-04T02:45+10:30", "2027-04-04T03:00+09:30", "2027-04-04T03:15+09:30",
    ]  # fmt: skip


def test_kolkata_has_no_daylight_saving() -> None:
    tz = ZoneInfo("Asia/Kolkata")
    assert fires(rule(start="02:30"), "Asia/Kolkata", "2027-03-13", "2027-03-15") == [
        "2027-03-13T02:30+05:30", "2027-03-14T02:30+05:30", "2027-03-15T02:30+05:30",
    ]  # fmt: skip
    for day in ("2027-03-14", "2027-03-28", "2027-11-07"):
        assert len(fires(rule(frequency=1), "Asia/Kolkata", day)) == 1440
    assert slots(rule(), tz, at("2027-06-30T18:29+00:00"), at("2027-06-30T18:30+00:00")) == [
        at("2027-06-30T18:30+00:00")
    ]


def test_kathmandu_quarter_hour_zone() -> None:
    tz = ZoneInfo("Asia/Kathmandu")
    times = slots(rule(frequency=360), tz, at("2027-01-01T00:00+05:45") - 1, at("2027-01-02T00:00+05:45") - 1)
    assert iso(times, UTC) == [
        "2026-12-31T18:15+00:00", "2027-01-01T00:15+00:00", "2027-01-01T06:15+00:00", "2027-01-01T12:15+00:00",
    ]  # fmt: skip
    # 1986-01-01: +05:30 became +05:45, so the clock jumped from 00:00 to 00:15 (a 15-minute gap at midnight).
    assert fires(rule(frequency=5, start="00:00", end="00:30"), "Asia/Kathmandu", "1986-01-01") == [
        "1986-01-01T00:15+05:45", "1986-01-01T00:20+05:45", "1986-01-01T00:25+05:45", "1986-01-01T00:30+05:45",
    ]  # fmt: skip


def test_sao_paulo_midnight_transitions() -> None:
    """Brazil moved its clocks at midnight: 2018-11-04 had no 00:00 hour; 2018-02-17 had 23:00 twice."""
    assert fires(rule(), "America/Sao_Paulo", "2018-11-03", "2018-11-05") == [
        "2018-11-03T00:00-03:00", "2018-11-04T01:00-02:00", "2018-11-05T00:00-02:00",
    ]  # fmt: skip
    assert fires(rule(frequency=30, start="22:30"), "America/Sao_Paulo", "2018-02-17", "2018-02-18") == [
        "2018-02-17T22:30-02:00", "2018-02-17T23:00-02:00", "2018-02-17T23:30-02:00",  # not again at -03:00
        "2018-02-18T22:30-03:00", "2018-02-18T23:00-03:00", "2018-02-18T23:30-03:00",
    ]  # fmt: skip


def test_lord_howe_half_hour_shift() -> None:
    """Lord Howe Island moves its clock by 30 minutes: 02:00 +10:30 becomes 02:30 +11:00 on 2027-10-03."""
    assert fires(rule(frequency=10, start="01:50", end="02:40"), "Australia/Lord_Howe", "2027-10-03") == [
        "2027-10-03T01:50+10:30", "2027-10-03T02:30+11:00", "2027-10-03T02:40+11:00",
    ]  # fmt: skip


def test_a_whole_skipped_day_fires_once() -> None:
    """Samoa skipped 2011-12-30: its slots and the 31st's midnight land on one instant and fire once."""
    assert fires(rule(frequency=360), "Pacific/Apia", "2011-12-29", "2011-12-31") == [
        "2011-12-29T00:00-10:00", "2011-12-29T06:00-10:00", "2011-12-29T12:00-10:00", "2011-12-29T18:00-10:00",
        "2011-12-31T00:00+14:00", "2011-12-31T06:00+14:00", "2011-12-31T12:00+14:00", "2011-12-31T18:00+14:00",
    ]  # fmt: skip


# ---- frequencies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day", "count"),
    [
        ("UTC", "2027-03-14", 1440),
        ("America/New_York", "2027-01-15", 1440),
        ("America/New_York", "2027-03-14", 1380),  # 23 hours: the skipped hour's 60 minutes fire as one
        ("America/New_York", "2027-11-07", 1440),  # 25 hours, but the repeated hour fires once, not 1500
        ("Europe/Berlin", "2027-03-28", 1380),
        ("Europe/Berlin", "2027-10-31", 1440),
        ("Australia/Lord_Howe", "2027-10-03", 1410),
    ],
)
def test_every_minute(zone: str, day: str, count: int) -> None:
    times = fires(rule(frequency=1), zone, day)
    assert len(times) == count == len(set(times))


def test_every_minute_on_the_fall_back_day_in_new_york() -> None:
    tz = ZoneInfo("America/New_York")
    times = slots(
        rule(frequency=1), tz, midnight(date(2027, 11, 7), tz) - 1, midnight(date(2027, 11, 8), tz) - 1
    )
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps.count(60) == len(gaps) - 1 and max(gaps) == 3660  # 01:59 EDT, then nothing until 02:00 EST
    assert iso(times[119:121], tz) == ["2027-11-07T01:59-04:00", "2027-11-07T02:00-05:00"]


def test_daily() -> None:
    assert fires(rule(frequency=1440, start="23:59"), "UTC", "2027-01-01", "2027-01-03") == [
        "2027-01-01T23:59+00:00", "2027-01-02T23:59+00:00", "2027-01-03T23:59+00:00",
    ]  # fmt: skip


def test_several_days() -> None:
    """Every N-th day by the local day's ordinal: 2027-01-01, 01-03, 01-05 are even ordinals."""
    assert fires(rule(frequency=2880, start="03:00"), "UTC", "2027-01-01", "2027-01-07") == [
        "2027-01-01T03:00+00:00", "2027-01-03T03:00+00:00", "2027-01-05T03:00+00:00", "2027-01-07T03:00+00:00",
    ]  # fmt: skip
    assert fires(rule(frequency=4320), "UTC", "2027-01-01", "2027-01-07") == [
        "2027-01-02T00:00+00:00", "2027-01-05T00:00+00:00",
    ]  # fmt: skip
    assert fires(rule(frequency=2999), "UTC", "2027-01-01", "2027-01-04") == [  # 2 whole days
        "2027-01-01T00:00+00:00", "2027-01-03T00:00+00:00",
    ]  # fmt: skip
    assert fires(rule(frequency=2000), "UTC", "2027-01-01", "2027-01-03") == [  # 1 whole day
        "2027-01-01T00:00+00:00", "2027-01-02T00:00+00:00", "2027-01-03T00:00+00:00",
    ]  # fmt: skip


def test_several_days_by_local_date() -> None:
    """The ordinal is the local day's: in Kolkata 2027-01-01 05:00 is still 2026-12-31 in UTC."""
    assert fires(rule(frequency=2880, start="05:00"), "Asia/Kolkata", "2027-01-01", "2027-01-04") == [
        "2027-01-01T05:00+05:30", "2027-01-03T05:00+05:30",
    ]  # fmt: skip


def test_several_days_with_named_days_runs_on_each() -> None:
    assert fires(rule("Mon,Tue", frequency=2880), "UTC", "2027-01-04", "2027-01-12") == [
        "2027-01-04T00:00+00:00", "2027-01-05T00:00+00:00", "2027-01-11T00:00+00:00", "2027-01-12T00:00+00:00",
    ]  # fmt: skip


# ---- the (after, upto] window -------------------------------------------------------------------


def test_window_excludes_after_and_includes_upto() -> None:
    eight = at("2027-01-01T08:00+00:00")
    daily = rule(start="08:00")
    assert slots(daily, UTC, eight, eight + DAY - 1) == []
    assert slots(daily, UTC, eight, eight + DAY) == [eight + DAY]
    assert slots(daily, UTC, eight - 1, eight) == [eight]
    assert slots(daily, UTC, eight - DAY, eight) == [eight]
    assert slots(daily, UTC, eight - 1, eight - 1 + DAY) == [eight]
    assert slots(daily, UTC, eight + 1, eight + 59) == []


@pytest.mark.parametrize("shift", [0, -1, -DAY, -10 * DAY])
def test_an_empty_window(shift: int) -> None:
    eight = at("2027-01-01T08:00+00:00")
    assert slots(rule(frequency=1), UTC, eight, eight + shift) == []


def test_window_at_a_spring_gap() -> None:
    tz = ZoneInfo("America/New_York")
    jump = at("2027-03-14T03:00-04:00")
    half_hourly = rule(frequency=30, start="01:00", end="04:00")
    assert slots(half_hourly, tz, jump - 1, jump) == [jump]  # 02:00, 02:30 and 03:00 at once
    assert slots(half_hourly, tz, jump, jump + 1799) == []


def test_window_over_a_second_reading_is_empty() -> None:
    tz = ZoneInfo("America/New_York")
    again = at("2027-11-07T01:00-05:00")  # the clock reads 01:00 for the second time
    assert slots(rule(frequency=30, start="01:00", end="01:30"), tz, again - 1, again + 3599) == []
    assert slots(rule(frequency=30, start="01:00", end="02:00"), tz, again - 1, again + 3600) == [
        again + 3600
    ]


# ---- against a brute force ----------------------------------------------------------------------

ZONES = (
    "UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kathmandu", "America/Sao_Paulo",
    "Australia/Lord_Howe", "Pacific/Apia",
)  # fmt: skip
FREQUENCIES = (1, 5, 7, 15, 60, 90, 240, 720, 1440, 2880, 4320)
YEARS = (2016, 2030)  # Sao Paulo changed its clocks until 2019, Apia until 2021
EXTRA_YEARS = {"Asia/Kathmandu": (1985, 1987), "Pacific/Apia": (2011, 2013)}


@cache
def transitions(zone: str) -> tuple[int, ...]:
    """Every instant the zone's UTC offset changes in the years sampled (none is closer than a day)."""
    tz = ZoneInfo(zone)
    found: list[int] = []
    for first, last in {YEARS, EXTRA_YEARS.get(zone, YEARS)}:
        t = int(datetime(first, 1, 1, tzinfo=UTC).timestamp())
        end = int(datetime(last, 1, 1, tzinfo=UTC).timestamp())
        while t < end:
            before = datetime.fromtimestamp(t, tz).utcoffset()
            if datetime.fromtimestamp(t + DAY, tz).utcoffset() != before:
                low, high = t, t + DAY
                while high - low > 1:
                    mid = (low + high) // 2
                    low, high = (
                        (mid, high) if datetime.fromtimestamp(mid, tz).utcoffset() == before else (low, mid)
                    )
                found.append(high)
            t += DAY
    return tuple(sorted(set(found)))


def test_the_sampled_transitions() -> None:
    assert at("2027-03-14T03:00-04:00") in transitions("America/New_York")
    assert at("2027-11-07T01:00-05:00") in transitions("America/New_York")
    assert len(transitions("America/New_York")) == 28
    assert at("1986-01-01T00:15+05:45") in transitions("Asia/Kathmandu")
    assert at("2011-12-31T00:00+14:00") in transitions("Pacific/Apia")
    assert transitions("UTC") == ()


def _runs_on(tokens: list[str], frequency: int, day: date) -> bool:
    if tokens == ["all"]:
        return day.toordinal() % max(1, frequency // 1440) == 0
    last = calendar.monthrange(day.year, day.month)[1]
    return any(
        (t in WEEKDAYS and WEEKDAYS.index(t) == day.weekday())
        or (t == "last" and day.day == last)
        or (t.isdigit() and int(t) == day.day)
        for t in tokens
    )


def _minutes(frequency: int, start: int, end: int) -> range:
    if frequency >= 1440:
        return range(start, start + 1)
    return range(start, end + 1 if end > start else 1440, frequency)


def brute_force(
    days: str, frequency: int, start: int, end: int, tz: tzinfo, after: int, upto: int
) -> list[int]:
    """Walk the clock a minute at a time; a slot fires at the minute the clock first shows it (or passes it)."""
    tokens = [t.strip().lower() for t in days.split(",")]
    walk = (after - 2 * DAY) // 60 * 60

    def wall(t: int) -> datetime:
        return datetime.fromtimestamp(t, tz).replace(tzinfo=None)

    walls: list[datetime] = []
    day = wall(walk).date() - timedelta(days=1)
    while day <= wall(upto).date() + timedelta(days=1):
        if _runs_on(tokens, frequency, day):
            midnight = datetime(day.year, day.month, day.day)
            walls.extend(midnight + timedelta(minutes=m) for m in _minutes(frequency, start, end))
        day += timedelta(days=1)
    walls.sort()
    shown = wall(walk)  # the latest wall time the clock has shown so far
    found: list[int] = []
    for u in range(walk + 60, upto + 1, 60):
        now = wall(u)
        if now > shown:
            if u > after and bisect.bisect_right(walls, shown) < bisect.bisect_right(walls, now):
                found.append(u)
            shown = now
    return found


@dataclass(frozen=True)
class Case:
    days: str
    frequency: int
    start: int
    end: int
    zone: str
    after: int
    upto: int

    def rule(self) -> Rule:
        return Rule(self.frequency, 1440, parse_days(self.days), self.start, self.end)


_TOKENS = (*WEEKDAYS, "Mon", "SUN", "last", "LAST", *map(str, range(1, 32)), "28", "29", "30", "31")
_SPREAD = (
    int(datetime(YEARS[0], 1, 1, tzinfo=UTC).timestamp()),
    int(datetime(YEARS[1], 1, 1, tzinfo=UTC).timestamp()),
)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Rules, zones and windows from a `Random` seeded by Hypothesis, which spreads them evenly (Hypothesis'
    own integers favour small values, and it varies an example's other parts around a seed it has drawn)."""
    rnd = random.Random(draw(st.integers(0, 2**64)))
    zone, frequency = rnd.choice(ZONES), rnd.choice(FREQUENCIES)
    days = "All" if rnd.random() < 0.4 else ",".join(rnd.choices(_TOKENS, k=rnd.randint(1, 5)))

    def minute() -> int:  # half the time on a half hour, where the sampled zones change their clocks
        return rnd.randrange(0, 1440, 30) if rnd.random() < 0.5 else rnd.randrange(1440)

    start, end = minute(), minute()
    tz = ZoneInfo(zone)
    near = transitions(zone)
    if near and rnd.random() < 0.75:  # around a change of the clock
        jump = rnd.choice(near)
        anchor = jump + 60 * rnd.randint(-120, 120)
        if rnd.random() < 0.5:  # aim the rule at the change: slots every day, starting near it
            shown = datetime.fromtimestamp(jump, tz)  # the end of a gap, or a repeat's start
            days, start = "All", (shown.hour * 60 + shown.minute + rnd.randint(-90, 60)) % 1440
    else:
        anchor = 60 * rnd.randrange(_SPREAD[0] // 60, _SPREAD[1] // 60)
    length = rnd.choice((0, 1, 59, 60, 61)) if rnd.random() < 0.1 else rnd.randint(60, 3 * 1440)  # minutes
    after = anchor - 60 * rnd.randint(0, length)
    upto = after + 60 * length

    def nudge(t: int) -> int:  # a second off the minute, or onto the start of the rule on t's local day
        if rnd.random() < 0.25:
            day = datetime.fromtimestamp(t, tz)
            return int(day.replace(hour=start // 60, minute=start % 60, second=0).timestamp())
        return t + rnd.choice((0, 0, -1, 1, 30))

    after, upto = nudge(after), nudge(upto)
    if rnd.random() < 0.05:  # a reversed window
        after, upto = upto, after
    return Case(days, frequency, start, end, zone, after, upto)


_SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


@settings(_SETTINGS, max_examples=100)
@given(cases())
def test_slots_agree_with_the_brute_force(case: Case) -> None:
    tz = ZoneInfo(case.zone)
    expected = brute_force(case.days, case.frequency, case.start, case.end, tz, case.after, case.upto)
    assert iso(slots(case.rule(), tz, case.after, case.upto), tz) == iso(expected, tz)


@_SETTINGS
@given(cases(), st.integers(0, 3 * DAY))
def test_windows_split_and_join(case: Case, cut: int) -> None:
    tz = ZoneInfo(case.zone)
    r = case.rule()
    times = slots(r, tz, case.after, case.upto)
    assert times == sorted(set(times)) and all(case.after < t <= case.upto for t in times)
    middle = case.after + cut
    if case.after <= middle <= case.upto:
        assert slots(r, tz, case.after, middle) + slots(r, tz, middle, case.upto) == times


# ---- runs per day -------------------------------------------------------------------------------

FOUR_WEEKS = 28


def _count(r: Rule, days: int) -> int:
    first = at("2027-01-04T00:00+00:00")  # a Monday
    return len(slots(r, UTC, first - 1, first - 1 + days * DAY))


@pytest.mark.parametrize(
    ("days", "frequency", "start", "end"),
    [
        ("All", 1, "00:00", "00:00"), ("All", 7, "03:00", "21:00"), ("All", 90, "22:00", "02:00"),
        ("All", 1440, "08:00", "00:00"), ("All", 2880, "08:00", "00:00"), ("All", 10080, "00:00", "00:00"),
        ("Mon,Wed,Fri", 60, "08:00", "17:59"), ("Sat,Sun", 240, "00:00", "00:00"), ("Tue", 2880, "12:00", "00:00"),
    ],
)  # fmt: skip
def test_runs_per_day_over_four_weeks(days: str, frequency: int, start: str, end: str) -> None:
    r = rule(days, frequency, start, end)
    assert _count(r, FOUR_WEEKS) / FOUR_WEEKS == pytest.approx(runs_per_day(r), rel=1e-9)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    st.one_of(st.just("All"), st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7).map(",".join)),
    st.sampled_from((5, 7, 15, 60, 90, 240, 720, 1440, 2880, 5760, 10080)),
    st.integers(0, 1439),
    st.integers(0, 1439),
)
def test_runs_per_day_property(days: str, frequency: int, start: int, end: int) -> None:
    r = Rule(frequency, 1440, parse_days(days), start, end)
    assert _count(r, FOUR_WEEKS) / FOUR_WEEKS == pytest.approx(runs_per_day(r), rel=1e-9)


def test_runs_per_day_for_month_days_over_four_years() -> None:
    r = rule("1,15,31,last", frequency=720)
    days = (date(2031, 1, 4) - date(2027, 1, 4)).days
    assert _count(r, days) / days == pytest.approx(runs_per_day(r), rel=0.01)
