"""Hardware faults as pure functions: drives in the hardware document, controller shutdowns, resync times.

A host's storage is one or more logical drives (RAID 5 below nine drives, RAID 6 from nine) over its
physical drives. A failed drive leaves the array DEGRADED (YELLOW) while parity covers it: nothing is
lost, but until the drive is replaced the array holds only what its healthy drives give beyond parity,
so the host's allocated capacity (and its cluster's) shrinks by the drive's share. Past parity the
logical drive is FAILED (RED): the host's copy of every replica it kept is gone and it holds nothing
until its drives are replaced; its VMs live on in their other replica.

A Virtual Controller shutdown takes a few minutes of simulated time (its services stop, then its guest
OS); until then it is IN_PROGRESS (FORCE_IN_PROGRESS without ha_wait), then SUCCESS. A replica coming
back resyncs what its VM wrote while it was away, at the storage network's pace.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

from openovc.domain.errors import ObjectNotFound, OmniStackError
from openovc.domain.ports.operations import Resync, Shutdown

MiB = 1024**2
# A controller with ha_wait checks that every VM keeps a live copy before it stops its services.
SHUTDOWN_SECONDS = {True: 180, False: 90}
RESYNC_RATE = 100 * MiB  # bytes a second a returning replica catches up at, over the storage network
SUCCESS = "SUCCESS"
HEALTHY, DEGRADED, FAILED = "HEALTHY", "DEGRADED", "FAILED"
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


def resync_progress(resync: Resync, now_ms: int) -> int:
    """Percent of a resync done at `now_ms` (100 once it is due)."""
    total = resync.done_ms - resync.began_ms
    if total <= 0 or now_ms >= resync.done_ms:
        return 100
    return max(0, (now_ms - resync.began_ms) * 100 // total)


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


def _condition(failed: int, parity: int) -> tuple[str, str]:
    if failed == 0:
        return HEALTHY, GREEN
    return (DEGRADED, YELLOW) if failed <= parity else (FAILED, RED)


def with_drive(document: dict[str, Any], host_id: str, slot: str, failed: bool) -> dict[str, Any]:
    """A copy of the document with the drive in `slot` failed, or replaced by a new one (HEALTHY), and
    every status above it (drive set, logical drive, host) and the logical drives' capacity following."""
    changed = copy.deepcopy(document)
    drive = drive_in(changed, host_id, slot)
    if failed:
        drive.update(health=FAILED, status=RED, percent_rebuilt=0, additional_status="Drive failure")
    else:
        drive.update(
            health=HEALTHY, status=GREEN, percent_rebuilt=100, additional_status="", life_remaining=100
        )
    _assess(changed)
    return changed


def _assess(document: dict[str, Any]) -> None:
    """Statuses and capacities from the physical drives up (in place)."""
    worst = GREEN
    for logical in document.get("logical_drives") or []:
        drives = [d for s in logical.get("drive_sets") or [] for d in s.get("physical_drives") or []]
        parity = _parity(logical)
        failed = sum(1 for d in drives if d["health"] == FAILED)
        for drive_set in logical.get("drive_sets") or []:
            in_set = sum(1 for d in drive_set.get("physical_drives") or [] if d["health"] == FAILED)
            drive_set["health"], drive_set["status"] = _condition(in_set, parity)
        logical["health"], logical["status"] = _condition(failed, parity)
        size = max((int(d["capacity"]) for d in drives), default=0)
        usable = len(drives) - failed - parity
        logical["capacity"] = usable * size if failed <= parity and usable > 0 else 0
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
    keys = ("slot", "drive_position", "capacity", "health", "status", "serial_number")
    return {k: drive[k] for k in keys}
