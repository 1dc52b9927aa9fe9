"""`openovc users`: list, add and remove API users, and set their groups and passwords."""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from openovc.cli.common import EXIT_OK, EXIT_USAGE, CommandError, say, settings_from, store_options
from openovc.domain.auth import Role
from openovc.settings import Settings

if TYPE_CHECKING:
    from openovc.api.deps import Runtime


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `users` command and its actions."""
    users = commands.add_parser("users", help="manage API users")
    actions = users.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list users and their roles")
    store_options(listing)
    listing.set_defaults(handler=_users_list)
    add = actions.add_parser("add", help="add a user")
    store_options(add)
    add.add_argument("name", help="the user's name, as it logs in")
    add.add_argument(
        "--role",
        required=True,
        choices=[r.value for r in Role],
        help="administrator (reads and writes), read_only, or emergency (logs in with the emergency grant only)",
    )
    add.add_argument("--password", help="the password (prompted for when omitted on a terminal)")
    add.add_argument(
        "--group", action="append", default=[], help="a vCenter group the user belongs to (repeatable)"
    )
    add.set_defaults(handler=_users_add)
    groups = actions.add_parser(
        "groups", help="set the vCenter groups a user belongs to (role assignments use them)"
    )
    store_options(groups)
    groups.add_argument("name", help="the user")
    groups.add_argument("group", nargs="*", help="the groups (none: no groups)")
    groups.set_defaults(handler=_users_groups)
    remove = actions.add_parser("remove", help="remove a user and revoke its tokens")
    store_options(remove)
    remove.add_argument("name", help="the user")
    remove.set_defaults(handler=_users_remove)
    passwd = actions.add_parser("passwd", help="change a user's password")
    store_options(passwd)
    passwd.add_argument("name", help="the user (svtcli for the emergency account)")
    passwd.add_argument("--password", help="the new password (prompted for when omitted on a terminal)")
    passwd.set_defaults(handler=_users_passwd)


def _password(args: argparse.Namespace, command: str) -> str:
    if args.password is not None:
        password: str = args.password
    elif sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Repeat it: ") != password:
            raise CommandError("the passwords do not match", EXIT_USAGE)
    else:
        raise CommandError(
            f"users {command}: --password is required when stdin is not a terminal", EXIT_USAGE
        )
    if not password:
        raise CommandError("the password must not be empty", EXIT_USAGE)
    return password


def _with_runtime(args: argparse.Namespace, action: Callable[[Runtime, Settings], int]) -> int:
    from openovc.bootstrap import open_runtime

    settings = settings_from(args)
    rt = open_runtime(settings)
    try:
        return action(rt, settings)
    finally:
        rt.storage.dispose()


def _users_list(args: argparse.Namespace) -> int:
    def run(rt: Runtime, _config: Settings) -> int:
        users = rt.auth.store.list_users()
        width = max((len(name) for name, _ in users), default=0)
        for name, role in users:
            groups = ", ".join(rt.auth.store.user_groups(name) or [])
            say(f"{name:<{width}}  {role}" + (f"  groups: {groups}" if groups else ""))
        return EXIT_OK

    return _with_runtime(args, run)


def _users_add(args: argparse.Namespace) -> int:
    password = _password(args, "add")

    def run(rt: Runtime, _config: Settings) -> int:
        if not rt.auth.ensure_user(args.name, password, Role(args.role)):
            raise CommandError(f"user already exists: {args.name}")
        if args.group:
            rt.auth.store.set_user_groups(args.name, list(dict.fromkeys(args.group)))
        say(f"Added user {args.name} ({args.role})")
        return EXIT_OK

    return _with_runtime(args, run)


def _users_groups(args: argparse.Namespace) -> int:
    def run(rt: Runtime, _config: Settings) -> int:
        groups = list(dict.fromkeys(args.group))
        if not rt.auth.store.set_user_groups(args.name, groups):
            raise CommandError(f"no such user: {args.name}")
        say(f"User {args.name} is in groups: {', '.join(groups) or '(none)'}")
        return EXIT_OK

    return _with_runtime(args, run)


def _users_remove(args: argparse.Namespace) -> int:
    def run(rt: Runtime, _config: Settings) -> int:
        if not rt.auth.store.delete_user(args.name):
            raise CommandError(f"no such user: {args.name}")
        say(f"Removed user {args.name}")
        return EXIT_OK

    return _with_runtime(args, run)


def _users_passwd(args: argparse.Namespace) -> int:
    def run(rt: Runtime, settings: Settings) -> int:
        from openovc.bootstrap import accounts, forget_generated_password

        current = rt.auth.store.user(args.name)
        if current is None:
            raise CommandError(f"no such user: {args.name}")
        password = _password(args, "passwd")
        rt.auth.set_user(args.name, password, Role(current[1]))
        say(f"Changed the password of {args.name}")
        for account in accounts(settings):
            if args.name == account.username and forget_generated_password(account.path):
                say(f"Removed {account.path}, which held the old password")
        return EXIT_OK

    return _with_runtime(args, run)
