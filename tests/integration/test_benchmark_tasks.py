"""The task benchmark (benchmarks/tasks.py) in a tiny smoke run: it finishes, prints its table with the
GET /api/version baseline beside the throughput, and finds the server correct (no FAILED task, no HTTP
error, a live VM more for each completed clone)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.benchmark_runs import run_benchmark
from tests.support.server import run_cli

pytestmark = pytest.mark.slow

HEADER = "| backend | measurement | value (median) | p95 | target | result | notes |"
TINY = (
    "--quick", "--backend", "sqlite", "--vms", "300", "--backups", "3000", "--clients", "4",
    "--tasks", "60", "--warmup", "6", "--baseline", "200", "--in-flight", "0",
)  # fmt: skip
THROUGHPUT = "throughput, default pacing: COMPLETED tasks / wall time"
BASELINE = "baseline in the same run: GET /api/version, requests/s"
RATIO = "tasks/s per GET /api/version request/s (the machine-independent figure)"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_benchmark("tasks.py", *args)


def test_a_tiny_run_reports_the_throughput_beside_its_baseline(tmp_path: Path) -> None:
    report_path = tmp_path / "tasks.json"
    done = _run(*TINY, "--json", str(report_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert HEADER in done.stdout.splitlines()
    report = json.loads(report_path.read_text())
    assert report["failed"] is False
    results = {r["measurement"]: r for r in report["results"]}
    assert {
        name: (results[name]["value"], results[name]["passed"]) for name in ("FAILED tasks", "HTTP errors")
    } == {
        "FAILED tasks": (0, True),
        "HTTP errors": (0, True),
    }
    assert results["live VMs added = COMPLETED clones"]["passed"] is True
    # Rates vary with the machine; that both were measured in this run, and their ratio, do not.
    rate, version = results[THROUGHPUT]["value"], results[BASELINE]["value"]
    assert rate > 0 and version > 0
    assert results[RATIO]["value"] == pytest.approx(rate / version)
    assert "0 not answered 200" in results[BASELINE]["detail"]
    # --in-flight 0: no such phase.
    assert not any("in flight" in name for name in results)


def test_bad_options_are_refused() -> None:
    done = _run("--quick", "--backend", "sqlite", "--baseline", "0")
    assert done.returncode == 2
    assert "--clients, --tasks, --baseline and --workers must be at least 1" in done.stderr
    done = _run("--quick", "--backend", "sqlite", "--in-flight", "-1")
    assert done.returncode == 2
    assert "--in-flight and --warmup must be at least 0" in done.stderr


def test_a_run_on_a_copy_of_a_store_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    source = tmp_path / "store"
    made = run_cli(
        "init", "--data-dir", str(source), "--clusters", "2", "--hosts-per-cluster", "3", "--vms", "300",
        "--backups", "3000", "--no-progress",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    before = (source / "openovc.db").read_bytes()
    report_path = tmp_path / "tasks.json"
    done = _run(*TINY, "--copy-of", f"sqlite={source}", "--json", str(report_path))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"copying the federation of {source}" in done.stderr + done.stdout
    results = {r["measurement"]: r for r in json.loads(report_path.read_text())["results"]}
    assert (results["FAILED tasks"]["value"], results["HTTP errors"]["value"]) == (0, 0)
    assert results[THROUGHPUT]["value"] > 0
    assert (source / "openovc.db").read_bytes() == before


@pytest.mark.parametrize("value", ["sqlite", "mysql=x", "sqlite=a,,postgresql=b", ""])
def test_a_bad_copy_of_is_refused(value: str) -> None:
    done = _run("--quick", "--backend", "sqlite", "--copy-of", value)
    assert done.returncode == 2
    assert "expected sqlite=DATA_DIR and/or postgresql=DATABASE" in done.stderr
