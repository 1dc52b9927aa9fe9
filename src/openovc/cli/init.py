"""`openovc init`: generate a federation, or load an inventory file, into the store."""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from openovc import collector
from openovc.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    database_label,
    say,
    settings_from,
    store_options,
)
from openovc.cli.progress import add_progress_option, progress_for
from openovc.simulator.federation import FederationSpec

_SPEC_COUNTS = (
    ("clusters", "clusters"),
    ("hosts_per_cluster", "hosts per cluster"),
    ("datastores", "datastores in total"),
    ("vms", "virtual machines in total"),
    ("policies", "backup policies"),
    ("backups", "backups in total"),
    ("cluster_groups", "cluster groups"),
    ("external_stores", "external stores"),
)


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `init` command and its options."""
    init = commands.add_parser(
        "init", help="generate a federation (or load an inventory file) into the store"
    )
    store_options(init)
    init.add_argument("--seed", type=int, help="generator seed (default 1)")
    for name, what in _SPEC_COUNTS:
        init.add_argument(f"--{name.replace('_', '-')}", type=int, metavar="N", help=f"number of {what}")
    init.add_argument("--largest", action="store_true", help="start from the largest supported federation")
    init.add_argument(
        "--inventory", type=Path, metavar="FILE", help="load this YAML or JSON inventory instead"
    )
    init.add_argument("--force", action="store_true", help="replace a federation already in the store")
    init.add_argument(
        "--loopback-addresses",
        action="store_true",
        help="give hosts management addresses in 127.0.0.0/8 (127.0.1.1, ...), one each, for "
        "`serve --controller-per-host`",
    )
    add_progress_option(init)
    init.set_defaults(handler=_init)


# Ten times the largest supported federation's (`--largest`): a count beyond would have the generator run
# for hours and fill the memory; FederationSpec checks how counts fit together.
_MAX_COUNTS = {name: 10 * getattr(FederationSpec.largest(), name) for name, _ in _SPEC_COUNTS}
_MAX_SEED = 2**63 - 1


def _spec(args: argparse.Namespace) -> FederationSpec:
    base = FederationSpec.largest() if args.largest else FederationSpec.demo()
    changes: dict[str, int] = {name: getattr(args, name) for name, _ in _SPEC_COUNTS}
    changes = {k: v for k, v in changes.items() if v is not None}
    for name, value in changes.items():
        if not 0 <= value <= _MAX_COUNTS[name]:
            flag = "--" + name.replace("_", "-")
            raise CommandError(
                f"invalid federation size: {flag} must be between 0 and {_MAX_COUNTS[name]}", EXIT_USAGE
            )
    if args.seed is not None:
        if not 0 <= args.seed <= _MAX_SEED:
            raise CommandError(f"invalid seed: --seed must be between 0 and {_MAX_SEED}", EXIT_USAGE)
        changes["seed"] = args.seed
    try:
        return replace(base, **changes)
    except ValueError as exc:
        raise CommandError(f"invalid federation size: {exc}", EXIT_USAGE) from None


def _init(args: argparse.Namespace) -> int:
    from openovc.bootstrap import install_federation, open_runtime

    if args.inventory is not None:
        given = [name for name, _ in _SPEC_COUNTS if getattr(args, name) is not None]
        if given or args.largest or args.seed is not None:
            raise CommandError("--inventory cannot be combined with --seed, --largest or counts", EXIT_USAGE)
        if not args.inventory.is_file():
            raise CommandError(f"inventory file not found: {args.inventory}", EXIT_USAGE)
    spec = None if args.inventory is not None else _spec(args)
    settings = settings_from(args)
    rt = open_runtime(settings)
    try:
        exists = not rt.storage.is_empty()
        if exists and not args.force:
            raise CommandError(
                f"a federation already exists in {database_label(settings)}; use --force to replace it",
                EXIT_USAGE,
            )
        started = time.perf_counter()
        now = rt.clock.now()
        # The collector paused (collector.py): a federation's build, load and snapshot make millions of
        # objects that live until the command ends and almost no cycles; its passes were a tenth of the CPU.
        with progress_for(args) as progress, collector.paused():
            # Built before anything is cleared, so that a bad inventory leaves the old federation in place.
            if spec is None:
                from openovc.simulator.generator.inventory_file import load_inventory

                try:
                    federation = load_inventory(
                        args.inventory, now, progress, loopback_addresses=args.loopback_addresses
                    )
                except ValueError as exc:  # its message starts with the file's path
                    raise CommandError(f"invalid inventory: {exc}") from None
                source = "inventory"
            else:
                from openovc.simulator.generator.generator import generate

                federation = generate(spec, now, progress, loopback_addresses=args.loopback_addresses)
                source = "generated"
            if exists:
                progress.phase("Clearing the old federation")
                rt.storage.clear_federation()
            install_federation(
                rt,
                federation,
                source=source,
                generated_at=now,
                spec=spec,
                inventory=args.inventory,
                progress=progress,
            )
        elapsed = time.perf_counter() - started
    finally:
        rt.storage.dispose()
    counts = ", ".join(f"{len(rows)} {name}" for name, rows in federation.rows.items())
    origin = f"from {args.inventory}" if spec is None else f"with seed {spec.seed}"
    say(f"Loaded a federation {origin} into {database_label(settings)} in {elapsed:.2f} s: {counts}")
    return EXIT_OK
