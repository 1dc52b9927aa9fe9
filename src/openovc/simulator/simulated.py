"""SimulatedFederation: the Simulator port over the content model, the workloads and the guests' files."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any

from openovc.domain import timefmt
from openovc.domain.backups import IN_FLIGHT, NEW, PROTECTED, SAVING, in_cluster, kept_at
from openovc.domain.catalog import DATASTORES, HOSTS, VIRTUAL_MACHINES
from openovc.domain.clock import Clock
from openovc.domain.hardware_faults import running_ms
from openovc.domain.metrics import IoSpan, Performance, VmWorkload, Window
from openovc.domain.ports.federation import Finder, Record, Txn
from openovc.domain.ports.operations import GuestFacts, OperationsState, RestoredFile
from openovc.domain.ports.operations_store import OperationsStore
from openovc.domain.ports.simulator import Rows
from openovc.domain.records import Backup, BackupSource, Datastore, VirtualMachine
from openovc.domain.tasks import Codes, TaskFailure
from openovc.domain.timefmt import epoch_ms, to_text
from openovc.simulator import backup_data as data
from openovc.simulator import guest_files, guests, io, metrics, workload
from openovc.simulator.content.ledger import WorkloadSchedule
from openovc.simulator.content.model import ContentModel
from openovc.simulator.content.pieces import HOT_CLASS, SIZE_CLASSES
from openovc.simulator.content.workload import WEEK
from openovc.simulator.vm_data import fresh_identity, give_space, placed_on, take_space, vm_data

_FIGURES = "simulator.figures"  # the before-commit hook that writes the touched places' figures
SAMPLE_MS = 5_000  # the Virtual Controller samples every 5 s: one capacity point per host and sample
# As the real one keeps its samples (its resolutions' longest ranges): 5 s for 12 hours, then a minute for
# a week, an hour for 60 days, a day for 3 years (past that, only the newest point before it).
HISTORY_KEPT = [(43_200_000, 60_000), (604_800_000, 3_600_000), (5_184_000_000, 86_400_000),
                (94_608_000_000, 86_400_000)]  # fmt: skip
# The IO of backups, copies, clones and restores: as it happened for a week, then summed by the hour, after
# 60 days by the day; past 3 years, gone (so are power changes, but the last one before).
THIN_EVERY_S = 30.0
IO_KEPT = [(604_800_000, 3_600_000), (5_184_000_000, 86_400_000), (94_608_000_000, 0)]
# What VMware Tools reports of a running guest and reports again once it runs after a stop (not
# VMWARE_TOOLS_UNAVAILABLE, nor UNKNOWN: those say nothing of the guest).
TOOLS_KNEW = frozenset({"VALID_CREDS", "INVALID_CREDS", "CAPABLE", "INVALID_OS"})


class SimulatedFederation:
    """What the hardware under the Virtual Controllers holds and does (domain/ports/simulator.py).

    `content_of`: the content model of a transaction (one per transaction, over the store's ledger);
    `schedule` and `store` serve the workload chore, which opens transactions of its own.
    """

    def __init__(
        self,
        content_of: Callable[[Txn], ContentModel],
        schedule: WorkloadSchedule,
        store: OperationsStore,
        clock: Clock | None = None,
    ) -> None:
        self._content_of = content_of
        self._schedule = schedule
        self._store = store
        self._clock = clock  # with a clock, the hosts' capacity figures keep their past
        self._homes: dict[str, str] = {}  # datastore id -> its cluster (see _home)
        self._thinned = -1  # the simulated hour the capacity history was last thinned
        self._thinned_at = -float("inf")  # and when, in real (monotonic) seconds

    def forget(self) -> None:
        """Drop what this process remembers of the stored federation: a restored snapshot replaced it."""
        self._homes = {}
        self._thinned, self._thinned_at = -1, -float("inf")

    def _model(self, txn: Txn) -> ContentModel:
        """The transaction's content model; what it changes has its figures written before commit."""
        model = self._content_of(txn)
        txn.before_commit(_FIGURES, lambda: self._write_figures(txn, model))
        return model

    def _write_figures(self, txn: Txn, model: ContentModel) -> None:
        places, model.touched = list(model.touched), {}
        written = data.refresh_clusters(txn, model, places)
        if self._clock is not None and written:
            at = epoch_ms(self._clock.now())
            txn.state().record_capacity(at - at % SAMPLE_MS, written)

    def keep_history(self, txn: Txn, now: datetime) -> int:
        state, at = txn.state(), epoch_ms(now)
        return (
            state.thin_capacity(at, HISTORY_KEPT) + state.thin_io(at, IO_KEPT) + state.thin_power(at, IO_KEPT)
        )

    # ---- virtual machines ----------------------------------------------------------------------

    def vm_now(self, txn: Txn, vm: VirtualMachine, now: datetime) -> VirtualMachine:
        return workload.catch_up(txn, self._model(txn), vm, now)

    def power_changed(self, txn: Txn, vm: VirtualMachine, on: bool, now: datetime) -> None:
        txn.state().record_power(vm["id"], epoch_ms(now), on)  # its metrics' past follows it
        model = self._model(txn)
        if on:
            workload.start(model, vm, now)
            return
        # What it wrote until now stays; then it stops.
        workload.catch_up(txn, model, vm, now)
        workload.stop(model, vm["id"])

    def new_identity(self, vm: VirtualMachine, new_id: str, name: str, now: datetime) -> Record:
        return fresh_identity(vm, new_id, name, now)

    def placement(self, txn: Txn, datastore: Datastore) -> Record:
        return placed_on(txn, datastore)

    def clone_vm(
        self, txn: Txn, vm: VirtualMachine, datastore: Datastore, clone_id: str, now: datetime
    ) -> None:
        model = self._model(txn)
        # A clone shares its source's data when created; it is counted once more on the datastore's
        # logical capacity, which is what vSphere reports as used.
        model.clone(vm["id"], clone_id)
        size = model.size(clone_id)
        take_space(txn, datastore, size)
        txn.state().record_io(io.cloned(str(vm["host_id"] or ""), vm["id"], clone_id, size, epoch_ms(now)))

    def move_vm(self, txn: Txn, vm: VirtualMachine, moved: Record, target: Datastore) -> None:
        used = vm_data(vm)
        take_space(txn, target, used)
        give_space(txn, str(vm["datastore_id"]), used)
        # The moved VM holds the same content under its new id; in another cluster it is stored there.
        model = self._model(txn)
        with model.batch():  # one write-back of the content ledger for the three steps
            model.clone(vm["id"], str(moved["id"]))
            model.delete(vm["id"])
            if moved["omnistack_cluster_id"] != vm["omnistack_cluster_id"]:
                model.move(str(moved["id"]), str(moved["omnistack_cluster_id"]))

    def remove_vm(self, txn: Txn, vm: BackupSource) -> None:
        give_space(txn, str(vm["datastore_id"]), vm_data(vm))
        self._model(txn).delete(vm["id"])
        txn.state().drop_guest_facts(vm["id"])

    def hosts_changed(self, txn: Txn, cluster_id: str) -> None:
        self._model(txn).touched[cluster_id] = None

    def rewritten(
        self, txn: Txn, vms: Sequence[VirtualMachine], since_ms: int, until_ms: int
    ) -> dict[str, int]:
        # Read only: the model's figures hook is not needed, nothing changes.
        model = self._content_of(txn)
        held = [vm for vm in vms if model.ledger.holder(vm["id"]) is not None]
        changes = txn.state().power_changes([vm["id"] for vm in held], since_ms)
        written = {}
        for vm in held:
            created = vm["created_at"]
            begin = max(since_ms, epoch_ms(timefmt.from_text(created))) if created else since_ms
            on = vm["hypervisor_virtual_machine_power_state"] == "ON"
            ran = running_ms(changes.get(vm["id"], []), on, begin, until_ms) if begin < until_ms else 0
            # Byte for byte, not in the model's whole pieces: a replica tracks every block written. A week's
            # worth at most (the workload then rewrites what it rewrote), never more than the VM holds.
            wrote = round(model.lineage(vm["id"]).rate * min(ran / 1000, WEEK))
            written[vm["id"]] = min(wrote, vm_data(vm))
        return written

    @staticmethod
    def _receiver(finder: Finder, place: str) -> str | None:
        """The host that receives (or sends) what crosses the link of a cluster: its first live host by
        id; None when it has none (or `place` is a store)."""
        live = [h["id"] for h in finder.find(HOSTS, omnistack_cluster_id=place) if h["state"] == "ALIVE"]
        return min(live, default=None)

    def guest_os(self, vm: VirtualMachine, state: OperationsState | None = None) -> str:
        return guests.os_of(vm, state.guest_facts(vm["id"]) if state is not None else None)

    def guest_stopped(self, txn: Txn, vm: VirtualMachine) -> None:
        state = txn.state()
        known = state.guest_facts(vm["id"])
        status = vm["app_aware_vm_status"]
        if status in TOOLS_KNEW:
            tools: str | None = str(status)
        else:  # stopped again before Tools reported anything: what it knew before still holds
            tools = known.tools_status if known is not None else None
        state.put_guest_facts(GuestFacts(vm["id"], guests.os_of(vm, known), tools))

    def guest_started(self, state: OperationsState, vm: VirtualMachine) -> str:
        status = vm["app_aware_vm_status"]
        if status != "VMWARE_TOOLS_UNAVAILABLE":
            return str(status)
        known = state.guest_facts(vm["id"])
        return known.tools_status if known is not None and known.tools_status is not None else "UNKNOWN"

    def guest_copied(self, txn: Txn, source: VirtualMachine, new_id: str) -> None:
        state = txn.state()
        # Its disks are the source's, so is its OS; Tools has yet to report on this new VM.
        os_family = guests.os_of(source, state.guest_facts(source["id"]))
        state.put_guest_facts(GuestFacts(new_id, os_family, None))

    # ---- backups -------------------------------------------------------------------------------

    def take_backup(self, txn: Txn, vm: BackupSource, backup: Record, paced: bool, now: datetime) -> Record:
        return self.take_backups(txn, [(vm, backup)], paced, now)[0]

    def take_backups(
        self, txn: Txn, taken: Sequence[tuple[BackupSource, Record]], paced: bool, now: datetime
    ) -> list[Record]:
        model = self._model(txn)
        if len(taken) > 1:  # one statement per kind of row for all of them; one backup reads its own
            model.prefetch([*(vm["id"] for vm, _ in taken), *(str(b["id"]) for _, b in taken)])
        # What their workloads wrote by now is in their backups.
        workload.catch_up_many(txn, model, [vm for vm, _ in taken], now)
        rows: list[Record] = []
        spans: list[IoSpan] = []
        receivers: dict[str, str | None] = {}  # looked up once per destination for the batch
        began = epoch_ms(now)
        with model.batch():  # one write-back of the content ledger for all of them
            for vm, backup in taken:
                change = model.backup(vm["id"], str(backup["id"]), kept_at(backup))
                home = vm["omnistack_cluster_id"]
                sent = change.compressed if _destination(backup, home) is not None else 0
                row = self._arrived(model, backup, home, sent, paced, now)
                rows.append(row)
                place = kept_at(row)
                if in_cluster(row) and sent and place not in receivers:
                    receivers[place] = self._receiver(txn, place)
                receiver = receivers.get(place) if sent else None
                plan = _plan(row, home)
                spans += io.backup_taken(
                    str(vm["host_id"] or ""),
                    vm["id"],
                    str(row["id"]),
                    int(row["size"]),
                    plan,
                    began,
                    receiver,
                )
        txn.state().record_io(spans)
        return rows

    def copy_backup(self, txn: Txn, source: Backup, copy: Record, paced: bool, now: datetime) -> Record:
        model = self._model(txn)
        home = self._home(txn, source)
        # A copy kept where its VM's data lives (say, back from a store) counts as a local backup there.
        kind = "local" if kept_at(copy) == home else "remote"
        change = model.copy(source["id"], str(copy["id"]), kept_at(copy), kind)
        # A copy always crosses a link: what its place lacked is sent, even back home.
        row = self._arrived(model, copy, home, change.compressed, paced, now)
        # It is read where the source is kept, not from the VM.
        sender = self._receiver(txn, kept_at(source)) if in_cluster(source) else None
        receiver = self._receiver(txn, kept_at(row)) if in_cluster(row) else None
        txn.state().record_io(io.sent(sender, receiver, str(row["id"]), _plan(row, home), epoch_ms(now)))
        return row

    @staticmethod
    def _arrived(
        model: ContentModel, backup: Record, home: str | None, sent: int, paced: bool, now: datetime
    ) -> Record:
        """A new backup (or copy) that began now, with its figures from the model: NEW when paced, else
        already where it is going. `sent` holds, from the start, the bytes it sends (the model's change
        at its place, 0 when it stays home): its time in flight follows from them. `home`: the cluster of
        its VM's data."""
        key = str(backup["id"])
        stored = {
            **backup,
            "size": model.size(key),
            "unique_size_bytes": model.unique_size(key),
            "sent": sent,
        }
        if paced:
            return {**stored, "state": NEW, "sent_duration": 0, "sent_completion_time": None}
        return {**stored, **_finished(now, _plan(stored, home))}

    def delete_backups(self, txn: Txn, backup_ids: Sequence[str]) -> None:
        model = self._model(txn)
        model.prefetch(backup_ids)
        with model.batch():
            for backup_id in backup_ids:
                # A canceled backup holds no content (its pieces were freed when it was canceled).
                if model.ledger.holder(backup_id) is not None:
                    model.delete(backup_id)

    def _home(self, finder: Finder, backup: Mapping[str, Any]) -> str | None:
        """The cluster the backed-up VM's data lives in: its datastore's (or, that gone, its VM's).

        A datastore never changes cluster, so each is looked up once: settling many backups then reads
        no datastore at all.
        """
        datastore_id = str(backup["datastore_id"])
        found = self._homes.get(datastore_id)
        if found is not None:
            return found
        for coll, key in ((DATASTORES, "datastore_id"), (VIRTUAL_MACHINES, "virtual_machine_id")):
            rows = finder.find(coll, id=str(backup[key]))
            if rows:
                cluster = str(rows[0]["omnistack_cluster_id"])
                if coll is DATASTORES:
                    self._homes[datastore_id] = cluster
                return cluster
        return None

    def backup_progress(self, finder: Finder, backup: Backup, now: datetime) -> Record:
        if backup["state"] not in IN_FLIGHT:
            return {}
        began = _began(backup)
        plan = _plan(backup, self._home(finder, backup))
        elapsed = (now - began).total_seconds()
        if elapsed >= plan.total:
            return _finished(began, plan)
        if elapsed >= data.NEW_SECONDS and backup["state"] == NEW:
            return {"state": SAVING}
        return {}

    def backup_canceled(self, txn: Txn, backup: Backup, now: datetime) -> Record:
        plan = _plan(backup, self._home(txn, backup))
        sent, seconds = data.sent_so_far(plan, (now - _began(backup)).total_seconds())
        txn.state().stop_io(backup["id"], epoch_ms(now))  # the IO it was doing stops now
        return {
            "sent": sent,
            "sent_duration": seconds,
            "sent_completion_time": to_text(now) if sent else None,
        }

    def unique_size(self, txn: Txn, backup_id: str) -> int:
        return self._model(txn).unique_size(backup_id)

    def restore_vm(self, txn: Txn, backup: Backup, vm: Record, datastore: Datastore, now: datetime) -> Record:
        model = self._model(txn)
        cluster = str(datastore["omnistack_cluster_id"])
        model.restore_as(backup["id"], str(vm["id"]), cluster)
        size = model.size(str(vm["id"]))
        take_space(txn, datastore, size)
        self._restored(txn, backup, str(vm["host_id"] or ""), str(vm["id"]), cluster, size, now)
        return data.restored_vm(int(vm["hypervisor_allocated_capacity"] or 0), size)

    def restore_over(self, txn: Txn, backup: Backup, vm: VirtualMachine, now: datetime) -> Record:
        model = self._model(txn)
        # Its content now is replaced whole, so the workload steps due until now need not be applied;
        # vSphere registers the restored VM again, powered off, so its workload stops.
        model.restore(backup["id"], vm["id"])
        workload.stop(model, vm["id"])
        if vm["hypervisor_virtual_machine_power_state"] == "ON":
            txn.state().record_power(vm["id"], epoch_ms(now), False)
        size = model.size(vm["id"])
        self._resize(txn, vm, size - vm_data(vm))
        cluster = str(vm["omnistack_cluster_id"])
        self._restored(txn, backup, str(vm["host_id"] or ""), vm["id"], cluster, size, now)
        return data.restored_vm(int(vm["hypervisor_allocated_capacity"] or 0), size)

    def _restored(
        self, txn: Txn, backup: Backup, host: str, vm_id: str, cluster: str, size: int, now: datetime
    ) -> None:
        """The IO of a restore into a VM of `cluster`: its data sent over when the backup is kept elsewhere."""
        place = kept_at(backup)
        across = place if place != cluster else None
        sender = self._receiver(txn, place) if across and in_cluster(backup) else None
        txn.state().record_io(io.restored(host, vm_id, size, epoch_ms(now), sender, backup["id"], across))

    @staticmethod
    def _resize(txn: Txn, vm: VirtualMachine, delta: int) -> None:
        """The VM's data grew by `delta` bytes (negative: shrank): its datastore's free space follows."""
        if delta > 0:
            datastore = txn.get(DATASTORES, str(vm["datastore_id"]))
            if datastore is None:
                raise TaskFailure(
                    Codes.NOT_FOUND, f"Object type: datastore id: {vm['datastore_id']} could not be found"
                )
            take_space(txn, datastore, delta)
        elif delta < 0:
            give_space(txn, str(vm["datastore_id"]), -delta)

    # ---- files in backups ----------------------------------------------------------------------

    def backup_disks(self, rows: Rows, backup: Backup) -> list[str]:
        with self._store.reading() as state:
            return [d.name for d in guests.guest_vm(rows, backup, state).disks()]

    def backup_partitions(self, rows: Rows, backup: Backup, disk_name: str) -> list[dict[str, object]]:
        with self._store.reading() as state:
            vm = guests.guest_vm(rows, backup, state)
        return [p.as_json() for p in vm.partitions(vm.disk(disk_name))]

    def backup_files(
        self, rows: Rows, state: OperationsState, backup: Backup, disk_name: str, number: int, path: str
    ) -> list[dict[str, object]]:
        vm = guests.with_restored(guests.guest_vm(rows, backup, state), state)
        return [
            e.as_json() for e in guest_files.list_files(vm, disk_name, number, path, guests.taken_at(backup))
        ]

    def check_restore_files(
        self, rows: Rows, state: OperationsState, backup: Backup, vm: VirtualMachine, paths: Sequence[str]
    ) -> None:
        guests.check_landing(rows, state, backup, vm, paths)

    def restore_files(
        self, txn: Txn, backup: Backup, vm: VirtualMachine, paths: Sequence[str], now: datetime
    ) -> list[RestoredFile]:
        written = guests.written(txn, txn.state(), backup, vm, paths, now)
        restored = sum(w.size for w in written if not w.directory)
        # Restored files overwrite the guest's current ones: a write of as many of the VM's hot pieces as
        # the restored bytes fill (at least one). The VM's data changes by what those pieces differ in size.
        model = self._model(txn)
        model.workload(vm["id"], max(1, round(restored / SIZE_CLASSES[HOT_CLASS])))
        size = model.size(vm["id"])
        values = data.with_data(vm, size)
        if values is None:
            raise TaskFailure(
                Codes.INSUFFICIENT_CAPACITY,
                f"The virtual machine {vm['name']} has {vm['hypervisor_free_space']} bytes free on its disks; "
                f"{size - vm_data(vm)} more bytes are needed.",
            )
        self._resize(txn, vm, size - vm_data(vm))
        txn.update(VIRTUAL_MACHINES, vm["id"], values)
        return written

    # ---- metrics -------------------------------------------------------------------------------

    def performance(
        self, vms: Iterable[VmWorkload], window: Window, tz: tzinfo, spans: Iterable[IoSpan] = ()
    ) -> Performance:
        return metrics.performance(vms, window, tz, spans)

    # ---- time ----------------------------------------------------------------------------------

    def chores(self, clock: Clock) -> list[Callable[[], int]]:
        workloads = [lambda: self._advance_workloads(clock.now())]
        # Only a simulator that keeps the figures' past has one to thin.
        return [*workloads, lambda: self._thin(clock.now())] if self._clock is not None else workloads

    def _thin(self, now: datetime) -> int:
        """The past thinned once a simulated hour, and at most every THIN_EVERY_S real seconds: on an
        accelerated clock an hour may pass every second, and each thinning reads the old rows of every
        host's history (what it removes is not counted as work done)."""
        hour = epoch_ms(now) // 3_600_000
        if hour == self._thinned or time.monotonic() - self._thinned_at < THIN_EVERY_S:
            return 0
        self._thinned, self._thinned_at = hour, time.monotonic()
        with self._store.changing() as (txn, _):
            self.keep_history(txn, now)
        return 0

    def _advance_workloads(self, now: datetime, batch: int = workload.BATCH) -> int:
        """Advance the VMs whose workload steps are longest due, `batch` at most a turn.

        One indexed read finds them, so an idle server only reads; each is checked again in the write
        transaction (a task may have advanced it meanwhile).
        """
        due = self._schedule.due(epoch_ms(now), batch)
        if not due:
            return 0
        with self._store.changing() as (txn, _):
            return workload.advance_due(txn, self._model(txn), due, now)


# ---- where a backup is going, and how long it takes ------------------------------------------------


def _destination(backup: Mapping[str, Any], home: str | None) -> str | None:
    """Where a backup's data is sent to (a store's name, a cluster's id); None when it stays home.

    A backup kept home that sent something is a copy brought back there: it came over the link too.
    """
    if backup["external_store_name"]:
        return str(backup["external_store_name"])
    holder = str(backup["omnistack_cluster_id"])
    return holder if holder != home or int(backup.get("sent") or 0) > 0 else None


def _plan(backup: Mapping[str, Any], home: str | None) -> data.Transfer:
    return data.transfer(
        int(backup["size"] or 0),
        int(backup["sent"] or 0),
        str(backup["consistency_type"]),
        _destination(backup, home),
    )


def _began(backup: Mapping[str, Any]) -> datetime:
    return timefmt.from_text(str(backup["unique_size_timestamp"] or backup["created_at"]))


def _finished(began: datetime, plan: data.Transfer) -> Record:
    if not plan.send:
        return {"state": PROTECTED, "sent": 0, "sent_duration": 0, "sent_completion_time": None}
    end = began + timedelta(seconds=plan.total)
    return {
        "state": PROTECTED,
        "sent": plan.sent,
        "sent_duration": plan.send,
        "sent_completion_time": to_text(end),
    }
