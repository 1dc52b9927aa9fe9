"""docs/cli.md, generated from the parsers, the settings and the routes: `python -m openovc.cli.docs > docs/cli.md`."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Iterator

from annotated_types import Ge, Le
from fastapi.routing import APIRoute
from pydantic.fields import FieldInfo

import openovc.api.routes
from openovc.api.deps import MediaType
from openovc.cli import _parser
from openovc.domain.auth import EMERGENCY_GRANT, EMERGENCY_OPERATIONS, EMERGENCY_USERNAME
from openovc.settings import Settings

REGENERATE = "python -m openovc.cli.docs > docs/cli.md"
ENV_PREFIX = "OPENOVC_"

# Settings that no option sets, or whose option's help does not say what the variable means.
SETTING_NOTES = {
    "tls": "serve HTTPS; `false` serves plain HTTP, as `serve --no-tls` does",
    "admin_username": "the administrator created at first start",
    "admin_password": "the administrator's password (default: generated at first start and kept in "
    "`DATA_DIR/admin-password`); set, it replaces the stored one at each start",
    "emergency_password": f"the password of the emergency account `{EMERGENCY_USERNAME}` (default: generated "
    "at first start and kept in `DATA_DIR/emergency-password`)",
    "token_idle_seconds": "a token expires after this long unused",
    "token_absolute_seconds": "a token expires this long after the login, used or not",
    "generate_demo": "generate a demo federation into an empty store at start; `false` as `serve --no-demo`",
    "task_pacing": "how long tasks take: `immediate`, `duration:SECONDS[:JITTER]` or `polls:N`, then "
    "per-operation overrides, e.g. `immediate,virtual_machine.clone=duration:20:0.3`",
    "task_worker": "run the background worker (tasks, policy backups, expiries) in this process",
    "max_body_bytes": "the largest request body accepted; a larger one gets 413",
}

# A setting whose option's name is not the setting's own.
OPTION_OF_SETTING = {
    "tls": "--no-tls",
    "generate_demo": "--no-demo",
    "login_failure_window_seconds": "--login-failure-window",
    "login_lockout_seconds": "--login-lockout",
}

# Variables read outside Settings: by the control client, the scripts and the tests.
OTHER_VARIABLES = {
    "OPENOVC_URL": "the server `openovc clock` and `openovc.client.ControlClient.from_environment` talk "
    "to (default `https://127.0.0.1:8443`)",
    "OPENOVC_USER": "the user they log in as (default `administrator@vsphere.local`)",
    "OPENOVC_PASSWORD": "its password",
    "OPENOVC_VENV": "the virtual environment `scripts/serve` and `scripts/test` install into (default `.venv`)",
    "OPENOVC_SERVE_SETTINGS": "internal: how `serve --workers N` hands its settings to its server "
    "processes; not to be set",
    "OPENOVC_HPE_SPEC": "tests: HPE's Swagger file (`hpe-omnistack-rest-1.25.swagger.json`) the conformance "
    "tests validate responses against (default `../shared/reference/` beside the checkout; "
    "without it they are skipped, saying so)",
    "OPENOVC_TEST_POSTGRES_URL": "tests: the PostgreSQL server the storage and integration tests use "
    "(default `postgresql://postgres@127.0.0.1:5432/postgres`)",
    "OPENOVC_REQUIRE_POSTGRES": "tests: `1` makes the PostgreSQL tests fail, not skip, when it is unreachable",
    "OPENOVC_REQUIRE_BROWSER": "tests: `1` makes the dashboard's browser tests fail, not skip, without a browser",
    "OPENOVC_FUZZ_CONFORMANCE": "tests: `0` stops the fuzz tests checking answers against the server's own "
    "OpenAPI documents (the 5xx and JSON checks stay)",
    "OPENOVC_CHROMIUM": "tests: the Chromium the dashboard's browser tests drive (default `/usr/bin/chromium`)",
    "OPENOVC_ARTIFACTS": "tests: where the browser tests put their screenshots (default `tmp`)",
}


def _cell(text: object) -> str:
    """Text for a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _invocation(action: argparse.Action) -> str:
    if not action.option_strings:
        return str(action.metavar or action.dest).upper()
    flags = ", ".join(action.option_strings)
    if action.nargs == 0:
        return flags
    value = action.metavar or action.dest.upper()
    return f"{flags} {'{' + ','.join(map(str, action.choices)) + '}' if action.choices else value}"


