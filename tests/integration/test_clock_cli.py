"""The clock's controls as an operator uses them against a live server: `openovc clock show|advance|set`,
their twin the typed ControlClient, and `openovc serve --clock` refusing a clock it cannot run."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from openovc.client import ClockMove, ClockReading, ControlClient, ControlError
from tests.support.server import RunningServer, clean_environment, free_port, run_cli, start_server

ADMIN = "administrator@vsphere.local"
PASSWORD = "Clock-Cli-Passw0rd"
START = "2027-01-04T00:30:00Z"
VIEWER = "viewer@vsphere.local"
VIEWER_PASSWORD = "Viewer-Passw0rd"
COUNTS = re.compile(r"backups taken (\d+), expired (\d+); tasks completed (\d+)")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[RunningServer]:
    """A demo federation whose clock stands at START until moved."""
    with start_server(
        tmp_path / "data",
        env={"OPENOVC_ADMIN_PASSWORD": PASSWORD},
        extra_args=["--clock", f"manual:{START}"],
    ) as server:
        yield server
        assert server.stop() == 0


def clock_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m openovc clock ARGS`, with only the OPENOVC_* variables given in `env`."""
    return run_cli("clock", *args, env=env, timeout_s=60)


def _one_line_error(done: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """A refusal: the exit status, nothing on stdout, and one line on stderr (no traceback); that line."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("openovc: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


def _moved(done: subprocess.CompletedProcess[str], now: str) -> tuple[int, int, int]:
    """What `clock advance|set` printed: the clock's new time and mode, then the counts; the counts."""
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    first, second = done.stdout.splitlines()
    assert first == f"{now}  (manual)"
    counted = COUNTS.fullmatch(second)
    assert counted is not None, second
    taken, expired, completed = (int(n) for n in counted.groups())
    return taken, expired, completed


@pytest.mark.slow
def test_the_clock_command_shows_and_moves_the_clock(served: RunningServer) -> None:
    flags = ["--url", served.base_url, "--user", ADMIN, "--password", PASSWORD]
    environment = {"OPENOVC_URL": served.api_url, "OPENOVC_USER": ADMIN, "OPENOVC_PASSWORD": PASSWORD}

    shown = clock_cli("show", env=environment)  # from the environment alone
    assert (shown.returncode, shown.stdout, shown.stderr) == (0, f"{START}  (manual)\n", "")

    taken, _, _ = _moved(clock_cli("advance", "90m", *flags), "2027-01-04T02:00:00Z")
    assert taken > 0  # the demo's policies back their VMs up at least hourly
    _moved(clock_cli("set", "2027-01-05T00:00:00Z", *flags), "2027-01-05T00:00:00Z")
    shown = clock_cli("show", *flags)
    assert shown.stdout == "2027-01-05T00:00:00Z  (manual)\n"

    # Refusals name the problem in one line, and change nothing.
    back = _one_line_error(clock_cli("set", "2027-01-04T12:00:00Z", env=environment))
    assert back == (
        "openovc: Invalid body: to: the clock cannot go back from 2027-01-05T00:00:00Z "
        "to 2027-01-04T12:00:00Z"
    )
    not_a_duration = _one_line_error(clock_cli("advance", "soon", *flags))
    assert not_a_duration.startswith("openovc: Invalid body: seconds: expected a duration"), not_a_duration
    not_a_time = _one_line_error(clock_cli("set", "tomorrow", *flags))
    assert not_a_time.startswith("openovc: Invalid body: to: expected a time"), not_a_time
    wrong = _one_line_error(clock_cli("show", "--password", "not-the-password", env=environment))
    assert wrong == "openovc: Invalid credentials"
    no_password = _one_line_error(clock_cli("show", "--url", served.base_url))
    assert no_password == "openovc: no password: set OPENOVC_PASSWORD or give --password"
    nobody = f"https://127.0.0.1:{free_port()}"
    unreachable = _one_line_error(clock_cli("show", "--url", nobody, "--password", PASSWORD))
    assert unreachable.startswith(f"openovc: cannot reach {nobody}: "), unreachable
    assert clock_cli("show", env=environment).stdout == "2027-01-05T00:00:00Z  (manual)\n"


@pytest.mark.slow
def test_a_read_only_user_reads_the_clock_and_cannot_move_it(served: RunningServer, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "openovc", "users", "add", VIEWER, "--role", "read_only"]
    added = subprocess.run(
        [*command, "--password", VIEWER_PASSWORD, "--data-dir", str(tmp_path / "data")],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=clean_environment(None),
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    viewer = {"OPENOVC_URL": served.base_url, "OPENOVC_USER": VIEWER, "OPENOVC_PASSWORD": VIEWER_PASSWORD}
    assert clock_cli("show", env=viewer).stdout == f"{START}  (manual)\n"
    refused = _one_line_error(clock_cli("advance", "1h", env=viewer))
    assert refused.startswith("openovc: "), refused
    with pytest.raises(ControlError) as denied:
        ControlClient(served.base_url, VIEWER, VIEWER_PASSWORD).set_clock("2028-01-01T00:00:00Z")
    assert denied.value.status == 403
    assert refused == f"openovc: {denied.value.message}"
    assert ControlClient(served.base_url, VIEWER, VIEWER_PASSWORD).clock().now == START


@pytest.mark.slow
def test_the_control_client_returns_typed_results(served: RunningServer) -> None:
    control = ControlClient(served.api_url, ADMIN, PASSWORD)  # /api or not, the same server
    assert control.base == served.base_url
    assert control.clock() == ClockReading(mode="manual", now=START)

    moved = control.advance("15m")
    assert isinstance(moved, ClockMove)
    assert (moved.mode, moved.now) == ("manual", "2027-01-04T00:45:00Z")
    assert min(moved.backups_taken, moved.backups_expired, moved.tasks_completed) >= 0
    moved = control.advance(900)  # plain seconds too
    assert moved.now == "2027-01-04T01:00:00Z"
    moved = control.set_clock("2027-01-05T00:00:00Z")
    assert (moved.mode, moved.now) == ("manual", "2027-01-05T00:00:00Z")
    assert moved.backups_taken > 0  # a day of the demo's policies
    assert control.clock() == ClockReading("manual", "2027-01-05T00:00:00Z")

    with pytest.raises(ControlError) as refused:
        control.set_clock("2027-01-04T00:00:00Z")
    assert refused.value.status == 400
    message = "Invalid body: to: the clock cannot go back from 2027-01-05T00:00:00Z to 2027-01-04T00:00:00Z"
    assert refused.value.message == message
    assert refused.value.body["message"] == message
    assert str(refused.value) == f"400: {message}"
    with pytest.raises(ControlError) as refused:
        control.advance(-60)
    assert refused.value.status == 400 and "cannot go back" in refused.value.message
    assert control.clock().now == "2027-01-05T00:00:00Z"  # the refusals changed nothing

    with pytest.raises(ControlError) as refused:
        ControlClient(served.base_url, ADMIN, "not-the-password").clock()
    assert (refused.value.status, refused.value.body) == (
        400,
        {"error": "invalid_grant", "error_description": "Invalid credentials"},
    )
    assert refused.value.message == "Invalid credentials"
    with pytest.raises(ControlError) as refused:
        ControlClient(f"https://127.0.0.1:{free_port()}", ADMIN, PASSWORD, timeout=10).clock()
    assert refused.value.status == 0 and refused.value.message.startswith("cannot reach ")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("clock", "problem"),
    [
        ("bogus", "clock mode must be real, manual, manual:<time> or accelerated:<factor>; got 'bogus'"),
        (
            "accelerated:fast",
            "accelerated needs a speed-up factor, as in accelerated:60; got 'accelerated:fast'",
        ),
        ("accelerated:0", "the speed-up factor must be above 0 and at most 1000000; got '0'"),
        ("manual:yesterday", "expected a time such as 2027-01-04T00:30:00Z; got 'yesterday'"),
        (
            "manual:2027-01-04T00:30:00",
            "the time must name its offset (Z or +hh:mm); got '2027-01-04T00:30:00'",
        ),
    ],
)
def test_serve_refuses_a_clock_it_cannot_run(tmp_path: Path, clock: str, problem: str) -> None:
    with start_server(tmp_path / "data", extra_args=["--clock", clock], wait=False) as server:
        assert server.process.wait(60) == 2
        assert server.output() == f"openovc: invalid setting: clock: {problem}\n"
    assert not (tmp_path / "data").exists()  # refused before anything was created


def test_a_running_clock_shows_how_far_the_schedule_is_behind(tmp_path: Path) -> None:
    """On a running clock the reading carries the schedule's lag, in the typed client and in `clock show`;
    a manual clock's never does (tested above: its reading equals mode and now alone)."""
    with start_server(
        tmp_path / "data", env={"OPENOVC_ADMIN_PASSWORD": PASSWORD}, extra_args=["--clock", "accelerated:60"]
    ) as server:
        reading = ControlClient(server.api_url, ADMIN, PASSWORD).clock()
        assert reading.mode == "accelerated:60"
        assert isinstance(reading.schedule_lag_seconds, float) and reading.schedule_lag_seconds >= 0
        environment = {"OPENOVC_URL": server.api_url, "OPENOVC_USER": ADMIN, "OPENOVC_PASSWORD": PASSWORD}
        shown = clock_cli("show", env=environment)
        assert shown.returncode == 0, shown.stderr
        assert re.fullmatch(r"\S+Z  \(accelerated:60\)  schedule behind by [0-9.e+-]+ s\n", shown.stdout), (
            shown.stdout
        )
        assert server.stop() == 0
