"""The content replay split in two processes gives the rows and ledger one process gives (issue 15)."""

from __future__ import annotations

import os
import random

import pytest

from openovc.simulator import forking
from openovc.simulator.content.model import ContentModel
from openovc.simulator.content.pieces import image_segment, own_layout, own_slots
from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator import backups, clusters, content_split, datastores, vms, volumes
from openovc.simulator.generator.content import MEASURE_PHASE, REPLAY_PHASE, measure_vm
from openovc.simulator.generator.generator import generate, plan_for
from openovc.simulator.generator.plan import IMAGES
from openovc.simulator.generator.records import Draft, Vm
from tests.unit.test_generator_golden import GOLDEN, MEDIUM, NOW, _digests

# builder.build's drawing steps, in its order: everything the replay reads.
_DRAWS = (
    clusters.draw_clusters, clusters.draw_cluster_groups, clusters.draw_external_stores,
    datastores.draw_policies, clusters.draw_standard_hosts, datastores.draw_datastores, vms.draw_vms,
    volumes.draw_volumes, backups.draw_backups,
)  # fmt: skip


@pytest.fixture
def split_always(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Every federation replays in two processes; records the halves' sizes."""
    monkeypatch.setattr(content_split, "FORK_FROM", 0)
    monkeypatch.setattr(forking, "usable_cores", lambda: 2)
    sizes: list[tuple[int, int]] = []
    real = content_split.halves

    def halves(draft: Draft) -> tuple[list[Vm], list[Vm]] | None:
        found = real(draft)
        if found is not None:
            sizes.append((len(found[0]), len(found[1])))
        return found

    monkeypatch.setattr(content_split, "halves", halves)
    return sizes


@pytest.mark.parametrize("name", ["demo", "medium"])
def test_two_processes_give_the_golden_rows_and_ledger(
    name: str, split_always: list[tuple[int, int]]
) -> None:
    spec = FederationSpec.demo() if name == "demo" else MEDIUM
    assert _digests(generate(spec, NOW)) == GOLDEN[name]
    assert len(split_always) == 1 and min(split_always[0]) > 0


def test_few_vms_replay_in_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*_: object) -> None:
        raise AssertionError("forked for the demo")

    monkeypatch.setattr(content_split, "replay_forked", refused)
    spec = FederationSpec.demo()
    assert spec.vms < content_split.FORK_FROM
    assert _digests(generate(spec, NOW)) == GOLDEN["demo"]


def _connected(nodes: list[list[int]]) -> list[set[int]]:
    """Brute force: per item, the items reachable through shared nodes."""
    reach = [{i} for i in range(len(nodes))]
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(nodes):
            for j, b in enumerate(nodes):
                if set(a) & set(b) and reach[i] != reach[i] | reach[j]:
                    reach[i] |= reach[j]
                    changed = True
    return reach


@pytest.mark.parametrize("seed", range(200))
def test_components_join_exactly_the_items_that_share_nodes(seed: int) -> None:
    rng = random.Random(seed)
    nodes = [rng.sample(range(30), rng.randint(1, 3)) for _ in range(rng.randint(1, 25))]
    keys = content_split.components(nodes)
    for i, reachable in enumerate(_connected(nodes)):
        assert {j for j, key in enumerate(keys) if key == keys[i]} == reachable


@pytest.mark.usefixtures("split_always")
def test_the_halves_share_no_image_at_a_place() -> None:
    rng = random.Random(MEDIUM.seed)
    draft = Draft(plan_for(MEDIUM, rng), NOW, rng)
    for step in _DRAWS:
        step(draft)
    found = content_split.halves(draft)
    assert found is not None
    mine, theirs = found
    assert len(mine) + len(theirs) == len(draft.vms) and min(len(mine), len(theirs)) > 0

    def images_at(vms: list[Vm]) -> set[tuple[int, str]]:
        return {
            (vm.segment.seed, place)
            for vm in vms
            if vm.segment is not None
            for place in {vm.cluster.id, *(p for _, _, p, _ in draft.history.get(vm.index, ()))}
        }

    assert images_at(mine).isdisjoint(images_at(theirs))


class _Recorded:
    """Progress that keeps each phase's total and the steps it was told of."""

    def __init__(self) -> None:
        self.phases: list[tuple[str, int | None, int]] = []

    def phase(self, name: str, total: int | None = None) -> None:
        self.phases.append((name, total, 0))

    def advance(self, steps: int = 1) -> None:
        name, total, done = self.phases[-1]
        assert steps >= 0
        self.phases[-1] = (name, total, done + steps)


@pytest.mark.usefixtures("split_always")
def test_the_bars_count_both_processes_vms() -> None:
    progress = _Recorded()
    federation = generate(MEDIUM, NOW, progress)
    assert _digests(federation) == GOLDEN["medium"]
    replay = [p for p in progress.phases if p[0] in (REPLAY_PHASE, MEASURE_PHASE)]
    vms = MEDIUM.vms + MEDIUM.persistent_volumes
    assert replay == [(REPLAY_PHASE, vms, vms), (MEASURE_PHASE, vms, vms)]


@pytest.mark.usefixtures("split_always")
def test_a_failed_child_fails_the_replay(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    parent = os.getpid()
    real = measure_vm

    def failing_in_the_child(draft: Draft, model: ContentModel, vm: Vm) -> None:
        if os.getpid() != parent:
            raise ValueError("the child's measure failed")
        real(draft, model, vm)

    monkeypatch.setattr(content_split, "measure_vm", failing_in_the_child)
    with pytest.raises(
        RuntimeError, match=r"^the content replay's second process failed \(its error is above\)$"
    ):
        generate(MEDIUM, NOW)
    assert "ValueError: the child's measure failed" in capfd.readouterr().err


@pytest.mark.parametrize("own_bytes", [0, 1, 5 * 2**20, 700 * 2**20, 33 * 2**30, 250 * 2**30])
@pytest.mark.parametrize("image", [None, "rhel9", "win11"])
def test_own_slots_counts_the_layouts_slots(own_bytes: int, image: str | None) -> None:
    base = None if image is None else image_segment(image, IMAGES[image].content, IMAGES[image].compression)
    expected = own_layout(1234, base, own_bytes, 5).slots
    assert own_slots(base, own_bytes) == expected
