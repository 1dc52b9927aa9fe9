"""Hardware faults as pure functions: drives in the hardware document, controller shutdowns, resync times.

A host's storage is one or more logical drives (RAID 5 below nine drives, RAID 6 from nine) over its
physical drives. A failed drive leaves the array DEGRADED (YELLOW) while parity covers it: nothing is
lost, but until the drive is replaced the array holds only what its healthy drives give beyond parity,
so the host's allocated capacity (and its cluster's) shrinks by the drive's share. Past parity the
logical drive is FAILED (RED): the host's copy of every replica it kept is gone and it holds nothing
until its drives are replaced; its VMs live on in their other replica.

A new drive in an array that held REBUILDS from parity before it counts: the controller regenerates every
stripe of it (a RAID controller does not know which hold data), so for its whole capacity at
REBUILD_RATE of simulated time it is REBUILDING (YELLOW, `percent_rebuilt` rising), and the array with
it, still without the drive's share. A failure meanwhile counts it as missing, so past parity the array
is lost and the rebuild stops. An array that was lost is made anew when it holds again: its drives are
members at once (HEALTHY) and its data comes back from the partners' replicas instead.

A Virtual Controller shutdown takes a few minutes of simulated time (its services stop, then its guest
OS); until then it is IN_PROGRESS (FORCE_IN_PROGRESS without ha_wait), then SUCCESS. A replica coming
back resyncs what its VM wrote while it was away (its workload's rate over the time it ran meanwhile, as
its power changes say), at the storage network's pace.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from typing import Any

from openovc.domain.errors import ObjectNotFound, OmniStackError
from openovc.domain.ports.operations import DriveRebuild, Resync, Shutdown

MiB = 1024**2
# A controller with ha_wait checks that every VM keeps a live copy before it stops its services.
SHUTDOWN_SECONDS = {True: 180, False: 90}
RESYNC_RATE = 100 * MiB  # bytes a second a returning replica catches up at, over the storage network
# A Smart Array rebuild at its default (high) priority while the host serves IO.
REBUILD_RATE = 100 * MiB
SUCCESS = "SUCCESS"
HEALTHY, DEGRADED, FAILED, REBUILDING = "HEALTHY", "DEGRADED", "FAILED", "REBUILDING"
GREEN, YELLOW, RED = "GREEN", "YELLOW", "RED"
_RANK = {GREEN: 0, YELLOW: 1, RED: 2}


class HardwareConflict(OmniStackError):
    """The hardware's state forbids the change (a healthy drive repaired, a failed host failed again)."""

    status = 409
    exception = "com.simplivity.restapi.exceptions.InvalidStateException"


class DriveNotFound(ObjectNotFound):
    """No physical drive of the host sits in this slot."""

    def __init__(self, host_id: str, slot: str) -> None:
        super().__init__("drive", f"{host_id}/{slot}")


# ---- controller shutdowns ----------------------------------------------------------------------------


def shutdown_done_ms(shutdown: Shutdown) -> int:
    """When the controller is off: at once for one already SUCCESS, else a few minutes after the request."""
    if shutdown.status == SUCCESS:
        return shutdown.requested_ms
    return shutdown.requested_ms + SHUTDOWN_SECONDS[shutdown.ha_wait] * 1000


def shutdown_status(shutdown: Shutdown, now_ms: int) -> str:
    """The shutdown's status at `now_ms`: as accepted until the controller is off, then SUCCESS."""
    return SUCCESS if now_ms >= shutdown_done_ms(shutdown) else shutdown.status


# ---- resyncs -----------------------------------------------------------------------------------------


def resync_seconds(changed: int) -> int:
    """How long a replica takes to catch up `changed` bytes (nothing changed: no time)."""
    return math.ceil(max(0, changed) / RESYNC_RATE)


def running_ms(changes: Sequence[tuple[int, bool]], on_now: bool, since_ms: int, until_ms: int) -> int:
    """Milliseconds a VM ran in [since_ms, until_ms), from its power changes after `since_ms` (epoch ms,
    powered on after it, ascending; before the first the state was the opposite) or, without any, its
    power now."""
    on = not changes[0][1] if changes else on_now
    at, total = since_ms, 0
    for when, turned_on in changes:
        when = min(max(when, since_ms), until_ms)
        total += when - at if on else 0
        on, at = turned_on, when
    return total + (until_ms - at if on else 0)


