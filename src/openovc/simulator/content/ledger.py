"""The content model's state per place (cluster or external store): the port storage implements, in memory.

What a place must know to store each distinct piece once, and nothing per piece that it can derive:

- holders: each VM and backup, with the place holding it and its content (lineage, version);
- held versions: per (place, lineage), the multiset of versions its holders hold there;
- segments: per (place, segment), how many lineages held there include the segment, and per offset
  how many of those mask it (rewrote the slot, or inherited another piece for it, by their oldest
  held version): the segment's piece at that offset is stored while some holder does not mask it;
- shared pieces: a piece one lineage wrote and another inherited (a clone, a restore) is referenced
  by lineages other than its writer; per (place, piece) the number of those and whether the writer
  itself references it there. Pieces nobody inherited have no entry: their writer alone decides;
- totals: the bytes stored and the logical bytes held, per place;
- workloads: per running VM, when its workload's next step is due (workload.py).

model.py changes this state; MemoryLedger keeps it in dictionaries (tests, the generator),
storage/content_store.py in tables.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from openovc.simulator.content.lineage import Lineage

KINDS = ("vm", "local", "remote")  # a live VM; a backup kept where its VM is; one kept elsewhere


@dataclass(frozen=True, slots=True)
class Holder:
    """A VM or a backup: where its content is stored, and which content."""

    id: str
    place: str  # a cluster id, or an external store's name
    lineage: int
    version: int
    kind: str  # one of KINDS


class Held:
    """A multiset of versions, sorted (immutable: changes return a new one)."""

    __slots__ = ("counts", "versions")

    def __init__(self, versions: array[int] | None = None, counts: array[int] | None = None) -> None:
        self.versions = versions if versions is not None else array("I")
        self.counts = counts if counts is not None else array("I")

    def __bool__(self) -> bool:
        return bool(self.versions)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Held) and (self.versions, self.counts) == (other.versions, other.counts)

    def __hash__(self) -> int:
        return hash((tuple(self.versions), tuple(self.counts)))

    def __repr__(self) -> str:
        return f"Held({dict(zip(self.versions, self.counts, strict=True))})"

    def count(self, version: int) -> int:
        i = bisect.bisect_left(self.versions, version)
        return self.counts[i] if i < len(self.versions) and self.versions[i] == version else 0

    def below(self, version: int) -> int | None:
        """The newest held version older than `version`."""
        i = bisect.bisect_left(self.versions, version)
        return self.versions[i - 1] if i > 0 else None

    def above(self, version: int) -> int | None:
        """The oldest held version newer than `version`."""
        i = bisect.bisect_right(self.versions, version)
        return self.versions[i] if i < len(self.versions) else None

    def at_or_above(self, version: int) -> int | None:
        i = bisect.bisect_left(self.versions, version)
        return self.versions[i] if i < len(self.versions) else None

    def plus(self, version: int) -> Held:
        versions, counts = array("I", self.versions), array("I", self.counts)
        i = bisect.bisect_left(versions, version)
        if i < len(versions) and versions[i] == version:
            counts[i] += 1
        else:
            versions.insert(i, version)
            counts.insert(i, 1)
        return Held(versions, counts)

    def minus(self, version: int) -> Held:
        i = bisect.bisect_left(self.versions, version)
        if i == len(self.versions) or self.versions[i] != version:
            raise KeyError(f"version {version} is not held")
        versions, counts = array("I", self.versions), array("I", self.counts)
        if counts[i] > 1:
            counts[i] -= 1
        else:
            del versions[i]
            del counts[i]
        return Held(versions, counts)


@dataclass(slots=True)
class SegmentState:
    """A segment at a place: lineages holding it, and per offset how many of them mask it."""

    holders: int
    masks: array[int]

    def copy(self) -> SegmentState:
        return SegmentState(self.holders, array(self.masks.typecode, self.masks))


@dataclass(slots=True)
class Totals:
    """What a place stores (distinct pieces) and the logical bytes its holders hold."""

    uncompressed: int = 0
    compressed: int = 0
    pieces: int = 0
    vm_logical: int = 0
    local_logical: int = 0
    remote_logical: int = 0

    def copy(self) -> Totals:
        return Totals(
            self.uncompressed,
            self.compressed,
            self.pieces,
            self.vm_logical,
            self.local_logical,
            self.remote_logical,
        )

    def add_logical(self, kind: str, nbytes: int) -> None:
        if kind == "vm":
            self.vm_logical += nbytes
        elif kind == "local":
            self.local_logical += nbytes
        elif kind == "remote":
            self.remote_logical += nbytes
        else:
            raise ValueError(f"unknown holder kind {kind!r}")


# A shared piece's entry: (number of non-writer lineages referencing it) * 2 + (writer references it).
SharedEntry = int


class PieceLedger(Protocol):
    """The content model's state. Values handed out are not changed by the model (it copies first)."""

    def prefetch(self, holder_ids: Collection[str]) -> None:
        """A hint: these holders (and what they hold) are about to be read; read them together."""
        ...

    def lineage(self, lineage_id: int) -> Lineage | None: ...

    def save_lineage(self, lineage: Lineage) -> None: ...

    def holder(self, holder_id: str) -> Holder | None: ...

    def save_holder(self, holder: Holder) -> None: ...

    def drop_holder(self, holder_id: str) -> None: ...

    def held(self, place: str, lineage_id: int) -> Held: ...

    def save_held(self, place: str, lineage_id: int, held: Held) -> None:
        """An empty multiset drops the row."""
        ...

    def segment_states(self, place: str, seeds: Collection[int]) -> dict[int, SegmentState]:
        """The states of those segments the place holds (a lineage's are read together)."""
        ...

    def save_segment(self, place: str, seed: int, state: SegmentState | None) -> None: ...

    def shared(self, place: str, pieces: Collection[int]) -> dict[int, SharedEntry]:
        """The entries of those pieces that have one."""
        ...

    def save_shared(self, place: str, entries: Mapping[int, SharedEntry]) -> None:
        """Entry 0 drops the row."""
        ...

    def totals(self, place: str) -> Totals: ...

    def save_totals(self, place: str, totals: Totals) -> None: ...

    def workload_due(self, holder_id: str) -> int | None:
        """When the VM's next workload step is due (epoch ms); None while it has no running workload."""
        ...

    def save_workload_due(self, holder_id: str, due_ms: int | None) -> None:
        """Only for a holder already saved; dropping the holder drops its workload."""
        ...


