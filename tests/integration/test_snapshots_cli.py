"""The snapshot controls as an operator uses them against a live server: `openovc snapshots ...` and
`openovc reset`, and their twin, the typed ControlClient."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from openovc.client import ControlClient, ControlError
from openovc.storage.snapshot_file import MAGIC
from tests.support.server import RunningServer, run_cli, start_server

ADMIN = "administrator@vsphere.local"
PASSWORD = "Snapshot-Cli-Passw0rd"
START = "2027-01-04T00:30:00Z"
SAVED = re.compile(
    r"(Saved|Imported) (\S+): (\d+) virtual machines, (\d+) backups, (\d+) tasks; "
    r"clock (\S+) \(manual\); (\d+) rows, (\d+) bytes"
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[RunningServer]:
    """A demo federation (kept for reset at its first start) whose clock stands at START until moved."""
    with start_server(
        tmp_path / "data", env={"OPENOVC_ADMIN_PASSWORD": PASSWORD}, extra_args=["--clock", f"manual:{START}"]
    ) as server:
        yield server
        assert server.stop() == 0


def cli(server: RunningServer, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m openovc ARGS` talking to `server`, as the environment says."""
    env = {"OPENOVC_URL": server.api_url, "OPENOVC_USER": ADMIN, "OPENOVC_PASSWORD": PASSWORD}
    return run_cli(*args, env=env, cwd=cwd)


def _ok(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert (done.returncode, done.stderr) == (0, ""), (done.returncode, done.stdout, done.stderr)
    return done.stdout.splitlines()


def _refused(done: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert (done.returncode, done.stdout) == (code, ""), (done.returncode, done.stdout, done.stderr)
    (line,) = done.stderr.splitlines()
    return line


@pytest.mark.slow
def test_the_snapshot_commands_save_list_export_import_restore_and_reset(
    served: RunningServer, tmp_path: Path
) -> None:
    control = ControlClient(served.base_url, ADMIN, PASSWORD)
    (line,) = _ok(cli(served, "snapshots", "save", "clean"))
    saved = SAVED.fullmatch(line)
    assert saved is not None, line
    clean = control.snapshot("clean")
    assert saved.groups() == (
        "Saved", "clean", str(clean.counts["virtual_machines"]), str(clean.counts["backups"]), "0", START,
        str(clean.rows), str(clean.size),
    )  # fmt: skip
    (listed,) = _ok(cli(served, "snapshots", "list"))
    assert listed.startswith(f"clean  saved {clean.created_at}  clock {START} (manual)  ")

    assert _ok(cli(served, "snapshots", "export", "clean", cwd=tmp_path)) == [
        f"Exported clean to clean.openovc-snapshot ({clean.size} bytes)"
    ]
    exported = tmp_path / "clean.openovc-snapshot"
    assert exported.read_bytes() == control.export_snapshot("clean")
    assert exported.read_bytes().startswith(MAGIC)
    assert _ok(cli(served, "snapshots", "delete", "clean")) == ["Deleted clean"]
    assert _ok(cli(served, "snapshots", "list")) == ["No snapshots"]
    (line,) = _ok(cli(served, "snapshots", "import", str(exported)))
    assert line.startswith("Imported clean: ")

    # The clock moves on; the restore takes it back, and the typed client stays logged in.
    control.advance("3h")
    restored = _ok(cli(served, "snapshots", "restore", "clean"))
    assert restored == [
        f"Restored clean: {clean.counts['virtual_machines']} virtual machines, {clean.counts['backups']} backups, "
        f"0 tasks; {clean.rows} rows; clock {START} (manual)"
    ]
    assert control.clock().now == START
    reset = control.reset()
    assert (reset.name, reset.clock_mode) == ("initial", "manual")
    (line,) = _ok(cli(served, "reset"))
    assert line.startswith("Restored initial: ")

    assert _refused(cli(served, "snapshots", "restore", "nope")) == (
        "openovc: Object type: snapshot id: nope could not be found"
    )
    assert _refused(cli(served, "snapshots", "save", "clean")) == (
        "openovc: A snapshot named 'clean' exists already; delete it first or choose another name"
    )
    assert _refused(cli(served, "snapshots", "import", str(tmp_path / "missing")), 2) == (
        f"openovc: cannot read {tmp_path / 'missing'}: No such file or directory"
    )
    (tmp_path / "foreign").write_bytes(b"not a snapshot")
    assert _refused(cli(served, "snapshots", "import", str(tmp_path / "foreign"))) == (
        "openovc: Invalid body: not an OpenOVC snapshot file (it does not begin with OPENOVC-SNAPSHOT)"
    )
    with pytest.raises(ControlError) as refused:
        control.delete_snapshot("nope")
    assert (refused.value.status, refused.value.message) == (
        404,
        "Object type: snapshot id: nope could not be found",
    )
    assert [s.name for s in control.snapshots()] == ["clean"]
