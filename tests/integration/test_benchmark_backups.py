"""The backup benchmark (benchmarks/backups.py) in a tiny smoke run: it finishes, prints its table and
finds the server correct (no FAILED task, no HTTP error, every deleted backup gone)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.benchmark_runs import run_benchmark

pytestmark = pytest.mark.slow

HEADER = "| backend | measurement | value (median) | p95 | target | result | notes |"
TINY = (
    "--quick", "--backend", "sqlite", "--vms", "300", "--backups", "3000", "--clients", "4",
    "--take", "40", "--paced-take", "4", "--deletes", "300", "--batch", "50", "--delete-clients", "2",
    "--singles", "5", "--scale-vms", "60,120", "--samples", "20",
)  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_benchmark("backups.py", *args)


def test_a_tiny_run_on_sqlite_prints_the_table_and_finds_no_error(tmp_path: Path) -> None:
    report_path = tmp_path / "backups.json"
    done = _run(*TINY, "--json", str(report_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert HEADER in lines
    assert any(line.startswith("Machine: ") for line in lines)
    assert any(line.startswith("Command: ") and "benchmarks/backups.py" in line for line in lines)
    report = json.loads(report_path.read_text())
    assert report["failed"] is False
    results = {r["measurement"]: r for r in report["results"]}
    # The counts are exact whatever the machine's load: each must meet its target (0 errors, all gone).
    checks = {
        "backups, default pacing: FAILED": 0,
        "backups, default pacing: HTTP errors": 0,
        "backups, default pacing: listed under the run's names = PROTECTED": 40,
        "backups, realistic pacing: FAILED": 0,
        "backups, realistic pacing: HTTP errors": 0,
        "backups, realistic pacing: listed under the run's names = PROTECTED": 4,
        "delete 300 backups: FAILED tasks + HTTP errors": 0,
        "delete 300 backups: deleted backups still listed": 0,
        "cost phase: FAILED tasks + HTTP errors": 0,
    }
    assert {name: (results[name]["value"], results[name]["passed"]) for name in checks} == {
        name: (value, True) for name, value in checks.items()
    }
    # Timings vary; that they were measured, on what, does not.
    assert {
        "one backup (POST, task inside) @ 60 VMs",
        "one delete (DELETE /backups/{id}, task inside) @ 120 VMs",
        "cost ratio of one backup, 120 / 60 VMs",
        "cost ratio of one delete, 120 / 60 VMs",
        "server peak RSS, default pacing",
        "store on disk, after the phases",
    } <= results.keys()
    assert all(r["backend"] == "sqlite" for r in report["results"])


def test_bad_options_are_refused() -> None:
    done = _run("--quick", "--backend", "sqlite", "--scale-vms", "1000")
    assert done.returncode == 2
    assert "give at least two VM counts, each at least 1" in done.stderr
    done = _run("--quick", "--backend", "sqlite", "--clients", "2", "--delete-clients", "4")
    assert done.returncode == 2
    assert "--delete-clients cannot exceed --clients" in done.stderr
