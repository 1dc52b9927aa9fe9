"""The simulated federation under the API, as the services ask it for things: one port, in intents.

A real Virtual Controller fronts hardware: disks that hold what VMs write, links that take time to send
backups, guests with file systems. The services decide whether an operation may happen and record it;
the simulator does what the hardware would, inside the operation's own transaction, and writes every
figure that follows (a VM's data, its datastore's free space, the capacity of every cluster and host it
changed, a backup's sizes and transfer). Cluster and host figures are written once, just before the
transaction commits, whatever number of changes led to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, tzinfo
from typing import Protocol

from openovc.domain.clock import Clock
from openovc.domain.fields import Collection
from openovc.domain.metrics import IoSpan, Performance, VmWorkload, Window
from openovc.domain.ports.federation import Finder, R, Record, Txn
from openovc.domain.ports.operations import OperationsState, RestoredFile
from openovc.domain.records import Backup, BackupSource, Datastore, VirtualMachine

WINDOWS, LINUX = "windows", "linux"  # what a guest runs: guest_os


class Rows(Protocol):
    """Gets an object by id: the reader and a transaction both can."""

    def get(self, coll: Collection[R], key: str) -> R | None: ...


class Simulator(Protocol):
    # ---- virtual machines ----------------------------------------------------------------------

    def vm_now(self, txn: Txn, vm: VirtualMachine, now: datetime) -> VirtualMachine:
        """The VM with what its workload wrote until `now` applied (its row and its datastore's written)."""
        ...

    def power_changed(self, txn: Txn, vm: VirtualMachine, on: bool, now: datetime) -> None:
        """The VM was powered on or off: its workload runs from now, or stops after what it wrote."""
        ...

    def new_identity(self, vm: VirtualMachine, new_id: str, name: str, now: datetime) -> Record:
        """What a VM made from `vm` does not share with it: ids, name, times, MAC addresses, power."""
        ...

    def placement(self, txn: Txn, datastore: Datastore) -> Record:
        """Where a VM arriving on a datastore of another cluster runs: cluster, hosts, replicas, vCenter."""
        ...

    def clone_vm(
        self, txn: Txn, vm: VirtualMachine, datastore: Datastore, clone_id: str, now: datetime
    ) -> None:
        """A clone of the VM as it is now shares its data; it takes its size on the VM's datastore (or
        the task fails for want of space). Its IO is recorded."""
        ...

    def move_vm(self, txn: Txn, vm: VirtualMachine, moved: Record, target: Datastore) -> None:
        """The VM's data now belongs to `moved`, a new VM on the `target` datastore (maybe of another
        cluster); the task fails if it does not fit there."""
        ...

    def remove_vm(self, txn: Txn, vm: BackupSource) -> None:
        """The VM left the inventory: its data is freed, and its datastore's space given back."""
        ...

    def hosts_changed(self, txn: Txn, cluster_id: str) -> None:
        """A cluster's hosts changed (one left): its bytes are shared among them anew."""
        ...

    def rewritten(
        self, txn: Txn, vms: Sequence[VirtualMachine], since_ms: int, until_ms: int
    ) -> dict[str, int]:
        """Bytes each VM's workload wrote from `since_ms` to `until_ms` (epoch ms), by VM id: its rate over
        the time it ran meanwhile (its power changes; none while off, none without a workload), what a
        replica away that long has to catch up."""
        ...

    def guest_os(self, vm: VirtualMachine, state: OperationsState | None = None) -> str:
        """WINDOWS or LINUX: what the VM's guest runs, as the simulator recorded it (see guest_stopped,
        guest_copied) or else as its name, VMware Tools and NICs show it. Without `state`, the row only."""
        ...

    def guest_stopped(self, txn: Txn, vm: VirtualMachine) -> None:
        """The VM's guest stops running (powered off, or its disks restored): what VMware Tools knew of
        it (`vm` as it was, its app_aware_vm_status and OS) is kept for when it runs again."""
        ...

    def guest_started(self, state: OperationsState, vm: VirtualMachine) -> str:
        """The app_aware_vm_status of the VM (`vm` as it was) once powered on: what VMware Tools knew
        before it stopped, or UNKNOWN when it did not report, or what the row says if it already tells."""
        ...

    def guest_copied(self, txn: Txn, source: VirtualMachine, new_id: str) -> None:
        """A VM `new_id` is made from `source`'s disks (a clone, a move, a restore): it runs its guest."""
        ...

    # ---- backups -------------------------------------------------------------------------------

    def take_backup(self, txn: Txn, vm: BackupSource, backup: Record, paced: bool, now: datetime) -> Record:
        """The backup of the VM (or persistent volume) as it is now (already `vm_now`), kept where `backup`
        says: the row to insert, with its sizes, what it sends, and its state (NEW when `paced`, else where
        it is going)."""
        ...

    def take_backups(
        self, txn: Txn, taken: Sequence[tuple[BackupSource, Record]], paced: bool, now: datetime
    ) -> list[Record]:
        """take_backup for many VMs and volumes at once (a policy's slot), written back together; each VM is
        first brought to `now` (vm_now) here, so that what it holds is read for all of them together."""
        ...

    def copy_backup(self, txn: Txn, source: Backup, copy: Record, paced: bool, now: datetime) -> Record:
        """A copy of a backup kept where `copy` says: the row to insert, as take_backup."""
        ...

    def delete_backups(self, txn: Txn, backup_ids: Sequence[str]) -> None:
        """Backups gone (or canceled): the pieces nothing else refers to are freed."""
        ...

    def backup_progress(self, finder: Finder, backup: Backup, now: datetime) -> Record:
        """What changed by `now` in a backup being taken or sent (empty when nothing did)."""
        ...

    def backup_canceled(self, txn: Txn, backup: Backup, now: datetime) -> Record:
        """A backup in flight canceled now: what it had sent, and when (its IO stops now)."""
        ...

    def unique_size(self, txn: Txn, backup_id: str) -> int:
        """The bytes deleting the backup would free where it is kept."""
        ...

    def restore_vm(self, txn: Txn, backup: Backup, vm: Record, datastore: Datastore, now: datetime) -> Record:
        """A new VM (`vm`, placed but not yet stored) whose data is the backup's, on `datastore`: its
        capacity fields. Its IO is recorded."""
        ...

    def restore_over(self, txn: Txn, backup: Backup, vm: VirtualMachine, now: datetime) -> Record:
        """The VM's data goes back to the backup's, and it is powered off: its capacity fields (its
        datastore's are written). Its IO and power change are recorded."""
        ...

    # ---- files in backups ----------------------------------------------------------------------

    def backup_disks(self, rows: Rows, backup: Backup) -> list[str]: ...

    def backup_partitions(self, rows: Rows, backup: Backup, disk_name: str) -> list[dict[str, object]]: ...

    def backup_files(
        self, rows: Rows, state: OperationsState, backup: Backup, disk_name: str, number: int, path: str
    ) -> list[dict[str, object]]: ...

    def check_restore_files(
        self, rows: Rows, state: OperationsState, backup: Backup, vm: VirtualMachine, paths: Sequence[str]
    ) -> None:
        """Quick check: each path names something restorable in the backup, with a place in the VM
        (InvalidBody naming the path, or TaskFailure, when not)."""
        ...

    def restore_files(
        self, txn: Txn, backup: Backup, vm: VirtualMachine, paths: Sequence[str], now: datetime
    ) -> list[RestoredFile]:
        """The files land in the VM (already `vm_now`): its data and datastore change by what they
        write; what they are, for the caller to record."""
        ...

    # ---- metrics -------------------------------------------------------------------------------

    def performance(
        self, vms: Iterable[VmWorkload], window: Window, tz: tzinfo, spans: Iterable[IoSpan] = ()
    ) -> Performance:
        """IOPS, throughput and latency of these VMs together over the window, in the cluster's zone,
        with the IO of these spans (backups, copies, clones and restores)."""
        ...

    def keep_history(self, txn: Txn, now: datetime) -> int:
        """Thin the figures' recorded past as the real one keeps its samples; how many points went."""
        ...

    # ---- time ----------------------------------------------------------------------------------

    def chores(self, clock: Clock) -> list[Callable[[], int]]:
        """What the simulated hardware does as time passes, nobody asking (a turn each; how much it did)."""
        ...
