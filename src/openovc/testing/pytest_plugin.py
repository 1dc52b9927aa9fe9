"""The `openovc` pytest plugin: an OpenOVC server for the session, put back as it started before each test.

Registered through the `pytest11` entry point, so installing openovc is enough. Fixtures:

- `openovc` (session): an OpenOVCServer started from the scenario (or the one `--openovc-url` names);
- `openovc_clean`: the same, after restoring the federation as the session started;
- `openovc_sdk`: the official SDK's client (`simplivity`), logged in as the administrator, after the restore;
- `openovc_start`: starts private servers from other scenarios, for tests that need another world.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from openovc.client import ControlClient, ControlError
from openovc.testing.launch import ADMIN_USERNAME, LaunchError, ServerProcess, launch
from openovc.testing.scenario import Scenario, ScenarioError, load_scenario, scenario_from
from openovc.testing.server import OpenOVCServer


@dataclass
class _Session:
    """What the plugin knows of this session: its scenario, and the server once one is in use."""

    scenario: Scenario
    scenario_path: Path | None
    url: str | None
    server: OpenOVCServer | None = None
    data_dir: Path | None = None
    started: int = 0
    problems: list[str] = field(default_factory=list)


_STATE = pytest.StashKey[_Session]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("openovc", "OpenOVC server for the tests (the openovc fixtures)")
    options = (
        ("scenario", "FILE", "a scenario file (YAML or JSON): inventory, clock, pacing, faults, users"),
        ("database-url", "URL", "the empty database the started server stores its federation in (default: SQLite in its data dir)"),
        ("url", "URL", "use this running server instead of starting one (its scenario parts: faults, pacing)"),
        ("user", "NAME", "the administrator of --openovc-url (default $OPENOVC_USER or administrator@vsphere.local)"),
        ("password", "PASSWORD", "their password (default $OPENOVC_PASSWORD)"),
    )  # fmt: skip
    for name, metavar, help_text in options:
        group.addoption(f"--openovc-{name}", metavar=metavar, help=help_text)
        parser.addini(f"openovc_{name.replace('-', '_')}", help_text + f" (as --openovc-{name})")


def _setting(config: pytest.Config, name: str) -> str | None:
    given = config.getoption(f"--openovc-{name}")
    if given:
        return str(given)
    found = config.getini(f"openovc_{name.replace('-', '_')}")
    return str(found) if found else None


def pytest_configure(config: pytest.Config) -> None:
    # A bad scenario stops the run before any test, with one line naming the file and the field.
    given = config.getoption("--openovc-scenario")
    path: Path | None = None
    if given:
        path = Path(given)  # relative to where pytest runs
    elif config.getini("openovc_scenario"):
        path = config.rootpath / str(config.getini("openovc_scenario"))
    try:
        scenario = load_scenario(path) if path is not None else Scenario()
    except ScenarioError as problem:
        raise pytest.UsageError(f"openovc scenario: {problem}") from None
    config.stash[_STATE] = _Session(scenario, path, _setting(config, "url"))


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = config.stash.get(_STATE, None)
    if state is None or (state.scenario_path is None and state.url is None):
        return []
    scenario = f"scenario {state.scenario_path}" if state.scenario_path else "no scenario"
    if state.url:
        # A running server was made by whoever started it: only the run-time parts can be applied.
        return [f"openovc: the server at {state.url}, {scenario} (its faults and pacing only)"]
    return [f"openovc: a server started for the session, {scenario}"]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or state.server is None:
        return
    server = state.server
    if state.url:
        line = f"openovc: used {server.url} (--openovc-url)"
    else:
        line = f"openovc: started {state.started} server at {server.url} (data in {state.data_dir})"
    terminalreporter.write_line(f"{line}; restored its start snapshot {server.restores} times")
    for problem in state.problems:
        terminalreporter.write_line(f"openovc: {problem}")


@pytest.fixture(scope="session")
def openovc(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OpenOVCServer]:
    """The session's OpenOVC server, started once from the scenario (or the one --openovc-url names)."""
    state = request.config.stash[_STATE]
    problem = None
    try:
        server, process = _open(state, request.config, tmp_path_factory)
    except (LaunchError, ScenarioError) as failed:
        problem = str(failed)
    except ControlError as refused:
        problem = refused.message
    if problem is not None:
        # Outside the handler: the test's report shows this line, not a chain of exceptions.
        what = f"cannot use the server at {state.url}" if state.url else "cannot start the session's server"
        where = f" ({state.scenario_path})" if state.scenario_path else ""
        pytest.fail(f"openovc: {what}{where}: {problem}", pytrace=False)
    state.server = server
    try:
        yield server
    finally:
        try:
            server.forget()
        except ControlError as refused:
            state.problems.append(f"could not delete the snapshot {server.start_snapshot}: {refused.message}")
        if process is not None and process.stop() != 0:
            state.problems.append(
                f"the server exited with status {process.process.returncode}; see {process.log_path}"
            )


