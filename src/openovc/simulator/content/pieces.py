"""Content-addressed pieces, the virtual disks made of them, and how a VM's content changes over time.

Pieces
------
A piece is a run of a virtual disk's data, named by a 63-bit id. Everything about it derives from the
id: its logical size (4 KiB blocks, within +-25% of its size class) and its compressibility (one of 16
classes, from incompressible to 8:1). Equal ids are equal data, so a place that stores pieces (a
cluster, an external store) keeps each id once.

Granularity
-----------
Cold data (the golden image, a VM's own files) is cut into 256 MiB pieces, and the data a workload
keeps rewriting (logs, database pages, temp files: a tenth of a VM's own data) into 64 MiB ones. A
daily backup of a VM that rewrites 1-2% of its data a day then differs from the one before by a few
pieces (a few hundred MiB, as the generator's change rates say), an hourly one by none or one. What
makes the largest federation (10,000 VMs of about 35 GiB written, 300,000 backups) small is that no
slot map is ever kept whole:

- a VM's disks are a layout of segments (the image, shared by every VM made from it, and the VM's own
  cold and hot data), each a seeded run of pieces: a few numbers, however big the disk;
- its history is a log of the slots each workload step rewrote: 16 bytes an entry (slot, the step
  that wrote it before, the new piece's id);
- a backup is a version of that log: (lineage, step); see lineage.py.

Estimate for the largest federation (tests/unit/test_content.py redoes the arithmetic from the
generator's sizes; benchmarks/content.py measures it): an average VM has 72 image slots (shared) and
85 of its own; aging and 30 retained backup intervals of ~6 rewritten slots give ~2.2 M log entries
(36 MB); per (cluster, lineage) and per (cluster, own segment) the ledger keeps one row, ~60,000 rows
with 7 MB of mask counts; with one row per VM and backup (310,000) the model takes ~125 MB of memory
and ~85 MB on disk. With 1 MiB pieces the same history would be a log of 140 M entries (over 2 GB).
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

MiB = 1024**2
BLOCK = 4096  # sizes are whole 4 KiB blocks, as a guest's file system allocates them
MASK64 = (1 << 64) - 1
MASK63 = (1 << 63) - 1  # ids fit a signed 64-bit column

# Size classes (mean logical size of a piece); two bits of the id.
SIZE_CLASSES = (4 * MiB, 16 * MiB, 64 * MiB, 256 * MiB)
HOT_CLASS = 2
COLD_CLASS = 3
GRAIN = SIZE_CLASSES[COLD_CLASS]
HOT_SHARE = 0.1  # of a VM's own data, what its workload keeps rewriting

# Compression classes: uncompressed / compressed; four bits of the id.
RATIOS = (1.0, 1.1, 1.2, 1.35, 1.5, 1.65, 1.8, 2.0, 2.2, 2.45, 2.7, 3.0, 3.4, 4.0, 5.0, 8.0)
_KEEP = tuple(round(BLOCK / r) for r in RATIOS)  # compressed bytes per 4 KiB block
# A segment's pieces spread around its profile's class: weights 1, 2, 4, 2, 1 over -2..+2.
_SPREAD = (-2, -1, -1, 0, 0, 0, 0, 1, 1, 2)


def mix(a: int, b: int) -> int:
    """A 64-bit hash of two integers (splitmix64 finaliser over both)."""
    h = ((a & MASK64) ^ 0x9E3779B97F4A7C15) * 0xBF58476D1CE4E5B9 & MASK64
    h = ((h ^ (h >> 31)) + (b & MASK64)) * 0x94D049BB133111EB & MASK64
    h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9 & MASK64
    return h ^ (h >> 32)


def name_key(*parts: str | int) -> int:
    """A 63-bit key from names and numbers (lineage ids, segment seeds), the same in every process."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & MASK63


# ---- pieces ----------------------------------------------------------------------------------------


def piece_id(h: int, size_class: int, profile: int) -> int:
    """A piece id from a hash: its size class, and a compression class spread around the profile."""
    klass = _CLAMPED[profile + _SPREAD[(h >> 8) % len(_SPREAD)] + 2]
    return ((h & MASK63) >> 6 << 6) | (size_class << 4) | klass


_CLAMPED = tuple(min(15, max(0, c - 2)) for c in range(20))  # profile + spread, shifted by 2, clamped


def seeded_pieces(seed: int, keys: Iterable[int], size_class: int, profile: int) -> list[int]:
    """[piece_id(mix(seed, key), size_class, profile) for key in keys], with mix's half that depends on
    the seed alone done once: the generator derives millions of pieces, a seed's many at a time."""
    h0 = ((seed & MASK64) ^ 0x9E3779B97F4A7C15) * 0xBF58476D1CE4E5B9 & MASK64
    h0 ^= h0 >> 31
    high = size_class << 4
    classes = [_CLAMPED[profile + d + 2] for d in _SPREAD]
    found = []
    for key in keys:
        h = (h0 + (key & MASK64)) * 0x94D049BB133111EB & MASK64
        h = (h ^ (h >> 29)) * 0xBF58476D1CE4E5B9 & MASK64
        h ^= h >> 32
        found.append(((h & MASK63) >> 6 << 6) | high | classes[(h >> 8) % 10])
    return found


