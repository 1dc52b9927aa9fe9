"""State some operations keep beyond the catalog's columns (shutdowns, credentials, restored files, the policy
schedule's progress, the past of the figures and metrics); storage implements it.

Task handlers get it for their own transaction through `Txn.state()`, so that it changes together
with the objects; direct (non-task) operations open both at once with `OperationsStore.changing()`
(operations_store.py).
Passwords only ever arrive here as hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from openovc.domain.metrics import IoSpan


@dataclass(frozen=True)
class RestoredFile:
    """A file or directory restore_files wrote into a VM's guest."""

    disk_index: int
    partition_number: int
    path: str  # inside the partition, '/'-separated
    directory: bool
    size: int
    last_modified: int  # epoch seconds: the backed-up file's own time, which a restore keeps
    restored_at: int  # epoch seconds
    undone_at: int | None = None  # epoch seconds: when the VM was restored over from an older backup


@dataclass(frozen=True)
class Shutdown:
    """A Virtual Controller shutdown that was accepted and not cancelled."""

    host_id: str
    status: str  # IN_PROGRESS, or FORCE_IN_PROGRESS when it did not wait for HA
    ha_wait: bool
    requested_ms: int


@dataclass(frozen=True)
class HostFault:
    """A host that failed (power, board): FAULTY from `since_ms` until it is repaired."""

    host_id: str
    since_ms: int


@dataclass(frozen=True)
class Resync:
    """A VM's replica on a host catching up with the other one: SYNCING from `began_ms` to `done_ms`."""

    vm_id: str
    host_id: str
    began_ms: int
    done_ms: int
    changed: int  # bytes the VM wrote while the replica was away


@dataclass(frozen=True)
class DriveRebuild:
    """A new drive in a degraded array taking its share back from parity: REBUILDING until `done_ms`."""

    host_id: str
    slot: str
    began_ms: int
    done_ms: int


@dataclass(frozen=True)
class StoreCredentials:
    """The client account SimpliVity uses to reach an external store."""

    name: str
    username: str
    password_hash: str


@dataclass(frozen=True)
class GuestCredentials:
    """A VM's backup parameters, and the guest account the guest is known to accept."""

    vm_id: str
    username: str
    password_hash: str
    app_aware_type: str | None
    override_validation: bool
    # The last credentials set here that the guest accepted (None until there are some).
    account_username: str | None
    account_password_hash: str | None


@dataclass(frozen=True)
class GuestFacts:
    """What is known of a VM's guest that its row may no longer show (the simulator's own record).

    `os_family`: what its disks run (a clone, a moved or a restored VM runs its source's);
    `tools_status`: the app_aware_vm_status VMware Tools reported before the guest last stopped
    (None when it reported nothing that tells), which it reports again once the guest runs.
    """

    vm_id: str
    os_family: str | None
    tools_status: str | None