def _positional(action: argparse.Action) -> str:
    name = str(action.metavar or action.dest).upper()
    return f"[{name} ...]" if action.nargs in ("*", "?") else name


def _subcommands(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _command_docs(parser: argparse.ArgumentParser, summary: str, level: int) -> Iterator[str]:
    """A command's section: its usage, arguments and options, then its subcommands' sections."""
    subs = _subcommands(parser)
    shown = [
        a for a in parser._actions if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
    ]
    positionals = [a for a in shown if not a.option_strings]
    usage = " ".join([parser.prog, *(["[OPTIONS]"] if any(a.option_strings for a in shown) else [])])
    usage = " ".join([usage, *map(_positional, positionals), *([str(subs.metavar)] if subs else [])])
    yield f"{'#' * level} `{parser.prog}`"
    yield ""
    if summary:
        yield summary[0].upper() + summary[1:].rstrip(".") + "."
        yield ""
    yield f"    {usage}"
    yield ""
    groups = [(g.title or "", [a for a in g._group_actions if a in shown]) for g in parser._action_groups]
    for title, actions in groups:
        if not actions:
            continue
        if title not in ("options", "positional arguments"):
            yield f"Options for {title}:"
            yield ""
        yield "| option | what it does |" if actions[0].option_strings else "| argument | what it is |"
        yield "| --- | --- |"
        for action in actions:
            what = action.help or ""
            if action.required and action.option_strings:
                what += " (required)"
            yield f"| `{_cell(_invocation(action))}` | {_cell(what)} |"
        yield ""
    if subs is not None:
        helps = {a.dest: a.help or "" for a in subs._choices_actions}
        for name, sub in subs.choices.items():
            yield from _command_docs(sub, helps.get(name, ""), level + 1)


def undocumented(parser: argparse.ArgumentParser) -> list[str]:
    """The commands, arguments and options without a help text, as `prog name`: none should be."""
    missing: list[str] = []
    subs = _subcommands(parser)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
            continue
        if not action.help:
            missing.append(
                f"{parser.prog} {action.option_strings[0] if action.option_strings else action.dest}"
            )
    if subs is not None:
        helps = {a.dest: a.help for a in subs._choices_actions}
        for name, sub in subs.choices.items():
            if not helps.get(name):
                missing.append(sub.prog)
            missing += undocumented(sub)
    return missing


def _options_by_dest(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Every option of the command and its subcommands, by the flag that names it."""
    found: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for flag, nested in _options_by_dest(sub).items():
                    found.setdefault(flag, nested)
        for flag in action.option_strings:
            found.setdefault(flag, action)
    return found


def _default(field: FieldInfo) -> str:
    value = field.default
    if value is None:
        return "(unset)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _bounds(field: FieldInfo) -> str:
    low = next((m.ge for m in field.metadata if isinstance(m, Ge)), None)
    high = next((m.le for m in field.metadata if isinstance(m, Le)), None)
    if low is None and high is None:
        return ""
    return f" ({low if low is not None else '…'} to {high if high is not None else '…'})"


def setting_description(name: str, options: dict[str, argparse.Action]) -> tuple[str, str]:
    """The option that sets a setting (or ""), and what it means ("" when neither says)."""
    flag = OPTION_OF_SETTING.get(name, "--" + name.replace("_", "-"))
    action = options.get(flag)
    help_text = SETTING_NOTES.get(name) or (action.help if action is not None else "") or ""
    return (flag if action is not None else ""), help_text


def _settings_docs(options: dict[str, argparse.Action]) -> Iterator[str]:
    yield "| variable | default | option | what it sets |"
    yield "| --- | --- | --- | --- |"
    for name, field in Settings.model_fields.items():
        flag, what = setting_description(name, options)
        option = f"`{flag}`" if flag else ""
        variable = f"`{ENV_PREFIX}{name.upper()}`"
        yield f"| {variable} | {_default(field)}{_bounds(field)} | {option} | {_cell(what)} |"


def write_routes() -> list[tuple[str, str, str, int | None]]:
    """Every HPE route that is not a read: (method, path, operationId, the least media type version)."""
    rows: list[tuple[str, str, str, int | None]] = []
    for module in pkgutil.iter_modules(openovc.api.routes.__path__):
        router = importlib.import_module(f"{openovc.api.routes.__name__}.{module.name}").router
        for route in router.routes:
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            versions = [
                d.dependency.minimum for d in route.dependencies if isinstance(d.dependency, MediaType)
            ]
            for method in sorted((route.methods or set()) - {"GET", "HEAD"}):
                rows.append((method, route.path, route.operation_id or "", versions[0] if versions else None))
    return sorted(rows, key=lambda row: (row[1], row[0]))


def _media_type(version: int | None) -> str:
    if version is None:
        return "any (not checked)"
    if version == 0:
        return "`application/vnd.simplivity.v1+json` or any `v1.N`"
    return f"`application/vnd.simplivity.v1.{version}+json` or a later `v1.N`"


def render() -> str:
    """The whole of docs/cli.md."""
    parser = _parser()
    lines = [
        "# Command-line reference",
        "",
        f"<!-- Generated by `{REGENERATE}` from the parsers (src/openovc/cli/), the settings",
        "(src/openovc/settings.py) and the routes; tests/unit/test_cli_docs.py fails when it is out of date. -->",
        "",
        "Every command, option and environment variable of OpenOVC. After `./scripts/serve` the command is",
        "`.venv/bin/openovc` (or `openovc` once `source .venv/bin/activate`, or after `pipx install .`).",
        "",
    ]
    lines += _command_docs(parser, parser.description or "", 2)
    lines += [
        "## Environment variables",
        "",
        f"Every setting is also an environment variable, `{ENV_PREFIX}` and its name; an option given on the",
        "command line wins. A bad value stops the command with one line saying what is wrong.",
        "",
        *_settings_docs(_options_by_dest(parser)),
        "",
        "Other variables:",
        "",
        "| variable | what it is |",
        "| --- | --- |",
        *(f"| `{name}` | {_cell(what)} |" for name, what in OTHER_VARIABLES.items()),
        "",
        "## The emergency account",
        "",
        f"The local account `{EMERGENCY_USERNAME}` logs in with `grant_type={EMERGENCY_GRANT}` and only with it (as",
        "every `emergency` user does), for when the hypervisor manager is unreachable. Its password is",
        "`OPENOVC_EMERGENCY_PASSWORD`, or generated at first start into `DATA_DIR/emergency-password`; change",
        f"it with `openovc users passwd {EMERGENCY_USERNAME}`. Its tokens reach only these operations (no",
        "sorting, filtering or optional fields on the lists); anything else is 403:",
        "",
        "| method | path |",
        "| --- | --- |",
        *(
            f"| {method} | `{path}` |"
            for method, path in sorted(EMERGENCY_OPERATIONS, key=lambda o: (o[1], o[0]))
        ),
        "",
        "## Media types of the writes",
        "",
        "A write that sends a body must send `Content-Type: application/vnd.simplivity.v1.N+json` with N at",
        "least the version the operation came with (`v1+json` is N = 0); an older one, or `application/json`,",
        "gets 415. A request with no Content-Type at all is let through, since clients send body-less POSTs",
        "without one. The official Python SDK sends `v1.8` by default and a later version where an operation",
        "needs one. OpenOVC's own API under `/_openovc/` takes `application/json`.",
        "",
        "| method | path | operation | Content-Type |",
        "| --- | --- | --- | --- |",
        *(
            f"| {method} | `{path}` | {operation} | {_media_type(version)} |"
            for method, path, operation, version in write_routes()
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    """Print docs/cli.md (see REGENERATE)."""
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
