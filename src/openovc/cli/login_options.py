"""`serve` options for the login lockout and the cap on concurrent password checks."""

from __future__ import annotations

import argparse
from typing import Any


def add_login_options(parser: argparse.ArgumentParser) -> None:
    """The lockout policy (per account and source address) and the password-check cap."""
    group = parser.add_argument_group("logins")
    group.add_argument(
        "--login-max-failures",
        type=int,
        metavar="N",
        help="bad logins from one address within the window that lock that account for it (default 5)",
    )
    group.add_argument(
        "--login-failure-window",
        type=int,
        metavar="SECONDS",
        help="the window the failures are counted in, from the first (default 180)",
    )
    group.add_argument(
        "--login-lockout", type=int, metavar="SECONDS", help="how long a lockout lasts (default 300)"
    )
    group.add_argument(
        "--login-concurrency",
        type=int,
        metavar="N",
        help="password checks each server process runs at once; more logins get 503 (default 2)",
    )


def login_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings these options give (None: not given, the environment or the default decides)."""
    return {
        "login_max_failures": args.login_max_failures,
        "login_failure_window_seconds": args.login_failure_window,
        "login_lockout_seconds": args.login_lockout,
        "login_concurrency": args.login_concurrency,
    }
