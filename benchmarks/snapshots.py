"""Snapshot benchmark: save, restore, export and import of the demo and the largest federation.

For each backend (SQLite, PostgreSQL) and federation (the demo; the largest: 12 x 8 hosts, 10,000 VMs,
300,000 backups) it times, `--runs` times each, through the store (storage/snapshots.py):

- save: read every federation table in one transaction and write the snapshot file into the store;
- restore: replace the federation by the snapshot in one transaction (what the control call does, less
  the 0.1 s it then waits so that every server process reads the restored clock); for the demo the
  control call itself is timed too (`restore (call)`, services/snapshots.py, that wait included);
- export: read the snapshot file back;
- import: check a file (format, checksum, every frame) and keep it under another name.

It prints a markdown table of the medians, the targets (restore: under 0.5 s for the demo, under 30 s for
the largest), the snapshot sizes and the machine. The largest federation takes minutes to generate and
load: give stores that hold one already (`openovc init --largest`) with `--sqlite-largest` and
`--postgres-largest`, or `--skip-largest`.

    .venv/bin/python benchmarks/snapshots.py --skip-largest
    .venv/bin/python benchmarks/snapshots.py --sqlite-largest sqlite:////tmp/l/openovc.db \\
        --postgres-largest postgresql://postgres@127.0.0.1/largest
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from openovc.services.clock import SharedClock
from openovc.services.snapshots import Snapshots
from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator.generator import generate
from openovc.storage.clock_store import SqlClockStore
from openovc.storage.snapshots import SqlSnapshotStore
from openovc.storage.store import Storage

ADMIN_URL = os.environ.get("OPENOVC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
TARGETS_S = {"demo": 0.5, "largest": 30.0}


@dataclass
class Result:
    backend: str
    federation: str
    rows: int
    size: int
    times: dict[str, list[float]]


def _real_ms() -> int:
    return int(time.time() * 1000)


@contextmanager
def _scratch(backend: str) -> Iterator[str]:
    """A new, empty store's URL, removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="openovc-snapbench-") as root:
            yield f"sqlite:///{Path(root) / 'openovc.db'}"
        return
    name = f"openovc_snapbench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(backend: str, federation: str, url: str, runs: int, load: bool) -> Result:
    storage = Storage.open(url)
    try:
        if load:
            storage.load(generate(FederationSpec.demo(), datetime.now(UTC)))
        store = SqlSnapshotStore(storage.engine, _real_ms)
        control = Snapshots(store, SharedClock(SqlClockStore(storage.engine)), "benchmark", lambda: None)
        times: dict[str, list[float]] = {"save": [], "restore": [], "export": [], "import": []}
        if federation == "demo":
            times["restore (call)"] = []
        for name in ("bench", "bench-imported"):
            store.delete(name)
        for run in range(runs):
            times["save"].append(_timed(lambda: store.save("bench")))
            times["restore"].append(_timed(lambda: store.restore("bench", "benchmark")))
            if "restore (call)" in times:
                times["restore (call)"].append(_timed(lambda: control.restore("bench")))
            data = b""

            def export() -> None:
                nonlocal data
                data = store.export("bench") or b""

            times["export"].append(_timed(export))
            times["import"].append(_timed(lambda: store.import_file(data, "bench-imported")))  # noqa: B023
            summary = store.get("bench")
            assert summary is not None
            rows, size = sum(summary.tables.values()), summary.size
            print(
                f"  {backend} {federation} run {run + 1}: "
                + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items())
            )
            for name in ("bench", "bench-imported"):
                store.delete(name)
        return Result(backend, federation, rows, size, times)
    finally:
        storage.dispose()


def _machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory_kb = 0
    with open("/proc/meminfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("MemTotal"):
                memory_kb = int(line.split()[1])
    with psycopg.connect(ADMIN_URL) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return (
        f"{model}, {os.cpu_count()} cores, {memory_kb / 1024 / 1024:.0f} GiB; {platform.system()} "
        f"{platform.release()}; Python {platform.python_version()}; SQLite {sqlite3.sqlite_version}; "
        f"PostgreSQL {row[0] if row else '?'}; load average {load}"
    )


def _table(results: list[Result]) -> str:
    operations = ["save", "restore", "restore (call)", "export", "import"]
    lines = [
        "| backend | federation | rows | file | " + " | ".join(operations) + " | restore target |",
        "|---|---|---:|---:|" + "---:|" * len(operations) + "---|",
    ]
    for r in results:
        cells = [f"{statistics.median(r.times[op]):.3f} s" if op in r.times else "" for op in operations]
        target = TARGETS_S[r.federation]
        met = statistics.median(r.times["restore"]) < target
        lines.append(
            f"| {r.backend} | {r.federation} | {r.rows:,} | {r.size / 1e6:.1f} MB | " + " | ".join(cells)
            + f" | under {target:g} s: {'met' if met else 'MISSED'} |"
        )  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--runs", type=int, default=5, help="runs on the demo federation (default 5)")
    parser.add_argument("--largest-runs", type=int, default=3, help="runs on the largest (default 3)")
    parser.add_argument("--sqlite-largest", help="a SQLite store holding the largest federation")
    parser.add_argument("--postgres-largest", help="a PostgreSQL store holding the largest federation")
    parser.add_argument("--skip-largest", action="store_true")
    args = parser.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    largest = {"sqlite": args.sqlite_largest, "postgresql": args.postgres_largest}
    started = time.strftime("%Y-%m-%d %H:%M")
    results: list[Result] = []
    for backend in backends:
        with _scratch(backend) as url:
            results.append(measure(backend, "demo", url, args.runs, load=True))
        if not args.skip_largest:
            if largest[backend] is None:
                parser.error(
                    f"give --{'sqlite' if backend == 'sqlite' else 'postgres'}-largest or --skip-largest"
                )
            results.append(measure(backend, "largest", largest[backend], args.largest_runs, load=False))
    print()
    print(f"Snapshots, medians ({started}; demo {args.runs} runs, largest {args.largest_runs}):")
    print()
    print(_table(results))
    print()
    print(f"Machine: {_machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
