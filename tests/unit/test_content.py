"""The content model: piece identities, shared templates, clones, workload divergence, compression, figures."""

from __future__ import annotations

from statistics import fmean

import pytest

from openovc.domain.figures import apportion, cluster_fields, host_fields, place_fields
from openovc.simulator.content.ledger import Held, MemoryLedger, Totals
from openovc.simulator.content.lineage import Lineage
from openovc.simulator.content.model import ContentModel
from openovc.simulator.content.pieces import (
    BLOCK,
    COLD_CLASS,
    GRAIN,
    HOT_CLASS,
    HOT_SHARE,
    RATIOS,
    SIZE_CLASSES,
    MiB,
    image_segment,
    mix,
    name_key,
    own_layout,
    piece_compressed,
    piece_id,
    piece_size,
    profile_for,
)
from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator.plan import IMAGES

GiB = 1024**3
RHEL = image_segment("rhel9", 9 * GiB, 2.1)


def _model() -> tuple[ContentModel, MemoryLedger]:
    ledger = MemoryLedger()
    return ContentModel(ledger), ledger


def _map(model: ContentModel, holder_id: str) -> list[int]:
    holder = model.holder(holder_id)
    lineage = model.ledger.lineage(holder.lineage)
    assert lineage is not None
    return lineage.slot_map(holder.version)


def _lineage(model: ContentModel, holder_id: str) -> Lineage:
    lineage = model.ledger.lineage(model.holder(holder_id).lineage)
    assert lineage is not None
    return lineage


def _bytes(pieces: set[int] | list[int]) -> tuple[int, int]:
    return sum(map(piece_size, pieces)), sum(map(piece_compressed, pieces))


# ---- identities ----------------------------------------------------------------------------------------


def test_ids_and_hashes_never_change_between_releases() -> None:
    # Stored lineages name their pieces through these functions: a change would corrupt every store.
    assert mix(1, 2) == 10272264012153226781
    assert name_key("vm", "vm-1") == 5343879215565527427
    piece = piece_id(mix(1, 2), COLD_CLASS, 7)
    assert piece == 1048891975298450998
    assert (piece & 15, (piece >> 4) & 3) == (6, COLD_CLASS)
    assert (piece_size(piece), piece_compressed(piece)) == (230383616, 128015896)
    assert RHEL.seed == 2318004453439079713
    assert (RHEL.length, RHEL.logical, RHEL.compressed) == (36, 9747750912, 4398086557)


