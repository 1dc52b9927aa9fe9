"""Scenario files of the pytest plugin: what a good one gives, and the one line a bad one gets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from openovc.testing.scenario import (
    Clock,
    Generate,
    Inventory,
    Pacing,
    Scenario,
    ScenarioError,
    User,
    load_scenario,
)

EXAMPLE = Path(__file__).parents[2] / "examples" / "openovc-scenario.yaml"


def _write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_scenario_reads_as_written() -> None:
    scenario = load_scenario(EXAMPLE)
    assert scenario.inventory is not None and scenario.inventory.inline is not None
    assert [vm["name"] for vm in scenario.inventory.inline["virtual_machines"]] == [
        "web-01", "web-02", "legacy-erp-01"
    ]  # fmt: skip
    assert scenario.clock == Clock(mode="manual", start=datetime(2027, 1, 4, 9, tzinfo=UTC))
    assert scenario.pacing == Pacing(default="immediate", operations={"virtual_machine.clone": "polls:1"})
    assert scenario.faults == [
        {
            "match": {"operation": "cloneVm"},
            "name": "legacy-*",
            "effect": {"task_error": {"error_code": 130, "message": "The VM power state is not acceptable."}},
        }
    ]
    assert scenario.users == [User(name="auditor@vsphere.local", role="read_only", password="Auditor-pass-1")]


def test_an_empty_file_is_the_demo_as_serve_starts_it(tmp_path: Path) -> None:
    assert load_scenario(_write(tmp_path, "")) == Scenario()
    assert Scenario().model_dump() == {
        "inventory": None, "clock": None, "pacing": None, "faults": None, "users": []
    }  # fmt: skip


def test_json_is_read_too(tmp_path: Path) -> None:
    text = '{"clock": {"mode": "accelerated", "rate": 60, "start": "2027-03-01T00:00:00+01:00"}}'
    scenario = load_scenario(_write(tmp_path, text, "scenario.json"))
    assert scenario.clock is not None
    assert (scenario.clock.serve_mode(), scenario.clock.start_text()) == (
        "accelerated:60",
        "2027-02-28T23:00:00Z",
    )


def test_an_inventory_file_is_found_beside_the_scenario(tmp_path: Path) -> None:
    (tmp_path / "worlds").mkdir()
    (tmp_path / "worlds" / "lab.yaml").write_text("clusters: [{name: Lab}]\n", encoding="utf-8")
    scenario = load_scenario(_write(tmp_path / "worlds", "inventory: {file: lab.yaml}\n"))
    assert scenario.inventory == Inventory(file=tmp_path / "worlds" / "lab.yaml")


def test_generator_counts_become_init_s_options() -> None:
    generate = Generate(seed=3, clusters=2, hosts_per_cluster=4, vms=0, cluster_groups=1)
    assert generate.init_args() == [
        "--seed", "3", "--clusters", "2", "--hosts-per-cluster", "4", "--vms", "0", "--cluster-groups", "1"
    ]  # fmt: skip
    assert Generate(largest=True).init_args() == ["--largest"]


def test_clock_modes_as_serve_takes_them() -> None:
    assert (Clock(mode="real").serve_mode(), Clock(mode="real").start_text()) == ("real", None)
    assert Clock(mode="manual").serve_mode() == "manual"
    assert Clock(mode="accelerated", rate=2.5).serve_mode() == "accelerated:2.5"
    # A manual clock's start is given to serve too: a bare `manual` would move a past start on to now.
    past = datetime(2026, 11, 20, 12, 20, tzinfo=UTC)
    assert Clock(mode="manual", start=past).serve_mode() == "manual:2026-11-20T12:20:00Z"
    assert Clock(mode="real", start=past).serve_mode() == "real"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("colck: {mode: manual}", "colck: unknown field"),
        ("clock: {mode: manual, speed: 2}", "clock.speed: unknown field"),
        ("clock: {mode: weekly}", "clock.mode: Input should be 'real', 'manual' or 'accelerated'"),
        ("clock: {start: 2027-01-04T09:00:00Z}", "clock.mode: missing"),
        ("clock: {mode: manual, start: 2027-01-04T09:00:00}", "clock.start: Input should have timezone info"),
        ("clock: {mode: manual, start: soon}",
         "clock.start: Input should be a valid datetime or date, input is too short"),
        ("clock: {mode: accelerated}", "clock: an accelerated clock needs a rate (e.g. rate: 60, a day in 24 minutes)"),
        ("clock: {mode: accelerated, rate: 0}", "clock.rate: Input should be greater than 0"),
        ("clock: {mode: manual, rate: 5}", "clock: rate is for an accelerated clock, not a manual one"),
        ("inventory: {}", "inventory: give exactly one of generate, file or inline (got none)"),
        ("inventory: {file: a.yaml, generate: {vms: 3}}",
         "inventory: give exactly one of generate, file or inline (got generate, file)"),
        ("inventory: {generate: {vms: -1}}", "inventory.generate.vms: Input should be greater than or equal to 0"),
        ("inventory: {generate: {hosts: 2}}", "inventory.generate.hosts: unknown field"),
        ("inventory: {inline: [1]}", "inventory.inline: Input should be a valid dictionary"),
        ("pacing: fast", "pacing.default: bad pacing 'fast': use immediate, duration:SECONDS[:JITTER] or polls:N"),
        ("pacing: immediate,virtual_machine.clone=duration:x", "pacing.operations: virtual_machine.clone: "
         "bad pacing 'duration:x': use immediate, duration:SECONDS[:JITTER] or polls:N"),
        ("pacing: {operations: {'': polls:1}}", "pacing.operations: an operation's name is empty"),
        ("faults: {match: {operation: cloneVm}}", "faults: Input should be a valid list"),
        ("faults: [1]", "faults[0]: Input should be a valid dictionary"),
        ("users: [{name: a, role: root, password: x}]",
         "users[0].role: Input should be 'administrator' or 'read_only'"),
        ("users: [{name: a, role: read_only}]", "users[0].password: missing"),
        ("users: [{name: '', role: read_only, password: x}]",
         "users[0].name: String should have at least 1 character"),
        ("clock: {mode: weekly}\nusers: [{role: read_only, password: x}]",
         "clock.mode: Input should be 'real', 'manual' or 'accelerated'; users[0].name: missing"),
        ("- clock", "a scenario is a mapping of fields, not a list"),
    ],
)  # fmt: skip
def test_a_bad_scenario_names_the_file_and_the_field(tmp_path: Path, text: str, problem: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    assert str(raised.value) == f"{path}: {problem}"


def test_a_missing_inventory_file_is_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "inventory: {file: nope.yaml}\n")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    assert str(raised.value) == f"{path}: inventory.file: no such file: {tmp_path / 'nope.yaml'}"


def test_a_missing_or_unparsable_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as raised:
        load_scenario(tmp_path / "missing.yaml")
    assert (
        str(raised.value)
        == f"{tmp_path / 'missing.yaml'}: cannot read the scenario: No such file or directory"
    )
    path = _write(tmp_path, "clock: [\n")
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)
    assert str(raised.value) == (
        f"{path}: not YAML or JSON: line 2, column 1: expected the node content, but found '<stream end>'"
    )
