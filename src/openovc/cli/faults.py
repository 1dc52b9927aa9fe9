"""`openovc faults add|list|remove|clear` and `openovc pacing show|set|reset`: a running server's fault
rules and task pacing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from openovc.cli.clock import connection_options
from openovc.cli.common import EXIT_OK, EXIT_USAGE, CommandError, say
from openovc.client import ControlClient, ControlError, Fault, TaskPacing


def read_rules(path: Path) -> list[object]:
    """The rules of a file: one rule, a list of them, or what `GET /_openovc/faults` answers."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except OSError as problem:
        raise CommandError(f"cannot read {path}: {problem.strerror or problem}", EXIT_USAGE) from None
    except ValueError as problem:
        raise CommandError(f"{path} is not JSON: {problem}", EXIT_USAGE) from None
    return _rules(found, str(path))


def _rules(found: object, where: str) -> list[object]:
    if isinstance(found, dict) and isinstance(found.get("faults"), list):
        # A saved listing: the server's own figures (id, fired) are not part of a rule.
        listed = found["faults"]
        return [
            {k: v for k, v in r.items() if k not in ("id", "fired")} if isinstance(r, dict) else r
            for r in listed
        ]
    if isinstance(found, list):
        return found
    if isinstance(found, dict):
        return [found]
    raise CommandError(f"{where}: expected a rule (a JSON object) or a list of rules", EXIT_USAGE)


def add_command(commands: Any) -> None:
    faults = commands.add_parser("faults", help="add, list or remove the fault rules of a running server")
    actions = faults.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add rules, from JSON or a file")
    source = add.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "rule", nargs="?", help='a rule as JSON, e.g. \'{"match": {"operation": "cloneVm"}, ...}\''
    )
    source.add_argument(
        "--file", type=Path, help="a file of rules (one, a list, or a saved `faults list --json`)"
    )
    listing = actions.add_parser("list", help="the rules, oldest first, with how often each fired")
    listing.add_argument("--json", action="store_true", help="as the API answers them")
    remove = actions.add_parser("remove", help="remove one rule")
    remove.add_argument("id", help="the rule's id")
    clear = actions.add_parser("clear", help="remove every rule")
    for parser in (add, listing, remove, clear):
        connection_options(parser)
        parser.set_defaults(handler=_faults)

    pacing = commands.add_parser("pacing", help="show or change how long a running server's tasks take")
    steps = pacing.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = steps.add_parser("show", help="the default pacing and the operations with their own")
    put = steps.add_parser("set", help="replace it, e.g. `set immediate virtual_machine.clone=duration:20`")
    put.add_argument("default", help="immediate, duration:SECONDS[:JITTER] or polls:N")
    put.add_argument("operations", nargs="*", metavar="OPERATION=PACING", help="an operation's own pacing")
    reset = steps.add_parser("reset", help="back to the pacing the servers started with")
    for parser in (show, put, reset):
        connection_options(parser)
        parser.set_defaults(handler=_pacing)


def _client(args: argparse.Namespace) -> ControlClient:
    return ControlClient.from_environment(url=args.url, user=args.user, password=args.password)


def _faults(args: argparse.Namespace) -> int:
    if args.action == "add":
        rules = read_rules(args.file) if args.file else _rules(_parsed(args.rule), "the rule")
    try:
        client = _client(args)
        if args.action == "add":
            for rule in rules:
                if not isinstance(rule, dict):
                    raise CommandError(f"expected a rule (a JSON object), got {rule!r}", EXIT_USAGE)
                say(f"added {_line(client.add_fault(rule))}")
        elif args.action == "list":
            found = client.faults()
            if args.json:
                shown = [{**f.rule, "id": f.id, "fired": f.fired} for f in found]
                say(json.dumps({"faults": shown}, indent=2))
            for fault in [] if args.json else found:
                say(_line(fault))
        elif args.action == "remove":
            say(f"removed {_line(client.remove_fault(args.id))}")
        else:
            say(f"removed {client.clear_faults()} rules")
    except ControlError as refused:
        raise CommandError(refused.message) from None
    return EXIT_OK


def _parsed(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError as problem:
        raise CommandError(f"the rule is not JSON: {problem}", EXIT_USAGE) from None


def _line(fault: Fault) -> str:
    rule = json.dumps(fault.rule, separators=(",", ":"))
    return f"{fault.id}  fired {fault.fired}  {rule}"


def _pacing(args: argparse.Namespace) -> int:
    try:
        client = _client(args)
        if args.action == "show":
            _report(client.pacing())
        elif args.action == "set":
            _report(client.set_pacing(args.default, _operations(args.operations)))
        else:
            _report(client.reset_pacing())
    except ControlError as refused:
        raise CommandError(refused.message) from None
    return EXIT_OK


def _operations(given: list[str]) -> dict[str, str]:
    operations = {}
    for each in given:
        name, sep, pacing = each.partition("=")
        if not sep or not name:
            raise CommandError(f"expected OPERATION=PACING, got {each!r}", EXIT_USAGE)
        operations[name] = pacing
    return operations


def _report(pacing: TaskPacing) -> None:
    source = "set at run time" if pacing.set_at_run_time else "as started"
    say(f"default {pacing.default}  ({source})")
    for name, each in pacing.operations.items():
        say(f"{name} {each}")
