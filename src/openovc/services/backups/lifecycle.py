"""A backup's life after it is taken: delete, lock, rename, retention, cancel, unique size, and expiry."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from openovc.domain import timefmt
from openovc.domain.backups import CANCELED, IN_FLIGHT, in_cluster, kept_at
from openovc.domain.catalog import BACKUPS, CLUSTER_GROUPS
from openovc.domain.clock import Clock
from openovc.domain.errors import InvalidBody
from openovc.domain.fields import Op
from openovc.domain.ports.federation import FederationReader, Pager, Record, Txn
from openovc.domain.ports.operations_store import OperationsStore
from openovc.domain.ports.simulator import Simulator
from openovc.domain.query import MAX_LIMIT, CollectionQuery, Condition
from openovc.domain.records import Backup
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.backups.checks import (
    NO_BACKUP_IDS,
    affected,
    as_of,
    current,
    found,
    not_in_flight,
    protected,
    refused_now,
)
from openovc.services.common import stamp, valid_name

# ---- settling: progress and expiry, for every reader ------------------------------------------------


def _ids(reader: Pager, condition: Condition, limit: int = MAX_LIMIT) -> list[str]:
    # Sorted on the filtered field, so that its index serves both: an idle turn reads a few index pages.
    query = CollectionQuery(conditions=(condition,), limit=limit, sort=condition.field, descending=False)
    return [str(row[0]) for row in reader.page(BACKUPS, query, ("id",)).rows]


@dataclass(frozen=True)
class Settled:
    """What settling did: backups removed as expired, and backups whose progress was written."""

    expired: int = 0
    progressed: int = 0


def expiring(reader: Pager, now: datetime, limit: int = MAX_LIMIT) -> list[str]:
    """The backups whose expiration time has come by `now`, oldest first (up to `limit`): one indexed
    read, each checked again where it is removed (it may have been locked meanwhile)."""
    return _ids(reader, Condition("expiration_time", Op.BEFORE, (stamp(now),)), limit)


def candidates(reader: Pager, now: datetime, limit: int = MAX_LIMIT) -> list[str]:
    """The backups that may need settling as of `now`: up to `limit` expiring, and up to MAX_LIMIT being
    taken or sent.

    Two indexed reads, so an idle server only reads; each is checked again where it is settled.
    """
    moving = _ids(reader, Condition("state", Op.MATCH, IN_FLIGHT))
    return list(dict.fromkeys([*expiring(reader, now, limit), *moving]))


def settle_in(txn: Txn, sim: Simulator, backup_ids: list[str], now: datetime) -> Settled:
    """Settle these backups in the caller's transaction: expired ones go, the others' progress is written."""
    gone = _expire(txn, sim, backup_ids, now)
    # Progress by the fields it sets (a state, or the whole arrival), each group in one statement.
    progress: dict[tuple[str, ...], list[tuple[str, Record]]] = {}
    for backup in sorted(
        txn.get_many(BACKUPS, [b for b in backup_ids if b not in gone]), key=lambda b: b["id"]
    ):
        changed = sim.backup_progress(txn, backup, now)
        if changed:
            progress.setdefault(tuple(changed), []).append((backup["id"], changed))
    for changes in progress.values():
        txn.update_each(BACKUPS, changes)
    return Settled(len(gone), sum(len(c) for c in progress.values()))


def _expire(txn: Txn, sim: Simulator, backup_ids: list[str], now: datetime) -> set[str]:
    # Checked and deleted by one statement, no row read: stored times are whole seconds in one format, so
    # their text sorts as their time does.
    gone = sorted(txn.delete_at_most(BACKUPS, backup_ids, "expiration_time", stamp(now)))
    if gone:
        sim.delete_backups(txn, gone)
    return set(gone)


def settle(reader: FederationReader, store: OperationsStore, sim: Simulator, now: datetime) -> Settled:
    """Write down the progress of backups being taken or sent, and remove expired ones."""
    found = candidates(reader, now)
    if not found:
        return Settled()
    with store.changing() as (txn, _):
        return settle_in(txn, sim, found, now)


def housekeeping(
    reader: FederationReader, store: OperationsStore, sim: Simulator, clock: Clock
) -> Callable[[], int]:
    """The worker's chore: settle the backups as of the clock's now."""

    def run() -> int:
        settled = settle(reader, store, sim, clock.now())
        return settled.expired + settled.progressed

    return run


# ---- delete -------------------------------------------------------------------------------------------


def delete(
    reader: FederationReader,
    tasks: TaskEngine,
    sim: Simulator,
    backup_ids: Sequence[str],
    cluster_group_id: str | None = None,
) -> Record:
    """One task for one or many backups."""
    if not backup_ids:
        raise InvalidBody(NO_BACKUP_IDS.format("delete"))
    now = tasks.clock.now()
    ids = list(dict.fromkeys(backup_ids))
    if cluster_group_id:
        with refused_now():
            found(reader, CLUSTER_GROUPS, cluster_group_id)
    backups = []
    with refused_now():
        for backup_id in ids:
            backups.append(as_of(reader, sim, backup_id, now))
            not_in_flight(backups[-1])
    # It writes the backups, and the content and figures of the places that keep them (a backup stays
    # where it was made: a copy is another backup).
    places = list(dict.fromkeys(kept_at(b) for b in backups))
    return tasks.submit("backup.delete", {"backups": ids}, ids, scope=[*ids, *places])


def _run_delete(sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    ids = [str(i) for i in payload["backups"]]
    for backup_id in ids:
        not_in_flight(current(sim, txn, backup_id, now))
    for backup_id in ids:
        txn.delete(BACKUPS, backup_id)
    sim.delete_backups(txn, ids)
    return affected(ids)


# ---- lock and rename -------------------------------------------------------------------------------


def lock(reader: FederationReader, tasks: TaskEngine, sim: Simulator, backup_id: str) -> Record:
    as_of(reader, sim, backup_id, tasks.clock.now())
    return tasks.submit("backup.lock", {"backup": backup_id}, [backup_id])


def _run_lock(sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    backup = current(sim, txn, payload["backup"], now)
    # A locked backup never expires: its expiration_time reads NA, as with retention 0.
    txn.update(BACKUPS, backup["id"], {"expiration_time": None})
    return affected([backup["id"]])


def rename(reader: FederationReader, tasks: TaskEngine, sim: Simulator, backup_id: str, name: str) -> Record:
    as_of(reader, sim, backup_id, tasks.clock.now())
    valid_name("backup", name)
    return tasks.submit("backup.rename", {"backup": backup_id, "name": name}, [backup_id])


def _run_rename(sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    backup = current(sim, txn, payload["backup"], now)
    txn.update(BACKUPS, backup["id"], {"name": payload["name"]})
    return affected([backup["id"]])


# ---- set_retention -----------------------------------------------------------------------------------


def _expiry(backup: Backup, retention: int, forever: bool) -> str | None:
    if forever or retention == 0:
        return None
    return stamp(timefmt.from_text(str(backup["created_at"])) + timedelta(minutes=retention))


def _would_expire(expiry: str | None, now: datetime) -> bool:
    return expiry is not None and timefmt.from_text(expiry) <= now


def set_retention(
    reader: FederationReader,
    tasks: TaskEngine,
    sim: Simulator,
    backup_ids: Sequence[str],
    *,
    retention: int,
    force: bool,
    forever: bool,
    cluster_group_id: str | None = None,
) -> tuple[Record | None, list[Backup]]:
    """A task; or, when the new retention would remove backups and `force` is not set, no task and
    the backups it would remove (the real one answers 200 with them)."""
    if not backup_ids:
        raise InvalidBody(NO_BACKUP_IDS.format("set the retention of"))
    now = tasks.clock.now()
    ids = list(dict.fromkeys(backup_ids))
    if cluster_group_id:
        with refused_now():
            found(reader, CLUSTER_GROUPS, cluster_group_id)
    backups = [as_of(reader, sim, backup_id, now) for backup_id in ids]
    doomed = [b for b in backups if _would_expire(_expiry(b, retention, forever), now)]
    if doomed and not force:
        return None, doomed
    payload = {"backups": ids, "retention": retention, "force": force, "forever": forever}
    return tasks.submit("backup.set_retention", payload, ids), []


def _run_set_retention(
    sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime
) -> list[AffectedObject]:
    ids = [str(i) for i in payload["backups"]]
    retention, forever = int(payload["retention"]), bool(payload["forever"])
    backups = [current(sim, txn, backup_id, now) for backup_id in ids]
    removed: list[str] = []
    for backup in backups:
        expiry = _expiry(backup, retention, forever)
        if _would_expire(expiry, now):
            if not payload["force"]:
                raise TaskFailure(
                    Codes.INVALID_ARGUMENT,
                    f"Backup {backup['name']} would expire at once; set force to remove it.",
                )
            txn.delete(BACKUPS, backup["id"])
            removed.append(backup["id"])
        else:
            txn.update(BACKUPS, backup["id"], {"expiration_time": expiry})
    if removed:
        sim.delete_backups(txn, removed)
    return affected(ids)


# ---- cancel ------------------------------------------------------------------------------------------


def _cancelable(backup: Backup) -> None:
    if backup["state"] not in IN_FLIGHT:
        raise TaskFailure(
            Codes.INVALID_STATE,
            f"Backup {backup['name']} is {backup['state']}: only a backup being taken or sent can be canceled.",
        )


def cancel(reader: FederationReader, tasks: TaskEngine, sim: Simulator, backup_id: str) -> Record:
    with refused_now():
        _cancelable(as_of(reader, sim, backup_id, tasks.clock.now()))
    return tasks.submit("backup.cancel", {"backup": backup_id}, [backup_id])


def _run_cancel(sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    backup = current(sim, txn, payload["backup"], now)
    _cancelable(backup)
    txn.update(BACKUPS, backup["id"], {"state": CANCELED, **sim.backup_canceled(txn, backup, now)})
    # What it had stored so far is dropped with it: a canceled backup holds nothing.
    sim.delete_backups(txn, [backup["id"]])
    return affected([backup["id"]])


# ---- calculate_unique_size ---------------------------------------------------------------------------


def _measurable(backup: Backup) -> None:
    protected(backup, "measured")
    if not in_cluster(backup):
        raise TaskFailure(
            Codes.INVALID_ARGUMENT,
            f"The unique size of backup {backup['name']} cannot be calculated: it is kept in external "
            f"store {backup['external_store_name']}.",
        )


def calculate_unique_size(
    reader: FederationReader, tasks: TaskEngine, sim: Simulator, backup_id: str
) -> Record:
    with refused_now():
        _measurable(as_of(reader, sim, backup_id, tasks.clock.now()))
    return tasks.submit("backup.calculate_unique_size", {"backup": backup_id}, [backup_id])


def _run_calculate_unique_size(
    sim: Simulator, txn: Txn, payload: Mapping[str, Any], now: datetime
) -> list[AffectedObject]:
    backup = current(sim, txn, payload["backup"], now)
    _measurable(backup)
    unique = sim.unique_size(txn, backup["id"])
    txn.update(BACKUPS, backup["id"], {"unique_size_bytes": unique, "unique_size_timestamp": stamp(now)})
    return affected([backup["id"]])


def handlers(sim: Simulator) -> dict[str, Handler]:
    runs = {
        "backup.delete": _run_delete,
        "backup.lock": _run_lock,
        "backup.rename": _run_rename,
        "backup.set_retention": _run_set_retention,
        "backup.cancel": _run_cancel,
        "backup.calculate_unique_size": _run_calculate_unique_size,
    }
    return {operation: partial(run, sim) for operation, run in runs.items()}
