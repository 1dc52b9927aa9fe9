"""How an operation changes what a place stores: the reference accounting of the content model.

A place (a cluster, or an external store) stores a piece while some holder there references it. A
holder (a live VM, a backup) holds a version of a lineage (see lineage.py), so per (place,
lineage) the ledger keeps the multiset V of held versions, and a log entry written at step k and
rewritten at step j (or never) is referenced there while V meets [k, j). Adding or removing a version
v whose nearest held neighbours are a < v < b therefore changes only the entries written after a and
rewritten before b that v holds: the log between the neighbours (Lineage.window), never the rest of
the federation. A version-0 piece (of a segment, or inherited) is referenced while V's oldest version
predates the slot's first rewrite; segments shared by many lineages count, per offset, the lineages
that mask it, so a VM made from an image costs its own size, not the image's fan-out.

The state an operation reads is copied into a UnitOfWork, changed there, and written back by flush(),
so a dry run (unique_size) is a removal never written back.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from openovc.simulator.content.ledger import Held, Holder, PieceLedger, SegmentState, SharedEntry, Totals
from openovc.simulator.content.lineage import Entry, Lineage
from openovc.simulator.content.pieces import Segment, piece_compressed, piece_size, pieces_sizes


@dataclass
class Change:
    """What an operation added to a place (negative: freed)."""

    uncompressed: int = 0
    compressed: int = 0
    pieces: int = 0

    def count(self, piece: int, sign: int) -> None:
        self.uncompressed += sign * piece_size(piece)
        self.compressed += sign * piece_compressed(piece)
        self.pieces += sign

    def count_all(self, pieces: list[int], sign: int) -> None:
        if not pieces:
            return
        logical, compressed = pieces_sizes(pieces)
        self.uncompressed += sign * logical
        self.compressed += sign * compressed
        self.pieces += sign * len(pieces)


class UnitOfWork:
    """The state one operation reads and changes; written back by flush(), or dropped (a dry run)."""

    def __init__(self, ledger: PieceLedger) -> None:
        self.ledger = ledger
        self.lineages: dict[int, Lineage] = {}
        self.dirty_lineages: set[int] = set()
        self.helds: dict[tuple[str, int], Held] = {}
        self.dirty_helds: set[tuple[str, int]] = set()
        self.segments: dict[tuple[str, int], SegmentState | None] = {}
        self.dirty_segments: set[tuple[str, int]] = set()
        self.shares: dict[str, dict[int, SharedEntry]] = {}
        self.dirty_shares: dict[str, dict[int, SharedEntry]] = {}
        self.changes: dict[str, Change] = {}  # the current operation's
        self.done: dict[str, Change] = {}  # earlier operations' (in a batch)
        self.logical: dict[str, Totals] = {}
        self.holders: dict[str, Holder | None] = {}  # None: dropped

    def lineage(self, lineage_id: int) -> Lineage:
        found = self.lineages.get(lineage_id)
        if found is None:
            found = self.ledger.lineage(lineage_id)
            if found is None:
                raise KeyError(f"no lineage {lineage_id}")
            self.lineages[lineage_id] = found
        return found

    def has_lineage(self, lineage_id: int) -> bool:
        return lineage_id in self.lineages or self.ledger.lineage(lineage_id) is not None

    def holder(self, holder_id: str) -> Holder | None:
        if holder_id in self.holders:
            return self.holders[holder_id]
        return self.ledger.holder(holder_id)

    def put_holder(self, holder: Holder) -> None:
        self.holders[holder.id] = holder

    def drop_holder(self, holder_id: str) -> None:
        self.holders[holder_id] = None

    def touch(self, lineage: Lineage) -> None:
        self.lineages[lineage.id] = lineage
        self.dirty_lineages.add(lineage.id)

    def held(self, place: str, lineage_id: int) -> Held:
        key = (place, lineage_id)
        found = self.helds.get(key)
        if found is None:
            found = self.helds[key] = self.ledger.held(place, lineage_id)
        return found

    def set_held(self, place: str, lineage_id: int, held: Held) -> None:
        self.helds[(place, lineage_id)] = held
        self.dirty_helds.add((place, lineage_id))

    def segment(self, place: str, seed: int) -> SegmentState | None:
        """The segment's state, as a copy this operation may change."""
        key = (place, seed)
        if key not in self.segments:
            self.read_segments(place, [seed])
        return self.segments[key]

    def read_segments(self, place: str, seeds: Sequence[int]) -> None:
        """Read those of the segments not read yet, together (a lineage's layout is a few of them)."""
        missing = [seed for seed in dict.fromkeys(seeds) if (place, seed) not in self.segments]
        if not missing:
            return
        found = self.ledger.segment_states(place, missing)
        for seed in missing:
            state = found.get(seed)
            self.segments[(place, seed)] = state.copy() if state is not None else None

    def set_segment(self, place: str, seed: int, state: SegmentState | None) -> None:
        self.segments[(place, seed)] = state
        self.dirty_segments.add((place, seed))

    def shared(self, place: str, pieces: Sequence[int]) -> dict[int, SharedEntry]:
        known = self.shares.setdefault(place, {})
        missing = [p for p in pieces if p not in known]
        if missing:
            found = self.ledger.shared(place, missing)
            for p in missing:
                known[p] = found.get(p, 0)
        return {p: known[p] for p in pieces if known[p]}

    def set_shared(self, place: str, piece: int, entry: SharedEntry) -> None:
        self.shares.setdefault(place, {})[piece] = entry
        self.dirty_shares.setdefault(place, {})[piece] = entry

    def change(self, place: str) -> Change:
        return self.changes.setdefault(place, Change())

    def finish(self, place: str) -> Change:
        """The current operation's change at a place; later operations start from zero."""
        result = self.changes.get(place, Change())
        for where, change in self.changes.items():
            total = self.done.setdefault(where, Change())
            total.uncompressed += change.uncompressed
            total.compressed += change.compressed
            total.pieces += change.pieces
        self.changes = {}
        return result

    def add_logical(self, place: str, kind: str, nbytes: int) -> None:
        self.logical.setdefault(place, Totals()).add_logical(kind, nbytes)

    def flush(self) -> None:
        ledger = self.ledger
        for lineage_id in self.dirty_lineages:
            ledger.save_lineage(self.lineages[lineage_id])
        for place, lineage_id in self.dirty_helds:
            ledger.save_held(place, lineage_id, self.helds[(place, lineage_id)])
        for place, seed in self.dirty_segments:
            ledger.save_segment(place, seed, self.segments[(place, seed)])
        for place, entries in self.dirty_shares.items():
            ledger.save_shared(place, entries)
        self.finish("")
        for place in self.done.keys() | self.logical.keys():
            totals = ledger.totals(place).copy()
            change = self.done.get(place, Change())
            logical = self.logical.get(place, Totals())
            totals.uncompressed += change.uncompressed
            totals.compressed += change.compressed
            totals.pieces += change.pieces
            totals.vm_logical += logical.vm_logical
            totals.local_logical += logical.local_logical
            totals.remote_logical += logical.remote_logical
            ledger.save_totals(place, totals)
        for holder_id, holder in self.holders.items():
            if holder is None:
                ledger.drop_holder(holder_id)
            else:
                ledger.save_holder(holder)


