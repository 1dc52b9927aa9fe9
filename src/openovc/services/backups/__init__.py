"""Backup operations as tasks, the life of a backup being taken or sent, expiry, and browsing its files.

A backup's life
---------------
Unless the operation's pacing is a duration (realistic timing), a new backup or copy is PROTECTED
when its task completes. With a duration, the task registers the backup, which then lives through the
real states: NEW while its controller registers it, SAVING while it is taken and, for a remote
cluster or an external store, sent (for a time proportional to the unique data it sends, which the
simulator works out), then PROTECTED. Cancel ends a backup that is NEW or SAVING as CANCELED, with what
it had sent so far.

Nothing is stored for this beyond the backup's own fields: it began at its unique_size_timestamp (the
moment its unique data was measured, which is when it was taken, or when a copy started), and the
time it takes follows from its size, unique data, consistency and destination. So every reader of a
backup can tell where it is now; `settle` writes it down (the worker calls it), and every operation
settles the backups it touches first.

A backup expires at its expiration_time (`NA`: never, as after lock or with retention 0) and the
server removes it then. A backup outlives its VM and shows the VM's state.
"""

from __future__ import annotations

from openovc.domain.ports.simulator import Simulator
from openovc.operations.engine import Handler
from openovc.services.backups import lifecycle, restoring, taking
from openovc.services.backups.browsing import files, partitions, virtual_disks
from openovc.services.backups.checks import as_of
from openovc.services.backups.lifecycle import (
    calculate_unique_size,
    cancel,
    delete,
    housekeeping,
    lock,
    rename,
    set_retention,
    settle,
)
from openovc.services.backups.restoring import restore, restore_files
from openovc.services.backups.taking import backup_vm, copy


def handlers(sim: Simulator) -> dict[str, Handler]:
    return {**taking.handlers(sim), **lifecycle.handlers(sim), **restoring.handlers(sim)}


__all__ = [
    "as_of", "backup_vm", "calculate_unique_size", "cancel", "copy", "delete", "files", "handlers",
    "housekeeping", "lock", "partitions", "rename", "restore", "restore_files", "set_retention", "settle",
    "virtual_disks",
]  # fmt: skip
