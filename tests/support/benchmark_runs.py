"""Runs a benchmark script of benchmarks/ as a user would, for the tests that check its report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.server import clean_environment

ROOT = Path(__file__).resolve().parents[2]


def run_benchmark(script: str, *args: str, timeout_s: float = 300) -> subprocess.CompletedProcess[str]:
    """`python benchmarks/<script> ARGS` from the checkout, in a clean environment; its output captured."""
    return subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=ROOT,
        env=clean_environment(None),
    )
