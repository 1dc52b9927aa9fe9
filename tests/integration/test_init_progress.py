"""`openovc init` draws progress bars on a terminal's stderr, and nothing when stderr is a pipe or a file."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.server import clean_environment

pytestmark = pytest.mark.slow

SMALL = ("--clusters", "1", "--hosts-per-cluster", "2", "--datastores", "2", "--vms", "12", "--backups", "40")
PHASES = (
    "Drawing the federation",
    "Replaying VMs' data and backups",
    "Measuring backups' unique sizes",
    "Loading the tables (rows)",
    "Committing",
    "Updating the index statistics",
    "Keeping the initial snapshot",
)
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_LOADED = re.compile(
    r"^Loaded a federation with seed 1 into sqlite:///\S+ in \d+\.\d\d s: .*12 virtual_machines"
)


def _init_on_a_terminal(*args: str) -> tuple[int, str, str]:
    """Run `openovc init` with stderr on a pseudo-terminal: exit status, stdout, and what the terminal showed."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "openovc", "init", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=follower,
            env={**clean_environment(None), "COLUMNS": "120", "TERM": "xterm"},
        )
        os.close(follower)
        shown = bytearray()
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal's other side closed: the process is done with it
                break
            if not chunk:
                break
            shown += chunk
        assert process.stdout is not None
        with process.stdout:
            out = process.stdout.read().decode()
        status = process.wait(120)
    finally:
        os.close(leader)
    return status, out, _CONTROL.sub("", shown.decode(errors="replace"))


def test_init_draws_each_phase_on_a_terminal(tmp_path: Path) -> None:
    status, out, shown = _init_on_a_terminal(*SMALL, "--data-dir", str(tmp_path))
    assert status == 0, shown
    assert _LOADED.match(out), out
    for phase in PHASES:
        assert phase in shown, shown
    # Each counted phase ends with all its steps done.
    for phase in ("Replaying VMs' data and backups", "Loading the tables (rows)"):
        assert re.search(re.escape(phase) + r" [━ ]+ ([1-9][\d,]*)/\1 ", shown), shown


def test_no_progress_draws_nothing_even_on_a_terminal(tmp_path: Path) -> None:
    status, out, shown = _init_on_a_terminal(*SMALL, "--no-progress", "--data-dir", str(tmp_path))
    assert (status, shown) == (0, "")
    assert _LOADED.match(out), out


def test_init_writes_no_progress_to_a_pipe(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "openovc", "init", *SMALL, "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=clean_environment(None),
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert _LOADED.match(done.stdout), done.stdout


def test_a_refused_init_draws_no_bar(tmp_path: Path) -> None:
    status, out, shown = _init_on_a_terminal("--vms", "-1", "--data-dir", str(tmp_path))
    assert (status, out) == (2, "")
    assert shown.strip() == "openovc: invalid federation size: --vms must be between 0 and 100000"


def test_replacing_a_federation_shows_the_clearing(tmp_path: Path) -> None:
    status, _, shown = _init_on_a_terminal(*SMALL, "--no-progress", "--data-dir", str(tmp_path))
    assert (status, shown) == (0, "")
    status, out, shown = _init_on_a_terminal(*SMALL, "--force", "--data-dir", str(tmp_path))
    assert status == 0, shown
    assert _LOADED.match(out), out
    assert shown.index("Measuring backups' unique sizes") < shown.index("Clearing the old federation")
    assert shown.index("Clearing the old federation") < shown.index("Loading the tables (rows)")
