"""The `openovc` command: serve the API, initialise the store, manage users, move the simulated clock,
set fault rules and task pacing, save and restore snapshots, fail and repair the hardware."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from openovc import __version__, collector

# The modules that add the commands (openovc.cli.NAME), in the order `openovc --help` lists them.
MODULES = ("serve", "init", "users", "clock", "faults", "snapshots", "hardware", "tasks")
# The commands a module adds besides the one named after it.
_MODULE_OF = {"pacing": "faults", "reset": "snapshots"}


def _parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser; for `argv` naming a command, with that command's module alone imported
    (the others import the control client, the generator...): `openovc serve` starts sooner."""
    parser = argparse.ArgumentParser(prog="openovc", description="An emulator of the HPE OmniStack REST API.")
    parser.add_argument("--version", action="version", version=f"openovc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    named = _MODULE_OF.get(argv[0], argv[0]) if argv else None
    for name in (named,) if named in MODULES else MODULES:
        importlib.import_module(f"openovc.cli.{name}").add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The `openovc` command (the console script and `python -m openovc`): its exit status."""
    given = sys.argv[1:] if argv is None else list(argv)
    with collector.paused():  # the command's imports (collector.py)
        args = _parser(given).parse_args(given)
    handler: Callable[[argparse.Namespace], int] = args.handler
    # Imported once a command runs (every command opens the store): --help and --version need not load it.
    from openovc.cli.common import EXIT_ERROR, CommandError
    from openovc.storage.store import StoreUnavailable

    try:
        return handler(args)
    except CommandError as exc:
        print(f"openovc: {exc.message}", file=sys.stderr, flush=True)
        return exc.code
    except StoreUnavailable as exc:
        # An unreachable or unopenable database is the operator's to fix: say so without a traceback.
        print(f"openovc: cannot use the database: {_one_line(exc.orig)}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    except Exception as exc:
        # The database library refusing what the URL asks (an unknown connection option...) is the
        # operator's to fix too; anything else is a bug, whose traceback is wanted.
        if type(exc).__module__.partition(".")[0] not in ("sqlalchemy", "psycopg"):
            raise
        cause = getattr(exc, "orig", None) or exc
        print(f"openovc: cannot use the database: {_one_line(cause)}", file=sys.stderr, flush=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


def _one_line(problem: object) -> str:
    """libpq's messages run over several lines; the operator gets one."""
    return " ".join(str(problem).split())
