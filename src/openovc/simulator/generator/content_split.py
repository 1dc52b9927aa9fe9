"""The content replay in two processes: VMs whose data never meets replay apart, and the ledger is merged
into what one process replaying every VM in order builds.

What two VMs' replays both read is, per place, the state of a golden image's segment there (which of its
pieces every holder masks: it decides what a copy sends and a delete frees). Everything else a VM's
replay touches is its own (its lineage, its own segments, its holders, its workload) or only adds up
(a place's totals). So VMs fall into components, joined by sharing an image at a place (their cluster,
or where a backup is kept): each component replays alone exactly as in the sequence of all of them.
A child process (fork) replays half of them while this one replays the other half; the child sends back
its rows' figures and its ledger, which is merged in the order the sequence gives: per VM, what it added.
"""

from __future__ import annotations

import os
import pickle
import signal
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import NoReturn, TypeVar

from openovc.domain.ports.progress import Progress
from openovc.simulator import forking
from openovc.simulator.content.ledger import Held, Holder, MemoryLedger, SegmentState, SharedEntry, Totals
from openovc.simulator.content.lineage import Lineage
from openovc.simulator.content.model import ContentModel
from openovc.simulator.content.pieces import own_slots
from openovc.simulator.generator.content import MEASURE_PHASE, REPLAY_PHASE, measure_vm, replay_vm
from openovc.simulator.generator.records import Draft, Vm

# Below this many VMs one process replays them all: the fork and the merge cost more than half the replay.
FORK_FROM = 2000
# Components split every way to balance the halves (2**11 splits); lighter ones follow one at a time.
_EXACT = 12
# The fields of a backup's row the replay sets, sent back by the child in this order.
_FIGURES = ("size", "sent", "sent_duration", "sent_completion_time", "unique_size_bytes")
_REPLAYED, _MEASURED = b"r", b"m"  # the child's progress: one byte per VM
_K = TypeVar("_K")
_V = TypeVar("_V")


def components(nodes: Sequence[Sequence[Hashable]]) -> list[Hashable]:
    """Per item, its component: items that share a node, directly or through others, share one."""
    parent: dict[Hashable, Hashable] = {}

    def root(node: Hashable) -> Hashable:
        parent.setdefault(node, node)
        while (up := parent[node]) != node:
            parent[node] = parent[up]  # path halving
            node = up
        return node

    for item in nodes:
        first = root(item[0])
        for node in item[1:]:
            other = root(node)
            if other != first:
                parent[other] = first
    return [root(item[0]) for item in nodes]


def halves(draft: Draft) -> tuple[list[Vm], list[Vm]] | None:
    """The VMs this process replays and those a child does (each in the draft's order), or None: one
    process replays them all (few VMs, one core, no fork)."""
    if len(draft.vms) < FORK_FROM or not hasattr(os, "fork") or forking.usable_cores() < 2:
        return None
    nodes: list[list[Hashable]] = []
    for position, vm in enumerate(draft.vms):
        if vm.segment is None:
            nodes.append([("alone", position)])  # data of its own only: it meets no other VM's
            continue
        places = {vm.cluster.id, *(place for _, _, place, _ in draft.history.get(vm.index, ()))}
        nodes.append([(vm.segment.seed, place) for place in sorted(places)])
    keys = components(nodes)
    weights: dict[Hashable, float] = {}
    for key, vm in zip(keys, draft.vms, strict=True):
        # A VM's replay costs about a workload step per backup, and its disk's size (timed per component).
        cost = len(draft.history.get(vm.index, ())) + 2 + own_slots(vm.segment, vm.unique) / 10
        weights[key] = weights.get(key, 0) + cost
    chosen = _balanced(weights)
    loads = [sum(w for key, w in weights.items() if chosen[key] == side) for side in (0, 1)]
    if not loads[0] or not loads[1]:
        return None
    sides: tuple[list[Vm], list[Vm]] = ([], [])
    for key, vm in zip(keys, draft.vms, strict=True):
        sides[chosen[key]].append(vm)
    # This process takes the lighter half: merging the child's ledger is its extra work.
    return sides if loads[0] <= loads[1] else (sides[1], sides[0])


