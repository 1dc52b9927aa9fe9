"""A VM's simulated IO: IOPS, throughput and latency generated from its workload inputs.

Nothing is random: each VM's profile comes from a hash of its id and from its size, each
interval's variation from a table of 65,536 hashed values read at (interval number + a key
hashed from the id): a hash of (id, interval) that costs one slice per VM, and longer than any
window. Asking twice, or for an overlapping window, gives the same numbers.

    full-load IOPS   = (8 + 0.4 x size in GiB, at most 2 TiB) x (0.5 .. 2.0)
    read share       = 45 .. 85 % of the IOPS; block sizes 4 .. 64 KiB, reads and writes apart
    activity(t)      = (1 - day_share) + day_share x cycle(t)        day_share = 0.3 .. 0.9
    cycle(t)         = 0.55 - 0.45 cos(2 pi (local hour - 1) / 24), averaged over the step:
                       1.0 at 13:00, 0.1 at 01:00 in the cluster's time zone; x 0.6 on weekends
    load             = activity x (1 + AMPLITUDE[resolution] x noise),  noise in [-1, 1)
    iops             = full-load IOPS x share x load (rounded);  throughput = iops x block size
    latency (us)     = base (reads 250..800, writes 400..1300) x (0.6 + 0.8 x iops / full-load IOPS
                       x share); 0 with no IO

The variation shrinks at coarser resolutions, as averaging would shrink it. A VM does IO only
while it exists (created_at .. deleted_at) and while it was powered on (its power history: a
point counts when the VM was on at its date). A host is the sum of the VMs whose host_id it is,
a cluster the sum of its hosts; their latency is the IOPS-weighted average.

Backups, copies, clones and restores add their IO (IoSpan: bytes spread evenly over a time) to the
VM, the host and so the cluster they ran on, in blocks of IO_BLOCK at IO_LATENCY.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from operator import add

from openovc.domain.metrics import GiB, IoSpan, Performance, Resolution, VmWorkload, Window

# How far an interval strays from the daily cycle: averaging more samples narrows it.
AMPLITUDE = {Resolution.SECOND: 0.5, Resolution.MINUTE: 0.3, Resolution.HOUR: 0.15, Resolution.DAY: 0.08}

_BLOCKS = (4_096, 8_192, 16_384, 32_768, 65_536)
_MAX_SIZE_GIB = 2_048
_WEEKEND = 0.6
_M64 = (1 << 64) - 1
_TABLE_BITS = 16  # longer than any window's point count (at most 10080), so no window repeats itself
_TABLE_MASK = (1 << _TABLE_BITS) - 1
_FIXED_BITS = 16
_FIXED_ONE = 1 << _FIXED_BITS
IO_BLOCK = 65_536  # backups, copies, clones and restores move data in large sequential blocks
IO_LATENCY = (500, 900)  # microseconds, reads and writes, of those blocks


@dataclass(frozen=True)
class Profile:
    """A VM's IO character, fixed by its id and size."""

    read_iops: float  # at full load
    write_iops: float
    read_block: int
    write_block: int
    read_latency: float  # microseconds at the base load
    write_latency: float
    day_share: float  # how much of its load follows the working day
    read_key: int  # where its reads' variation starts in the hashed table
    write_key: int


def _unit(word: int) -> float:
    return word / 0xFFFFFFFF


def profile(vm: VmWorkload) -> Profile:
    digest = hashlib.blake2b(vm.id.encode(), digest_size=36).digest()
    words = [int.from_bytes(digest[i : i + 4], "big") for i in range(0, 36, 4)]
    size_gib = min(max(vm.size, 0) / GiB, _MAX_SIZE_GIB)
    iops = (8 + 0.4 * size_gib) * (0.5 + 1.5 * _unit(words[0]))
    read_share = 0.45 + 0.4 * _unit(words[1])
    return Profile(
        read_iops=iops * read_share,
        write_iops=iops * (1 - read_share),
        read_block=_BLOCKS[words[2] % len(_BLOCKS)],
        write_block=_BLOCKS[words[3] % len(_BLOCKS)],
        read_latency=250 + 550 * _unit(words[4]),
        write_latency=400 + 900 * _unit(words[5]),
        day_share=0.3 + 0.6 * _unit(words[6]),
        read_key=words[7] & _TABLE_MASK,
        write_key=words[8] & _TABLE_MASK,
    )


def _mix(x: int) -> int:
    """SplitMix64's finaliser: a cheap, well-spread 64-bit hash."""
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


@lru_cache(maxsize=len(Resolution))
def _variation(amplitude: float) -> tuple[float, ...]:
    """1 + amplitude x noise(i), noise a hash of i in [-1, 1); doubled, so any run is one slice.

    A VM's variation in interval k is entry (k + its key): a hash of (VM id, interval) that costs
    one slice per VM instead of one hash per VM and point.
    """
    once = [1 + amplitude * ((_mix(i) >> 11) * 2.0**-52 - 1) for i in range(1 << _TABLE_BITS)]
    return tuple(once + once)


