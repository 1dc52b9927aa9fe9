"""The past of the metrics: power spans, the IO of operations, their roll-up, and the performance they give."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openovc.domain.metrics import GiB, IoSpan, Resolution, VmWorkload, Window, roll_up
from openovc.simulator import backup_data as data
from openovc.simulator import io
from openovc.simulator.metrics import IO_BLOCK, IO_LATENCY, performance

END = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)
T = int(END.timestamp())


def _window(seconds: int, resolution: Resolution = Resolution.MINUTE) -> Window:
    return Window(end=END, range=seconds, resolution=resolution)


# ---- power spans ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vm", "spans"),
    [
        (VmWorkload("a", GiB, True), [(None, None)]),
        (VmWorkload("a", GiB, False), []),
        # Before its first change it was the opposite of what the change made it.
        (VmWorkload("a", GiB, False, power=((100, False),)), [(None, 100)]),
        (VmWorkload("a", GiB, True, power=((100, True),)), [(100, None)]),
        (VmWorkload("a", GiB, True, power=((100, False), (200, True))), [(None, 100), (200, None)]),
        (
            VmWorkload("a", GiB, False, power=((100, True), (200, False), (300, True), (400, False))),
            [(100, 200), (300, 400)],
        ),
        # created and deleted bound it; a span wholly outside them is gone.
        (
            VmWorkload("a", GiB, True, created=150, deleted=350, power=((100, False), (200, True))),
            [(200, 350)],
        ),
        (VmWorkload("a", GiB, False, created=150, power=((100, True), (120, False))), []),
        # A repeated state is no change.
        (VmWorkload("a", GiB, False, power=((100, True), (150, True), (200, False))), [(100, 200)]),
    ],
)
def test_on_spans(vm: VmWorkload, spans: list[tuple[int | None, int | None]]) -> None:
    assert vm.on_spans() == spans


def test_a_vm_powered_off_mid_window_does_io_only_before() -> None:
    window = _window(3600)
    dates = window.dates()
    off_at = dates[30]
    always = performance([VmWorkload("vm-1", 80 * GiB, True)], window)
    stopped = performance([VmWorkload("vm-1", 80 * GiB, False, power=((off_at, False),))], window)
    assert stopped.reads[:30] == always.reads[:30] and stopped.writes[:30] == always.writes[:30]
    assert set(stopped.reads[30:]) == {0} and set(stopped.read_latency[30:]) == {0}
    assert min(always.reads[30:]) > 0


def test_a_later_power_change_leaves_the_past_as_it_was() -> None:
    window = _window(3600)
    off_at = window.dates()[-1] + 60  # after the window
    before = performance([VmWorkload("vm-1", 80 * GiB, True)], window)
    after = performance([VmWorkload("vm-1", 80 * GiB, False, power=((off_at, False),))], window)
    assert after == before


# ---- IO of operations -------------------------------------------------------------------------------


def test_io_spans_add_their_blocks_to_the_points_they_cover() -> None:
    window = _window(600)
    dates = window.dates()
    at = dates[3] * 1000
    # 60 blocks read over one minute: one IOPS at that point; written over two minutes: half each.
    span = IoSpan("h", "vm-1", at, at + 60_000, 60 * IO_BLOCK, 0)
    spread = IoSpan("h", "vm-1", at, at + 120_000, 0, 120 * IO_BLOCK)
    perf = performance([], window, spans=[span, spread])
    assert perf.reads == [0, 0, 0, 60 // 60, 0, 0, 0, 0, 0, 0]
    assert perf.writes == [0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
    assert perf.read_bytes[3] == IO_BLOCK and perf.read_latency[3] == IO_LATENCY[0]
    assert perf.write_latency[4] == IO_LATENCY[1] and perf.write_latency[5] == 0


def test_io_spans_add_to_a_vms_own_workload() -> None:
    window = _window(300)
    at = window.dates()[0] * 1000
    vm = VmWorkload("vm-1", 80 * GiB, True)
    alone = performance([vm], window)
    busy = performance([vm], window, spans=[IoSpan("h", "vm-1", at, at + 60_000, 600 * 60 * IO_BLOCK, 0)])
    assert busy.reads[0] == alone.reads[0] + 600 and busy.reads[1:] == alone.reads[1:]
    assert busy.writes == alone.writes


def test_a_local_backup_walks_its_metadata_while_it_is_taken() -> None:
    plan = data.transfer(512 * GiB, 0, "NONE", None)
    assert io.backup_taken("h1", "vm-1", "bk", 512 * GiB, plan, 1_000, None) == [
        IoSpan("h1", "vm-1", 1_000, 1_000 + plan.take * 1000, 512 * GiB // io.METADATA_SHARE, 0, "bk")
    ]


def test_a_remote_backup_is_read_at_home_and_written_where_it_goes() -> None:
    plan = data.transfer(64 * GiB, 3 * GiB, "NONE", "cluster-b")
    spans = io.backup_taken("h1", "vm-1", "bk", 64 * GiB, plan, 0, "h9")
    sending = plan.take * 1000
    assert spans[1:] == [
        IoSpan("h1", "vm-1", sending, sending + plan.send * 1000, 3 * GiB, 0, "bk"),
        IoSpan("h9", "", sending, sending + plan.send * 1000, 0, 3 * GiB, "bk"),
    ]
    # To a store, only the sending end is in the federation.
    assert [s.host_id for s in io.backup_taken("h1", "vm-1", "bk", 64 * GiB, plan, 0, None)] == ["h1", "h1"]


def test_a_restore_from_elsewhere_brings_its_data_over() -> None:
    local = io.restored("h1", "vm-2", 8 * GiB, 0, None, "bk", None)
    assert [(s.host_id, s.read_bytes, s.write_bytes) for s in local] == [
        ("h1", 0, 8 * GiB // io.METADATA_SHARE)
    ]
    remote = io.restored("h1", "vm-2", 8 * GiB, 0, "h7", "bk", "cluster-b")
    assert [(s.host_id, s.vm_id, s.read_bytes, s.write_bytes) for s in remote[1:]] == [
        ("h1", "vm-2", 0, 8 * GiB), ("h7", "", 8 * GiB, 0),
    ]  # fmt: skip


# ---- keeping the past bounded -----------------------------------------------------------------------


def test_until_keeps_what_fell_before() -> None:
    span = IoSpan("h", "v", 1_000, 5_000, 400, 40, "bk")
    assert span.until(1_000) is None and span.until(500) is None
    assert span.until(9_000) == span
    assert span.until(2_000) == IoSpan("h", "v", 1_000, 2_000, 100, 10, "bk")


def test_roll_up_sums_per_host_vm_and_bucket() -> None:
    spans = [
        IoSpan("h", "v", 0, 1_000, 10, 0, "a"),
        IoSpan("h", "v", 500, 2_500, 0, 40, "b"),  # 2 s: 10 in bucket 0, 20 in 1, 10 in 2
        IoSpan("h", "", 100, 200, 7, 0, "c"),
    ]
    assert roll_up(spans, 1_000) == [
        IoSpan("h", "", 0, 1_000, 7, 0, "", 1_000),
        IoSpan("h", "v", 0, 1_000, 10, 10, "", 1_000),
        IoSpan("h", "v", 1_000, 2_000, 0, 20, "", 1_000),
        IoSpan("h", "v", 2_000, 3_000, 0, 10, "", 1_000),
    ]


_SPANS = st.lists(
    st.builds(
        lambda host, start, length, r, w: IoSpan(host, "v", start, start + length, r, w, "x"),
        st.sampled_from(["h1", "h2"]),
        st.integers(0, 10**7),
        st.integers(1, 10**7),
        st.integers(0, 10**12),
        st.integers(0, 10**12),
    ),
    max_size=20,
)


@settings(deadline=None)  # a long span at a 1 s bucket splits into thousands of parts
@given(_SPANS, st.sampled_from([1_000, 60_000, 3_600_000]))
def test_roll_up_keeps_every_byte_and_each_buckets_share(spans: list[IoSpan], bucket: int) -> None:
    rolled = roll_up(spans, bucket)
    for host in ("h1", "h2"):
        mine = [s for s in spans if s.host_id == host]
        got = [s for s in rolled if s.host_id == host]
        assert sum(s.read_bytes for s in got) == sum(s.read_bytes for s in mine)
        assert sum(s.write_bytes for s in got) == sum(s.write_bytes for s in mine)
        for s in got:  # each bucket holds the bytes that fell in it, give or take the rounding of each span
            exact = sum(
                m.read_bytes
                * max(0, min(m.end_ms, s.end_ms) - max(m.start_ms, s.start_ms))
                / (m.end_ms - m.start_ms)
                for m in mine
            )
            assert abs(s.read_bytes - exact) <= len(mine) + 1
    assert all(s.start_ms % bucket == 0 and s.end_ms - s.start_ms == bucket for s in rolled)