class OperationsState(Protocol):
    def shutdown(self, host_id: str) -> Shutdown | None: ...

    def put_shutdown(self, shutdown: Shutdown) -> None: ...

    def drop_shutdown(self, host_id: str) -> bool: ...

    def drop_host_hardware(self, host_id: str) -> bool: ...

    # ---- hardware faults (services/hardware.py) ----

    def host_hardware(self, host_id: str) -> dict[str, Any] | None:
        """The host's hardware document (GET /hosts/{id}/hardware's `host`)."""
        ...

    def put_host_hardware(self, host_id: str, document: dict[str, Any]) -> None: ...

    def host_fault(self, host_id: str) -> HostFault | None: ...

    def put_host_fault(self, fault: HostFault) -> None: ...

    def drop_host_fault(self, host_id: str) -> bool: ...

    def resyncs(self) -> list[Resync]:
        """Every replica resyncing, by VM and host."""
        ...

    def put_resync(self, resync: Resync) -> None: ...

    def drop_resyncs(self, vm_id: str | None = None, host_id: str | None = None) -> int:
        """Drop the resyncs of a VM, of a host, or of both at once; how many went."""
        ...

    def rebuilds(self) -> list[DriveRebuild]:
        """Every drive rebuilding, by host and slot."""
        ...

    def put_rebuild(self, rebuild: DriveRebuild) -> None: ...

    def drop_rebuilds(self, host_id: str, slot: str | None = None) -> int:
        """The host's rebuilds (of one slot, when given) end; how many there were."""
        ...

    def store_credentials(self, name: str) -> StoreCredentials | None: ...

    def put_store_credentials(self, credentials: StoreCredentials) -> None: ...

    def drop_store_credentials(self, name: str) -> bool: ...

    def guest_credentials(self, vm_id: str) -> GuestCredentials | None: ...

    def put_guest_credentials(self, credentials: GuestCredentials) -> None: ...

    def guest_facts(self, vm_id: str) -> GuestFacts | None: ...

    def put_guest_facts(self, facts: GuestFacts) -> None: ...

    def drop_guest_facts(self, vm_id: str) -> bool: ...

    def restored_files(self, vm_id: str) -> list[RestoredFile]:
        """What restore_files wrote into a VM, oldest first."""
        ...

    def add_restored_files(self, vm_id: str, files: list[RestoredFile]) -> None: ...

    def undo_restored_files(self, vm_id: str, after: int, at: int) -> int:
        """What was restored into a VM after `after` is gone from `at` on (epoch seconds): its disks
        went back to a backup taken at `after`. Backups taken in between still hold it."""
        ...

    # ---- the policy schedule (services/schedule.py) ----

    def schedule_marks(self) -> dict[tuple[str, str], int]:
        """(rule id, cluster id) -> the simulated epoch ms up to which that rule's slots have fired there."""
        ...

    def move_schedule_mark(self, rule_id: str, cluster_id: str, expected: int | None, through: int) -> bool:
        """Compare-and-set: the mark moves to `through` only if it still is `expected` (None: no mark yet).
        Two servers that would fire the same slots race here, and only one wins."""
        ...

    def claim_slots(self, rule_id: str, slot_ms: int, backups: dict[str, str]) -> None:
        """The slot fired for these VMs (vm id -> its backup's id); a slot claimed twice for a VM is an
        error the database refuses (its key is rule, VM and slot)."""
        ...

    def slot_backups(self, rule_id: str, vm_ids: list[str]) -> dict[str, list[str]]:
        """Each VM's backup ids the rule took, oldest slot first (some may since have gone)."""
        ...

    def forget_slots(self, rule_id: str, before_ms: int) -> int:
        """Drop the rule's claims of slots before this instant: their backups have expired (or been locked),
        and the rule's marks have passed them, so they can fire no more."""
        ...

    # ---- the past of the hosts' capacity figures ----

    def record_capacity(self, at_ms: int, hosts: list[tuple[str, dict[str, object]]]) -> None:
        """These hosts' capacity fields are these from `at_ms` on (one point per host and instant)."""
        ...

    def capacity_history(
        self, host_id: str, since_ms: int, until_ms: int
    ) -> list[tuple[int, dict[str, object]]]:
        """A host's points in (since, until], after the last point at or before `since` (what held
        then), ascending by time."""
        ...

    def thin_capacity(self, now_ms: int, keep: list[tuple[int, int]]) -> int:
        """Thin each host's points as they age: `keep` pairs (age ms, bucket ms): past that age, only a
        bucket's last point stays. Past the last age none stays but the newest before it. How many went."""
        ...

    # ---- the past of the metrics: power changes, and the IO of backups, copies, clones and restores ----

    def record_power(self, vm_id: str, at_ms: int, on: bool) -> None:
        """The VM was powered on (or off) at `at_ms`. A second change at the same instant undoes the
        first (the state is as it was)."""
        ...

    def power_changes(self, vm_ids: Sequence[str], since_ms: int) -> dict[str, list[tuple[int, bool]]]:
        """The VMs' power changes after `since_ms` (epoch ms, powered on after it), ascending, by VM."""
        ...

    def record_io(self, spans: Sequence[IoSpan]) -> None: ...

    def stop_io(self, source: str, at_ms: int) -> int:
        """The IO of `source`'s operation stops at `at_ms`: its spans end there, keeping the bytes that
        fell before (spans wholly after go). How many spans changed."""
        ...

    def thin_io(self, now_ms: int, keep: list[tuple[int, int]]) -> int:
        """Roll spans up as they age: `keep` pairs (age ms, bucket ms): spans that ended before that age
        (at a bucket boundary) are summed per host, VM and bucket (domain.metrics.roll_up); a bucket of 0
        drops them. How many rows went."""
        ...

    def thin_power(self, now_ms: int, keep: list[tuple[int, int]]) -> int:
        """Drop power changes older than the longest age in `keep`, but each VM's newest before it (the
        state then). How many went."""
        ...