def piece_size(piece: int) -> int:
    """Logical bytes of a piece."""
    units = _UNITS[(piece >> 4) & 3]
    return (units * 3 // 4 + (piece >> 20) % (units // 2)) * BLOCK


def piece_compressed(piece: int) -> int:
    """Bytes of a piece once compressed."""
    units = _UNITS[(piece >> 4) & 3]
    return (units * 3 // 4 + (piece >> 20) % (units // 2)) * _KEEP[piece & 15]


_UNITS = tuple(size // BLOCK for size in SIZE_CLASSES)


def pieces_sizes(pieces: Iterable[int]) -> tuple[int, int]:
    """The logical and compressed bytes of these pieces together: piece_size and piece_compressed summed
    in one pass (the content model counts thousands at a time)."""
    blocks = keep = 0
    units, keeps = _UNITS, _KEEP
    for piece in pieces:
        u = units[(piece >> 4) & 3]
        n = u * 3 // 4 + (piece >> 20) % (u // 2)
        blocks += n
        keep += n * keeps[piece & 15]
    return blocks * BLOCK, keep


def _profile_ratio(center: int) -> float:
    keep = sum(_KEEP[min(15, max(0, center + d))] for d in _SPREAD)
    return BLOCK * len(_SPREAD) / keep


_PROFILE_RATIOS = tuple(_profile_ratio(c) for c in range(16))


def profile_for(ratio: float) -> int:
    """The compression profile whose pieces compress, on average, closest to `ratio`."""
    # The table holds the very floats _profile_ratio gives: the same choice, without 16 sums per VM.
    return min(range(16), key=lambda c: abs(_PROFILE_RATIOS[c] - ratio))


# ---- segments and layouts ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Segment:
    """A seeded run of pieces: `length` slots whose piece ids derive from the seed and the offset."""

    seed: int
    kind: str  # "base" (a golden image), "data" (a VM's cold data) or "hot" (what its workload rewrites)
    length: int
    size_class: int
    profile: int
    logical: int  # the sum of its pieces' sizes
    compressed: int

    def piece(self, offset: int) -> int:
        return piece_id(mix(self.seed, offset), self.size_class, self.profile)


@lru_cache(maxsize=4096)
def segment(seed: int, kind: str, length: int, size_class: int, profile: int) -> Segment:
    """A segment with its totals (computed once: an image's base is shared by thousands of VMs)."""
    # Every VM's own segments are new (no cache hit): the generator derives every piece of every VM here.
    logical, compressed = pieces_sizes(seeded_pieces(seed, range(length), size_class, profile))
    return Segment(seed, kind, length, size_class, profile, logical, compressed)


def slots_for(nbytes: int, size_class: int) -> int:
    """How many pieces of a class hold about `nbytes` (at least one when there is anything)."""
    return 0 if nbytes <= 0 else max(1, round(nbytes / SIZE_CLASSES[size_class]))


@dataclass(frozen=True, slots=True)
class Layout:
    """A VM's disks as consecutive segments; slot numbers run across them."""

    segments: tuple[Segment, ...]
    starts: tuple[int, ...]  # first slot of each segment, then the total

    @classmethod
    def of(cls, segments: Sequence[Segment]) -> Layout:
        starts = [0]
        for seg in segments:
            starts.append(starts[-1] + seg.length)
        return cls(tuple(segments), tuple(starts))

    @property
    def slots(self) -> int:
        return self.starts[-1]

    def segment_at(self, slot: int) -> tuple[Segment, int]:
        """The segment holding a slot, and the slot's offset in it."""
        i = bisect.bisect_right(self.starts, slot) - 1
        return self.segments[i], slot - self.starts[i]


def own_layout(lineage_id: int, base: Segment | None, own_bytes: int, profile: int) -> Layout:
    """A new VM's layout: its image (if any), then its own cold and hot data."""
    hot = slots_for(int(own_bytes * HOT_SHARE), HOT_CLASS)
    data = slots_for(own_bytes - hot * SIZE_CLASSES[HOT_CLASS], COLD_CLASS)
    parts = [base] if base is not None else []
    if data:
        parts.append(segment(name_key("data", lineage_id), "data", data, COLD_CLASS, profile))
    if hot:
        parts.append(segment(name_key("hot", lineage_id), "hot", hot, HOT_CLASS, profile))
    return Layout.of(parts)


def own_slots(base: Segment | None, own_bytes: int) -> int:
    """How many slots own_layout gives a new VM, without deriving its pieces."""
    hot = slots_for(int(own_bytes * HOT_SHARE), HOT_CLASS)
    data = slots_for(own_bytes - hot * SIZE_CLASSES[HOT_CLASS], COLD_CLASS)
    return (base.length if base is not None else 0) + data + hot


def image_segment(name: str, content: int, compression: float) -> Segment:
    """The base every VM made from a golden image shares."""
    length = slots_for(content, COLD_CLASS)
    profile = profile_for(compression)
    return segment(name_key("image", name, length, profile), "base", length, COLD_CLASS, profile)
