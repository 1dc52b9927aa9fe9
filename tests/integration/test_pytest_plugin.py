"""The `openovc` pytest plugin as its users run it: pytest in a directory of their own, the plugin found
through its entry point, the example module and its scenario (examples/), a server started once per
session or given by URL, and bad scenarios or servers stopping the run with one clear line."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from openovc.client import ControlClient, TaskPacing
from tests.support.databases import BACKENDS, database_url
from tests.support.server import start_server

pytestmark = pytest.mark.slow

EXAMPLES = Path(__file__).parents[2] / "examples"
START = "2027-01-04T09:00:00Z"
PASSWORD = "Plugin-Adm1n-pass"

# Changes a test makes to the run-time controls, and the next test finding the scenario's again.
ISOLATION = """
from openovc.client import TaskPacing
from openovc.testing import OpenOVCServer


def test_a_test_changes_the_rules_and_the_pacing(openovc_clean: OpenOVCServer) -> None:
    control = openovc_clean.control
    assert [f.rule["name"] for f in control.faults()] == ["legacy-*"]
    control.clear_faults()
    control.add_fault({"match": {"operation": "getVm"}, "effect": {"http": {"status": 503}}})
    control.set_pacing("polls:3")


def test_the_next_has_the_scenario_s_again(openovc_sdk, openovc_clean: OpenOVCServer) -> None:
    control = openovc_clean.control
    assert [(f.rule["match"], f.rule["name"], f.fired) for f in control.faults()] == [
        ({"operation": "cloneVm"}, "legacy-*", 0)
    ]
    assert control.pacing() == TaskPacing("immediate", {"virtual_machine.clone": "polls:1"}, True)
    legacy = openovc_sdk.virtual_machines.get_by_name("legacy-erp-01")  # getVm answers again
    try:
        legacy.clone("legacy-erp-02")
    except Exception as failed:
        assert str(failed) == "The VM power state is not acceptable."
    else:
        raise AssertionError("the scenario's rule did not fire")
    assert [f.fired for f in control.faults()] == [1]


def test_the_session_shares_one_server(openovc: OpenOVCServer, openovc_clean: OpenOVCServer) -> None:
    assert openovc is openovc_clean
    assert openovc.url == "https://" + openovc.address
    assert openovc.username == "administrator@vsphere.local"
"""

# Private servers from other scenarios, beside the session's; what the plugin gives of each.
PRIVATE = """
from pathlib import Path


def test_a_private_server_from_a_mapping(openovc_start) -> None:
    server = openovc_start({
        "clock": {"mode": "manual", "start": "2026-01-05T08:00:00Z"},
        "users": [{"name": "reader@vsphere.local", "role": "read_only", "password": "Reader-pass-1"}],
    })
    assert server.control.clock().now == "2026-01-05T08:00:00Z"  # a start in the past stays there
    assert server.data_dir is not None and server.data_dir.name.startswith("openovc-private")
    assert server.certificate == server.data_dir / "cert.pem" and server.certificate.is_file()
    verified = server.sdk(ssl_certificate=str(server.certificate), timeout=30)
    hosts = [h.data["id"] for h in verified.hosts.get_all()]
    assert hosts and [h.data["id"] for h in server.sdk("reader@vsphere.local", "Reader-pass-1").hosts.get_all()] == hosts
    assert server.sdk_config(timeout=30) == {"ip": server.address, "credentials": server.credentials, "timeout": 30}
    Path("private-url.txt").write_text(server.url)


def test_the_session_s_server_is_another(openovc, openovc_start) -> None:
    private = openovc_start()
    assert private.url not in (openovc.url, Path("private-url.txt").read_text())
    assert openovc.data_dir is not None and openovc.data_dir.name == "openovc0"
    restored = private.restore()  # its own start snapshot, as the session's server has
    assert (restored.name, restored.clock_mode) == (private.start_snapshot, "real")


def test_a_bad_scenario_fails_its_test_with_one_line(openovc_start) -> None:
    openovc_start({"clock": {"mode": "weekly"}})