def test_a_piece_size_stays_in_its_class_in_whole_blocks() -> None:
    for size_class, mean in enumerate(SIZE_CLASSES):
        sizes = [piece_size(piece_id(mix(size_class, n), size_class, 8)) for n in range(2000)]
        assert all(s % BLOCK == 0 and mean * 3 // 4 <= s < mean * 5 // 4 for s in sizes)
        assert abs(fmean(sizes) / mean - 1) < 0.02


def test_compression_follows_the_class_in_the_id() -> None:
    for klass, ratio in enumerate(RATIOS):
        piece = (mix(3, klass) >> 6 << 6 | HOT_CLASS << 4 | klass) & (2**63 - 1)
        assert piece_compressed(piece) <= piece_size(piece)
        assert piece_size(piece) / piece_compressed(piece) == pytest.approx(ratio, rel=0.002)


def test_a_segment_compresses_like_its_image() -> None:
    for image in IMAGES.values():
        seg = image_segment(image.name, image.content, image.compression)
        assert seg.profile == profile_for(image.compression)
        assert seg.logical / seg.compressed == pytest.approx(image.compression, rel=0.15)
        assert _bytes([seg.piece(o) for o in range(seg.length)]) == (seg.logical, seg.compressed)
    assert profile_for(1.0) == 0 and profile_for(100.0) == 15
    assert [profile_for(r) for r in (1.5, 2.1)] == [4, 8]


def test_granularity_fits_the_largest_federation() -> None:
    """The estimate behind content.py's granularity comment, from the generator's own sizes."""
    spec = FederationSpec.largest()
    images = list(IMAGES.values())
    content = fmean(i.content for i in images)
    # The generator gives a VM a typical disk of its image and 8-45% of the spare room as its own data.
    own = fmean((fmean(i.typical_size) - i.content) * (0.08 + 0.45) / 2 for i in images)
    layout = own_layout(1, image_segment("avg", int(content), 2.0), int(own), 8)
    hot, data = layout.segments[2].length, layout.segments[1].length
    assert (layout.segments[0].length, data, hot) == (72, 59, 26)
    # It rewrites 0.5-3% of its own data a day; retained backups are about 32 hours apart.
    per_interval = own * (0.005 + 0.03) / 2 * 32 / 24 / SIZE_CLASSES[HOT_CLASS]
    log_entries = spec.vms * (hot + layout.slots // 20 + spec.backups / spec.vms * per_interval)
    assert 2.0e6 < log_entries < 2.5e6  # the benchmark measures 2.26 M
    places_per_vm = 2  # its cluster, and the next one that keeps its remote backups
    mask_bytes = spec.vms * places_per_vm * (data + hot) * 4
    log_bytes = log_entries * 16  # slot, previous step, piece id
    assert log_bytes + mask_bytes < 64 * 10**6
    ledger_rows = spec.vms * places_per_vm * 3  # held versions, and the two own segments, per place
    assert ledger_rows < 100_000
    # The same history cut into 1 MiB pieces would not fit: 64 times the log.
    assert log_bytes * SIZE_CLASSES[HOT_CLASS] / MiB > 2 * 10**9
    assert GRAIN == 256 * MiB and HOT_SHARE == 0.1


# ---- sharing ----------------------------------------------------------------------------------------------


def test_vms_from_one_image_store_the_image_once() -> None:
    model, ledger = _model()
    model.create_vm("a", "c1", own_bytes=2 * GiB, compression=2.1, image=RHEL)
    model.create_vm("b", "c1", own_bytes=3 * GiB, compression=2.1, image=RHEL)
    model.create_vm("c", "c2", own_bytes=2 * GiB, compression=2.1, image=RHEL)
    own = {h: _lineage(model, h).layout.segments[1:] for h in "abc"}
    expected = RHEL.logical + sum(s.logical for h in "ab" for s in own[h])
    totals = model.totals("c1")
    assert totals.uncompressed == expected
    assert totals.vm_logical == model.size("a") + model.size("b")
    assert model.size("a") == RHEL.logical + sum(s.logical for s in own["a"])
    assert totals.pieces == RHEL.length + sum(s.length for h in "ab" for s in own[h])
    assert model.totals("c2").uncompressed == RHEL.logical + sum(s.logical for s in own["c"])
    # Each VM alone holds its own data; the image is shared.
    assert model.unique_size("a") == sum(s.logical for s in own["a"])
    assert ledger.segments[("c1", RHEL.seed)].holders == 2


def test_a_clone_shares_everything_until_it_diverges() -> None:
    model, _ = _model()
    model.create_vm("src", "c1", own_bytes=4 * GiB, compression=1.8, image=RHEL)
    model.workload("src", 5)
    before = model.totals("c1")
    change = model.clone("src", "copy")
    assert (change.uncompressed, change.compressed, change.pieces) == (0, 0, 0)
    assert _map(model, "copy") == _map(model, "src")
    after = model.totals("c1")
    assert after.uncompressed == before.uncompressed
    assert after.vm_logical == 2 * before.vm_logical
    assert model.unique_size("src") == 0 and model.unique_size("copy") == 0
    # The clone's own workload writes new pieces; the source keeps what they shared.
    model.write("copy", [0, 40])
    fresh = set(_map(model, "copy")) - set(_map(model, "src"))
    assert len(fresh) == 2
    assert model.unique_size("copy") == _bytes(fresh)[0]
    assert model.totals("c1").uncompressed == before.uncompressed + _bytes(fresh)[0]


def test_workload_diverges_a_vm_from_its_backups() -> None:
    model, _ = _model()
    model.create_vm("vm", "c1", own_bytes=8 * GiB, compression=2.0, image=RHEL)
    model.backup("vm", "b0")
    first = _map(model, "vm")
    slots = _lineage(model, "vm").choose_slots(6)
    assert model.workload("vm", 6) == 6
    now = _map(model, "vm")
    assert [s for s in range(len(now)) if now[s] != first[s]] == slots
    assert _map(model, "b0") == first
    model.backup("vm", "b1")
    model.workload("vm", 6)
    # b1's pieces that the VM has since rewritten are its alone; b0 and the VM hold the rest.
    only_b1 = set(_map(model, "b1")) - set(_map(model, "b0")) - set(_map(model, "vm"))
    assert only_b1 and model.unique_size("b1") == _bytes(only_b1)[0]
    stored = model.totals("c1").uncompressed
    change = model.delete("b1")
    assert (-change.uncompressed, -change.compressed) == _bytes(only_b1)
    assert model.totals("c1").uncompressed == stored - _bytes(only_b1)[0]


def test_workload_is_seeded_and_prefers_hot_data() -> None:
    picks = []
    for _ in range(2):
        model, _ = _model()
        model.create_vm("vm", "c1", own_bytes=20 * GiB, compression=2.0, image=RHEL)
        for _ in range(20):
            model.workload("vm", 4)
        picks.append(list(_lineage(model, "vm").slots))
    assert picks[0] == picks[1]
    layout = _lineage(model, "vm").layout
    hot_start = layout.starts[2]
    assert layout.segments[2].kind == "hot"
    assert sum(s >= hot_start for s in picks[0]) / len(picks[0]) > 0.8
    assert model.workload("vm", 10**6) == layout.slots  # never more than every slot once


def test_a_copy_sends_only_what_the_destination_lacks() -> None:
    model, _ = _model()
    model.create_vm("vm", "c1", own_bytes=4 * GiB, compression=2.0, image=RHEL)
    model.create_vm("other", "c2", own_bytes=1 * GiB, compression=2.0, image=RHEL)
    model.backup("vm", "b0")
    sent = model.copy("b0", "r0", "c2")
    # The destination already had the image: it receives the VM's own data only.
    assert sent.compressed == sum(s.compressed for s in _lineage(model, "vm").layout.segments[1:])
    assert model.copy("b0", "r0-again", "c2").compressed == 0
    model.workload("vm", 3)
    model.backup("vm", "b1")
    changed = set(_map(model, "b1")) - set(_map(model, "b0"))
    assert model.copy("b1", "r1", "c2").compressed == _bytes(changed)[1]
    totals = model.totals("c2")
    assert totals.remote_logical == model.size("r0") + model.size("r0-again") + model.size("r1")
    assert model.totals("c1").local_logical == model.size("b0") + model.size("b1")


def test_a_backup_straight_to_another_cluster_is_remote() -> None:
    model, _ = _model()
    model.create_vm("vm", "c1", own_bytes=1 * GiB, compression=2.0)
    change = model.backup("vm", "b", "c2")
    assert model.holder("b").kind == "remote"
    assert change.uncompressed == model.size("vm") == model.totals("c2").remote_logical
    assert model.totals("c1").local_logical == 0


def test_restore_gives_the_vm_the_backups_content() -> None:
    model, _ = _model()
    model.create_vm("vm", "c1", own_bytes=4 * GiB, compression=2.0, image=RHEL)
    model.workload("vm", 4)
    model.backup("vm", "b")
    model.workload("vm", 4)
    newer = set(_map(model, "vm")) - set(_map(model, "b"))
    stored = model.totals("c1").uncompressed
    change = model.restore("b", "vm")
    assert _map(model, "vm") == _map(model, "b")
    assert change.uncompressed == -_bytes(newer)[0]
    assert model.totals("c1").uncompressed == stored - _bytes(newer)[0]
    assert model.unique_size("b") == 0
    # A new VM from the backup in another cluster stores all of it there.
    change = model.restore_as("b", "twin", "c3")
    assert change.uncompressed == model.size("b") == model.totals("c3").vm_logical


def test_deleting_a_vm_keeps_what_its_backups_hold() -> None:
    model, _ = _model()
    model.create_vm("vm", "c1", own_bytes=4 * GiB, compression=2.0, image=RHEL)
    model.backup("vm", "b")
    model.workload("vm", 5)
    only_vm = set(_map(model, "vm")) - set(_map(model, "b"))
    change = model.delete("vm")
    assert -change.uncompressed == _bytes(only_vm)[0]
    assert model.totals("c1").uncompressed == model.size("b")
    assert model.unique_size("b") == model.size("b")
    model.delete("b")
    assert model.totals("c1") == Totals()


def test_mistakes_are_refused_before_anything_changes() -> None:
    model, ledger = _model()
    model.create_vm("vm", "c1", own_bytes=1 * GiB, compression=2.0)
    model.backup("vm", "b")
    before = (dict(ledger.holders), model.totals("c1"))
    with pytest.raises(ValueError, match="already has content"):
        model.create_vm("vm", "c1", own_bytes=1 * GiB, compression=2.0)
    with pytest.raises(ValueError, match="already has content"):
        model.backup("vm", "b")
    with pytest.raises(ValueError, match="is a backup, not a VM"):
        model.workload("b", 1)
    with pytest.raises(KeyError, match="no content recorded for 'ghost'"):
        model.backup("ghost", "b2")
    with pytest.raises(ValueError, match="slot 6 is outside the VM's 6 slots"):
        model.write("vm", [0, 6])
    with pytest.raises(ValueError, match="slot -1 is outside the VM's 6 slots"):
        model.write("vm", [-1, 2])
    with pytest.raises(ValueError, match="needs an image or data of its own"):
        model.create_vm("empty", "c1", own_bytes=0, compression=2.0)
    assert (dict(ledger.holders), model.totals("c1")) == before
    assert _lineage(model, "vm").steps == 0
    assert model.write("vm", []).pieces == 0 and model.holder("vm").version == 0


# ---- figures --------------------------------------------------------------------------------------------


def test_place_fields_are_the_capacity_properties() -> None:
    totals = Totals(
        uncompressed=400, compressed=200, pieces=3, vm_logical=600, local_logical=300, remote_logical=100
    )
    assert place_fields(totals, 1000) == {
        "allocated_capacity": 1000,
        "capacity_savings": 800,
        "free_space": 800,
        "local_backup_capacity": 300,
        "remote_backup_capacity": 100,
        "stored_compressed_data": 200,
        "stored_uncompressed_data": 400,
        "stored_virtual_machine_data": 600,
        "used_capacity": 200,
        "used_logical_capacity": 1000,
        "compression_ratio": 2.0,
        "deduplication_ratio": 2.5,
        "efficiency_ratio": 5.0,
    }


def test_apportion_is_exact_and_proportional() -> None:
    assert apportion(10, [1, 1, 1]) == [4, 3, 3]
    assert apportion(10, [0, 0]) == [5, 5]
    assert apportion(7, [3, 0, 1]) == [5, 0, 2]
    assert apportion(0, [2, 5]) == [0, 0]
    assert sum(apportion(10**13 + 7, [3, 11, 5, 0, 2])) == 10**13 + 7
    with pytest.raises(ValueError, match="nothing to apportion among"):
        apportion(5, [])
    with pytest.raises(ValueError, match="must not be negative"):
        apportion(5, [1, -1])


def test_hosts_add_up_to_their_cluster() -> None:
    model, _ = _model()
    for n in range(4):
        model.create_vm(f"vm{n}", "c1", own_bytes=(n + 1) * GiB, compression=1.7, image=RHEL)
        model.backup(f"vm{n}", f"b{n}")
    model.create_vm("far", "c2", own_bytes=GiB, compression=1.7)
    model.backup("far", "rb", "c1")
    totals = model.totals("c1")
    allocated = [5 * 2**40, 5 * 2**40, 5 * 2**40]
    hosts = host_fields(totals, allocated, [7, 3, 0])
    cluster = cluster_fields(hosts)
    expected = place_fields(totals, sum(allocated))
    assert cluster == expected
    assert [h["stored_uncompressed_data"] for h in hosts] == apportion(totals.uncompressed, [7, 3, 0])
    for host in hosts[:2]:
        assert host["deduplication_ratio"] == pytest.approx(expected["deduplication_ratio"], rel=1e-9)
    with pytest.raises(ValueError, match="one allocated capacity and one weight per host"):
        host_fields(totals, allocated, [1, 2])


def test_held_is_a_sorted_multiset() -> None:
    held = Held().plus(5).plus(2).plus(5).plus(9)
    assert (list(held.versions), list(held.counts)) == ([2, 5, 9], [1, 2, 1])
    assert (held.count(5), held.count(3), held.below(5), held.above(5), held.at_or_above(6)) == (
        2,
        0,
        2,
        9,
        9,
    )
    assert (held.below(2), held.above(9)) == (None, None)
    assert held.minus(5).count(5) == 1 and not Held().plus(1).minus(1)
    with pytest.raises(KeyError, match="version 4 is not held"):
        held.minus(4)


def test_a_restored_piece_its_writer_rewrote_is_stored_again() -> None:
    """A fork inherits a piece its writer no longer references where the fork lands."""
    model, _ = _model()
    model.create_vm("vm", "c1", own_bytes=GiB, compression=2.0)
    model.write("vm", [1])
    model.backup("vm", "far", "c2")
    old = _map(model, "far")[1]
    model.write("vm", [1])
    assert old not in _map(model, "vm")
    stored = model.totals("c1")
    change = model.restore_as("far", "back", "c1")
    assert (change.uncompressed, change.pieces) == (piece_size(old), 1)
    assert model.totals("c1").uncompressed == stored.uncompressed + piece_size(old)
    assert model.unique_size("back") == piece_size(old)
    # Restored into the VM too, it is shared; once the VM rewrites it again, only `back` holds it.
    model.backup("vm", "b2")
    model.restore("far", "vm")
    model.write("vm", [1])
    assert model.delete("back").uncompressed == -piece_size(old)
