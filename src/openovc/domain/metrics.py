"""Metrics series: query windows, a deterministic workload model, capacity history and inter-cluster throughput.

Windows
-------
`time_offset` (seconds before now, or an ISO-8601 instant) ends the window, `range` seconds long.
A window never ends after now: no sample exists yet. Its points are the instants aligned to the
resolution's step (SECOND: every 5 s, MINUTE, HOUR and DAY on whole UTC minutes, hours, days) in
(end - range, end], ascending; at least the last aligned instant. The point dated t stands for
the step [t, t + step).

Workload model
--------------
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
while it exists (created_at .. deleted_at) and only if powered on; power-state history is not
stored, so the current state holds for the whole window. A host is the sum of the VMs whose
host_id it is, a cluster the sum of its hosts; their latency is the IOPS-weighted average.
"""

from __future__ import annotations

import hashlib
import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from enum import Enum
from functools import lru_cache
from operator import add

from openovc.domain import timefmt
from openovc.domain.errors import InvalidParameter
from openovc.domain.query import parse_int

GiB = 1024**3
DEFAULT_RANGE = 43_200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


class Resolution(Enum):
    """A metrics resolution: its step and the longest range it serves (section 8.1)."""

    SECOND = (5, 43_200)
    MINUTE = (60, 604_800)
    HOUR = (3_600, 5_184_000)
    DAY = (86_400, 94_608_000)

    @property
    def step(self) -> int:
        return self.value[0]

    @property
    def max_range(self) -> int:
        return self.value[1]


# How far an interval strays from the daily cycle: averaging more samples narrows it.
AMPLITUDE = {Resolution.SECOND: 0.5, Resolution.MINUTE: 0.3, Resolution.HOUR: 0.15, Resolution.DAY: 0.08}


@dataclass(frozen=True)
class Window:
    """A checked metrics window."""

    end: datetime
    range: int
    resolution: Resolution

    @property
    def start(self) -> datetime:
        return self.end - timedelta(seconds=self.range)

    def dates(self) -> list[int]:
        """The aligned sample instants (epoch seconds), ascending."""
        step = self.resolution.step
        end_ts = math.floor(self.end.timestamp())
        last = end_ts - end_ts % step
        start_ts = end_ts - self.range
        first = min(start_ts - start_ts % step + step, last)
        return list(range(first, last + 1, step))


def _given(params: Mapping[str, str], name: str) -> str | None:
    raw = params.get(name)
    return None if raw is None or raw.strip() == "" else raw


def parse_resolution(raw: str | None) -> Resolution:
    if raw is None:
        return Resolution.MINUTE
    found = Resolution.__members__.get(raw.strip().upper())
    if found is None:
        raise InvalidParameter(
            f"Invalid value '{raw}' for parameter 'resolution': expected one of SECOND, MINUTE, HOUR, DAY"
        )
    return found


def parse_range(raw: str | None, resolution: Resolution) -> int:
    if raw is None:
        return DEFAULT_RANGE  # within every resolution's limit
    value = parse_int("range", raw, minimum=1)
    if value > resolution.max_range:
        raise InvalidParameter(
            f"Invalid value '{raw}' for parameter 'range': "
            f"must be at most {resolution.max_range} seconds at resolution {resolution.name}"
        )
    return value


def parse_time_offset(raw: str | None, now: datetime) -> datetime:
    """The window's end: `now` minus whole seconds, or an ISO-8601 instant; never after now."""
    if raw is None:
        return now
    if _INTEGER.match(raw):
        seconds = int(raw)
        if seconds < 0:
            raise InvalidParameter(f"Invalid value '{raw}' for parameter 'time_offset': must be at least 0")
        if seconds > (now - _EPOCH).total_seconds():
            raise InvalidParameter(
                f"Invalid value '{raw}' for parameter 'time_offset': must not reach before {timefmt.EPOCH_TEXT}"
            )
        return now - timedelta(seconds=seconds)
    try:
        when = timefmt.parse(raw)
    except ValueError:
        raise InvalidParameter(
            f"Invalid value '{raw}' for parameter 'time_offset': "
            "expected seconds before now or an ISO-8601 date and time"
        ) from None
    if when < _EPOCH:
        raise InvalidParameter(
            f"Invalid value '{raw}' for parameter 'time_offset': must not be before {timefmt.EPOCH_TEXT}"
        )
    return min(when, now)