"""

EXAMPLE_TESTS = [
    "test_a_test_takes_a_backup",
    "test_the_next_test_starts_without_it",
    "test_the_clock_starts_where_the_scenario_says",
    "test_the_next_test_starts_there_again",
    "test_the_scenario_s_fault_rule_fails_clones_of_legacy_vms",
    "test_the_scenario_s_read_only_user_cannot_back_up",
]


@dataclass
class Run:
    """A pytest run: its exit status, its output and each test's outcome (and message) from JUnit XML."""

    returncode: int
    stdout: str
    stderr: str
    outcomes: dict[str, tuple[str, str]]


def _pytest(directory: Path, *args: str) -> Run:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENOVC_", "PYTEST_"))  # nothing of this run's settings or xdist worker
    }
    report = directory / "report.xml"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={report}", *args]
    command += ["--basetemp", str(directory / "basetemp")]
    done = subprocess.run(
        command, cwd=directory, capture_output=True, text=True, env=env, timeout=900, check=False
    )
    outcomes: dict[str, tuple[str, str]] = {}
    if report.exists():
        for case in ElementTree.parse(report).iter("testcase"):
            found = [(child.tag, child.get("message", "")) for child in case]
            found = [each for each in found if each[0] in ("failure", "error", "skipped")]
            outcomes[f"{case.get('classname')}::{case.get('name')}"] = found[0] if found else ("passed", "")
    return Run(done.returncode, done.stdout, done.stderr, outcomes)


def _project(tmp_path: Path, ini: str = "") -> Path:
    """A user's project: the example module and its scenario, and a pytest.ini naming the scenario."""
    tmp_path.mkdir()
    shutil.copy(EXAMPLES / "test_with_openovc.py", tmp_path / "test_with_openovc.py")
    shutil.copy(EXAMPLES / "openovc-scenario.yaml", tmp_path / "openovc-scenario.yaml")
    (tmp_path / "pytest.ini").write_text(f"[pytest]\nopenovc_scenario = openovc-scenario.yaml\n{ini}")
    return tmp_path