def _balanced(weights: dict[Hashable, float]) -> dict[Hashable, int]:
    """Each component's side, 0 or 1, the two sides' weights as even as can be: the heaviest few split
    every way (the largest federation has six components), then the rest each to the lighter side."""
    order = sorted(weights, key=lambda key: (-weights[key], str(key)))
    head, tail = order[:_EXACT], order[_EXACT:]
    total = sum(weights[key] for key in head)
    best = min(
        range(1 << max(0, len(head) - 1)),  # the first stays on side 0: a split and its mirror are one
        key=lambda mask: abs(
            total - 2 * sum(weights[key] for i, key in enumerate(head[1:]) if mask >> i & 1)
        ),
    )
    chosen = dict.fromkeys(head, 0)
    chosen.update({key: 1 for i, key in enumerate(head[1:]) if best >> i & 1})
    loads = [sum(weights[key] for key in head if chosen[key] == side) for side in (0, 1)]
    for key in tail:
        side = 0 if loads[0] <= loads[1] else 1
        chosen[key] = side
        loads[side] += weights[key]
    return chosen


@dataclass
class _Half:
    """What one process's replay made: its rows' figures, and its ledger with per VM what it added."""

    written: list[int]
    figures: list[tuple[object, ...]]
    ends: list[tuple[int, int, int]]  # after each VM: how many lineages, holders, workloads so far
    lineages: list[tuple[int, Lineage]]
    holders: list[tuple[str, Holder]]
    workloads: list[tuple[str, int]]
    helds: dict[tuple[str, int], Held]
    segments: dict[tuple[str, int], SegmentState]
    shares: dict[str, dict[int, SharedEntry]]
    places: dict[str, Totals]


def _ends(ledger: MemoryLedger) -> tuple[int, int, int]:
    return len(ledger.lineages), len(ledger.holders), len(ledger.workloads)


def _half(draft: Draft, vms: list[Vm], ledger: MemoryLedger, ends: list[tuple[int, int, int]]) -> _Half:
    for lineage in ledger.lineages.values():
        lineage.forget_cache()  # not sent: the builder drops it anyway
    return _Half(
        written=[vm.written for vm in vms],
        figures=[
            tuple(row[name] for name in _FIGURES)
            for vm in vms
            for _, row, _, _ in draft.history.get(vm.index, ())
        ],
        ends=ends,
        lineages=list(ledger.lineages.items()),
        holders=list(ledger.holders.items()),
        workloads=list(ledger.workloads.items()),
        helds=ledger.helds,
        segments=ledger.segments,
        shares=ledger.shares,
        places=ledger.places,
    )


def _child(draft: Draft, vms: list[Vm], ticks: int, out: int) -> NoReturn:
    """Replay and measure these VMs on a ledger of their own, send the result, and exit."""

    def work() -> _Half:
        ledger = MemoryLedger()
        model = ContentModel(ledger)
        ends = []
        for vm in vms:
            replay_vm(draft, model, vm)
            ends.append(_ends(ledger))
            os.write(ticks, _REPLAYED)
        for vm in vms:
            measure_vm(draft, model, vm)
            os.write(ticks, _MEASURED)
        return _half(draft, vms, ledger, ends)

    forking.child_main(work, out)