def parse_window(params: Mapping[str, str], now: datetime, resolution: Resolution | None = None) -> Window:
    """Read `time_offset`, `range` and `resolution` (or use a fixed `resolution`, ignoring the parameter)."""
    end = parse_time_offset(_given(params, "time_offset"), now)
    res = resolution or parse_resolution(_given(params, "resolution"))
    return Window(end=end, range=parse_range(_given(params, "range"), res), resolution=res)


# ---- workload ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VmWorkload:
    """What the workload model needs of one VM."""

    id: str
    size: int  # hypervisor_allocated_capacity, bytes
    powered_on: bool
    created: int | None = None  # epoch seconds; None: before any window
    deleted: int | None = None  # epoch seconds; None: still there


_BLOCKS = (4_096, 8_192, 16_384, 32_768, 65_536)
_MAX_SIZE_GIB = 2_048
_WEEKEND = 0.6
_M64 = (1 << 64) - 1
_TABLE_BITS = 16  # longer than any window's point count (at most 10080), so no window repeats itself
_TABLE_MASK = (1 << _TABLE_BITS) - 1
_FIXED_BITS = 16
_FIXED_ONE = 1 << _FIXED_BITS


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


@dataclass
class Performance:
    """IOPS, throughput (B/s) and latency (us) series, reads and writes, on shared dates."""

    dates: list[int]
    reads: list[int] = field(default_factory=list)
    writes: list[int] = field(default_factory=list)
    read_bytes: list[int] = field(default_factory=list)
    write_bytes: list[int] = field(default_factory=list)
    read_latency: list[int] = field(default_factory=list)
    write_latency: list[int] = field(default_factory=list)


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


def _span(vm: VmWorkload, dates: list[int]) -> tuple[int, int]:
    """The points at which the VM exists: created_at <= date < deleted_at."""
    j0 = bisect_left(dates, vm.created) if vm.created is not None else 0
    j1 = bisect_left(dates, vm.deleted) if vm.deleted is not None else len(dates)
    return j0, j1


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


def performance(vms: Iterable[VmWorkload], window: Window, tz: tzinfo = UTC) -> Performance:
    """The summed performance of these VMs over the window."""
    frame = _frame(window, tz)
    n = len(frame.dates)
    reads, writes = _Direction(n), _Direction(n)
    for vm in vms:
        j0, j1 = _span(vm, frame.dates)
        if not vm.powered_on or j0 >= j1:
            continue
        p = profile(vm)
        ops, lat = _series(frame, j0, j1, p.read_iops, p.read_latency, p.read_key, p.day_share)
        reads.add(j0, ops, p.read_block, lat)
        ops, lat = _series(frame, j0, j1, p.write_iops, p.write_latency, p.write_key, p.day_share)
        writes.add(j0, ops, p.write_block, lat)
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


def _texts(dates: Sequence[int]) -> list[str]:
    return [timefmt.to_text(datetime.fromtimestamp(ts, UTC)) for ts in dates]


def _pairs(name: str, texts: list[str], reads: list[int], writes: list[int]) -> dict[str, object]:
    points = [{"reads": r, "writes": w, "date": d} for r, w, d in zip(reads, writes, texts, strict=True)]
    return {"name": name, "data_points": points}


def metrics_document(perf: Performance) -> dict[str, object]:
    """`{"metrics": [iops, throughput, latency]}` as the API returns it."""
    texts = _texts(perf.dates)
    return {
        "metrics": [
            _pairs("iops", texts, perf.reads, perf.writes),
            _pairs("throughput", texts, perf.read_bytes, perf.write_bytes),
            _pairs("latency", texts, perf.read_latency, perf.write_latency),
        ]
    }


# ---- capacity ---------------------------------------------------------------------------------

# The order the spec's capacity_info lists them in (the real server's map order).
CAPACITY_METRICS = (
    "stored_compressed_data", "compression_ratio", "deduplication_ratio", "capacity_savings",
    "efficiency_ratio", "local_backup_capacity", "used_logical_capacity", "remote_backup_capacity",
    "stored_virtual_machine_data", "stored_uncompressed_data", "used_capacity", "free_space",
    "allocated_capacity",
)  # fmt: skip
RATIO_METRICS = frozenset({"compression_ratio", "deduplication_ratio", "efficiency_ratio"})


