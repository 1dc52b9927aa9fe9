"""Backup rule arithmetic: days, times, runs per day, retention, fire times and the schedule report."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from openovc.domain.schedules import (
    DAILY_BACKUPS_PER_HOST,
    RETAINED_BACKUPS_PER_HOST,
    Days,
    PolicyLoad,
    Rule,
    ScheduleReport,
    daily_times,
    day_share,
    fire_times,
    parse_clock,
    parse_days,
    retained,
    runs_per_day,
    schedule_report,
)

YEAR = 365.25


def rule(frequency: int = 1440, retention: int = 1440, days: str = "All", start: str = "00:00",
         end: str = "00:00", max_backups: int | None = None) -> Rule:  # fmt: skip
    return Rule.from_record(
        {"frequency": frequency, "retention": retention, "days": days, "start_time": start, "end_time": end,
         "max_backups": max_backups}
    )  # fmt: skip


# ---- days and clock times ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["All", "all", "ALL", " all "])
def test_all_days(text: str) -> None:
    assert parse_days(text) == Days(every_day=True)


def test_weekday_lists() -> None:
    assert parse_days("Mon,Fri") == Days(weekdays=frozenset({0, 4}))
    assert parse_days("sun, SAT") == Days(weekdays=frozenset({5, 6}))


def test_month_days_and_last() -> None:
    assert parse_days("1,15") == Days(monthdays=frozenset({1, 15}))
    assert parse_days("last") == Days(last=True)
    assert parse_days("Mon,15,last") == Days(weekdays=frozenset({0}), monthdays=frozenset({15}), last=True)


@pytest.mark.parametrize("text", ["Funday", "0", "32", "", "Mon,,Fri", "1.5"])
def test_bad_days(text: str) -> None:
    with pytest.raises(ValueError, match="unknown day") as caught:
        parse_days(text)
    assert "use All, weekdays like Mon,Wed,Fri, month days like 1,15, or last" in str(caught.value)


def test_days_match() -> None:
    monthly = parse_days("1,15,last")
    assert monthly.matches(datetime(2026, 2, 28).date())  # the last day of a short month
    assert monthly.matches(datetime(2026, 3, 15).date())
    assert not monthly.matches(datetime(2026, 3, 30).date())
    assert parse_days("Fri").matches(datetime(2026, 11, 20).date())


@pytest.mark.parametrize(
    ("text", "minutes"), [("00:00", 0), ("08:30", 510), ("23:59", 1439), (" 22:00", 1320)]
)
def test_clock(text: str, minutes: int) -> None:
    assert parse_clock(text) == minutes


@pytest.mark.parametrize("text", ["8:30", "24:00", "12:60", "noon", "12-30", ""])
def test_bad_clock(text: str) -> None:
    with pytest.raises(ValueError, match="expected a time HH:MM"):
        parse_clock(text)


# ---- rules ------------------------------------------------------------------------------------


def test_rule_from_a_record_with_defaults_and_string_numbers() -> None:
    parsed = Rule.from_record({"frequency": "60", "retention": " 360 "})
    assert parsed == Rule(
        frequency=60, retention=360, days=Days(every_day=True), start=0, end=0, max_backups=None
    )
    assert Rule.from_record({"frequency": 60, "retention": 60, "days": "", "max_backups": 6}).max_backups == 6


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"frequency": 0, "retention": 60}, "rule frequency must be at least 1, got 0"),
        ({"frequency": "x", "retention": 60}, "rule frequency must be an integer, got 'x'"),
        ({"frequency": 60}, "rule retention must be an integer, got None"),
        ({"frequency": 60, "retention": 60, "start_time": "25:00"}, "expected a time HH:MM, got '25:00'"),
    ],
)
def test_bad_rules(record: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        Rule.from_record(record)
    assert str(caught.value) == message


def test_daily_times_all_day() -> None:
    assert daily_times(rule(frequency=240)) == [0, 240, 480, 720, 960, 1200]


def test_daily_times_window_includes_its_end() -> None:
    assert daily_times(rule(frequency=720, start="08:00", end="20:00")) == [480, 1200]
    assert daily_times(rule(frequency=60, start="08:00", end="10:00")) == [480, 540, 600]
    assert daily_times(rule(frequency=45, start="08:00", end="09:00")) == [480, 525]


def test_daily_times_an_end_not_after_the_start_means_midnight() -> None:
    assert daily_times(rule(frequency=120, start="20:00", end="00:00")) == [1200, 1320]
    assert daily_times(rule(frequency=120, start="20:00", end="06:00")) == [1200, 1320]


def test_daily_and_longer_rules_fire_once_at_their_start() -> None:
    assert daily_times(rule(frequency=1440, start="22:00")) == [1320]
    assert daily_times(rule(frequency=2880, start="03:00")) == [180]


@pytest.mark.parametrize(
    ("days", "share"),
    [
        ("All", 1.0),
        ("Mon,Fri", 2 / 7),
        ("Mon,Tue,Wed,Thu,Fri", 5 / 7),
        ("1,15", 24 / YEAR),
        ("last", 12 / YEAR),
        ("29", 11.25 / YEAR),  # no 29th in February three years out of four
        ("31", 7 / YEAR),
        ("1,last", 24 / YEAR),
        ("Mon,1", 1 / 7 + 12 / YEAR * 6 / 7),  # the 1st falls on a Monday one time in seven
    ],
)
def test_day_share(days: str, share: float) -> None:
    assert day_share(parse_days(days)) == pytest.approx(share, rel=1e-9)


def test_runs_per_day() -> None:
    assert runs_per_day(rule(frequency=240)) == 6
    assert runs_per_day(rule(frequency=720, days="Mon,Wed,Fri", start="08:00", end="20:00")) == pytest.approx(
        6 / 7
    )
    assert runs_per_day(rule(days="last")) == pytest.approx(12 / YEAR)
    assert runs_per_day(rule(frequency=60, days="1,15", start="08:00", end="10:00")) == pytest.approx(
        72 / YEAR
    )


def test_retained_is_runs_over_the_retention() -> None:
    assert retained(rule(frequency=60, retention=360)) == pytest.approx(6)
    assert retained(rule(frequency=1440, retention=7 * 1440)) == pytest.approx(7)
    assert retained(rule(days="last", retention=365 * 1440)) == pytest.approx(12 * 365 / YEAR)


def test_max_backups_caps_what_is_kept() -> None:
    assert retained(rule(frequency=60, retention=1440, max_backups=10)) == 10
    assert retained(rule(frequency=60, retention=1440, max_backups=100)) == pytest.approx(24)
    assert retained(rule(frequency=60, retention=1440, max_backups=0)) == pytest.approx(24)  # 0: no cap


# ---- fire times -------------------------------------------------------------------------------

NY = ZoneInfo("America/New_York")


def epoch(year: int, month: int, day: int, hour: int = 0, minute: int = 0, tz: ZoneInfo | None = None) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=tz or UTC).timestamp())


def test_fire_times_on_weekdays_in_local_time() -> None:
    times = fire_times(rule(days="Mon,Fri", start="08:00"), NY, epoch(2026, 11, 15), epoch(2026, 11, 22))
    assert times == [epoch(2026, 11, 16, 8, 0, NY), epoch(2026, 11, 20, 8, 0, NY)]
    assert times[0] == epoch(2026, 11, 16, 13, 0)  # EST is UTC-5


def test_fire_times_on_month_days_and_the_last_day() -> None:
    times = fire_times(rule(days="1,15,last", start="23:00"), UTC, epoch(2026, 1, 1), epoch(2026, 3, 2))
    days = [datetime.fromtimestamp(t, UTC).date().isoformat() for t in times]
    assert days == [
        "2026-01-01", "2026-01-15", "2026-01-31", "2026-02-01", "2026-02-15", "2026-02-28", "2026-03-01",
    ]  # fmt: skip


def test_fire_times_within_a_start_end_window() -> None:
    times = fire_times(
        rule(frequency=60, start="08:00", end="10:00"), UTC, epoch(2026, 11, 20), epoch(2026, 11, 21)
    )
    assert times == [epoch(2026, 11, 20, h) for h in (8, 9, 10)]


def test_fire_times_are_strictly_inside_the_interval() -> None:
    at_eight = epoch(2026, 11, 20, 8)
    assert fire_times(rule(start="08:00"), UTC, at_eight, at_eight + 86_400) == []
    assert fire_times(rule(start="08:00"), UTC, at_eight - 1, at_eight + 1) == [at_eight]


@pytest.mark.parametrize(
    ("frequency", "days", "start", "end"),
    [(240, "All", "00:00", "00:00"), (720, "Mon,Wed,Fri", "08:00", "20:00"), (1440, "1,15", "01:00", "00:00"),
     (60, "All", "06:00", "22:00")],
)  # fmt: skip
def test_fire_times_agree_with_runs_per_day(frequency: int, days: str, start: str, end: str) -> None:
    r = rule(frequency=frequency, days=days, start=start, end=end)
    span = 730  # two years: long enough for month days to average out
    after = epoch(2001, 1, 1) - 1
    count = len(fire_times(r, UTC, after, after + span * 86_400 + 1))
    assert count == pytest.approx(runs_per_day(r) * span, rel=0.05)


# ---- the report -------------------------------------------------------------------------------


def test_report_weighs_rules_by_vms() -> None:
    gold = PolicyLoad(
        (rule(frequency=240, retention=1440), rule(frequency=1440, retention=7 * 1440)), vm_count=10
    )
    bronze = PolicyLoad((rule(frequency=1440, retention=3 * 1440),), vm_count=5)
    report = schedule_report([gold, bronze], host_count=3)
    assert report == ScheduleReport(
        daily_backup_rate=10 * (6 + 1) + 5 * 1,
        daily_backup_rate_limit=3 * DAILY_BACKUPS_PER_HOST,
        backup_rate_level=75 * 100 // (3 * DAILY_BACKUPS_PER_HOST),
        projected_retained_backups=10 * (6 + 7) + 5 * 3,
        retained_backups_limit=3 * RETAINED_BACKUPS_PER_HOST,
        projected_retained_backups_level=145 * 100 // (3 * RETAINED_BACKUPS_PER_HOST),
    )


def test_report_levels_are_whole_percent_rounded_down() -> None:
    busy = PolicyLoad((rule(frequency=1),), vm_count=2)  # 1440 backups a day each, 1 day kept
    report = schedule_report([busy], host_count=1)
    assert report.daily_backup_rate == 2_880
    assert report.backup_rate_level == 2_880 * 100 // DAILY_BACKUPS_PER_HOST
    assert report.projected_retained_backups_level == 2_880 * 100 // RETAINED_BACKUPS_PER_HOST


def test_report_with_nothing_to_do() -> None:
    assert schedule_report([], host_count=0).as_dict() == {
        "daily_backup_rate": 0,
        "daily_backup_rate_limit": 0,
        "backup_rate_level": 0,
        "projected_retained_backups": 0,
        "retained_backups_limit": 0,
        "projected_retained_backups_level": 0,
    }


def test_report_rounds_fractional_rates() -> None:
    monthly = PolicyLoad.from_records(
        [{"frequency": 1440, "retention": 365 * 1440, "days": "last"}], vm_count=7
    )
    report = schedule_report([monthly], host_count=2)
    assert report.daily_backup_rate == round(7 * 12 / YEAR)  # 0.23 a day
    assert report.projected_retained_backups == round(7 * 12 * 365 / YEAR)  # 84
