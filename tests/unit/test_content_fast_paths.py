"""The content model's batched arithmetic gives exactly what the one-piece functions give (issue 15)."""

from __future__ import annotations

import random

import pytest

from openovc.simulator.content.lineage import Lineage
from openovc.simulator.content.pieces import (
    COLD_CLASS,
    HOT_CLASS,
    Layout,
    _profile_ratio,
    mix,
    piece_compressed,
    piece_id,
    piece_size,
    pieces_sizes,
    profile_for,
    seeded_pieces,
    segment,
)


def test_seeded_pieces_are_piece_ids_of_the_mixed_keys() -> None:
    rng = random.Random(7)
    for _ in range(500):
        seed, size_class, profile = rng.getrandbits(63), rng.randrange(4), rng.randrange(16)
        keys = [rng.getrandbits(rng.choice((6, 40, 64))) for _ in range(rng.randrange(0, 9))]
        expected = [piece_id(mix(seed, key), size_class, profile) for key in keys]
        assert seeded_pieces(seed, keys, size_class, profile) == expected


def test_pieces_sizes_sums_each_piece() -> None:
    pieces = [random.Random(3).getrandbits(63) for _ in range(300)]
    assert pieces_sizes(pieces) == (sum(map(piece_size, pieces)), sum(map(piece_compressed, pieces)))
    assert pieces_sizes([]) == (0, 0)


def test_a_segments_totals_are_its_pieces_sums() -> None:
    seg = segment(991, "data", 37, COLD_CLASS, 6)
    pieces = [seg.piece(offset) for offset in range(37)]
    assert (seg.logical, seg.compressed) == (sum(map(piece_size, pieces)), sum(map(piece_compressed, pieces)))


@pytest.mark.parametrize("ratio", [0.5, 1.0, 1.37, 2.2, 2.9, 4.4, 9.0])
def test_profile_for_picks_the_closest_profile(ratio: float) -> None:
    assert profile_for(ratio) == min(range(16), key=lambda c: abs(_profile_ratio(c) - ratio))


def _lineage() -> Lineage:
    base = segment(5, "base", 6, COLD_CLASS, 3)
    layout = Layout.of([base, segment(17, "data", 9, COLD_CLASS, 8), segment(23, "hot", 4, HOT_CLASS, 8)])
    return Lineage(4242, layout, {2: (777, 9, 1)})


def test_append_writes_the_written_pieces_and_keeps_the_sizes() -> None:
    lineage = _lineage()
    for slots in ([0, 2, 7, 16, 18], [2, 3], [18, 17, 16, 15, 1, 0], [7, 7, 7]):
        before = lineage.slot_map(lineage.steps)
        k = lineage.append(slots)
        chosen = sorted(set(slots))
        written = [lineage.written_piece(k, slot) for slot in chosen]
        assert list(lineage.step_slots(k)) == chosen
        assert list(lineage.pieces[lineage.starts[k - 1] :]) == written
        after = lineage.slot_map(k)
        assert after == [written[chosen.index(s)] if s in chosen else p for s, p in enumerate(before)]
        assert lineage.logical[k] == lineage.logical[k - 1] + sum(map(piece_size, written)) - sum(
            piece_size(before[s]) for s in chosen
        )
        # Each entry's previous write: the step that last wrote the slot before (0: its version-0 piece).
        for i in range(lineage.starts[k - 1], lineage.starts[k]):
            slot, prev = lineage.slots[i], lineage.prevs[i]
            earlier = [j for j in range(1, k) if slot in lineage.step_slots(j)]
            assert prev == (earlier[-1] if earlier else 0)


def test_append_refuses_a_slot_outside_the_layout() -> None:
    lineage = _lineage()
    with pytest.raises(ValueError, match="slot 19 is outside the VM's 19 slots"):
        lineage.append([3, 19])
    assert lineage.steps == 0


def test_choosing_no_slots_draws_nothing_and_keeps_the_draws_after() -> None:
    lineage, twin = _lineage(), _lineage()
    assert lineage.choose_slots(0) == []
    assert lineage.choose_slots(-3) == []
    assert lineage.choose_slots(5) == twin.choose_slots(5)
