"""`openovc clock show | advance DURATION | set TIME`: the simulator's clock of a running server."""

from __future__ import annotations

import argparse
from typing import Any

from openovc.cli.common import EXIT_OK, CommandError, say
from openovc.client import ClockMove, ControlClient, ControlError


def connection_options(parser: argparse.ArgumentParser) -> None:
    """Which running server a control command talks to, and as whom."""
    parser.add_argument("--url", help="the server (default $OPENOVC_URL or https://127.0.0.1:8443)")
    parser.add_argument(
        "--user", help="an administrator (default $OPENOVC_USER or administrator@vsphere.local)"
    )
    parser.add_argument("--password", help="its password (default $OPENOVC_PASSWORD)")


def add_command(commands: Any) -> None:
    clock = commands.add_parser("clock", help="show or move the simulated clock of a running server")
    actions = clock.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = actions.add_parser("show", help="the clock's mode and simulated now")
    advance = actions.add_parser("advance", help="move the clock on, e.g. 90s, 15m, 6h, 7d")
    advance.add_argument("duration", help="how far: seconds, or a number with s, m, h, d or w")
    to = actions.add_parser("set", help="move the clock on to an instant, e.g. 2027-02-01T00:00:00Z")
    to.add_argument("time", help="an ISO 8601 time with its offset")
    for parser in (show, advance, to):
        connection_options(parser)
        parser.set_defaults(handler=_clock)


def _clock(args: argparse.Namespace) -> int:
    try:
        client = ControlClient.from_environment(url=args.url, user=args.user, password=args.password)
        if args.action == "show":
            reading = client.clock()
            lag = reading.schedule_lag_seconds
            say(
                f"{reading.now}  ({reading.mode})"
                + ("" if lag is None else f"  schedule behind by {lag:g} s")
            )
        elif args.action == "advance":
            _report(client.advance(args.duration))
        else:
            _report(client.set_clock(args.time))
    except ControlError as refused:
        raise CommandError(refused.message) from None
    return EXIT_OK


def _report(moved: ClockMove) -> None:
    say(f"{moved.now}  ({moved.mode})")
    say(
        f"backups taken {moved.backups_taken}, expired {moved.backups_expired}; "
        f"tasks completed {moved.tasks_completed}"
    )