def parse_capacity_fields(raw: str | None) -> tuple[str, ...]:
    """The metrics `fields=` picks, in the canonical order; all of them when absent."""
    if raw is None or raw.strip() == "":
        return CAPACITY_METRICS
    wanted = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = sorted(wanted.difference(CAPACITY_METRICS))
    if unknown:
        raise InvalidParameter(
            f"Invalid value for parameter 'fields': {', '.join(unknown)} "
            f"{'is not a capacity metric' if len(unknown) == 1 else 'are not capacity metrics'}"
        )
    return tuple(n for n in CAPACITY_METRICS if n in wanted)


def _capacity_value(name: str, current: Mapping[str, object]) -> int | float:
    raw = current.get(name)
    if name in RATIO_METRICS:
        return float(raw) if isinstance(raw, int | float) else 1.0
    return int(raw) if isinstance(raw, int | float) else 0


def capacity_document(
    current: Mapping[str, object], names: Sequence[str], dates: Sequence[int]
) -> dict[str, object]:
    """Capacity series of a host. The store keeps only today's values, so every point carries them:
    a history made up of other values would be invented, not derived."""
    texts = _texts(dates)
    metrics = []
    for name in names:
        value = _capacity_value(name, current)
        metrics.append({"name": name, "data_points": [{"value": value, "date": d} for d in texts]})
    return {"metrics": metrics}


# ---- throughput between clusters --------------------------------------------------------------


@dataclass(frozen=True)
class RemoteSend:
    """One backup's replication: `sent` bytes over `duration` seconds ending at `completed`."""

    source_id: str
    destination_id: str
    sent: int
    duration: int
    completed: int  # epoch seconds


@dataclass(frozen=True)
class ClusterLabel:
    """How a cluster is named in throughput entries."""

    id: str
    name: str
    parent_id: str
    parent_name: str


def throughput(sends: Iterable[RemoteSend], dates: Sequence[int], step: int = 60) -> list[int]:
    """Bytes per second in each [date, date + step), each send spread evenly over its duration."""
    if not dates:
        return []
    first = dates[0]
    moved = [0.0] * len(dates)
    for send in sends:
        duration = max(send.duration, 1)
        rate = send.sent / duration
        begin, end = send.completed - duration, send.completed
        lo = max(0, (begin - first) // step)
        hi = min(len(dates) - 1, (end - 1 - first) // step)
        for j in range(lo, hi + 1):
            overlap = min(end, dates[j] + step) - max(begin, dates[j])
            if overlap > 0:
                moved[j] += overlap * rate
    return [int(b / step + 0.5) for b in moved]


def _labels(role: str, cluster: ClusterLabel) -> dict[str, object]:
    return {
        f"{role}_omnistack_cluster_id": cluster.id,
        f"{role}_omnistack_cluster_name": cluster.name,
        f"{role}_omnistack_cluster_hypervisor_object_parent_id": cluster.parent_id,
        f"{role}_omnistack_cluster_hypervisor_object_parent_name": cluster.parent_name,
    }


def average(values: Sequence[int]) -> int:
    return int(sum(values) / len(values) + 0.5) if values else 0


def throughput_entry(
    source: ClusterLabel,
    destination: ClusterLabel,
    window: Window,
    dates: Sequence[int],
    values: Sequence[int],
) -> dict[str, object]:
    """One `omnistack_cluster_throughput` object (the first minimum and maximum win ties)."""
    texts = _texts(dates)
    low = min(range(len(values)), key=values.__getitem__, default=None)
    high = max(range(len(values)), key=values.__getitem__, default=None)
    return {
        "date": timefmt.to_text(window.end),
        **_labels("source", source),
        **_labels("destination", destination),
        "average_throughput": average(values),
        "data": {
            "date_of_minimum": texts[low] if low is not None else timefmt.NA,
            "minimum_throughput": values[low] if low is not None else 0,
            "date_of_maximum": texts[high] if high is not None else timefmt.NA,
            "maximum_throughput": values[high] if high is not None else 0,
            "data_points": [{"value": v, "date": d} for v, d in zip(values, texts, strict=True)],
        },
    }


def legacy_entry(
    source: ClusterLabel, destination: ClusterLabel, window: Window, values: Sequence[int]
) -> dict[str, object]:
    """One element of the pre-1.15 `GET /omnistack_clusters/throughput` array: the window's average."""
    return {
        "date": timefmt.to_text(window.end),
        **_labels("source", source),
        **_labels("destination", destination),
        "throughput": average(values),
    }
