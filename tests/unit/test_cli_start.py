"""A command imports its own module alone, and `serve` starts with the garbage collector paused."""

from __future__ import annotations

import argparse
import ast
import gc
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from openovc import collector
from openovc.cli import _parser, serve
from openovc.cli.common import CommandError


@pytest.fixture
def unfrozen() -> Iterator[None]:
    """Whatever a test freezes goes back to the collector's generations, as the suite's other objects."""
    yield
    gc.unfreeze()


@pytest.fixture(autouse=True)
def _switch_interval() -> Iterator[None]:
    """`serve` shortens the interpreter's switch interval: the suite's goes back after each test."""
    interval = sys.getswitchinterval()
    yield
    sys.setswitchinterval(interval)


def _modules_after(code: str) -> list[str]:
    """The openovc.cli modules a fresh interpreter has after running `code`."""
    shown = "import sys; print(sorted(m for m in sys.modules if m.startswith('openovc.cli.')))"
    out = subprocess.run(
        [sys.executable, "-c", f"{code}; {shown}"], check=True, capture_output=True, text=True
    ).stdout
    return list(ast.literal_eval(out))


def test_a_command_imports_its_own_module_alone() -> None:
    assert _modules_after("from openovc.cli import _parser; _parser(['serve', '--port', '1'])") == [
        "openovc.cli.common", "openovc.cli.login_options", "openovc.cli.serve",
    ]  # fmt: skip
    # `pacing` is one of the commands openovc.cli.faults adds.
    assert "openovc.cli.init" not in _modules_after("from openovc.cli import _parser; _parser(['pacing'])")


def test_without_a_known_command_every_command_is_there(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["--help"], ["nonsense"]):
        parser = _parser(argv)
        with pytest.raises(SystemExit) as stopped:
            parser.parse_args(argv or ["nonsense"])
        assert stopped.value.code == (0 if argv == ["--help"] else 2)
    err = capsys.readouterr().err
    assert err.endswith(
        "openovc: error: argument COMMAND: invalid choice: 'nonsense' (choose from 'serve', 'init', 'users', "
        "'clock', 'faults', 'pacing', 'snapshots', 'reset', 'hardware', 'tasks')\n"
    )
    assert _parser(["pacing"]).parse_args(["pacing", "show"]).command == "pacing"


def test_paused_restores_the_collector_as_it_was() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector.paused():
        assert not gc.isenabled()
        raise RuntimeError("a start that fails")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off: it stays off
    finally:
        gc.enable()


@pytest.mark.usefixtures("unfrozen")
def test_serve_starts_paused_and_runs_with_the_start_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []

    def start_and_run(_args: argparse.Namespace, starting: ExitStack) -> int:
        seen.append(gc.isenabled())
        serve._started(starting)  # as the server is about to run
        seen.extend([gc.isenabled(), gc.get_freeze_count() > 0])
        return 7

    monkeypatch.setattr(serve, "_start_and_run", start_and_run)
    assert serve._serve(argparse.Namespace()) == 7
    assert seen == [False, True, True]
    assert gc.isenabled()


def test_a_start_that_fails_leaves_the_collector_on(monkeypatch: pytest.MonkeyPatch) -> None:
    def start_and_run(_args: argparse.Namespace, _starting: ExitStack) -> int:
        assert not gc.isenabled()
        raise CommandError("cannot listen on 127.0.0.1:1: permission denied")

    monkeypatch.setattr(serve, "_start_and_run", start_and_run)
    with pytest.raises(CommandError):
        serve._serve(argparse.Namespace())
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
