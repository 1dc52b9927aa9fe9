"""Each VM's history replayed through the content model, so that every byte figure on a row derives from it."""

from __future__ import annotations

from openovc.domain.ports.progress import SILENT, Progress
from openovc.simulator.content.model import ContentModel
from openovc.simulator.content.workload import workload_pieces
from openovc.simulator.generator.records import Draft, Vm

REPLAY_PHASE = "Replaying VMs' data and backups"
MEASURE_PHASE = "Measuring backups' unique sizes"


def replay_content(draft: Draft, progress: Progress = SILENT) -> None:
    """Each VM made, aged, backed up in time order and (if deleted) deleted; rows take the figures.

    VMs whose data never meets (content_split.py) replay in two processes when there are two cores.
    """
    from openovc.simulator.generator import content_split

    halves = content_split.halves(draft)
    if halves is not None:
        content_split.replay_forked(draft, progress, *halves)
        return
    model = draft.content
    progress.phase(REPLAY_PHASE, len(draft.vms))
    for vm in draft.vms:
        replay_vm(draft, model, vm)
        progress.advance()
    # Measured once every history is in: what deleting each backup would free now.
    progress.phase(MEASURE_PHASE, len(draft.vms))
    for vm in draft.vms:
        measure_vm(draft, model, vm)
        progress.advance()


def replay_vm(draft: Draft, model: ContentModel, vm: Vm) -> None:
    """One VM's history, in one batch: made, aged, its backups in time order, deleted or left running."""
    history = sorted(draft.history.get(vm.index, ()), key=lambda event: event[0])
    with model.batch():
        model.create_vm(
            vm.id, vm.cluster.id, own_bytes=vm.unique, compression=vm.compression, image=vm.segment,
            rate=vm.rate,
        )  # fmt: skip
        layout = model.lineage(vm.id).layout
        hot = sum(seg.length for seg in layout.segments if seg.kind == "hot")
        model.workload(vm.id, hot + layout.slots // 20)  # aged: its hot data and a few files
        previous = vm.created
        for ts, row, place, bandwidth in history:
            model.workload(vm.id, workload_pieces(vm.rate, ts - previous))
            previous = ts
            backup_id = str(row["id"])
            change = model.backup(vm.id, backup_id, place)
            row["size"] = model.size(backup_id)
            if place != vm.cluster.id:
                sent = change.compressed
                duration = max(1, sent // bandwidth)
                row["sent"] = sent
                row["sent_duration"] = duration
                row["sent_completion_time"] = draft.text(ts + duration)
        end = vm.deleted if vm.deleted is not None else draft.now_ts
        model.workload(vm.id, workload_pieces(vm.rate, end - previous))
        vm.written = model.size(vm.id)
        if vm.deleted is not None:
            model.delete(vm.id)
        elif vm.power == "ON":
            model.start_workload(vm.id, draft.now_ts * 1000)  # it keeps running from now on


def measure_vm(draft: Draft, model: ContentModel, vm: Vm) -> None:
    """Each of the VM's backups' unique size, once every history that shares its data is in."""
    for _, row, _, _ in draft.history.get(vm.index, ()):
        row["unique_size_bytes"] = model.unique_size(str(row["id"]))