class WorkloadSchedule(Protocol):
    """Reads, outside any write transaction, which VMs have workload steps due (the worker's chore)."""

    def due(self, now_ms: int, limit: int) -> list[str]:
        """Up to `limit` VMs whose next step is due by `now_ms`, the longest due first."""
        ...


@dataclass
class MemoryLedger:
    """The ledger in dictionaries: for tests and for the generator, which then bulk-loads it."""

    lineages: dict[int, Lineage] = field(default_factory=dict)
    holders: dict[str, Holder] = field(default_factory=dict)
    helds: dict[tuple[str, int], Held] = field(default_factory=dict)
    segments: dict[tuple[str, int], SegmentState] = field(default_factory=dict)
    shares: dict[str, dict[int, SharedEntry]] = field(default_factory=dict)
    places: dict[str, Totals] = field(default_factory=dict)
    workloads: dict[str, int] = field(default_factory=dict)

    def prefetch(self, holder_ids: Collection[str]) -> None:
        """Nothing to read ahead in memory."""

    def lineage(self, lineage_id: int) -> Lineage | None:
        return self.lineages.get(lineage_id)

    def save_lineage(self, lineage: Lineage) -> None:
        self.lineages[lineage.id] = lineage

    def holder(self, holder_id: str) -> Holder | None:
        return self.holders.get(holder_id)

    def save_holder(self, holder: Holder) -> None:
        self.holders[holder.id] = holder

    def drop_holder(self, holder_id: str) -> None:
        self.holders.pop(holder_id, None)
        self.workloads.pop(holder_id, None)

    def held(self, place: str, lineage_id: int) -> Held:
        return self.helds.get((place, lineage_id)) or Held()

    def save_held(self, place: str, lineage_id: int, held: Held) -> None:
        if held:
            self.helds[(place, lineage_id)] = held
        else:
            self.helds.pop((place, lineage_id), None)

    def segment_states(self, place: str, seeds: Collection[int]) -> dict[int, SegmentState]:
        return {seed: state for seed in seeds if (state := self.segments.get((place, seed))) is not None}

    def save_segment(self, place: str, seed: int, state: SegmentState | None) -> None:
        if state is None:
            self.segments.pop((place, seed), None)
        else:
            self.segments[(place, seed)] = state

    def shared(self, place: str, pieces: Collection[int]) -> dict[int, SharedEntry]:
        entries = self.shares.get(place)
        if not entries:
            return {}
        return {p: entries[p] for p in pieces if p in entries}

    def save_shared(self, place: str, entries: Mapping[int, SharedEntry]) -> None:
        mine = self.shares.setdefault(place, {})
        for piece, entry in entries.items():
            if entry:
                mine[piece] = entry
            else:
                mine.pop(piece, None)

    def totals(self, place: str) -> Totals:
        return self.places.get(place) or Totals()

    def save_totals(self, place: str, totals: Totals) -> None:
        self.places[place] = totals

    def workload_due(self, holder_id: str) -> int | None:
        return self.workloads.get(holder_id)

    def save_workload_due(self, holder_id: str, due_ms: int | None) -> None:
        if holder_id not in self.holders:
            raise KeyError(f"no content recorded for {holder_id!r}")
        if due_ms is None:
            self.workloads.pop(holder_id, None)
        else:
            self.workloads[holder_id] = due_ms

    def due(self, now_ms: int, limit: int) -> list[str]:
        found = sorted((due, key) for key, due in self.workloads.items() if due <= now_ms)
        return [key for _, key in found[:limit]]

    def forget_caches(self) -> None:
        """Drop every lineage's append index: what the generator does once it is done appending."""
        for lineage in self.lineages.values():
            lineage.forget_cache()

    def shared_rows(self) -> Iterator[tuple[str, int, SharedEntry]]:
        for place, entries in self.shares.items():
            for piece, entry in entries.items():
                yield place, piece, entry