def cycle(ts: int, step: int, tz: tzinfo) -> float:
    """The working-day cycle averaged over [ts, ts + step), local to `tz`."""
    offset = datetime.fromtimestamp(ts, tz).utcoffset() or timedelta(0)
    local = ts + int(offset.total_seconds())
    a = (local % 86_400) / 3_600
    hours = step / 3_600
    w = 2 * math.pi / 24
    mean = 0.55 - 0.45 * (math.sin(w * (a + hours - 1)) - math.sin(w * (a - 1))) / (w * hours)
    weekday = ((local + step // 2) // 86_400 + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    return mean * (_WEEKEND if weekday >= 5 else 1.0)


class _Direction:
    """Sums over VMs of one direction (reads or writes): IOPS per block size, and latency x IOPS."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.by_block: dict[int, list[int]] = {}
        self.weighted_latency = [0] * n

    def add(self, j0: int, ops: list[int], block: int, weighted_latency: list[int]) -> None:
        _accumulate(self.by_block.setdefault(block, [0] * self.n), j0, ops)
        _accumulate(self.weighted_latency, j0, weighted_latency)

    def ops(self) -> list[int]:
        return self._total(in_bytes=False)

    def throughput(self) -> list[int]:
        return self._total(in_bytes=True)

    def _total(self, in_bytes: bool) -> list[int]:
        out = [0] * self.n
        for block, ops in self.by_block.items():
            w = block if in_bytes else 1
            out = [t + w * o for t, o in zip(out, ops, strict=True)]
        return out

    def latency(self, ops: list[int]) -> list[int]:
        """IOPS-weighted means, rounded half up: exactly the VM's own latency for a single VM."""
        return [(2 * w + n) // (2 * n) if n else 0 for w, n in zip(self.weighted_latency, ops, strict=True)]


def _accumulate(total: list[int], j0: int, part: list[int]) -> None:
    j1 = j0 + len(part)
    total[j0:j1] = map(add, total[j0:j1], part)


@dataclass(frozen=True)
class _Frame:
    """What every VM of one request shares: the dates, their cycle values and interval numbers."""

    dates: list[int]
    cycles: list[float]
    first_interval: int
    variation: tuple[float, ...]


def _frame(window: Window, tz: tzinfo) -> _Frame:
    step = window.resolution.step
    dates = window.dates()
    return _Frame(
        dates=dates,
        cycles=[cycle(ts, step, tz) for ts in dates],
        first_interval=dates[0] // step,
        variation=_variation(AMPLITUDE[window.resolution]),
    )


def _spans(vm: VmWorkload, dates: list[int]) -> list[tuple[int, int]]:
    """The runs of points at which the VM exists and is powered on: begin <= date < end."""
    runs = []
    for begin, end in vm.on_spans():
        j0 = bisect_left(dates, begin) if begin is not None else 0
        j1 = bisect_left(dates, end) if end is not None else len(dates)
        if j0 < j1:
            runs.append((j0, j1))
    return runs


def _series(
    frame: _Frame, j0: int, j1: int, iops: float, latency: float, key: int, day_share: float
) -> tuple[list[int], list[int]]:
    """One direction of one VM at points j0..j1: IOPS, and latency x IOPS."""
    start = (frame.first_interval + j0 + key) & _TABLE_MASK
    variation = frame.variation[start : start + j1 - j0]
    base, daily = iops * (1 - day_share), iops * day_share
    ops = [int(v * (base + daily * c) + 0.5) for v, c in zip(variation, frame.cycles[j0:j1], strict=True)]
    # Latency rises with the load (the share of its full-load IOPS the VM does): in fixed point,
    # since integer arithmetic is what keeps this loop cheap.
    fixed, rising = round(0.6 * latency), round(0.8 * latency / iops * _FIXED_ONE)
    return ops, [(fixed + (rising * n >> _FIXED_BITS)) * n for n in ops]


def _io_ops(spans: Iterable[IoSpan], dates: list[int], step: int) -> tuple[list[int], list[int]]:
    """Read and write IOPS of these spans at each point (its bytes in [date, date + step) / step)."""
    n = len(dates)
    moved = [[0.0] * n, [0.0] * n]
    if not n:
        return [], []
    first, step_ms = dates[0] * 1000, step * 1000
    for span in spans:
        length = max(span.end_ms - span.start_ms, 1)
        lo = max(0, (span.start_ms - first) // step_ms)
        hi = min(n - 1, (span.end_ms - 1 - first) // step_ms)
        for j in range(lo, hi + 1):
            t = dates[j] * 1000
            overlap = min(span.end_ms, t + step_ms) - max(span.start_ms, t)
            if overlap > 0:
                moved[0][j] += span.read_bytes * overlap / length
                moved[1][j] += span.write_bytes * overlap / length
    per_op = IO_BLOCK * step
    return [int(b / per_op + 0.5) for b in moved[0]], [int(b / per_op + 0.5) for b in moved[1]]


def performance(
    vms: Iterable[VmWorkload], window: Window, tz: tzinfo = UTC, spans: Iterable[IoSpan] = ()
) -> Performance:
    """The summed performance of these VMs over the window, with the IO of these spans."""
    frame = _frame(window, tz)
    n = len(frame.dates)
    reads, writes = _Direction(n), _Direction(n)
    for vm in vms:
        runs = _spans(vm, frame.dates)
        if not runs:
            continue
        p = profile(vm)
        for j0, j1 in runs:
            ops, lat = _series(frame, j0, j1, p.read_iops, p.read_latency, p.read_key, p.day_share)
            reads.add(j0, ops, p.read_block, lat)
            ops, lat = _series(frame, j0, j1, p.write_iops, p.write_latency, p.write_key, p.day_share)
            writes.add(j0, ops, p.write_block, lat)
    io_reads, io_writes = _io_ops(spans, frame.dates, window.resolution.step)
    if any(io_reads):
        reads.add(0, io_reads, IO_BLOCK, [IO_LATENCY[0] * k for k in io_reads])
    if any(io_writes):
        writes.add(0, io_writes, IO_BLOCK, [IO_LATENCY[1] * k for k in io_writes])
    read_ops, write_ops = reads.ops(), writes.ops()
    return Performance(
        dates=frame.dates,
        reads=read_ops,
        writes=write_ops,
        read_bytes=reads.throughput(),
        write_bytes=writes.throughput(),
        read_latency=reads.latency(read_ops),
        write_latency=writes.latency(write_ops),
    )
