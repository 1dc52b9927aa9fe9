"""docs/cli.md is what the parsers, the settings and the routes say, and they leave nothing undescribed."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from openovc.cli import _parser
from openovc.cli.docs import (
    OTHER_VARIABLES,
    REGENERATE,
    render,
    setting_description,
    undocumented,
    write_routes,
)
from openovc.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "cli.md"
_VARIABLE = re.compile(r"\bOPENOVC_[A-Z0-9_]*[A-Z0-9]\b")


def test_docs_cli_md_is_up_to_date() -> None:
    assert DOCS.read_text(encoding="utf-8") == render(), f"docs/cli.md is out of date: run `{REGENERATE}`"


def test_every_command_argument_and_option_has_a_help_text() -> None:
    assert undocumented(_parser()) == []


def test_an_option_or_command_without_help_is_reported() -> None:
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--level", help="how loud")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    run = commands.add_parser("run")
    run.add_argument("target")
    commands.add_parser("stop", help="stop it").add_argument("--now", action="store_true", help="at once")
    assert undocumented(parser) == ["tool --quiet", "tool run", "tool run target"]


def test_every_setting_is_described() -> None:
    options = {
        flag: action
        for command in ("serve", "init")
        for action in _subparser(command)._actions
        for flag in action.option_strings
    }
    missing = [name for name in Settings.model_fields if not setting_description(name, options)[1]]
    assert missing == [], "describe them with an option's help, or in openovc.cli.docs.SETTING_NOTES"


def _subparser(command: str) -> argparse.ArgumentParser:
    for action in _parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[command]
            return found
    raise AssertionError("openovc has no subcommands")


def test_a_setting_is_described_by_its_option_under_another_name() -> None:
    options = {flag: action for action in _subparser("serve")._actions for flag in action.option_strings}
    flag, what = setting_description("login_lockout_seconds", options)
    assert (flag, what) == ("--login-lockout", "how long a lockout lasts (default 300)")
    assert setting_description("no_such_setting", options) == ("", "")
    assert setting_description("task_pacing", options)[0] == ""


def test_every_openovc_variable_the_project_reads_is_documented() -> None:
    used = set()
    for folder in ("src", "scripts", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in ("", ".py", ".sh") and "__pycache__" not in path.parts:
                used |= set(_VARIABLE.findall(path.read_text(encoding="utf-8", errors="replace")))
    documented = set(_VARIABLE.findall(DOCS.read_text(encoding="utf-8")))
    assert "OPENOVC_TASK_PACING" in used
    assert sorted(used - documented) == []
    assert set(OTHER_VARIABLES) <= documented


def test_the_writes_table_has_each_route_s_least_media_type() -> None:
    rows = {(method, path): version for method, path, _, version in write_routes()}
    assert rows[("POST", "/api/virtual_machines/{vmId}/power_on")] == 9
    assert rows[("POST", "/api/external_stores/update_credentials")] == 15
    assert rows[("POST", "/api/virtual_machines/{vmId}/clone")] == 0
    assert rows[("DELETE", "/api/backups/{bkpId}")] is None
    assert not any(method in ("GET", "HEAD") for method, _ in rows)
    text = render()
    assert (
        "| POST | `/api/omnistack_clusters/{clusterId}/set_iwo` | enableClusterIWO | "
        "`application/vnd.simplivity.v1.16+json` or a later `v1.N` |"
    ) in text


@pytest.mark.parametrize(
    "documented",
    [
        "| `--no-demo` | leave an empty store empty |",
        "| `--access-log, --no-access-log` | a line per request",
        "| `--log-level {critical,error,warning,info,debug,trace}` |",
        "#### `openovc users groups`",
        "| `OPENOVC_MAX_BODY_BYTES` | `16777216` (1024 to 1073741824) |  | the largest request body accepted;",
        "| `OPENOVC_EMERGENCY_PASSWORD` | (unset) |  | the password of the emergency account `svtcli`",
        "| `--login-max-failures N` | bad logins from one address within the window",
        "| GET | `/api/tasks/{id}` |",
    ],
)
def test_the_reference_shows(documented: str) -> None:
    assert documented in render()
