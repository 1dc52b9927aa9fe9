"""The time zone names a cluster accepts (IANA Region/City names, case-sensitive)."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, tzinfo
from functools import cache

_REGIONS = ("Africa/", "America/", "Antarctica/", "Arctic/", "Asia/", "Atlantic/", "Australia/", "Europe/",
            "Indian/", "Pacific/")  # fmt: skip


@cache
def time_zone_list() -> list[str]:
    names = {n for n in zoneinfo.available_timezones() if n.startswith(_REGIONS)}
    return sorted(names | {"UTC"})


def is_time_zone(name: str) -> bool:
    return name in set(time_zone_list())


def zone_of(name: object) -> tzinfo:
    """A cluster's zone by name; UTC when it has none or an unknown one (its day is then UTC's)."""
    try:
        return zoneinfo.ZoneInfo(str(name)) if name else UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return UTC
