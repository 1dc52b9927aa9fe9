"""The `openovc` command: serve the API, initialise the store, manage users, move the simulated clock,
set fault rules and task pacing, save and restore snapshots, fail and repair the hardware."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from openovc import __version__
from openovc.cli import clock, faults, hardware, init, serve, snapshots, tasks, users
from openovc.cli.common import EXIT_ERROR, CommandError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="openovc", description="An emulator of the HPE OmniStack REST API.")
    parser.add_argument("--version", action="version", version=f"openovc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_command(commands)
    init.add_command(commands)
    users.add_command(commands)
    clock.add_command(commands)
    faults.add_command(commands)
    snapshots.add_command(commands)
    hardware.add_command(commands)
    tasks.add_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The `openovc` command (the console script and `python -m openovc`): its exit status."""
    args = _parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    # Imported once a command runs (every command opens the store): --help and --version need not load it.
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
