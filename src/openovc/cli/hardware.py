"""`openovc hardware drive|host|controller ...`: a running server's hardware faults (/_openovc/hardware)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from openovc.cli.clock import connection_options
from openovc.cli.common import EXIT_OK, CommandError, say
from openovc.client import ControlClient, ControlError, HardwareChange

# (part, action) -> the client's method, and what it does, for --help.
_ACTIONS = {
    ("drive", "fail"): ("fail_drive", "a drive fails: its array degrades, the host's capacity shrinks"),
    ("drive", "repair"): ("repair_drive", "the failed drive is replaced"),
    ("host", "fail"): ("fail_host", "the host fails: FAULTY, its VMs restart on their other replica's host"),
    ("host", "repair"): ("repair_host", "the failed host is back: ALIVE, its replicas resync"),
    ("controller", "shutdown"): ("shutdown_controller", "the host's Virtual Controller stops at once"),
    ("controller", "restart"): ("restart_controller", "a Virtual Controller that shut down runs again"),
}


def add_command(commands: Any) -> None:
    hardware = commands.add_parser("hardware", help="fail and repair drives, hosts and Virtual Controllers")
    parts = hardware.add_subparsers(dest="part", required=True, metavar="PART")
    helps = {"drive": "a host's physical drive", "host": "a whole host", "controller": "a host's controller"}
    actions: dict[str, Any] = {}
    for (part, action), (_, text) in _ACTIONS.items():
        if part not in actions:
            actions[part] = parts.add_parser(part, help=helps[part]).add_subparsers(
                dest="action", required=True, metavar="ACTION"
            )
        parser = actions[part].add_parser(action, help=text)
        parser.add_argument("host", help="the host's id")
        if part == "drive":
            parser.add_argument("slot", help="the drive's slot, as GET /api/hosts/{id}/hardware shows it")
        parser.add_argument("--json", action="store_true", help="the answer as the API gives it")
        connection_options(parser)
        parser.set_defaults(handler=_hardware)


def _hardware(args: argparse.Namespace) -> int:
    method, _ = _ACTIONS[(args.part, args.action)]
    try:
        client = ControlClient.from_environment(url=args.url, user=args.user, password=args.password)
        given = (args.host, args.slot) if args.part == "drive" else (args.host,)
        change: HardwareChange = getattr(client, method)(*given)
    except ControlError as refused:
        raise CommandError(refused.message) from None
    if args.json:
        fields = asdict(change)
        drive = fields.pop("drive")
        shown = {"drive": drive, **fields} if drive is not None else fields  # in the API's order
        say(json.dumps(shown, indent=2))
    else:
        for line in report(change):
            say(line)
    return EXIT_OK


def report(change: HardwareChange) -> list[str]:
    """The change in a few lines: the drive, the host, its cluster, the VMs, the resyncs."""
    host, cluster, vms, resync = change.host, change.omnistack_cluster, change.virtual_machines, change.resync
    lines = []
    if change.drive is not None:
        drive = change.drive
        line = f"drive {drive['slot']} ({drive['drive_position']}): {drive['health']} {drive['status']}"
        if drive.get("rebuilt_at"):
            line += f", rebuilt at {drive['rebuilt_at']}"
        lines.append(line)
    lines += [
        f"host {host['name']}: {host['state']}, hardware {host['hardware_status']}, controller shutdown "
        f"{host['virtual_controller_shutdown_status']}, allocated {host['allocated_capacity']} bytes "
        f"({change.capacity_change:+d}), free {host['free_space']}",
        f"cluster {cluster['name']}: allocated {cluster['allocated_capacity']} bytes, "
        f"free {cluster['free_space']}",
        "virtual machines now " + ", ".join(f"{k} {v}" for k, v in vms.items()),
    ]
    if resync["virtual_machines"]:
        lines.append(
            f"resyncing {resync['virtual_machines']} virtual machines, {resync['bytes']} bytes, "
            f"done at {resync['done_at']}"
        )
    return lines
