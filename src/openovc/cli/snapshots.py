"""`openovc snapshots save|list|restore|delete|export|import` and `openovc reset`, on a running server."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from openovc.cli.clock import connection_options
from openovc.cli.common import EXIT_OK, EXIT_USAGE, CommandError, say
from openovc.client import ControlClient, ControlError, Restored, Snapshot

SUFFIX = ".openovc-snapshot"


def add_command(commands: Any) -> None:
    snapshots = commands.add_parser("snapshots", help="save, list, restore, export and import snapshots")
    actions = snapshots.add_subparsers(dest="action", required=True, metavar="ACTION")
    save = actions.add_parser("save", help="save the whole federation (objects, tasks, clock) under a name")
    save.add_argument("name", help="1 to 64 letters, digits, '.', '_' or '-'")
    listed = actions.add_parser("list", help="the saved snapshots")
    restore = actions.add_parser("restore", help="replace the federation by a snapshot's")
    restore.add_argument("name", help="a saved snapshot")
    delete = actions.add_parser("delete", help="delete a saved snapshot")
    delete.add_argument("name", help="a saved snapshot")
    export = actions.add_parser("export", help="write a snapshot to a file")
    export.add_argument("name", help="a saved snapshot")
    export.add_argument("-o", "--output", help=f"the file (default NAME{SUFFIX}; - for standard output)")
    imported = actions.add_parser("import", help="keep a snapshot file (from this or another server)")
    imported.add_argument("file", type=Path, help="a file `snapshots export` wrote")
    imported.add_argument("--name", help="keep it under this name (default: the name it was saved under)")
    for parser in (save, listed, restore, delete, export, imported):
        connection_options(parser)
        parser.set_defaults(handler=_snapshots)
    reset = commands.add_parser("reset", help="put back the federation init or the first start made")
    connection_options(reset)
    reset.set_defaults(handler=_reset)


def _client(args: argparse.Namespace) -> ControlClient:
    return ControlClient.from_environment(url=args.url, user=args.user, password=args.password)


def _snapshots(args: argparse.Namespace) -> int:
    try:
        client = _client(args)
        if args.action == "save":
            _saved("Saved", client.save_snapshot(args.name))
        elif args.action == "list":
            _list(client.snapshots())
        elif args.action == "restore":
            _restored(client.restore_snapshot(args.name))
        elif args.action == "delete":
            gone = client.delete_snapshot(args.name)
            say(f"Deleted {gone.name}")
        elif args.action == "export":
            _export(client, args.name, args.output)
        else:
            _import(client, args.file, args.name)
    except ControlError as refused:
        raise CommandError(refused.message) from None
    return EXIT_OK


def _reset(args: argparse.Namespace) -> int:
    try:
        _restored(_client(args).reset())
    except ControlError as refused:
        raise CommandError(refused.message) from None
    return EXIT_OK


def _objects(counts: dict[str, int]) -> str:
    return (
        f"{counts.get('virtual_machines', 0)} virtual machines, {counts.get('backups', 0)} backups, "
        f"{counts.get('tasks', 0)} tasks"
    )


def _saved(verb: str, snapshot: Snapshot) -> None:
    say(
        f"{verb} {snapshot.name}: {_objects(snapshot.counts)}; clock {snapshot.clock_now} "
        f"({snapshot.clock_mode}); {snapshot.rows} rows, {snapshot.size} bytes"
    )


def _list(found: list[Snapshot]) -> None:
    if not found:
        say("No snapshots")
        return
    for snapshot in found:
        say(
            f"{snapshot.name}  saved {snapshot.created_at}  clock {snapshot.clock_now} ({snapshot.clock_mode})  "
            f"{_objects(snapshot.counts)}  {snapshot.size} bytes"
        )


def _restored(restored: Restored) -> None:
    say(
        f"Restored {restored.name}: {_objects(restored.counts)}; {restored.rows} rows; "
        f"clock {restored.clock_now} ({restored.clock_mode})"
    )


def _export(client: ControlClient, name: str, output: str | None) -> None:
    data = client.export_snapshot(name)
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    path = Path(output or f"{name}{SUFFIX}")
    try:
        path.write_bytes(data)
    except OSError as problem:
        raise CommandError(f"cannot write {path}: {problem.strerror or problem}") from None
    say(f"Exported {name} to {path} ({len(data)} bytes)")


def _import(client: ControlClient, file: Path, name: str | None) -> None:
    try:
        data = file.read_bytes()
    except OSError as problem:
        raise CommandError(f"cannot read {file}: {problem.strerror or problem}", EXIT_USAGE) from None
    _saved("Imported", client.import_snapshot(data, name))