def add_version(work: UnitOfWork, place: str, lineage: Lineage, v: int) -> None:
    held = work.held(place, lineage.id)
    if not held.count(v):
        if held:
            _shift(work, place, lineage, held.below(v), v, held.above(v), +1)
        else:
            _enter(work, place, lineage, v, +1)
    work.set_held(place, lineage.id, held.plus(v))


def remove_version(work: UnitOfWork, place: str, lineage: Lineage, v: int) -> None:
    rest = work.held(place, lineage.id).minus(v)
    if not rest.count(v):
        if rest:
            _shift(work, place, lineage, rest.below(v), v, rest.above(v), -1)
        else:
            _enter(work, place, lineage, v, -1)
    work.set_held(place, lineage.id, rest)


def _own(work: UnitOfWork, place: str, lineage: Lineage, entries: list[Entry], sign: int) -> None:
    """The writer's own reference to these log entries' pieces starts (+1) or ends (-1)."""
    change = work.change(place)
    pieces = [lineage.pieces[i] for _, i in entries]
    if lineage.forked:
        shared = work.shared(place, pieces)
        alone = []
        for piece in pieces:
            entry = shared.get(piece, 0)
            if entry:
                # Another lineage references it too: only the writer's bit changes, not what is stored.
                work.set_shared(place, piece, entry + sign)
            else:
                alone.append(piece)
        pieces = alone
    change.count_all(pieces, sign)


