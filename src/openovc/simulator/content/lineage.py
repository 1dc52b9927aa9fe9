"""A VM's content over time: a lineage of versions, from what it started with through each workload step.

A lineage is the history of one VM's content. Version 0 is what it started with: its segments, under
the pieces it inherited when it was cloned or restored (its parent's changed slots at that version).
Version k is after k workload steps. A live VM holds the newest version of its lineage; a backup holds
the version current when it was taken; a clone or a restore starts a new lineage that inherits.
"""

from __future__ import annotations

import bisect
import random
from array import array
from collections.abc import Sequence

from openovc.simulator.content.pieces import Layout, mix, piece_id, piece_size, pieces_sizes, seeded_pieces

# Where a workload rewrites: mostly hot data, now and then a cold file or an OS file (patching).
_WORKLOAD_WEIGHTS = {"hot": 0.90, "data": 0.08, "base": 0.02}

Inherited = dict[int, tuple[int, int, int]]  # slot -> (piece, lineage that wrote it, step it wrote it at)
Entry = tuple[int, int]  # a log entry: (step, index into the log's arrays)


class Lineage:
    """The history of one VM's content (see the module docstring).

    The log: step k rewrote `slots[starts[k-1]:starts[k]]` (sorted) with `pieces[...]`; `prevs` holds,
    for each entry, the step that last wrote the slot before (0: none, it still held its version-0
    piece). `logical[v]` is the logical size of version v. `forked`: another lineage inherited pieces
    this one wrote, so their references are counted explicitly (see content_model). `rate`: the bytes
    per second its VM's workload rewrites (workload.py), which a fork keeps.
    """

    __slots__ = (
        "_last", "forked", "id", "inherited", "layout", "logical", "pieces", "prevs", "rate", "slots",
        "starts",
    )  # fmt: skip

    def __init__(
        self,
        lineage_id: int,
        layout: Layout,
        inherited: Inherited | None = None,
        *,
        starts: array[int] | None = None,
        slots: array[int] | None = None,
        prevs: array[int] | None = None,
        pieces: array[int] | None = None,
        logical: array[int] | None = None,
        forked: bool = False,
        rate: float = 0.0,
    ) -> None:
        self.id = lineage_id
        self.layout = layout
        self.inherited: Inherited = inherited or {}
        self.starts = starts if starts is not None else array("I", [0])
        self.slots = slots if slots is not None else array("I")
        self.prevs = prevs if prevs is not None else array("I")
        self.pieces = pieces if pieces is not None else array("q")
        self.logical = logical if logical is not None else array("q", [self._initial_logical()])
        self.forked = forked
        self.rate = rate
        self._last: array[int] | None = None

    def _state(self) -> tuple[object, ...]:
        return (self.id, self.layout, self.inherited, self.starts, self.slots, self.prevs, self.pieces,
                self.logical, self.forked, self.rate)  # fmt: skip

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Lineage) and self._state() == other._state()

    __hash__ = None  # type: ignore[assignment]  # mutable: the log grows

    def _initial_logical(self) -> int:
        total = sum(seg.logical for seg in self.layout.segments)
        for slot, (piece, _, _) in self.inherited.items():
            total += piece_size(piece) - piece_size(self.segment_piece(slot))
        return total

    @property
    def steps(self) -> int:
        return len(self.starts) - 1

    def step_slots(self, k: int) -> array[int]:
        return self.slots[self.starts[k - 1] : self.starts[k]]

    def _index(self, k: int, slot: int) -> int:
        """Where step k's entry for a slot is in the log."""
        return bisect.bisect_left(self.slots, slot, self.starts[k - 1], self.starts[k])

    # ---- pieces ----

    def segment_piece(self, slot: int) -> int:
        seg, offset = self.layout.segment_at(slot)
        return seg.piece(offset)

    def base_piece(self, slot: int) -> int:
        """The piece a slot holds at version 0."""
        entry = self.inherited.get(slot)
        return entry[0] if entry is not None else self.segment_piece(slot)

    def written_piece(self, k: int, slot: int) -> int:
        """The piece step k writes to a slot: new data, of the slot's segment's size class and profile."""
        seg, _ = self.layout.segment_at(slot)
        return piece_id(mix(self.id, (k << 32) | slot), seg.size_class, seg.profile)

    def slot_map(self, version: int) -> list[int]:
        """Every slot's piece at a version: the brute-force view, O(slots + log)."""
        pieces = [self.base_piece(s) for s in range(self.layout.slots)]
        for i in range(self.starts[version]):
            pieces[self.slots[i]] = self.pieces[i]
        return pieces

    # ---- changes ----

    def _last_writes(self) -> array[int]:
        """Per slot, 1 + the log index of its latest entry (0: never rewritten)."""
        if self._last is None:
            last = array("I", bytes(4 * self.layout.slots))
            for i, slot in enumerate(self.slots):
                last[slot] = i + 1
            self._last = last
        return self._last

    def forget_cache(self) -> None:
        """Drop the per-slot index kept for appending (rebuilt when needed)."""
        self._last = None

    def choose_slots(self, count: int) -> list[int]:
        """The slots the next workload step rewrites: `count` distinct ones, seeded by lineage and step.

        Each pick lands in a segment by its kind's workload weight (among segments with room left);
        then each segment's picks are drawn without replacement.
        """
        segs, starts = self.layout.segments, self.layout.starts
        count = max(0, min(count, self.layout.slots))
        if not count:  # nothing to draw: seeding a generator costs more than the rest of a small step
            return []
        rng = random.Random(mix(self.id, self.steps + 1))
        room = [seg.length for seg in segs]
        weights = [_WORKLOAD_WEIGHTS[seg.kind] for seg in segs]
        open_weight = sum(weights)
        picks = [0] * len(segs)
        for _ in range(count):
            u = rng.random() * open_weight
            for i, r in enumerate(room):
                if r:
                    u -= weights[i]
                    if u < 0:
                        break
            else:  # rounding left u at or above the last open weight
                i = max(j for j, r in enumerate(room) if r)
            picks[i] += 1
            room[i] -= 1
            if not room[i]:
                open_weight -= weights[i]
        chosen = [
            starts[i] + o for i, n in enumerate(picks) if n for o in rng.sample(range(segs[i].length), n)
        ]
        return sorted(chosen)

    def append(self, slots: Sequence[int]) -> int:
        """A workload step that rewrites these slots; returns its number."""
        chosen = sorted(set(slots))
        if chosen and not 0 <= chosen[0] <= chosen[-1] < self.layout.slots:
            bad = chosen[0] if chosen[0] < 0 else chosen[-1]
            raise ValueError(f"slot {bad} is outside the VM's {self.layout.slots} slots")
        k = self.steps + 1
        last = self._last_writes()
        # The new pieces a segment's run of slots at a time (chosen is sorted): what written_piece gives.
        new: list[int] = []
        bounds, segments, high = self.layout.starts, self.layout.segments, k << 32
        at = 0
        while at < len(chosen):
            i = bisect.bisect_right(bounds, chosen[at]) - 1
            upto = bisect.bisect_left(chosen, bounds[i + 1], at)
            seg = segments[i]
            keys = [high | slot for slot in chosen[at:upto]]
            new += seeded_pieces(self.id, keys, seg.size_class, seg.profile)
            at = upto
        old: list[int] = []
        log_starts, log_pieces, base = self.starts, self.pieces, len(self.slots)
        for n, slot in enumerate(chosen):
            j = last[slot]
            if j:
                old.append(log_pieces[j - 1])
                self.prevs.append(bisect.bisect_right(log_starts, j - 1))
            else:
                old.append(self.base_piece(slot))
                self.prevs.append(0)
            last[slot] = base + n + 1
        self.slots.extend(chosen)
        log_pieces.extend(new)
        log_starts.append(len(self.slots))
        self.logical.append(self.logical[-1] + pieces_sizes(new)[0] - pieces_sizes(old)[0])
        return k

    def live(self, version: int) -> tuple[list[Entry], set[int]]:
        """The log entries current at a version, and the slots rewritten by then."""
        seen: set[int] = set()
        entries: list[Entry] = []
        starts, slots = self.starts, self.slots
        for k in range(version, 0, -1):
            for i in range(starts[k - 1], starts[k]):
                if slots[i] not in seen:
                    seen.add(slots[i])
                    entries.append((k, i))
        return entries, seen

    def window(self, a: int | None, v: int, b: int | None) -> tuple[list[Entry], list[int]]:
        """What version v alone references among held versions whose nearest are a < v < b.

        The log entries current at v and at no other held version (written after a, rewritten after
        v but not after b), and, when v is the oldest (a is None), the slots whose version-0 piece v
        still holds and b no longer does. None means no such neighbour; one of them is set. Costs the
        log between the neighbours: from v to b when there is a b, else from a to v.
        """
        entries: list[Entry] = []
        base: list[int] = []
        starts, slots, prevs = self.starts, self.slots, self.prevs
        if b is not None:
            # An entry after v whose previous write is at or before v ends that write's life.
            for k in range(v + 1, b + 1):
                for i in range(starts[k - 1], starts[k]):
                    p = prevs[i]
                    if p > v:
                        continue
                    if p == 0:
                        if a is None:
                            base.append(slots[i])
                    elif a is None or p > a:
                        entries.append((p, self._index(p, slots[i])))
            return entries, base
        assert a is not None, "a window needs a neighbour; use live() for the only version"
        seen: set[int] = set()
        for k in range(v, a, -1):
            for i in range(starts[k - 1], starts[k]):
                if slots[i] not in seen:
                    seen.add(slots[i])
                    entries.append((k, i))
        return entries, base

    def rewritten_between(self, slot: int, k: int, u: int) -> bool:
        """Whether the slot was rewritten by a step in (k, u]."""
        i = self._last_writes()[slot] - 1
        if i < 0:
            return False
        step = bisect.bisect_right(self.starts, i)
        while step > u:
            step = self.prevs[i]
            if step == 0:
                return False
            i = self._index(step, slot)
        return step > k

    def fork(self, version: int, lineage_id: int) -> Lineage:
        """A new lineage whose version 0 is this one's `version` (a clone, or a restore)."""
        entries, seen = self.live(version)
        inherited: Inherited = {self.slots[i]: (self.pieces[i], self.id, k) for k, i in entries}
        for slot, entry in self.inherited.items():
            if slot not in seen:
                inherited[slot] = entry
        logical = array("q", [self.logical[version]])
        child = Lineage(lineage_id, self.layout, inherited, logical=logical, rate=self.rate)
        if entries:
            self.forked = True
        return child