class _Ticks:
    """The child's progress, read from its pipe as it comes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.replayed = self.measured = 0
        self.open = True

    def poll(self, *, wait: bool) -> None:
        if not self.open:
            return
        os.set_blocking(self.fd, wait)
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        if not data:
            self.open = False
        self.replayed += data.count(_REPLAYED)
        self.measured += data.count(_MEASURED)


def replay_forked(draft: Draft, progress: Progress, mine: list[Vm], theirs: list[Vm]) -> None:
    """Replay `mine` here and `theirs` in a child process, then merge: the rows and ledger that replaying
    every VM here in order would give."""
    ticks_r, ticks_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ticks_r)
        os.close(out_r)
        _child(draft, theirs, ticks_w, out_w)
    os.close(ticks_w)
    os.close(out_w)
    data = b""
    try:
        ticks = _Ticks(ticks_r)
        mine_half = _replay_here(draft, progress, mine, theirs, ticks)
        with os.fdopen(out_r, "rb") as stream:
            out_r = -1
            data = stream.read()
    finally:
        if not data:  # this process failed or was interrupted: the child's work is of no use
            os.kill(pid, signal.SIGKILL)
        os.close(ticks_r)
        if out_r >= 0:
            os.close(out_r)
        _, status = os.waitpid(pid, 0)
    if status != 0 or not data:
        raise RuntimeError("the content replay's second process failed (its error is above)")
    theirs_half: _Half = pickle.loads(data)
    _merge(draft, mine_half, theirs, theirs_half)


def _both_halves(
    progress: Progress,
    ticks: _Ticks,
    mine: list[Vm],
    step: Callable[[Vm], None],
    done: Callable[[], int],
    theirs: int,
) -> None:
    """`step` over this process's VMs, then wait for the child's `theirs`; the bar advances by both."""
    shown = 0
    for vm in mine:
        step(vm)
        ticks.poll(wait=False)
        progress.advance(1 + done() - shown)
        shown = done()
    while ticks.open and done() < theirs:
        ticks.poll(wait=True)
        progress.advance(done() - shown)
        shown = done()


def _replay_here(draft: Draft, progress: Progress, mine: list[Vm], theirs: list[Vm], ticks: _Ticks) -> _Half:
    """This process's half, the bars counting the child's VMs as they come."""
    model, ledger = draft.content, draft.ledger
    ends = []

    def replay(vm: Vm) -> None:
        replay_vm(draft, model, vm)
        ends.append(_ends(ledger))

    progress.phase(REPLAY_PHASE, len(draft.vms))
    _both_halves(progress, ticks, mine, replay, lambda: ticks.replayed, len(theirs))
    progress.phase(MEASURE_PHASE, len(draft.vms))
    _both_halves(
        progress, ticks, mine, lambda vm: measure_vm(draft, model, vm), lambda: ticks.measured, len(theirs)
    )
    return _half(draft, mine, ledger, ends)


def _merge(draft: Draft, here: _Half, theirs: list[Vm], there: _Half) -> None:
    """The child's figures onto its rows, and both ledgers into the draft's, in the draft's VM order."""
    figures = iter(there.figures)
    for vm, written in zip(theirs, there.written, strict=True):
        vm.written = written
        for _, row, _, _ in draft.history.get(vm.index, ()):
            row.update(zip(_FIGURES, next(figures), strict=True))
    if next(figures, None) is not None:
        raise RuntimeError("the content replay's halves disagree on the backups")
    # Per VM, the lineages, holders and workloads its replay added, as one process adds them in turn.
    theirs_ids = {id(vm) for vm in theirs}
    cursors = {True: [0, 0, 0, 0], False: [0, 0, 0, 0]}  # next VM, then where each dict's part starts
    halves = {True: there, False: here}
    lineages: dict[int, Lineage] = {}
    holders: dict[str, Holder] = {}
    workloads: dict[str, int] = {}
    for vm in draft.vms:
        side = id(vm) in theirs_ids
        half, cursor = halves[side], cursors[side]
        lin_end, holder_end, workload_end = half.ends[cursor[0]]
        lineages.update(half.lineages[cursor[1] : lin_end])
        holders.update(half.holders[cursor[2] : holder_end])
        workloads.update(half.workloads[cursor[3] : workload_end])
        cursor[:] = [cursor[0] + 1, lin_end, holder_end, workload_end]
    ledger = draft.ledger
    sizes = len(lineages), len(holders), len(workloads)
    given = (len(here.lineages) + len(there.lineages), len(here.holders) + len(there.holders),
             len(here.workloads) + len(there.workloads))  # fmt: skip
    if sizes != given:
        raise RuntimeError("the content replay's halves share a lineage, holder or workload")
    ledger.lineages, ledger.holders, ledger.workloads = lineages, holders, workloads
    _disjoint_update(ledger.helds, there.helds)
    _disjoint_update(ledger.segments, there.segments)
    for place, entries in there.shares.items():
        _disjoint_update(ledger.shares.setdefault(place, {}), entries)
    for place, totals in there.places.items():
        ledger.places[place] = _sum(ledger.places[place], totals) if place in ledger.places else totals


def _disjoint_update(into: dict[_K, _V], more: dict[_K, _V]) -> None:
    if not more.keys().isdisjoint(into.keys()):
        raise RuntimeError("the content replay's halves met at a segment or held version")
    into.update(more)


def _sum(a: Totals, b: Totals) -> Totals:
    return Totals(
        a.uncompressed + b.uncompressed,
        a.compressed + b.compressed,
        a.pieces + b.pieces,
        a.vm_logical + b.vm_logical,
        a.local_logical + b.local_logical,
        a.remote_logical + b.remote_logical,
    )
