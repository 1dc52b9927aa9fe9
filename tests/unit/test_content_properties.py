"""Property tests of the content model: every figure equals a brute-force recomputation after any sequence."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openovc.simulator.content.ledger import Held, MemoryLedger
from openovc.simulator.content.lineage import Lineage
from openovc.simulator.content.model import ContentModel
from openovc.simulator.content.pieces import Layout, image_segment
from tests.support.content_ops import Runner, check

# No example database: examples are cheap to regenerate and the model's ids would make old ones stale.
_SETTINGS = settings(
    database=None, max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@_SETTINGS
@given(st.randoms(use_true_random=False), st.integers(min_value=1, max_value=50))
def test_every_figure_matches_the_slot_maps_after_each_operation(rng: random.Random, steps: int) -> None:
    """Creates, clones, workloads, backups, copies, restores, moves and deletes on three places."""
    runner = Runner(ContentModel(MemoryLedger()))
    for _ in range(steps):
        runner.step(rng)
        check(runner)


@pytest.mark.parametrize("first", range(0, 200, 50))
def test_seeded_sequences_match_the_slot_maps(first: int) -> None:
    """Plain seeded sequences too: hypothesis favours early choices; these spread over every kind."""
    for seed in range(first, first + 50):
        rng = random.Random(seed)
        runner = Runner(ContentModel(MemoryLedger()))
        for _ in range(80):
            runner.step(rng)
            check(runner)


@pytest.mark.parametrize("seed", range(20))
def test_a_batch_ends_where_its_operations_one_by_one_do(seed: int) -> None:
    """The generator's bulk path: operations grouped in batches give the same ledger, figure for figure."""
    single, batched = Runner(ContentModel(MemoryLedger())), Runner(ContentModel(MemoryLedger()))
    one, other, sizes = random.Random(seed), random.Random(seed), random.Random(-seed)
    while len(single.log) < 80:
        group = sizes.randint(1, 10)
        with batched.model.batch():
            for _ in range(group):
                batched.step(other)
        for _ in range(group):
            single.step(one)
        assert batched.log == single.log
        check(batched)
        assert single.model.ledger == batched.model.ledger


def test_batches_do_not_nest_and_a_failed_one_writes_nothing() -> None:
    model = ContentModel(MemoryLedger())
    with pytest.raises(RuntimeError, match="batches do not nest"), model.batch(), model.batch():
        pass
    with pytest.raises(KeyError, match="no content recorded for 'ghost'"), model.batch():
        model.create_vm("vm", "c1", own_bytes=2**30, compression=2.0)
        model.backup("ghost", "b")
    assert model.ledger == MemoryLedger()


@_SETTINGS
@given(st.lists(st.tuples(st.booleans(), st.integers(min_value=0, max_value=6)), max_size=40))
def test_held_matches_a_counter(changes: list[tuple[bool, int]]) -> None:
    held, counter = Held(), Counter[int]()
    for add, version in changes:
        if add:
            held, counter[version] = held.plus(version), counter[version] + 1
        elif counter[version]:
            held, counter[version] = held.minus(version), counter[version] - 1
        present = sorted(v for v, n in counter.items() if n)
        assert list(held.versions) == present
        assert [held.count(v) for v in range(8)] == [counter[v] for v in range(8)]
        for v in range(8):
            assert held.below(v) == max((p for p in present if p < v), default=None)
            assert held.above(v) == min((p for p in present if p > v), default=None)


@_SETTINGS
@given(
    st.lists(st.lists(st.integers(min_value=0, max_value=9), max_size=4), min_size=1, max_size=12),
    st.data(),
)
def test_a_window_is_what_only_that_version_holds(steps: list[list[int]], data: st.DataObject) -> None:
    """Lineage.window against the definition: entries current at v and at no other held version."""
    base = image_segment("window", 2560 * 2**20, 2.0)
    lineage = Lineage(7, Layout.of([base]))
    for slots in steps:
        lineage.append(slots)
    n = lineage.steps
    held = sorted(data.draw(st.sets(st.integers(min_value=0, max_value=n), min_size=2)))
    v = data.draw(st.sampled_from(held))
    others = [u for u in held if u != v]
    a = max((u for u in others if u < v), default=None)
    b = min((u for u in others if u > v), default=None)

    def current(version: int) -> dict[int, int]:
        """slot -> step of the entry current at a version (0: the version-0 piece)."""
        found = dict.fromkeys(range(lineage.layout.slots), 0)
        for k in range(1, version + 1):
            for slot in lineage.step_slots(k):
                found[slot] = k
        return found

    mine = current(v)
    theirs = [current(u) for u in others]
    alone = {(k, slot) for slot, k in mine.items() if k and all(t[slot] != k for t in theirs)}
    entries, base_slots = lineage.window(a, v, b)
    assert {(k, lineage.slots[i]) for k, i in entries} == alone
    assert len(entries) == len(alone)
    if a is None:
        # Version-0 pieces: held by v, and by no other held version (all newer than v).
        assert sorted(base_slots) == sorted(
            s for s, k in mine.items() if k == 0 and all(t[s] for t in theirs)
        )
    else:
        assert base_slots == []
