"""A policy with several rules over a simulated month, through the official SDK.

A private server (its own store and demo federation) whose clock stands still until moved: the SDK creates a
policy with an hourly, a daily and a month-end rule, sets it on a few VMs of each cluster (and a policy
without rules on every other VM, so that only these rules fire), the control API moves the clock through a
month, and the SDK then lists what is kept. The expected backups are reckoned here, independently of the
server's scheduler, from the start time, each cluster's time zone (read with the SDK) and the rules, with
zoneinfo: one per slot and VM, named by the slot's local time, kept for the rule's retention. Then policy
backups are suspended federation-wide in the middle of a further day and resumed: the gap must be exact.
"""

from __future__ import annotations

import calendar
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from simplivity.exceptions import HPESimpliVityResourceNotFound

from openovc.testing import OpenOVCServer
from tests.contract.conftest import manual_clock

pytestmark = pytest.mark.slow

# Neither New York nor Sydney changes its clocks between here and a month and a day later, and the month
# takes in the end of November.
START = datetime(2026, 11, 20, 12, 20, tzinfo=UTC)
MONTH = (timedelta(days=7),) * 4 + (timedelta(days=2),)
MONTH_END = START + sum(MONTH, timedelta())
VMS_PER_CLUSTER = 2


def _every_day(_: date) -> bool:
    return True


def _last_of_month(day: date) -> bool:
    return day.day == calendar.monthrange(day.year, day.month)[1]


@dataclass(frozen=True)
class Spec:
    """A rule as the SDK sends it, and when it fires by this test's own reckoning."""

    label: str
    body: dict[str, Any]
    walls: tuple[time, ...]  # local wall times of its slots, on a day it runs
    runs_on: Callable[[date], bool]
    retention: timedelta
    max_backups: int

    def slots(self, tz: tzinfo, after: datetime, upto: datetime) -> list[datetime]:
        """The instants in (after, upto] at which the zone's clock reads one of the rule's wall times."""
        found: list[datetime] = []
        day = after.astimezone(tz).date() - timedelta(days=1)
        while day <= upto.astimezone(tz).date() + timedelta(days=1):
            if self.runs_on(day):
                found += [datetime.combine(day, wall, tz).astimezone(UTC) for wall in self.walls]
            day += timedelta(days=1)
        return sorted(at for at in found if after < at <= upto)


RULES = (
    Spec("hourly", {"frequency": 60, "retention": 1440},
         tuple(time(hour) for hour in range(24)), _every_day, timedelta(days=1), 24),
    Spec("daily", {"frequency": 1440, "retention": 7 * 1440, "days": "All", "start_time": "02:00"},
         (time(2),), _every_day, timedelta(days=7), 7),
    Spec("month end", {"frequency": 1440, "retention": 31 * 1440, "days": "last", "start_time": "02:00"},
         (time(2),), _last_of_month, timedelta(days=31), 31),
)  # fmt: skip


