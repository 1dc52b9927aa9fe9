"""`openovc tasks`: the federation's tasks of a running server, newest first (GET /_openovc/tasks).

One line a task: its id, state, operation, start time and affected objects (or `-`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from openovc.cli.clock import connection_options
from openovc.cli.common import EXIT_OK, CommandError, say
from openovc.client import ControlClient, ControlError


def add_command(commands: Any) -> None:
    tasks = commands.add_parser("tasks", help="list the tasks of a running server's federation, newest first")
    tasks.add_argument("--state", help="a comma list of IN_PROGRESS, COMPLETED, FAILED")
    tasks.add_argument("--operation", help="an operation as pacing names it, e.g. virtual_machine.clone")
    tasks.add_argument("--limit", type=int, help="how many, 1 to 500 (default 50)")
    tasks.add_argument("--since", help="an ISO instant of the federation's clock")
    tasks.add_argument("--json", action="store_true", help="as the API answers them")
    connection_options(tasks)
    tasks.set_defaults(handler=_tasks)


def _tasks(args: argparse.Namespace) -> int:
    try:
        client = ControlClient.from_environment(url=args.url, user=args.user, password=args.password)
        found = client.tasks(args.state, args.operation, args.limit, args.since)
    except ControlError as refused:
        raise CommandError(refused.message) from None
    if args.json:
        say(json.dumps({"tasks": found}, indent=2))
        return EXIT_OK
    for task in found:
        affected = ",".join(
            f"{o['object_type']}:{o['object_id']}" for o in task.get("affected_objects") or []
        )
        say(f"{task['id']} {task['state']} {task['operation']} {task['start_time']} {affected or '-'}")
    return EXIT_OK
