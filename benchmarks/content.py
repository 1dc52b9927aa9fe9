"""Content-model benchmark: the largest federation's content in memory and in SQLite, and per-operation cost.

It builds the content of a federation shaped like FederationSpec.largest() (12 clusters, 10,000 VMs
from the five golden images, 30 retained backups per VM, a fifth of them kept in the next cluster, 1%
of the VMs deleted with their backups kept), with the generator's sizes and change rates: each VM is
aged (its hot data and a few cold slots rewritten once), then between two backups a workload step
rewrites what the VM's change rate writes over the gap; each VM's history is one batch, as the
generator would write it. Then it

1. reports pieces stored, ledger rows, the model's memory (RSS growth while building, after a
   collection, holder ids included) and its size on disk (the content tables' and their indexes'
   pages in SQLite, after a bulk load);
2. times single operations at 1,000 and at 10,000 VMs, in memory and on SQLite (one transaction
   each): a workload step, a backup of a live VM, the delete of a random retained backup, and
   unique_size of a random backup. Their medians must not grow with the federation;
3. prints a markdown table with the machine and the command line, like benchmarks/foundation.py, and
   can write the same as JSON (--json PATH).

    .venv/bin/python benchmarks/content.py           # the full run (under a minute on 2 cores)
    .venv/bin/python benchmarks/content.py --quick   # 100 and 1,000 VMs
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from report import Report, Row, mb

from openovc.simulator.content.ledger import MemoryLedger
from openovc.simulator.content.model import ContentModel
from openovc.simulator.content.pieces import HOT_CLASS, SIZE_CLASSES, Segment, image_segment
from openovc.simulator.generator.plan import IMAGES
from openovc.storage.content_rows import bulk_load
from openovc.storage.content_store import SqlPieceLedger
from openovc.storage.engine import make_engine, migrate
from openovc.storage.transaction import write_transaction

DAY = 86400
CLUSTERS = 12
BACKUPS_PER_VM = 30
REMOTE_SHARE = 0.2
GAPS = (3600, 3600, 4 * 3600, 12 * 3600, DAY, DAY, DAY, 7 * DAY)  # seconds between retained backups
SAMPLES = 200
TARGET_RATIO = 1.5  # a median at 10x the VMs may be at most this much slower


@dataclass
class Built:
    vms: int
    model: ContentModel
    ledger: MemoryLedger
    seconds: float
    rss_bytes: int
    live: list[str] = field(default_factory=list)
    backups: list[str] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)  # bytes rewritten per second


def _count(rng: random.Random, nbytes: float) -> int:
    """Pieces of hot data that hold `nbytes`, rounded at random so that small changes average out."""
    exact = nbytes / SIZE_CLASSES[HOT_CLASS]
    return int(exact) + (rng.random() < exact - int(exact))


def build(vms: int, seed: int = 1) -> Built:
    """The content of a federation of `vms` VMs in memory, shaped like the generator's."""
    rng = random.Random(seed)
    images: list[tuple[Segment, float, tuple[int, ...]]] = [
        (image_segment(i.name, i.content, i.compression), i.compression, i.typical_size)
        for i in IMAGES.values()
    ]
    gc.collect()
    rss0 = psutil.Process().memory_info().rss
    started = time.perf_counter()
    ledger = MemoryLedger()
    model = ContentModel(ledger)
    built = Built(vms, model, ledger, 0.0, 0)
    serial = 0
    for i in range(vms):
        base, compression, sizes = images[i % len(images)]
        allocated = rng.choice(sizes)
        own = int((allocated - base.logical) * rng.uniform(0.08, 0.45))
        place = f"cluster-{i % CLUSTERS:02d}"
        vm = f"vm-{i:05d}"
        rate = own * rng.uniform(0.005, 0.03) / DAY
        built.rates[vm] = rate
        with model.batch():  # one VM's whole history is written back at once
            model.create_vm(vm, place, own_bytes=own, compression=compression, image=base)
            layout = model.lineage(vm).layout
            hot = sum(s.length for s in layout.segments if s.kind == "hot")
            model.workload(vm, hot + layout.slots // 20)  # aged: its hot data rewritten, a few files
            for _ in range(BACKUPS_PER_VM):
                model.workload(vm, _count(rng, rate * rng.choice(GAPS)))
                serial += 1
                backup = f"bk-{serial:06d}"
                remote = rng.random() < REMOTE_SHARE
                model.backup(vm, backup, f"cluster-{(i + 1) % CLUSTERS:02d}" if remote else place)
                built.backups.append(backup)
            model.workload(vm, _count(rng, rate * rng.choice(GAPS)))
            if rng.random() < 0.01:
                model.delete(vm)
            else:
                built.live.append(vm)
    ledger.forget_caches()
    built.seconds = time.perf_counter() - started
    gc.collect()
    built.rss_bytes = psutil.Process().memory_info().rss - rss0
    return built


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _call(method: str, *args: object) -> Callable[[ContentModel], object]:
    """One operation of the model, to run on whichever ledger the timer opens."""

    def op(model: ContentModel) -> object:
        return getattr(model, method)(*args)

    return op


def time_operations(
    built: Built, rng: random.Random, run: Callable[[Callable[[ContentModel], object]], float]
) -> dict[str, float]:
    """Median milliseconds of each single operation; `run` times one operation on some ledger."""
    results: dict[str, list[float]] = {
        "workload step": [],
        "backup": [],
        "delete backup": [],
        "unique_size": [],
    }
    counter = 0
    for _ in range(SAMPLES):
        vm = rng.choice(built.live)
        count = _count(rng, built.rates[vm] * DAY)
        results["workload step"].append(run(_call("workload", vm, max(1, count))))
        counter += 1
        new = f"bench-{counter}"
        results["backup"].append(run(_call("backup", vm, new)))
        built.backups.append(new)
        victim = built.backups.pop(rng.randrange(len(built.backups)))
        probe = rng.choice(built.backups)
        results["unique_size"].append(run(_call("unique_size", probe)))
        results["delete backup"].append(run(_call("delete", victim)))
    return {name: _median_ms(values) for name, values in results.items()}


def in_memory(built: Built) -> Callable[[Callable[[ContentModel], object]], float]:
    def run(op: Callable[[ContentModel], object]) -> float:
        start = time.perf_counter()
        op(built.model)
        return time.perf_counter() - start

    return run


def on_sqlite(url: str) -> Callable[[Callable[[ContentModel], object]], float]:
    engine = make_engine(url)

    def run(op: Callable[[ContentModel], object]) -> float:
        start = time.perf_counter()
        with write_transaction(engine) as conn:
            op(ContentModel(SqlPieceLedger(conn)))
        return time.perf_counter() - start

    return run


def load_sqlite(built: Built, directory: Path) -> tuple[str, int, float, dict[str, int]]:
    """Bulk-loads the model into a fresh SQLite file: its URL, size on disk, load seconds and row counts."""
    path = directory / f"content-{built.vms}.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrate(engine)
    start = time.perf_counter()
    with write_transaction(engine) as conn:
        bulk_load(conn, built.ledger)
    seconds = time.perf_counter() - start
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        counts = SqlPieceLedger(conn).row_counts()
        pages = conn.exec_driver_sql(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'content_%' OR name LIKE 'sqlite_autoindex_content_%'"
        ).scalar_one()
    engine.dispose()
    return url, int(pages or 0), seconds, counts


def scale_rows(vms: int, built: Built, directory: Path) -> tuple[list[Row], str]:
    """What the content of `vms` VMs holds, in memory and loaded into SQLite; and that store's URL."""
    ledger = built.ledger
    pieces = sum(t.pieces for t in ledger.places.values())
    stored = sum(t.uncompressed for t in ledger.places.values())
    logical = sum(t.vm_logical + t.local_logical + t.remote_logical for t in ledger.places.values())
    log_entries = sum(len(lin.slots) for lin in ledger.lineages.values())
    url, disk, load_s, counts = load_sqlite(built, directory)
    label = f"{vms:,} VMs, {len(built.backups):,} backups"
    ledger_rows = ", ".join(f"{name.removeprefix('content_')} {n:,}" for name, n in counts.items())
    rows = [
        Row("memory", f"{label}: build", built.seconds, "s"),
        Row(
            "memory", f"{label}: memory (RSS growth)", mb(built.rss_bytes), "MB", detail="after a collection"
        ),
        Row(
            "memory",
            f"{label}: pieces stored",
            pieces,
            "",
            detail=f"{stored / 2**40:.1f} TiB stored, {logical / 2**40:.1f} TiB logical held",
        ),
        Row("memory", f"{label}: log entries (rewritten slots)", log_entries, ""),
        Row("sqlite", f"{label}: ledger rows", sum(counts.values()), "", detail=ledger_rows),
        Row("sqlite", f"{label}: bulk load", load_s, "s"),
        Row(
            "sqlite",
            f"{label}: on disk",
            mb(disk),
            "MB",
            detail="the content tables and their indexes (dbstat)",
        ),
    ]
    return rows, url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="100 and 1,000 VMs")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this path")
    args = parser.parse_args(argv)
    small, large = (100, 1000) if args.quick else (1000, 10_000)
    report = Report({"vms": [small, large], "samples": SAMPLES})
    timings: dict[int, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="openovc-content-") as tmp:
        for vms in (small, large):
            print(f"building {vms} VMs ...", file=sys.stderr, flush=True)
            built = build(vms)
            rows, url = scale_rows(vms, built, Path(tmp))
            report.rows += rows
            # The SQL store then gets the same kind of operations on its own copy of the content.
            sql_built = Built(
                vms, built.model, built.ledger, 0, 0, list(built.live), list(built.backups), built.rates
            )
            rng = random.Random(7)
            timings[vms] = {"memory": time_operations(built, rng, in_memory(built))}
            timings[vms]["sqlite"] = time_operations(sql_built, random.Random(8), on_sqlite(url))
            del built, sql_built
            gc.collect()
    for store in ("memory", "sqlite"):
        for op in timings[small][store]:
            a, b = timings[small][store][op], timings[large][store][op]
            report.rows.append(
                Row(
                    store,
                    f"{op}: cost ratio {large:,} / {small:,} VMs",
                    b / a,
                    "x",
                    target=TARGET_RATIO,
                    detail=f"medians of {SAMPLES}: {a:.3f} ms at {small:,} VMs, {b:.3f} ms at {large:,}",
                )
            )
    return report.finish(
        [
            f"Content of federations of {small:,} and {large:,} VMs ({CLUSTERS} clusters, {BACKUPS_PER_VM} "
            f"backups per VM); single operations timed {SAMPLES} times each, in memory and on SQLite (one "
            "transaction each); a ratio of medians is flat at most 1.5"
        ],
        args.json,
    )


if __name__ == "__main__":
    sys.exit(main())
