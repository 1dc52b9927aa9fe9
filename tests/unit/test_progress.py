"""Progress of a long command: the phases the generator reports, and the bars shown only on a terminal."""

from __future__ import annotations

import argparse
import io
import re

import pytest
from rich.console import Console

from openovc.cli.bars import Bars
from openovc.cli.progress import add_progress_option, progress_for
from openovc.domain.ports.progress import SILENT
from openovc.simulator.federation import FederationSpec
from openovc.simulator.generator.generator import generate
from tests.support.inprocess import START
from tests.support.progress import Recorder


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True

    def lines(self) -> list[str]:
        """What it shows, without the terminal's control sequences, a line per redraw."""
        plain = _CONTROL.sub("", self.getvalue())
        return [line.strip() for line in re.split(r"[\r\n]+", plain) if line.strip()]


_CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_progress_option(parser)
    return parser.parse_args(argv)


def test_generating_reports_its_phases_with_one_step_per_vm() -> None:
    spec = FederationSpec(vms=30, backups=120, seed=4)
    recorder = Recorder()
    federation = generate(spec, START, recorder)
    vms = len(federation.rows["virtual_machines"])
    assert recorder.summary() == [
        ("Drawing the federation", None, 0),
        ("Replaying VMs' data and backups", vms, vms),
        ("Measuring backups' unique sizes", vms, vms),
    ]


def test_reporting_progress_changes_nothing_generated() -> None:
    spec = FederationSpec(vms=30, backups=120, seed=4)
    assert generate(spec, START, Recorder()).rows == generate(spec, START).rows


def test_bars_draw_each_phase_with_its_count() -> None:
    screen = Terminal()
    with Bars(Console(file=screen, force_terminal=True, width=100)) as bars:
        bars.phase("Replaying", 2500)
        bars.advance(2000)
        bars.advance(500)
        bars.phase("Committing")
    shown = screen.getvalue()
    assert "Replaying" in shown
    assert "2,500/2,500" in shown
    assert "Committing" in shown


def test_a_phase_without_a_total_shows_no_made_up_count() -> None:
    screen = Terminal()
    with Bars(Console(file=screen, force_terminal=True, width=100)) as bars:
        bars.phase("Gathering statistics")
    [*_, last] = screen.lines()
    assert last.startswith("Gathering statistics")
    assert re.search(r"\d", last.removeprefix("Gathering statistics").split()[-2]) is None


def test_steps_before_any_phase_are_ignored() -> None:
    screen = Terminal()
    with Bars(Console(file=screen, force_terminal=True, width=100)) as bars:
        bars.advance(5)
    assert screen.lines() == []


def test_a_failure_leaves_the_phase_unfinished() -> None:
    screen = Terminal()
    with pytest.raises(RuntimeError), Bars(Console(file=screen, force_terminal=True, width=100)) as bars:
        bars.phase("Loading", 10)
        bars.advance(3)
        raise RuntimeError("the database went away")
    assert "3/10" in screen.getvalue()
    assert "10/10" not in screen.getvalue()


def test_no_bars_when_stderr_is_not_a_terminal() -> None:
    stream = io.StringIO()
    with progress_for(_args(), stream) as progress:
        assert progress is SILENT
        progress.phase("Loading", 10)
        progress.advance(10)
    assert stream.getvalue() == ""


def test_no_bars_with_no_progress_even_on_a_terminal() -> None:
    screen = Terminal()
    with progress_for(_args("--no-progress"), screen) as progress:
        assert progress is SILENT
        progress.phase("Loading", 10)
    assert screen.getvalue() == ""


def test_bars_on_a_terminal() -> None:
    screen = Terminal()
    with progress_for(_args(), screen) as progress:
        assert isinstance(progress, Bars)
        progress.phase("Loading", 4)
        progress.advance(4)
    assert "4/4" in screen.getvalue()