def resync_progress(resync: Resync | DriveRebuild, now_ms: int) -> int:
    """Percent of a resync (or a drive's rebuild) done at `now_ms` (100 once it is due)."""
    total = resync.done_ms - resync.began_ms
    if total <= 0 or now_ms >= resync.done_ms:
        return 100
    return max(0, (now_ms - resync.began_ms) * 100 // total)


def rebuild_seconds(capacity: int) -> int:
    """How long a new drive of `capacity` bytes takes to rebuild (module doc)."""
    return math.ceil(max(0, capacity) / REBUILD_RATE)


# ---- the drives of the hardware document -------------------------------------------------------------


def physical_drives(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for logical in document.get("logical_drives") or []:
        for drive_set in logical.get("drive_sets") or []:
            yield from drive_set.get("physical_drives") or []


def drive_in(document: dict[str, Any], host_id: str, slot: str) -> dict[str, Any]:
    """The physical drive in `slot` (as the path gives it), or DriveNotFound."""
    for drive in physical_drives(document):
        if str(drive["slot"]) == slot:
            return drive
    raise DriveNotFound(host_id, slot)


def _parity(logical: dict[str, Any]) -> int:
    return 2 if str(logical.get("model_number", "")).endswith("6") else 1


def _condition(drives: Sequence[dict[str, Any]], parity: int) -> tuple[str, str]:
    failed = sum(1 for d in drives if d["health"] == FAILED)
    rebuilding = sum(1 for d in drives if d["health"] == REBUILDING)
    if failed + rebuilding > parity:
        return FAILED, RED
    if failed:
        return DEGRADED, YELLOW
    return (REBUILDING, YELLOW) if rebuilding else (HEALTHY, GREEN)


def _members(logical: dict[str, Any]) -> list[dict[str, Any]]:
    return [d for s in logical.get("drive_sets") or [] for d in s.get("physical_drives") or []]


def _healthy(drive: dict[str, Any]) -> None:
    drive.update(health=HEALTHY, status=GREEN, percent_rebuilt=100, additional_status="")


def with_drive(document: dict[str, Any], host_id: str, slot: str, failed: bool) -> dict[str, Any]:
    """A copy of the document with the drive in `slot` failed, or replaced by a new one, and every status
    above it (drive set, logical drive, host) and the logical drives' capacity following. The new drive
    REBUILDS when its array held; in an array made anew it is HEALTHY, as are the others (module doc)."""
    changed = copy.deepcopy(document)
    drive = drive_in(changed, host_id, slot)
    if failed:
        drive.update(health=FAILED, status=RED, percent_rebuilt=0, additional_status="Drive failure")
        _assess(changed)
        return changed
    logical = next(ld for ld in changed.get("logical_drives") or [] if any(d is drive for d in _members(ld)))
    held = logical["health"] != FAILED
    drive.update(life_remaining=100)
    _healthy(drive)
    if held:
        drive.update(health=REBUILDING, status=YELLOW, percent_rebuilt=0, additional_status="Rebuilding")
    _assess(changed)
    if not held and logical["health"] != FAILED:
        for member in _members(logical):
            if member["health"] == REBUILDING:
                _healthy(member)
        _assess(changed)
    return changed


def with_progress(document: dict[str, Any], host_id: str, slot: str, percent: int) -> dict[str, Any]:
    """A copy of the document with the rebuilding drive in `slot` `percent` rebuilt; at 100 it is a member
    of its array (HEALTHY) and gives its share again."""
    changed = copy.deepcopy(document)
    drive = drive_in(changed, host_id, slot)
    if percent >= 100:
        _healthy(drive)
        _assess(changed)
    else:
        drive["percent_rebuilt"] = percent
    return changed


def _assess(document: dict[str, Any]) -> None:
    """Statuses and capacities from the physical drives up (in place); a drive rebuilding counts as missing
    until it is done."""
    worst = GREEN
    for logical in document.get("logical_drives") or []:
        drives = _members(logical)
        parity = _parity(logical)
        for drive_set in logical.get("drive_sets") or []:
            drive_set["health"], drive_set["status"] = _condition(
                drive_set.get("physical_drives") or [], parity
            )
        logical["health"], logical["status"] = _condition(drives, parity)
        size = max((int(d["capacity"]) for d in drives), default=0)
        missing = sum(1 for d in drives if d["health"] in (FAILED, REBUILDING))
        usable = len(drives) - missing - parity
        logical["capacity"] = usable * size if missing <= parity and usable > 0 else 0
        worst = max(worst, logical["status"], key=_RANK.__getitem__)
    for part in ("raid_card", "battery", "accelerator_card"):
        status = (document.get(part) or {}).get("status", GREEN)
        worst = max(worst, status, key=lambda s: _RANK.get(s, 0))
    document["status"] = worst


def usable_capacity(document: dict[str, Any]) -> int:
    """Bytes the host's logical drives hold: its allocated capacity."""
    return sum(int(logical["capacity"]) for logical in document.get("logical_drives") or [])


def storage_lost(document: dict[str, Any]) -> bool:
    """Whether a logical drive failed past its parity: the host serves no replica."""
    return any(logical["health"] == FAILED for logical in document.get("logical_drives") or [])


def drive_view(drive: dict[str, Any]) -> dict[str, object]:
    """What a control answer shows of a drive."""
    keys = ("slot", "drive_position", "capacity", "health", "status", "percent_rebuilt", "serial_number")
    return {k: drive[k] for k in keys}