def _servers_under(directory: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "serve" in cmdline and any(str(directory) in part for part in cmdline):
            found.append(process)
    return found


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_example_runs_on_one_server_restored_before_each_test(tmp_path: Path, backend: str) -> None:
    project = _project(tmp_path / "project")
    (project / "test_isolation.py").write_text(ISOLATION)
    with database_url(backend, tmp_path) as url:
        args = [] if backend == "sqlite" else ["--openovc-database-url", url]
        run = _pytest(project, *args)
    assert run.returncode == 0, run.stdout + run.stderr
    expected = {f"test_with_openovc::{name}": ("passed", "") for name in EXAMPLE_TESTS}
    expected |= {
        f"test_isolation::{name}": ("passed", "")
        for name in (
            "test_a_test_changes_the_rules_and_the_pacing",
            "test_the_next_has_the_scenario_s_again",
            "test_the_session_shares_one_server",
        )
    }
    assert run.outcomes == expected
    header = f"openovc: a server started for the session, scenario {project / 'openovc-scenario.yaml'}"
    assert header in run.stdout.splitlines()
    summary = (
        re.escape("openovc: started 1 server at https://127.0.0.1:")
        + r"\d+"
        + re.escape(f" (data in {project / 'basetemp' / 'openovc0'}); restored its start snapshot 9 times")
    )
    assert re.search(f"^{summary}$", run.stdout, re.MULTILINE), run.stdout
    assert _servers_under(project) == []  # stopped with the session


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_running_server_given_by_url_takes_the_scenario_s_faults_and_pacing(
    tmp_path: Path, backend: str
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "scenario.yaml").write_text(
        "pacing: immediate,virtual_machine.backup=polls:1\n"
        "faults:\n  - {match: {operation: cloneVm}, effect: {http: {status: 503}}}\n"
        # How that server was started is its own business: these two are not applied to it.
        "clock: {mode: accelerated, rate: 60}\nusers: [{name: nobody, role: read_only, password: x}]\n"
    )
    (project / "test_url.py").write_text(
        "from openovc.client import TaskPacing\n\n\n"
        "def test_a_test_takes_a_backup(openovc_sdk) -> None:\n"
        "    vm = openovc_sdk.virtual_machines.get_by_name('web-01')\n"
        "    assert vm.create_backup('by-url').data['name'] == 'by-url'\n\n\n"
        "def test_the_next_starts_without_it(openovc_sdk, openovc_clean) -> None:\n"
        "    backups = openovc_sdk.virtual_machines.get_by_name('web-01').get_backups()\n"
        "    assert 'by-url' not in [b.data['name'] for b in backups]\n"
        f"    assert openovc_clean.control.clock().now == '{START}'\n"
        "    assert [f.rule['match'] for f in openovc_clean.control.faults()] == [{'operation': 'cloneVm'}]\n"
        "    assert openovc_clean.control.pacing() == "
        "TaskPacing('immediate', {'virtual_machine.backup': 'polls:1'}, True)\n"
    )
    (project / "inventory.yaml").write_text(
        "clusters: [{name: Lab, hosts: 2}]\n"
        "virtual_machines: [{name: web-01, datastore: DS-Prod-01, power_state: 'OFF'}]\n"
        "datastores: [{name: DS-Prod-01, cluster: Lab}]\n"
    )
    with database_url(backend, tmp_path) as url:
        db = None if backend == "sqlite" else url
        env = {"OPENOVC_ADMIN_PASSWORD": PASSWORD, "OPENOVC_CLOCK": f"manual:{START}"}
        init = [sys.executable, "-m", "openovc", "init", "--data-dir", str(tmp_path / "data")]
        init += ["--inventory", str(project / "inventory.yaml"), "--no-progress"]
        done = subprocess.run(
            init + (["--database-url", db] if db else []),
            capture_output=True, text=True, env={**os.environ, **env}, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        with start_server(
            tmp_path / "data", database_url=db, env={"OPENOVC_ADMIN_PASSWORD": PASSWORD}
        ) as server:
            given = ["--openovc-url", server.api_url, "--openovc-scenario", "scenario.yaml"]
            run = _pytest(project, *given, "--openovc-password", PASSWORD)
            control = ControlClient(server.base_url, "administrator@vsphere.local", PASSWORD)
            left = [s.name for s in control.snapshots()]
            faults = [f.rule["match"] for f in control.faults()]
            pacing = control.pacing()
            assert server.stop() == 0
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.outcomes == {
        "test_url::test_a_test_takes_a_backup": ("passed", ""),
        "test_url::test_the_next_starts_without_it": ("passed", ""),
    }
    header = f"openovc: the server at {server.api_url}, scenario scenario.yaml (its faults and pacing only)"
    assert header in run.stdout.splitlines()
    summary = f"openovc: used {server.base_url} (--openovc-url); restored its start snapshot 2 times"
    assert summary in run.stdout.splitlines()
    assert left == []  # the session's own snapshot is gone; the server keeps running
    assert (faults, pacing) == (
        [{"operation": "cloneVm"}],
        TaskPacing("immediate", {"virtual_machine.backup": "polls:1"}, True),
    )


@pytest.mark.parametrize(
    ("scenario", "problem"),
    [
        ("clock: {mode: accelerated}", "clock: an accelerated clock needs a rate (e.g. rate: 60, a day in 24 minutes)"),
        ("users: [{name: a, role: root, password: x}]", "users[0].role: Input should be 'administrator' or 'read_only'"),
        ("inventory: {file: nope.yaml}", "inventory.file: no such file: {project}/nope.yaml"),
    ],
)  # fmt: skip
def test_a_bad_scenario_stops_the_run_with_one_line(tmp_path: Path, scenario: str, problem: str) -> None:
    (tmp_path / "scenario.yaml").write_text(scenario + "\n")
    (tmp_path / "test_it.py").write_text("def test_it(openovc) -> None:\n    pass\n")
    run = _pytest(tmp_path, "--openovc-scenario", "scenario.yaml")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    shown = problem.format(project=tmp_path)
    assert run.stderr == f"ERROR: openovc scenario: scenario.yaml: {shown}\n\n"
    assert (run.stdout, run.outcomes) == ("", {})


def test_a_missing_scenario_file_named_in_the_ini_file_stops_the_run(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\nopenovc_scenario = worlds/lab.yaml\n")
    (tmp_path / "test_it.py").write_text("def test_it() -> None:\n    pass\n")
    run = _pytest(tmp_path)
    assert run.returncode == pytest.ExitCode.USAGE_ERROR
    assert run.stderr == (
        f"ERROR: openovc scenario: {tmp_path}/worlds/lab.yaml: cannot read the scenario: "
        "No such file or directory\n\n"
    )


@pytest.mark.parametrize(
    ("scenario", "problem"),
    [
        # init refuses the inventory: nothing was started.
        ("inventory: {inline: {clusters: [{name: Lab}], datastores: [{name: D, cluster: Nowhere}]}}",
         "openovc init: invalid inventory: {data}/inventory.json: datastores[0] (D).cluster: unknown cluster "
         "'Nowhere'"),
        # The server refuses a rule: it was started, and is stopped again.
        ("faults: [{match: {operation: noSuchOperation}, effect: {http: {status: 503}}}]",
         "faults[0]: match.operation: unknown operation 'noSuchOperation'"),
    ],
)  # fmt: skip
def test_a_world_the_server_refuses_fails_each_test_with_its_reason(
    tmp_path: Path, scenario: str, problem: str
) -> None:
    (tmp_path / "scenario.yaml").write_text(scenario + "\n")
    (tmp_path / "test_it.py").write_text(
        "def test_one(openovc) -> None:\n    pass\n\n\ndef test_two(openovc_clean) -> None:\n    pass\n"
    )
    run = _pytest(tmp_path, "--openovc-scenario", "scenario.yaml")
    assert run.returncode == pytest.ExitCode.TESTS_FAILED
    data = tmp_path / "basetemp" / "openovc0"
    line = f"openovc: cannot start the session's server (scenario.yaml): {problem.format(data=data)}"
    failed = ("error", f'failed on setup with "Failed: {line}"')
    assert run.outcomes == {"test_it::test_one": failed, "test_it::test_two": failed}
    # The session tried once: one data directory, and no server left running.
    assert sorted(p.name for p in (tmp_path / "basetemp").iterdir() if not p.is_symlink()) == ["openovc0"]
    assert _servers_under(tmp_path) == []


def test_private_servers_start_from_their_own_scenarios_and_stop_with_their_test(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "test_private.py").write_text(PRIVATE)
    run = _pytest(tmp_path)
    line = (
        "openovc: cannot start a private server: openovc_start: clock.mode: "
        "Input should be 'real', 'manual' or 'accelerated'"
    )
    assert run.outcomes == {
        "test_private::test_a_private_server_from_a_mapping": ("passed", ""),
        "test_private::test_the_session_s_server_is_another": ("passed", ""),
        "test_private::test_a_bad_scenario_fails_its_test_with_one_line": ("failure", f"Failed: {line}"),
    }, run.stdout
    # One server for the session and one per good call, each in a directory of its own; none left running.
    made = sorted(
        p.name
        for p in (tmp_path / "basetemp").iterdir()
        if p.name.startswith("openovc") and not p.is_symlink()
    )
    assert made == ["openovc-private0", "openovc-private1", "openovc0"]
    assert _servers_under(tmp_path) == []


def test_a_server_given_by_url_needs_its_password_and_must_answer(tmp_path: Path) -> None:
    (tmp_path / "test_it.py").write_text("def test_it(openovc) -> None:\n    pass\n")
    run = _pytest(tmp_path, "--openovc-url", "https://127.0.0.1:9/api")
    line = "openovc: cannot use the server at https://127.0.0.1:9/api: --openovc-url needs --openovc-password (or OPENOVC_PASSWORD)"
    assert run.outcomes == {"test_it::test_it": ("error", f'failed on setup with "Failed: {line}"')}
    run = _pytest(tmp_path, "--openovc-url", "https://127.0.0.1:9/api", "--openovc-password", "x")
    line = "openovc: cannot use the server at https://127.0.0.1:9/api: cannot reach https://127.0.0.1:9: [Errno 111] Connection refused"
    assert run.outcomes == {"test_it::test_it": ("error", f'failed on setup with "Failed: {line}"')}