def _open(
    state: _Session, config: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> tuple[OpenOVCServer, ServerProcess | None]:
    """The server given by URL, or one started from the scenario; its faults and pacing applied and its
    start snapshot saved. A server started here is stopped again if that fails."""
    process = None
    if state.url:
        username = _setting(config, "user") or os.environ.get("OPENOVC_USER") or ADMIN_USERNAME
        password = _setting(config, "password") or os.environ.get("OPENOVC_PASSWORD")
        if not password:
            raise LaunchError("--openovc-url needs --openovc-password (or OPENOVC_PASSWORD)")
        base = state.url.rstrip("/").removesuffix("/api")
        address = base.partition("://")[2]
    else:
        state.data_dir = tmp_path_factory.mktemp("openovc")
        process = launch(state.scenario, state.data_dir, _setting(config, "database-url"))
        state.started += 1
        base, address, username, password = process.url, process.address, process.username, process.password
    return _prepared(state.scenario, base, address, username, password, process), process


def _prepared(
    scenario: Scenario, base: str, address: str, username: str, password: str, process: ServerProcess | None
) -> OpenOVCServer:
    """The server, its scenario's faults and pacing applied and its start snapshot saved; a server started
    here is stopped again if that fails."""
    server = OpenOVCServer(
        base, address, username, password, ControlClient(base, username, password), scenario,
        data_dir=None if process is None else process.data_dir,
    )  # fmt: skip
    try:
        server.prepare()
    except BaseException:
        if process is not None:
            process.stop()
        raise
    return server


@pytest.fixture
def openovc_clean(openovc: OpenOVCServer) -> OpenOVCServer:
    """The session's server, its federation, clock, faults and pacing back as the session started."""
    openovc.restore()
    return openovc


@pytest.fixture
def openovc_sdk(openovc_clean: OpenOVCServer) -> Any:
    """The official SDK's client (simplivity.ovc_client.OVC) as the administrator, after the restore."""
    pytest.importorskip(
        "simplivity.ovc_client", reason="the official SDK (pip install simplivity) is not installed"
    )
    return openovc_clean.ovc


Start = Callable[..., OpenOVCServer]


@pytest.fixture
def openovc_start(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Start]:
    """Starts private servers, each from a scenario of its own (a Scenario, a mapping as a scenario file
    holds, or a file's path; none: the demo), for a test whose world differs from the session's. Each is
    ready, with its start snapshot for `restore()`, on SQLite in a data directory of its own; all stop
    when the test ends."""
    state = request.config.stash[_STATE]
    started: list[ServerProcess] = []

    def start(scenario: Scenario | Mapping[str, Any] | Path | str | None = None) -> OpenOVCServer:
        problem = None
        try:
            chosen = _scenario(scenario)
            process = launch(chosen, tmp_path_factory.mktemp("openovc-private"))
            started.append(process)
            return _prepared(
                chosen, process.url, process.address, process.username, process.password, process
            )
        except (LaunchError, ScenarioError) as failed:
            problem = str(failed)
        except ControlError as refused:
            problem = refused.message
        pytest.fail(f"openovc: cannot start a private server: {problem}", pytrace=False)

    yield start
    for process in started:
        if process.stop() != 0:
            state.problems.append(
                f"a private server exited with status {process.process.returncode}; see {process.log_path}"
            )


def _scenario(given: Scenario | Mapping[str, Any] | Path | str | None) -> Scenario:
    if given is None:
        return Scenario()
    if isinstance(given, Scenario):
        return given
    if isinstance(given, Mapping):
        # Named as the fixture in any message; a relative inventory file is where pytest runs.
        return scenario_from(dict(given), Path("openovc_start"))
    return load_scenario(Path(given))
