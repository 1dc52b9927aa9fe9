"""The content model's operations, each changing what a place stores by exactly the pieces it should.

The accounting itself is accounting.py. Every operation runs in a unit of work written back
when it ends; batch() lets many operations share one (the generator's bulk path).

Figures
-------
- a backup's or VM's size: the logical bytes of its version (kept per version in the lineage);
- unique_size_bytes: the bytes deleting it would free at its place (0 while another holder there
  holds the same version), i.e. the logical bytes of its pieces nothing else there references;
- sent: the compressed bytes of the pieces a copy added at its destination (it sends only those);
- per place: stored_uncompressed_data (the distinct pieces' logical bytes), stored_compressed_data,
  stored_virtual_machine_data (live VMs' logical bytes), local/remote backup capacity (backups kept
  where their VM is / received from elsewhere), and the ratios, through domain/figures.py.

Hosts
-----
Deduplication is cluster-wide: a piece shared by VMs whose replicas sit on different hosts is stored
once, so no host "owns" it and per-host byte counts are not defined by the data alone. Every host of a
cluster holds replicas, and the storage layer keeps their load balanced; a host's figures are the
cluster's bytes apportioned to its hosts by weight (domain/figures.py: their capacity), by largest
remainder, so the hosts' bytes add up exactly to the cluster's (figures.cluster_fields sums them back)
and each host's ratios equal the cluster's to within a byte. The HA mirror is not counted twice:
capacity here is usable capacity, as allocated_capacity (the host's logical drive) already is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from openovc.simulator.content.accounting import Change, UnitOfWork, add_version, remove_version
from openovc.simulator.content.ledger import Holder, PieceLedger, Totals
from openovc.simulator.content.lineage import Lineage
from openovc.simulator.content.pieces import MASK63, Segment, mix, name_key, own_layout
from openovc.simulator.content.pieces import profile_for as _profile_for
from openovc.simulator.content.workload import due_steps, first_due

# ---- the operations ------------------------------------------------------------------------------------


class ContentModel:
    """VMs, workloads, backups, clones, copies, restores and deletes over a PieceLedger.

    Each operation is written back when it ends, or, inside `batch()`, with the batch.
    """

    def __init__(self, ledger: PieceLedger) -> None:
        self.ledger = ledger
        self._batch: UnitOfWork | None = None
        # Places whose stored bytes changed since their figures were last written (in order).
        self.touched: dict[str, None] = {}

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Many operations written back together (the generator's bulk path); each sees the earlier.

        Queries (unique_size, totals) write what the batch did so far back first. Should an
        operation fail inside, nothing more is written: a memory ledger must then be thrown away.
        """
        if self._batch is not None:
            raise RuntimeError("batches do not nest")
        self._batch = UnitOfWork(self.ledger)
        try:
            yield
            self._batch.flush()
        finally:
            self._batch = None

    def _work(self) -> UnitOfWork:
        return self._batch if self._batch is not None else UnitOfWork(self.ledger)

    def _end(self, work: UnitOfWork, place: str) -> Change:
        change = work.finish(place)
        if work is not self._batch:
            work.flush()
        return change

    def _settle(self) -> None:
        if self._batch is not None:
            self._batch.flush()
            self._batch = UnitOfWork(self.ledger)

    @staticmethod
    def _holder(work: UnitOfWork, holder_id: str) -> Holder:
        found = work.holder(holder_id)
        if found is None:
            raise KeyError(f"no content recorded for {holder_id!r}")
        return found

    @classmethod
    def _vm(cls, work: UnitOfWork, vm_id: str) -> Holder:
        found = cls._holder(work, vm_id)
        if found.kind != "vm":
            raise ValueError(f"{vm_id!r} is a backup, not a VM")
        return found

    @staticmethod
    def _fresh(work: UnitOfWork, holder_id: str) -> None:
        if work.holder(holder_id) is not None:
            raise ValueError(f"{holder_id!r} already has content")

    @staticmethod
    def _lineage_id(work: UnitOfWork, *parts: str | int) -> int:
        key = name_key(*parts)
        while work.has_lineage(key):
            key = mix(key, 1) & MASK63
        return key

    def _attach(self, work: UnitOfWork, holder: Holder) -> None:
        self.touched[holder.place] = None
        lineage = work.lineage(holder.lineage)
        add_version(work, holder.place, lineage, holder.version)
        work.add_logical(holder.place, holder.kind, lineage.logical[holder.version])
        work.put_holder(holder)

    def _detach(self, work: UnitOfWork, holder: Holder) -> None:
        self.touched[holder.place] = None
        lineage = work.lineage(holder.lineage)
        remove_version(work, holder.place, lineage, holder.version)
        work.add_logical(holder.place, holder.kind, -lineage.logical[holder.version])
        work.drop_holder(holder.id)

    def holder(self, holder_id: str) -> Holder:
        return self._holder(self._work(), holder_id)

    def prefetch(self, holder_ids: Sequence[str]) -> None:
        """These VMs and backups are about to be worked on: their state is read together."""
        self.ledger.prefetch(holder_ids)

    def create_vm(
        self,
        vm_id: str,
        place: str,
        *,
        own_bytes: int,
        compression: float,
        image: Segment | None = None,
        rate: float = 0.0,
    ) -> Holder:
        """A new VM: the image's base (shared with every VM made from it), then data of its own.

        `rate`: the bytes per second its workload rewrites (workload.py beside this module); it starts stopped.
        """
        work = self._work()
        self._fresh(work, vm_id)
        lineage_id = self._lineage_id(work, "vm", vm_id)
        layout = own_layout(lineage_id, image, own_bytes, _profile_for(compression))
        if layout.slots == 0:
            raise ValueError("a VM needs an image or data of its own")
        work.touch(Lineage(lineage_id, layout, rate=rate))
        holder = Holder(vm_id, place, lineage_id, 0, "vm")
        self._attach(work, holder)
        self._end(work, place)
        return holder

    def write(self, vm_id: str, slots: Sequence[int]) -> Change:
        """One workload step rewriting these slots of a live VM."""
        work = self._work()
        vm = self._vm(work, vm_id)
        if not slots:
            self._newest(work, vm)
            return Change()
        self._write(work, vm, slots)
        return self._end(work, vm.place)

    @staticmethod
    def _newest(work: UnitOfWork, vm: Holder) -> Lineage:
        lineage = work.lineage(vm.lineage)
        if vm.version != lineage.steps:
            raise ValueError(f"{vm.id!r} is not at its lineage's newest version")
        return lineage

    def _write(self, work: UnitOfWork, vm: Holder, slots: Sequence[int]) -> Holder:
        lineage = self._newest(work, vm)
        self.touched[vm.place] = None
        old = vm.version
        new = lineage.append(slots)
        work.touch(lineage)
        # The new version joins before the old one leaves: only the rewritten slots change hands.
        add_version(work, vm.place, lineage, new)
        remove_version(work, vm.place, lineage, old)
        work.add_logical(vm.place, "vm", lineage.logical[new] - lineage.logical[old])
        written = Holder(vm.id, vm.place, vm.lineage, new, vm.kind)
        work.put_holder(written)
        return written

    def workload(self, vm_id: str, count: int) -> int:
        """A seeded workload step rewriting `count` slots (mostly hot data); returns how many it did."""
        work = self._work()
        vm = self._vm(work, vm_id)
        slots = work.lineage(vm.lineage).choose_slots(count)
        # What write() does, without looking the VM up again (the generator's replay calls this 300,000 times).
        if not slots:
            self._newest(work, vm)
            return 0
        self._write(work, vm, slots)
        self._end(work, vm.place)
        return len(slots)

    # ---- the workload over time (content/workload.py) ----

    def start_workload(self, vm_id: str, now_ms: int) -> int | None:
        """The VM runs: its workload's first step is due one interval from now (None: it has none)."""
        self._settle()
        work = UnitOfWork(self.ledger)
        due = first_due(work.lineage(self._vm(work, vm_id).lineage).rate, now_ms)
        self.ledger.save_workload_due(vm_id, due)
        return due

    def stop_workload(self, vm_id: str) -> None:
        """The VM stopped (powered off, or made anew): its workload writes nothing until started."""
        self._settle()
        if self.ledger.workload_due(vm_id) is not None:
            self.ledger.save_workload_due(vm_id, None)

    def advance(self, vm_id: str, now_ms: int) -> int:
        """The VM's workload steps due by now, one piece each, in one unit of work; how many it wrote."""
        # Workload due times live in the ledger alone (a batch never holds them): asked before settling,
        # so that a VM with nothing due leaves a batch as it is.
        due = self.ledger.workload_due(vm_id)
        if due is None or now_ms < due:
            return 0
        self._settle()
        work = UnitOfWork(self.ledger)
        vm = self._vm(work, vm_id)
        lineage = work.lineage(vm.lineage)
        count, following = due_steps(lineage.rate, due, now_ms)
        for _ in range(count):
            vm = self._write(work, vm, lineage.choose_slots(1))
        work.flush()
        self.ledger.save_workload_due(vm_id, following)
        return count

    def backup(self, vm_id: str, backup_id: str, place: str | None = None, kind: str | None = None) -> Change:
        """A backup of a VM's content now, kept at `place` (default: where the VM is)."""
        work = self._work()
        vm = self._vm(work, vm_id)
        self._fresh(work, backup_id)
        where = place or vm.place
        kind = kind or ("local" if where == vm.place else "remote")
        self._attach(work, Holder(backup_id, where, vm.lineage, vm.version, kind))
        return self._end(work, where)

    def copy(self, backup_id: str, new_id: str, place: str, kind: str = "remote") -> Change:
        """A copy of a backup at another place; it stores (and receives) only the pieces it lacked."""
        work = self._work()
        source = self._holder(work, backup_id)
        self._fresh(work, new_id)
        self._attach(work, Holder(new_id, place, source.lineage, source.version, kind))
        return self._end(work, place)

    @staticmethod
    def _fork(work: UnitOfWork, source: Holder, lineage_id: int) -> Lineage:
        parent = work.lineage(source.lineage)
        child = parent.fork(source.version, lineage_id)
        work.touch(parent)
        work.touch(child)
        return child

    def clone(self, vm_id: str, new_vm_id: str) -> Change:
        """A clone shares every piece of its source as it is now."""
        work = self._work()
        vm = self._vm(work, vm_id)
        self._fresh(work, new_vm_id)
        child = self._fork(work, vm, self._lineage_id(work, "clone", new_vm_id, vm.lineage, vm.version))
        self._attach(work, Holder(new_vm_id, vm.place, child.id, 0, "vm"))
        return self._end(work, vm.place)

    def restore(self, backup_id: str, vm_id: str) -> Change:
        """The VM's content becomes the backup's (the VM stays where it is)."""
        work = self._work()
        backup = self._holder(work, backup_id)
        vm = self._vm(work, vm_id)
        parts = ("restore", vm_id, vm.lineage, vm.version, backup.lineage, backup.version)
        child = self._fork(work, backup, self._lineage_id(work, *parts))
        self._detach(work, vm)
        self._attach(work, Holder(vm_id, vm.place, child.id, 0, "vm"))
        return self._end(work, vm.place)

    def restore_as(self, backup_id: str, new_vm_id: str, place: str) -> Change:
        """A new VM at `place` whose content is the backup's."""
        work = self._work()
        backup = self._holder(work, backup_id)
        self._fresh(work, new_vm_id)
        parts = ("restore", new_vm_id, backup.lineage, backup.version)
        child = self._fork(work, backup, self._lineage_id(work, *parts))
        self._attach(work, Holder(new_vm_id, place, child.id, 0, "vm"))
        return self._end(work, place)

    def move(self, holder_id: str, place: str, kind: str | None = None) -> Change:
        """A VM or backup moves to another place; returns what the destination gained."""
        work = self._work()
        holder = self._holder(work, holder_id)
        self._detach(work, holder)
        self._attach(work, Holder(holder.id, place, holder.lineage, holder.version, kind or holder.kind))
        return self._end(work, place)

    def delete(self, holder_id: str) -> Change:
        """A VM or backup is deleted; returns what its place freed (negative)."""
        work = self._work()
        holder = self._holder(work, holder_id)
        self._detach(work, holder)
        return self._end(work, holder.place)

    def lineage(self, holder_id: str) -> Lineage:
        """The lineage a VM's or backup's content is a version of (to read its slots)."""
        work = self._work()
        return work.lineage(self._holder(work, holder_id).lineage)

    def size(self, holder_id: str) -> int:
        """Logical bytes of a VM's or backup's content."""
        work = self._work()
        holder = self._holder(work, holder_id)
        return work.lineage(holder.lineage).logical[holder.version]

    def unique_size(self, holder_id: str) -> int:
        """Logical bytes deleting it would free: its pieces nothing else at its place references."""
        current = self._work()
        holder = self._holder(current, holder_id)
        if current.held(holder.place, holder.lineage).count(holder.version) > 1:
            return 0  # another holder there holds the same version (a backup of an unchanged VM)
        self._settle()
        work = UnitOfWork(self.ledger)
        remove_version(work, holder.place, work.lineage(holder.lineage), holder.version)
        return -work.change(holder.place).uncompressed

    def totals(self, place: str) -> Totals:
        self._settle()
        return self.ledger.totals(place).copy()