def _text(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Listing = list[tuple[str, str, str]]  # (created_at, expiration_time, name), sorted


@dataclass
class Ledger:
    """What the schedule must have done: every slot each VM's backup was taken in, per rule."""

    zones: dict[str, tzinfo]  # VM id -> its cluster's time zone
    now: datetime = START
    suspended: bool = False
    taken: dict[tuple[str, str], list[datetime]] = field(default_factory=dict)  # (VM id, rule) -> slots
    skipped: dict[tuple[str, str], list[datetime]] = field(default_factory=dict)

    def move(self, by: timedelta) -> int:
        """Move on by `by`; the number of backups the schedule must take on the way."""
        upto = self.now + by
        count = 0
        for vm_id, tz in self.zones.items():
            for spec in RULES:
                due = spec.slots(tz, self.now, upto)
                book = self.skipped if self.suspended else self.taken
                book.setdefault((vm_id, spec.label), []).extend(due)
                count += 0 if self.suspended else len(due)
        self.now = upto
        return count

    def kept(self, vm_id: str, label: str) -> list[datetime]:
        """The slots whose backups are still there: not expired, and within the rule's max_backups."""
        spec = next(s for s in RULES if s.label == label)
        alive = [at for at in self.taken.get((vm_id, label), []) if at + spec.retention > self.now]
        return alive[-spec.max_backups :]

    def listing(self, vm_id: str) -> Listing:
        tz = self.zones[vm_id]
        return sorted(
            (_text(at), _text(at + spec.retention), at.astimezone(tz).isoformat())
            for spec in RULES
            for at in self.kept(vm_id, spec.label)
        )


def _policy_backups(ovc: Any, vm_id: str) -> list[Any]:
    """The VM's policy backups taken since the start, through the SDK, oldest first."""
    found: list[Any] = ovc.backups.get_all(
        filters={"virtual_machine_id": vm_id, "type": "POLICY", "created_after": _text(START)},
        sort="created_at",
        order="ascending",
    )
    created = [b.data["created_at"] for b in found]
    assert created == sorted(created), "sort=created_at&order=ascending"
    return found


def _listing(backups: list[Any]) -> Listing:
    return sorted((b.data["created_at"], b.data["expiration_time"], b.data["name"]) for b in backups)


def _paged(ovc: Any, vm_id: str, total: int, page_size: int) -> list[Any]:
    """The same list through the SDK's Pagination, page by page."""
    pages = ovc.backups.get_all(
        pagination=True,
        page_size=page_size,
        limit=total,
        filters={"virtual_machine_id": vm_id, "type": "POLICY", "created_after": _text(START)},
        sort="created_at",
        order="ascending",
    )
    found: list[Any] = list(pages.data["resources"])
    for _ in range(1, pages.data["requested_pages"]):
        found += pages.next_page()["resources"]
    return found


def _check(ovc: Any, ledger: Ledger, vms: dict[str, dict[str, Any]]) -> dict[str, list[Any]]:
    """Every chosen VM's policy backups are exactly the ledger's; the SDK's Backup objects, per VM."""
    listed: dict[str, list[Any]] = {}
    for vm_id, vm in vms.items():
        backups = _policy_backups(ovc, vm_id)
        assert _listing(backups) == ledger.listing(vm_id), (vm["name"], _text(ledger.now))
        assert {
            (b.data["virtual_machine_name"], b.data["omnistack_cluster_id"], b.data["type"]) for b in backups
        } == {(vm["name"], vm["omnistack_cluster_id"], "POLICY")}
        listed[vm_id] = backups
    return listed


def _policy_enabled(ovc: Any) -> set[bool]:
    return {h.data["policy_enabled"] for h in ovc.hosts.get_all()}


def test_a_policy_with_several_rules_over_a_simulated_month(
    openovc_start: Callable[..., OpenOVCServer],
) -> None:
    server = openovc_start(manual_clock(_text(START)))
    ovc, control = server.ovc, server.control
    assert control.clock().now == _text(START)
    assert _policy_enabled(ovc) == {True}

    # ---- the policy, its rules, and the VMs it covers, all through the SDK --------------------------------
    suffix = uuid.uuid4().hex[:8]
    policy = ovc.policies.create(f"sdk-month-{suffix}")
    assert policy.create_rules([dict(spec.body) for spec in RULES]) is policy
    assert [(r["number"], r["frequency"], r["retention"], r["days"], r["start_time"], r["max_backups"])
            for r in policy.data["rules"]] == [
        (n, s.body["frequency"], s.body["retention"], s.body.get("days", "All"),
         s.body.get("start_time", "00:00"), s.max_backups)
        for n, s in enumerate(RULES)
    ]  # fmt: skip
    idle = ovc.policies.create(f"sdk-idle-{suffix}")
    assert idle.data["rules"] == []

    clusters = {c.data["id"]: c.data for c in ovc.omnistack_clusters.get_all(show_optional_fields=True)}
    zones = {cid: ZoneInfo(c["time_zone"]) for cid, c in clusters.items()}
    assert len(zones) >= 2 and len({str(z) for z in zones.values()}) >= 2, "clusters in different time zones"
    for zone in zones.values():
        assert zone.utcoffset(START) == zone.utcoffset(MONTH_END + timedelta(days=1)), (
            f"{zone} changes its clocks: pick another start"
        )

    every = sorted(ovc.virtual_machines.get_all(), key=lambda v: v.data["name"])
    chosen = [
        vm for cid in sorted(clusters)
        for vm in [v for v in every if v.data["omnistack_cluster_id"] == cid][:VMS_PER_CLUSTER]
    ]  # fmt: skip
    assert len(chosen) == VMS_PER_CLUSTER * len(clusters)
    chosen_ids = {vm.data["id"] for vm in chosen}
    others = [vm for vm in every if vm.data["id"] not in chosen_ids]
    # Only this policy's rules fire: every other VM goes to a policy without rules.
    moved = ovc.virtual_machines.set_policy_for_multiple_vms(idle, others)
    assert sorted((v.data["id"], v.data["policy_id"]) for v in moved) == sorted(
        (v.data["id"], idle.data["id"]) for v in others
    )
    # Persistent volumes too, as the Go SDK moves them (the Python SDK has no volume resource).
    volumes = ovc.connection.get("/persistent_volumes?limit=5000")["persistent_volumes"]
    if volumes:
        _, body = ovc.connection.post(
            "/persistent_volumes/set_policy",
            {"policy_id": idle.data["id"], "persistent_volume_id": [v["id"] for v in volumes]},
            custom_headers={"Content-type": "application/vnd.simplivity.v1.16+json"},
        )
        task = ovc.connection.get(f"/tasks/{body['task']['id']}")["task"]
        assert task["state"] == "COMPLETED", task  # tasks end before their first poll here
    left = ovc.connection.get("/persistent_volumes?limit=5000")["persistent_volumes"]
    assert {v["policy_id"] for v in left} <= {idle.data["id"]}
    moved = ovc.virtual_machines.set_policy_for_multiple_vms(policy, chosen[1:])
    assert {v.data["policy_id"] for v in moved} == {policy.data["id"]} and len(moved) == len(chosen) - 1
    assert chosen[0].set_policy(policy).data["policy_id"] == policy.data["id"]
    assert {vm.data["id"] for vm in policy.get_vms()} == chosen_ids

    vms = {vm.data["id"]: vm.data for vm in chosen}
    ledger = Ledger({vm_id: zones[vm["omnistack_cluster_id"]] for vm_id, vm in vms.items()})

    # ---- a month, a week at a time ------------------------------------------------------------------------
    # What each move reported taking, against the ledger: checked last, after what the SDK lists.
    counted: list[tuple[str, int, int]] = []

    def advance(by: timedelta) -> None:
        expected = ledger.move(by)
        step = control.advance(f"{int(by.total_seconds())}s")
        assert step.now == _text(ledger.now)
        counted.append((f"to {step.now}", step.backups_taken, expected))

    doomed: list[Any] = []  # backups of the first week that must be gone by the month's end
    for week, by in enumerate(MONTH):
        advance(by)
        listed = _check(ovc, ledger, vms)
        if week == 0:
            doomed = [
                b for found in listed.values() for b in found if b.data["expiration_time"] <= _text(MONTH_END)
            ]
    month_end = ledger.now
    assert month_end == MONTH_END
    month_slots = sum(
        len(spec.slots(ledger.zones[vm_id], START, month_end)) for vm_id in vms for spec in RULES
    )
    assert month_slots == sum(len(slots) for slots in ledger.taken.values()) == sum(c[2] for c in counted)
    assert control.clock().now == _text(month_end)

    # What that means, said plainly for each VM: the last 24 hours' hourly slots, the last 7 days' 02:00,
    # and the 02:00 of November's last day, local to the VM's cluster.
    for vm_id, vm in vms.items():
        tz = ledger.zones[vm_id]
        local_now = month_end.astimezone(tz)
        last_hour = local_now.replace(minute=0, second=0, microsecond=0)
        assert ledger.kept(vm_id, "hourly") == [
            (last_hour - timedelta(hours=n)).astimezone(UTC) for n in range(23, -1, -1)
        ]
        last_two = datetime.combine(local_now.date(), time(2), tz)
        if last_two > local_now:
            last_two -= timedelta(days=1)
        assert ledger.kept(vm_id, "daily") == [
            (last_two - timedelta(days=n)).astimezone(UTC) for n in range(6, -1, -1)
        ]
        assert ledger.kept(vm_id, "month end") == [datetime(2026, 11, 30, 2, tzinfo=tz).astimezone(UTC)]
        # As the SDK listed them: of that 02:00's three backups (hourly, daily, month end) the month end's is
        # the one left, kept 31 days.
        month_end_two = datetime(2026, 11, 30, 2, tzinfo=tz)
        assert [
            (b.data["created_at"], b.data["expiration_time"])
            for b in listed[vm_id]
            if b.data["name"] == month_end_two.isoformat()
        ] == [(_text(month_end_two), _text(month_end_two + timedelta(days=31)))], vm["name"]

    # Expired backups are gone from the SDK's get_by_id too (it lists with id=...).
    assert len(doomed) == len(vms) * (24 + 7)  # what was kept after the first week: all expired since
    for backup in doomed:
        with pytest.raises(HPESimpliVityResourceNotFound):
            ovc.backups.get_by_id(backup.data["id"])
    # The SDK's paging walks the same list, page by page.
    for vm_id in vms:
        whole = _policy_backups(ovc, vm_id)
        paged = _paged(ovc, vm_id, len(whole), page_size=5)
        assert [b.data["id"] for b in paged] == [b.data["id"] for b in whole]
        kept = ovc.backups.get_by_id(whole[-1].data["id"])
        assert kept.data == whole[-1].data

    # ---- a further day, with policy backups suspended in its middle ---------------------------------------
    advance(timedelta(hours=2))
    ovc.policies.suspend()  # no target: the whole federation
    assert _policy_enabled(ovc) == {False}
    ledger.suspended = True
    advance(timedelta(hours=5))
    ovc.policies.resume()
    assert _policy_enabled(ovc) == {True}
    ledger.suspended = False
    advance(timedelta(hours=17))
    assert control.clock().now == _text(month_end + timedelta(days=1))
    # The gap is exact: of the day's 24 hourly slots of each VM, the five in it were skipped and all others
    # taken; so was the daily 02:00 of the clusters where that fell in it, and no other.
    gap_from, gap_to = month_end + timedelta(hours=2), month_end + timedelta(hours=7)
    for vm_id in vms:
        day = RULES[0].slots(ledger.zones[vm_id], month_end, ledger.now)
        skipped = ledger.skipped[(vm_id, "hourly")]
        assert len(day) == 24 and len(skipped) == 5
        assert skipped == [at for at in day if gap_from < at <= gap_to]
        assert [at for at in ledger.taken[(vm_id, "hourly")] if at > month_end] == [
            at for at in day if not gap_from < at <= gap_to
        ]
        assert (
            len(ledger.skipped.get((vm_id, "daily"), []))
            + len([at for at in ledger.taken[(vm_id, "daily")] if at > month_end])
            == 1
        )
    assert any(ledger.skipped.get((vm_id, "daily")) for vm_id in vms), "no daily slot in the gap"
    _check(ovc, ledger, vms)

    # Each move reported the backups it took: one per slot and VM, none while suspended; over the month,
    # the month's slots times the VMs.
    assert [(move, got) for move, got, _ in counted] == [(move, want) for move, _, want in counted], (
        "backups_taken (move, reported, expected): " + ", ".join(map(str, counted))
    )
    assert sum(got for _, got, _ in counted[: len(MONTH)]) == month_slots