def _writer_references(work: UnitOfWork, place: str, writer: int, k: int, slot: int) -> int:
    """1 when the lineage that wrote a piece at step k still references it at this place."""
    u = work.held(place, writer).at_or_above(k)
    if u is None:
        return 0
    return 0 if work.lineage(writer).rewritten_between(slot, k, u) else 1


def _inherited(
    work: UnitOfWork, place: str, items: list[tuple[int, tuple[int, int, int]]], sign: int
) -> None:
    """A lineage's reference to pieces it inherited (slot, (piece, writer, step)) starts or ends."""
    if not items:
        return
    change = work.change(place)
    entries = work.shared(place, [entry[0] for _, entry in items])
    for slot, (piece, writer, k) in items:
        entry = entries.get(piece, 0)
        if sign > 0:
            if entry == 0:
                bit = _writer_references(work, place, writer, k, slot)
                entry = 2 + bit
                if not bit:
                    change.count(piece, +1)
            else:
                entry += 2
        else:
            entry -= 2
            if entry < 2:
                if not entry & 1:
                    change.count(piece, -1)
                entry = 0
        work.set_shared(place, piece, entry)


def _shift(
    work: UnitOfWork, place: str, lineage: Lineage, a: int | None, v: int, b: int | None, sign: int
) -> None:
    """Version v joins (+1) or leaves (-1) the versions held at a place, between neighbours a and b."""
    entries, base = lineage.window(a, v, b)
    _own(work, place, lineage, entries, sign)
    if not base:
        return
    _inherited(work, place, [(s, lineage.inherited[s]) for s in base if s in lineage.inherited], sign)
    change = work.change(place)
    own = [lineage.layout.segment_at(slot) for slot in base if slot not in lineage.inherited]
    work.read_segments(place, [seg.seed for seg, _ in own])
    for seg, offset in own:
        state = work.segment(place, seg.seed)
        assert state is not None, "a held lineage's segments are held"
        h, m = state.holders, state.masks[offset]
        if sign > 0:  # v is the new oldest: the slot's version-0 piece is referenced again
            state.masks[offset] = m - 1
            if h == m:
                change.count(seg.piece(offset), +1)
        else:
            state.masks[offset] = m + 1
            if h == m + 1:
                change.count(seg.piece(offset), -1)
        work.set_segment(place, seg.seed, state)


def _segment_total(change: Change, seg: Segment, masked: set[int], sign: int) -> None:
    uncompressed, compressed = seg.logical, seg.compressed
    for offset in masked:
        piece = seg.piece(offset)
        uncompressed -= piece_size(piece)
        compressed -= piece_compressed(piece)
    change.uncompressed += sign * uncompressed
    change.compressed += sign * compressed
    change.pieces += sign * (seg.length - len(masked))


def _enter(work: UnitOfWork, place: str, lineage: Lineage, v: int, sign: int) -> None:
    """The lineage's first version arrives at a place (+1), or its last one leaves (-1)."""
    entries, seen = lineage.live(v)
    _own(work, place, lineage, entries, sign)
    _inherited(work, place, [(s, e) for s, e in lineage.inherited.items() if s not in seen], sign)
    change = work.change(place)
    layout = lineage.layout
    work.read_segments(place, [seg.seed for seg in layout.segments])
    for i, seg in enumerate(layout.segments):
        lo, hi = layout.starts[i], layout.starts[i + 1]
        masked = {s - lo for s in seen if lo <= s < hi}
        masked.update(s - lo for s in lineage.inherited if lo <= s < hi)
        state = work.segment(place, seg.seed)
        if sign > 0:
            if state is None:
                state = SegmentState(0, array("I", bytes(4 * seg.length)))
            h = state.holders
            if h == 0:
                _segment_total(change, seg, masked, +1)
            elif h in state.masks:  # offsets every other holder masks: stored again unless masked here too
                for offset, m in enumerate(state.masks):
                    if m == h and offset not in masked:
                        change.count(seg.piece(offset), +1)
            for offset in masked:
                state.masks[offset] += 1
            state.holders = h + 1
        else:
            assert state is not None, "a held lineage's segments are held"
            h = state.holders
            for offset in masked:
                state.masks[offset] -= 1
            if h == 1:
                _segment_total(change, seg, masked, -1)
                state = None
            else:
                if h - 1 in state.masks:
                    for offset, m in enumerate(state.masks):
                        if m == h - 1 and offset not in masked:
                            change.count(seg.piece(offset), -1)
                state.holders = h - 1
        work.set_segment(place, seg.seed, state)
