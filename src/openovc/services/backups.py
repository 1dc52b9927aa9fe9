"""Backup operations as tasks, the life of a backup being taken or sent, and expiry.

A backup's life
---------------
Unless the operation's pacing is a duration (realistic timing), a new backup or copy is PROTECTED
when its task completes. With a duration, the task registers the backup, which then lives through the
real states: NEW while its controller registers it, SAVING while it is taken and, for a remote
cluster or an external store, sent (for a time proportional to the unique data it sends, see
backup_data), then PROTECTED. Cancel ends a backup that is NEW or SAVING as CANCELED, with what it had sent so far.

Nothing is stored for this beyond the backup's own fields: it began at its unique_size_timestamp (the
moment its unique data was measured, which is when it was taken, or when a copy started), and the
time it takes follows from its size, unique data, consistency and destination. So every reader of a
backup can tell where it is now; `settle` writes it down (the worker calls it), and every operation
settles the backups it touches first.

A backup expires at its expiration_time (`NA`: never, as after lock or with retention 0) and the
server removes it then. A backup outlives its VM and shows the VM's state.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import orjson

from openovc.domain import timefmt
from openovc.domain.catalog import (
    BACKUPS,
    CLUSTER_GROUPS,
    DATASTORES,
    EXTERNAL_STORES,
    HOSTS,
    OMNISTACK_CLUSTERS,
    VIRTUAL_MACHINES,
)
from openovc.domain.clock import Clock
from openovc.domain.errors import InvalidBody, ObjectNotFound, TaskError
from openovc.domain.fields import Collection, Op
from openovc.domain.ports.federation import FederationReader, Finder, Record, Txn
from openovc.domain.ports.operations import OperationsStore, RestoredFile
from openovc.domain.query import MAX_LIMIT, CollectionQuery, Condition
from openovc.domain.tasks import AffectedObject, Codes, PacingMode, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.backup_files import guest_of, guest_vm, with_restored
from openovc.services.common import (
    alive_vm_named,
    fail_duplicate,
    new_id,
    refuse_duplicate_now,
    stamp,
    valid_name,
)
from openovc.simulator import backup_data as data
from openovc.simulator import guest_files, workload
from openovc.simulator.content.model import ContentModel
from openovc.simulator.content.pieces import HOT_CLASS, SIZE_CLASSES
from openovc.simulator.vm_data import fresh_identity, give_space, placed_on, take_space

BACKUP = "backup"
VM = "virtual_machine"
NEW, SAVING, PROTECTED, CANCELED = "NEW", "SAVING", "PROTECTED", "CANCELED"
IN_FLIGHT = (NEW, SAVING)
LOCAL_STORE = "SimplivityStore"
CLOUD_STORE = "StoreOnceCloud"
INVALID_DESTINATION = "Invalid or unexpected destination specified."
NO_BACKUP_IDS = "Invalid body: Specify a backup_id key/value to {} backup instances."


# ---- refusals, asked once and answered now (quick checks) or when the task runs -----------------------


class _Missing(TaskFailure):
    """An object an operation names does not exist: 404 before the task exists, a FAILED task after."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(Codes.NOT_FOUND, f"Object type: {kind} id: {key} could not be found")
        self.kind = kind
        self.key = key


@contextmanager
def _refused_now() -> Iterator[None]:
    """Quick checks: the refusals a task would fail with, answered before it exists."""
    try:
        yield
    except _Missing as missing:
        raise ObjectNotFound(missing.kind, missing.key) from None
    except TaskFailure as failure:
        raise TaskError(failure.error_code, failure.message) from None


def _found(finder: Finder, coll: Collection, key: str) -> Record:
    found = finder.find(coll, **{coll.key: key})
    if not found:
        raise _Missing(coll.singular, key)
    return found[0]


def _alive_vm(finder: Finder, vm_id: str) -> Record:
    vm = _found(finder, VIRTUAL_MACHINES, vm_id)
    if vm["state"] != "ALIVE":
        raise TaskFailure(Codes.INVALID_STATE, f"The virtual machine {vm['name']} is {vm['state']}.")
    return vm


def _paced(tasks: TaskEngine, operation: str) -> bool:
    """Whether the operation takes wall-clock time (a duration pacing): then so do its backups."""
    return tasks.pacing.for_operation(operation).mode is PacingMode.DURATION


def _backups(ids: Sequence[str]) -> list[AffectedObject]:
    return [AffectedObject(i, BACKUP) for i in ids]


# ---- where a backup is, and where it is going -------------------------------------------------------


def _in_cluster(backup: Record) -> bool:
    """Kept by an omnistack_cluster (not an external store)."""
    return not backup["external_store_name"] and bool(backup["omnistack_cluster_id"])


def _home(finder: Finder, backup: Record) -> str | None:
    """The cluster the backed-up VM's data lives in: its datastore's (or, that gone, its VM's)."""
    for coll, key in ((DATASTORES, "datastore_id"), (VIRTUAL_MACHINES, "virtual_machine_id")):
        found = finder.find(coll, id=str(backup[key]))
        if found:
            return str(found[0]["omnistack_cluster_id"])
    return None


def _destination(finder: Finder, backup: Record) -> str | None:
    """Where a backup's data is sent to (a store's name, a remote cluster's id); None when it stays home."""
    if backup["external_store_name"]:
        return str(backup["external_store_name"])
    holder = str(backup["omnistack_cluster_id"])
    return None if holder == _home(finder, backup) else holder


def _plan(finder: Finder, backup: Record) -> data.Transfer:
    return data.transfer(
        int(backup["size"] or 0),
        int(backup["sent"] or 0),
        str(backup["consistency_type"]),
        _destination(finder, backup),
    )


def _began(backup: Record) -> datetime:
    return timefmt.from_text(str(backup["unique_size_timestamp"] or backup["created_at"]))


def _finished(began: datetime, plan: data.Transfer) -> Record:
    if not plan.send:
        return {"state": PROTECTED, "sent": 0, "sent_duration": 0, "sent_completion_time": None}
    end = began + timedelta(seconds=plan.total)
    return {
        "state": PROTECTED,
        "sent": plan.sent,
        "sent_duration": plan.send,
        "sent_completion_time": stamp(end),
    }


def _progress(finder: Finder, backup: Record, now: datetime) -> Record:
    """What changed in a backup being taken or sent by `now` (empty when nothing did)."""
    if backup["state"] not in IN_FLIGHT:
        return {}
    began = _began(backup)
    plan = _plan(finder, backup)
    elapsed = (now - began).total_seconds()
    if elapsed >= plan.total:
        return _finished(began, plan)
    if elapsed >= data.NEW_SECONDS and backup["state"] == NEW:
        return {"state": SAVING}
    return {}


def _expired(backup: Record, now: datetime) -> bool:
    expires = backup["expiration_time"]
    return expires is not None and timefmt.from_text(str(expires)) <= now


def as_of(reader: FederationReader, backup_id: str, now: datetime) -> Record:
    """A backup as it is now (quick checks): its progress applied; 404 once expired."""
    backup = reader.get(BACKUPS, backup_id)
    if backup is None or _expired(backup, now):
        raise ObjectNotFound(BACKUP, backup_id)
    return {**backup, **_progress(reader, backup, now)}


def _current(txn: Txn, backup_id: str, now: datetime) -> Record:
    """A backup inside a task, its progress written down first; a FAILED task once it has expired."""
    backup = txn.get(BACKUPS, backup_id)
    if backup is None or _expired(backup, now):
        raise _Missing(BACKUP, backup_id)
    changed = _progress(txn, backup, now)
    if changed:
        txn.update(BACKUPS, backup_id, changed)
        backup.update(changed)
    return backup


def _protected(backup: Record, doing: str) -> None:
    if backup["state"] != PROTECTED:
        raise TaskFailure(
            Codes.INVALID_STATE,
            f"Backup {backup['name']} is {backup['state']}: only a {PROTECTED} backup can be {doing}.",
        )


def _not_in_flight(backup: Record) -> None:
    if backup["state"] in IN_FLIGHT:
        raise TaskFailure(
            Codes.INVALID_STATE,
            f"Backup {backup['name']} is {backup['state']}: cancel it before deleting it.",
        )


# ---- settling: progress and expiry, for every reader ------------------------------------------------


def _ids(reader: FederationReader, condition: Condition) -> list[str]:
    # Sorted on the filtered field, so that its index serves both: an idle turn reads a few index pages.
    query = CollectionQuery(conditions=(condition,), limit=MAX_LIMIT, sort=condition.field, descending=False)
    return [str(row[0]) for row in reader.page(BACKUPS, query, ("id",)).rows]


def settle(reader: FederationReader, store: OperationsStore, now: datetime) -> int:
    """Write down the progress of backups being taken or sent, and remove expired ones; how many changed.

    Two indexed reads find the candidates, so an idle server only reads; each is settled again in the
    write transaction, where it is checked once more.
    """
    moving = _ids(reader, Condition("state", Op.MATCH, IN_FLIGHT))
    ending = _ids(reader, Condition("expiration_time", Op.BEFORE, (stamp(now),)))
    if not moving and not ending:
        return 0
    changed = 0
    with store.changing() as (txn, _):
        gone: list[str] = []
        for backup_id in dict.fromkeys([*ending, *moving]):
            backup = txn.get(BACKUPS, backup_id)
            if backup is None:
                continue
            if _expired(backup, now):
                changed += txn.delete(BACKUPS, backup_id)
                gone.append(backup_id)
                continue
            progress = _progress(txn, backup, now)
            if progress:
                txn.update(BACKUPS, backup_id, progress)
                changed += 1
        if gone:
            _delete_content(txn, txn.content(), gone)
    return changed


def housekeeping(reader: FederationReader, store: OperationsStore, clock: Clock) -> Callable[[], int]:
    """The worker's chore: settle the backups as of the clock's now."""

    def run() -> int:
        return settle(reader, store, clock.now())

    return run


# ---- destinations ---------------------------------------------------------------------------------


def _target(
    finder: Finder, cluster_id: str | None, store_name: str | None
) -> tuple[Record | None, Record | None]:
    """The cluster or the store named as a destination (exactly one of them)."""
    if cluster_id and store_name:
        raise TaskFailure(Codes.INVALID_DESTINATION, INVALID_DESTINATION)
    cluster = _found(finder, OMNISTACK_CLUSTERS, cluster_id) if cluster_id else None
    store = _found(finder, EXTERNAL_STORES, store_name) if store_name else None
    return cluster, store


def _store_takes(store: Record, from_cluster: str, from_type: str) -> None:
    """A StoreOnce takes backups only from the cluster it is registered with, and a cloud store only
    copies of on-premises StoreOnce backups (direct copy from OmniStack to a cloud store is refused)."""
    if store["omnistack_cluster_id"] != from_cluster or (
        store["type"] == CLOUD_STORE and from_type == LOCAL_STORE
    ):
        raise TaskFailure(Codes.INVALID_DESTINATION, INVALID_DESTINATION)


def _holder(finder: Finder, cluster: Record | None, store: Record | None) -> Record:
    """The fields that say where a backup is kept."""
    if store is not None:
        groups = finder.find(OMNISTACK_CLUSTERS, id=str(store["omnistack_cluster_id"]))
        return {
            "omnistack_cluster_id": "",
            "omnistack_cluster_name": "",
            "external_store_name": store["name"],
            "associated_cluster": store["omnistack_cluster_id"],
            "backup_store_type": store["type"],
            "cluster_group_ids": _json_list(groups[0]["cluster_group_ids"]) if groups else [],
        }
    assert cluster is not None
    return {
        "omnistack_cluster_id": cluster["id"],
        "omnistack_cluster_name": cluster["name"],
        "external_store_name": "",
        "associated_cluster": cluster["id"],
        "backup_store_type": LOCAL_STORE,
        "cluster_group_ids": _json_list(cluster["cluster_group_ids"]),
    }


def _json_list(value: Any) -> list[Any]:
    """A JSON-kind value as a list: the reader gives JSON text, a transaction Python objects."""
    if isinstance(value, str):
        value = orjson.loads(value)
    return list(value or [])


def _kept_at(backup: Record) -> str:
    """Where a backup's content is kept: its cluster's id, or its external store's name."""
    return str(backup["external_store_name"] or backup["omnistack_cluster_id"])


def _delete_content(txn: Txn, model: ContentModel, backup_ids: Sequence[str]) -> None:
    """Backups gone: their pieces nothing else refers to are freed, and their places' figures follow.

    A canceled backup holds no content (its pieces were freed when it was canceled).
    """
    places = []
    for backup_id in backup_ids:
        if model.ledger.holder(backup_id) is not None:
            places.append(model.holder(backup_id).place)
            model.delete(backup_id)
    data.refresh_clusters(txn, model, places)


def _arrived(txn: Txn, backup: Record, paced: bool, now: datetime) -> Record:
    """A new backup (or copy) that began now: NEW when paced, else already where it is going.

    `sent` holds, from the start, the bytes it sends (the model's change at its place): its time in
    flight follows from them.
    """
    if paced:
        return {**backup, "state": NEW, "sent_duration": 0, "sent_completion_time": None}
    return {**backup, **_finished(now, _plan(txn, backup))}


def _stored(txn: Txn, model: ContentModel, backup: Record, sent: int, *also: str) -> Record:
    """A new backup's (or copy's) figures from the model, once its content is at its place.

    `also`: other places whose figures changed in the same operation (its VM's, after its workload).
    """
    key = str(backup["id"])
    remote = _destination(txn, backup) is not None
    data.refresh_clusters(txn, model, [_kept_at(backup), *also])
    return {**backup, "size": model.size(key), "unique_size_bytes": model.unique_size(key),
            "sent": sent if remote else 0}  # fmt: skip


# ------------------------------------------------------------------------------------- back up a VM


def backup_vm(
    reader: FederationReader,
    tasks: TaskEngine,
    vm_id: str,
    *,
    name: str,
    cluster_id: str | None,
    store_name: str | None,
    consistency: str,
    retention: int,
) -> Record:
    with _refused_now():
        vm = _found(reader, VIRTUAL_MACHINES, vm_id)
    valid_name(BACKUP, name)
    with _refused_now():
        _alive_vm(reader, vm_id)
        _, store = _target(reader, cluster_id, store_name)
        if store is not None:
            _store_takes(store, str(vm["omnistack_cluster_id"]), LOCAL_STORE)
    operation = "virtual_machine.backup"
    backup_id = new_id()
    payload = {
        "vm": vm_id, "backup": backup_id, "name": name, "cluster": cluster_id or None,
        "store": store_name or None, "consistency": consistency, "retention": retention,
        "paced": _paced(tasks, operation),
    }  # fmt: skip
    # What it writes: the VM (and, through its workload, its datastore), the new backup, and the content
    # and figures of the VM's cluster and of the destination. A VM's datastore and cluster cannot change
    # under it (a VM that moves is a new VM), so they can be named now.
    places = [str(vm["omnistack_cluster_id"]), *(p for p in (cluster_id, store_name) if p)]
    scope = [vm_id, backup_id, str(vm["datastore_id"]), *places]
    return tasks.submit(operation, payload, [vm_id, backup_id], scope=scope)


def _consistency(vm: Record, wanted: str) -> str:
    """VSS needs a running Windows guest whose credentials it accepted; else the backup is FAILEDVSS
    (crash-consistent). A VMware snapshot (DEFAULT) needs nothing more."""
    if wanted != "VSS":
        return wanted
    running = vm["hypervisor_virtual_machine_power_state"] == "ON"
    return "VSS" if running and vm["app_aware_vm_status"] == "VALID_CREDS" else "FAILEDVSS"


def _vm_facts(vm: Record) -> Record:
    """What a backup records of its VM."""
    return {
        "virtual_machine_id": vm["id"],
        "virtual_machine_name": vm["name"],
        "virtual_machine_state": vm["state"],
        "virtual_machine_type": "TEMPLATE" if vm["hypervisor_is_template"] else "VM",
        "datastore_id": vm["datastore_id"],
        "datastore_name": vm["datastore_name"],
        "compute_cluster_parent_hypervisor_object_id": vm["compute_cluster_parent_hypervisor_object_id"],
        "compute_cluster_parent_name": vm["compute_cluster_parent_name"],
        "hypervisor_type": vm["hypervisor_type"],
    }


def _run_backup(txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    model = txn.content()
    # The backup holds the VM's content as its workload has made it by now.
    vm = workload.catch_up(txn, model, _alive_vm(txn, payload["vm"]), now)
    home = str(vm["omnistack_cluster_id"])
    cluster, store = _target(txn, payload["cluster"], payload["store"])
    if store is not None:
        _store_takes(store, home, LOCAL_STORE)
    elif cluster is None:
        cluster = _found(txn, OMNISTACK_CLUSTERS, home)
    consistency = _consistency(vm, payload["consistency"])
    retention = int(payload["retention"])
    created = stamp(now)
    backup: Record = {
        "id": payload["backup"],
        "name": payload["name"],
        "type": "MANUAL",
        "created_at": created,
        "expiration_time": stamp(now + timedelta(minutes=retention)) if retention else None,
        "application_consistent": consistency in ("DEFAULT", "VSS"),
        "consistency_type": consistency,
        **_vm_facts(vm),
        **_holder(txn, cluster, store),
        "unique_size_timestamp": created,
    }
    change = model.backup(str(vm["id"]), str(backup["id"]), _kept_at(backup))
    backup = _stored(txn, model, backup, change.compressed, home)
    txn.insert(BACKUPS, _arrived(txn, backup, bool(payload["paced"]), now))
    return _backups([str(backup["id"])])


# --------------------------------------------------------------------------------------------- copy


def copy(
    reader: FederationReader,
    tasks: TaskEngine,
    backup_id: str,
    cluster_id: str | None,
    store_name: str | None,
) -> Record:
    backup = as_of(reader, backup_id, tasks.clock.now())
    if not cluster_id and not store_name:
        raise InvalidBody(
            "Invalid body: Specify a destination_id or an external_store_name key/value to copy the backup."
        )
    with _refused_now():
        _copyable(reader, backup, cluster_id, store_name)
    operation = "backup.copy"
    copy_id = new_id()
    payload = {
        "backup": backup_id, "copy": copy_id, "cluster": cluster_id or None, "store": store_name or None,
        "paced": _paced(tasks, operation),
    }  # fmt: skip
    return tasks.submit(operation, payload, [backup_id, copy_id])


def _copyable(
    finder: Finder, backup: Record, cluster_id: str | None, store_name: str | None
) -> tuple[Record | None, Record | None]:
    _protected(backup, "copied")
    cluster, store = _target(finder, cluster_id, store_name)
    if cluster is not None and _in_cluster(backup) and cluster["id"] == backup["omnistack_cluster_id"]:
        raise TaskFailure(Codes.INVALID_DESTINATION, INVALID_DESTINATION)
    if store is not None:
        if store["name"] == backup["external_store_name"]:
            raise TaskFailure(Codes.INVALID_DESTINATION, INVALID_DESTINATION)
        _store_takes(store, str(backup["associated_cluster"]), str(backup["backup_store_type"]))
    return cluster, store


def _run_copy(txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    source = _current(txn, payload["backup"], now)
    cluster, store = _copyable(txn, source, payload["cluster"], payload["store"])
    # A copy is the same point in time (name, creation and expiration); it began now, at its new place.
    copied: Record = {
        **source, "id": payload["copy"], **_holder(txn, cluster, store), "unique_size_timestamp": stamp(now),
    }  # fmt: skip
    model = txn.content()
    change = model.copy(str(source["id"]), str(copied["id"]), _kept_at(copied))
    copied = _stored(txn, model, copied, change.compressed)
    txn.insert(BACKUPS, _arrived(txn, copied, bool(payload["paced"]), now))
    return _backups([str(copied["id"])])


# ------------------------------------------------------------------------------------------- delete


def delete(
    reader: FederationReader,
    tasks: TaskEngine,
    backup_ids: Sequence[str],
    cluster_group_id: str | None = None,
) -> Record:
    """One task for one or many backups."""
    if not backup_ids:
        raise InvalidBody(NO_BACKUP_IDS.format("delete"))
    now = tasks.clock.now()
    ids = list(dict.fromkeys(backup_ids))
    if cluster_group_id:
        with _refused_now():
            _found(reader, CLUSTER_GROUPS, cluster_group_id)
    backups = []
    with _refused_now():
        for backup_id in ids:
            backups.append(as_of(reader, backup_id, now))
            _not_in_flight(backups[-1])
    # It writes the backups, and the content and figures of the places that keep them (a backup stays
    # where it was made: a copy is another backup).
    places = list(dict.fromkeys(_kept_at(b) for b in backups))
    return tasks.submit("backup.delete", {"backups": ids}, ids, scope=[*ids, *places])


def _run_delete(txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    ids = [str(i) for i in payload["backups"]]
    for backup_id in ids:
        _not_in_flight(_current(txn, backup_id, now))
    for backup_id in ids:
        txn.delete(BACKUPS, backup_id)
    _delete_content(txn, txn.content(), ids)
    return _backups(ids)


# ------------------------------------------------------------------------------- lock and rename


def lock(reader: FederationReader, tasks: TaskEngine, backup_id: str) -> Record:
    as_of(reader, backup_id, tasks.clock.now())
    return tasks.submit("backup.lock", {"backup": backup_id}, [backup_id])


def _run_lock(txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    backup = _current(txn, payload["backup"], now)
    # A locked backup never expires: its expiration_time reads NA, as with retention 0.
    txn.update(BACKUPS, str(backup["id"]), {"expiration_time": None})
    return _backups([str(backup["id"])])


def rename(reader: FederationReader, tasks: TaskEngine, backup_id: str, name: str) -> Record:
    as_of(reader, backup_id, tasks.clock.now())
    valid_name(BACKUP, name)
    return tasks.submit("backup.rename", {"backup": backup_id, "name": name}, [backup_id])


def _run_rename(txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    backup = _current(txn, payload["backup"], now)
    txn.update(BACKUPS, str(backup["id"]), {"name": payload["name"]})
    return _backups([str(backup["id"])])


# ------------------------------------------------------------------------------------ set_retention


def _expiry(backup: Record, retention: int, forever: bool) -> str | None:
    if forever or retention == 0:
        return None
    return stamp(timefmt.from_text(str(backup["created_at"])) + timedelta(minutes=retention))


def _would_expire(expiry: str | None, now: datetime) -> bool:
    return expiry is not None and timefmt.from_text(expiry) <= now


def set_retention(
    reader: FederationReader,
    tasks: TaskEngine,
    backup_ids: Sequence[str],
    *,
    retention: int,
    force: bool,
    forever: bool,
    cluster_group_id: str | None = None,
) -> tuple[Record | None, list[Record]]:
    """A task; or, when the new retention would remove backups and `force` is not set, no task and
    the backups it would remove (the real one answers 200 with them)."""
    if not backup_ids:
        raise InvalidBody(NO_BACKUP_IDS.format("set the retention of"))
    now = tasks.clock.now()
    ids = list(dict.fromkeys(backup_ids))
    if cluster_group_id:
        with _refused_now():
            _found(reader, CLUSTER_GROUPS, cluster_group_id)
    backups = [as_of(reader, backup_id, now) for backup_id in ids]
    doomed = [b for b in backups if _would_expire(_expiry(b, retention, forever), now)]
    if doomed and not force:
        return None, doomed
    payload = {"backups": ids, "retention": retention, "force": force, "forever": forever}
    return tasks.submit("backup.set_retention", payload, ids), []


def _run_set_retention(txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    ids = [str(i) for i in payload["backups"]]
    retention, forever = int(payload["retention"]), bool(payload["forever"])
    backups = [_current(txn, backup_id, now) for backup_id in ids]
    removed: list[str] = []
    for backup in backups:
        expiry = _expiry(backup, retention, forever)
        if _would_expire(expiry, now):
            if not payload["force"]:
                raise TaskFailure(
                    Codes.INVALID_ARGUMENT,
                    f"Backup {backup['name']} would expire at once; set force to remove it.",
                )
            txn.delete(BACKUPS, str(backup["id"]))
            removed.append(str(backup["id"]))
        else:
            txn.update(BACKUPS, str(backup["id"]), {"expiration_time": expiry})
    if removed:
        _delete_content(txn, txn.content(), removed)
    return _backups(ids)


# ------------------------------------------------------------------------------------------- cancel


def _cancelable(backup: Record) -> None:
    if backup["state"] not in IN_FLIGHT:
        raise TaskFailure(
            Codes.INVALID_STATE,
            f"Backup {backup['name']} is {backup['state']}: only a backup being taken or sent can be canceled.",
        )


def cancel(reader: FederationReader, tasks: TaskEngine, backup_id: str) -> Record:
    with _refused_now():
        _cancelable(as_of(reader, backup_id, tasks.clock.now()))
    return tasks.submit("backup.cancel", {"backup": backup_id}, [backup_id])


def _run_cancel(txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    backup = _current(txn, payload["backup"], now)
    _cancelable(backup)
    sent, seconds = data.sent_so_far(_plan(txn, backup), (now - _began(backup)).total_seconds())
    values: Record = {"state": CANCELED, "sent": sent, "sent_duration": seconds,
                      "sent_completion_time": stamp(now) if sent else None}  # fmt: skip
    txn.update(BACKUPS, str(backup["id"]), values)
    # What it had stored so far is dropped with it: a canceled backup holds nothing.
    _delete_content(txn, txn.content(), [str(backup["id"])])
    return _backups([str(backup["id"])])


# ---------------------------------------------------------------------------- calculate_unique_size


def _measurable(backup: Record) -> None:
    _protected(backup, "measured")
    if not _in_cluster(backup):
        raise TaskFailure(
            Codes.INVALID_ARGUMENT,
            f"The unique size of backup {backup['name']} cannot be calculated: it is kept in external "
            f"store {backup['external_store_name']}.",
        )


def calculate_unique_size(reader: FederationReader, tasks: TaskEngine, backup_id: str) -> Record:
    with _refused_now():
        _measurable(as_of(reader, backup_id, tasks.clock.now()))
    return tasks.submit("backup.calculate_unique_size", {"backup": backup_id}, [backup_id])


def _run_calculate_unique_size(txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    backup = _current(txn, payload["backup"], now)
    _measurable(backup)
    unique = txn.content().unique_size(str(backup["id"]))
    txn.update(BACKUPS, str(backup["id"]), {"unique_size_bytes": unique, "unique_size_timestamp": stamp(now)})
    return _backups([str(backup["id"])])


# ------------------------------------------------------------------------------------------ restore


def restore(
    reader: FederationReader,
    tasks: TaskEngine,
    backup_id: str,
    *,
    original: bool,
    name: str | None,
    datastore_id: str | None,
) -> Record:
    """Over the original VM (its data goes back to the backup's point in time), or to a new VM."""
    backup = as_of(reader, backup_id, tasks.clock.now())
    if original:
        with _refused_now():
            _restorable_over(reader, backup)
        vm_id = str(backup["virtual_machine_id"])
        payload = {"backup": backup_id, "original": True}
        return tasks.submit("backup.restore", payload, [backup_id, vm_id])
    if name is None:
        raise InvalidBody("Invalid body: virtual_machine_name: Field required")
    valid_name(VM, name)
    target = datastore_id or str(backup["datastore_id"])
    with _refused_now():
        _protected(backup, "restored")
        _source_vm(reader, backup)
        _found(reader, DATASTORES, target)
    refuse_duplicate_now(alive_vm_named(reader, name))
    payload = {"backup": backup_id, "original": False, "name": name, "datastore": target}
    return tasks.submit("backup.restore", payload, [backup_id, target])


def _source_vm(finder: Finder, backup: Record) -> Record:
    return _found(finder, VIRTUAL_MACHINES, str(backup["virtual_machine_id"]))


def _restorable_over(finder: Finder, backup: Record) -> Record:
    _protected(backup, "restored")
    if not _in_cluster(backup):
        raise TaskFailure(
            Codes.INVALID_ARGUMENT,
            "A backup kept in an external store cannot be restored over its original virtual machine; "
            "restore it to a new virtual machine.",
        )
    return _alive_vm(finder, str(backup["virtual_machine_id"]))


def _run_restore(txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    backup = _current(txn, payload["backup"], now)
    if payload["original"]:
        return _restore_over(txn, backup, now)
    _protected(backup, "restored")
    source = _source_vm(txn, backup)
    datastore = _found(txn, DATASTORES, payload["datastore"])
    fail_duplicate(alive_vm_named(txn, payload["name"]))
    cluster_id = str(datastore["omnistack_cluster_id"])
    vm: Record = {**source, **fresh_identity(source, new_id(), payload["name"], now)}
    model = txn.content()
    model.restore_as(str(backup["id"]), str(vm["id"]), cluster_id)
    size = model.size(str(vm["id"]))
    take_space(txn, datastore, size)
    vm.update(
        state="ALIVE", datastore_id=datastore["id"], datastore_name=datastore["name"],
        policy_id=datastore["policy_id"], policy_name=datastore["policy_name"],
        hypervisor_is_template=backup["virtual_machine_type"] == "TEMPLATE",
        **data.restored_vm(int(source["hypervisor_allocated_capacity"] or 0), size),
    )  # fmt: skip
    host = txn.get(HOSTS, str(source["host_id"]))
    if cluster_id != source["omnistack_cluster_id"] or host is None or host["state"] != "ALIVE":
        _place(txn, vm, datastore)
    txn.insert(VIRTUAL_MACHINES, vm)
    data.refresh_clusters(txn, model, [cluster_id])
    return [AffectedObject(str(vm["id"]), VM)]


def _place(txn: Txn, vm: Record, datastore: Record) -> None:
    """A restored VM runs in its datastore's cluster, on its least loaded hosts."""
    single = bool(datastore["single_replica"])
    placed = placed_on(txn, datastore)
    safe = len(placed["replica_set"]) > 1
    vm.update(
        placed,
        ha_status="SAFE" if safe else "OUT_OF_SCOPE" if single else "DEGRADED",
        ha_resynchronization_progress=100 if safe else 0,
    )


def _restore_over(txn: Txn, backup: Record, now: datetime) -> list[AffectedObject]:
    vm = _restorable_over(txn, backup)
    model = txn.content()
    # Its content now is replaced whole, so the workload steps due until now need not be applied.
    model.restore(str(backup["id"]), str(vm["id"]))
    workload.stop(model, str(vm["id"]))
    size = model.size(str(vm["id"]))
    delta = size - data.vm_data(vm)
    datastore = _found(txn, DATASTORES, str(vm["datastore_id"]))
    if delta > 0:
        take_space(txn, datastore, delta)
    elif delta < 0:
        give_space(txn, str(datastore["id"]), -delta)
    # vSphere registers the restored VM again: it comes back powered off.
    txn.update(
        VIRTUAL_MACHINES,
        str(vm["id"]),
        {
            **data.restored_vm(int(vm["hypervisor_allocated_capacity"] or 0), size),
            "hypervisor_virtual_machine_power_state": "OFF",
            "hypervisor_consumed_cpu": 0,
            "hypervisor_consumed_memory": 0,
            "app_aware_vm_status": "VMWARE_TOOLS_UNAVAILABLE",
        },
    )
    data.refresh_clusters(txn, model, [str(vm["omnistack_cluster_id"])])
    # Its disks went back to the backup: what was restored into it since is gone again.
    taken = timefmt.from_text(str(backup["created_at"]))
    txn.state().undo_restored_files(str(vm["id"]), int(taken.timestamp()), int(now.timestamp()))
    return [AffectedObject(str(vm["id"]), VM)]


# ------------------------------------------------------------------------------------ restore_files


def _resolve(
    guest: guest_files.GuestVm, taken: datetime, raw: str
) -> tuple[guest_files.VirtualDisk, guest_files.Partition, list[guest_files.Entry]]:
    """The disk, partition and entries down to what `disk/partition/path` names in the backup;
    InvalidBody naming what is wrong with it."""

    def refuse(problem: str) -> InvalidBody:
        return InvalidBody(f"Invalid body: paths: '{raw}' {problem}")

    disk_name, _, rest = raw.lstrip("/").partition("/")
    number_text, _, inside = rest.partition("/")
    segments = guest_files.split_path(inside)
    if not disk_name or not number_text.strip().isdigit() or not segments:
        raise refuse("is not <virtual disk>/<partition number>/<path of a file or directory>")
    disk = next((d for d in guest.disks() if d.name == disk_name), None)
    if disk is None:
        raise refuse(f"names virtual disk {disk_name}, which the backup does not hold")
    number = int(number_text)
    partition = next((p for p in guest.partitions(disk) if p.number == number), None)
    if partition is None or not partition.mountable:
        raise refuse(f"names partition {number} of {disk_name}, which cannot be mounted")
    root = guest.tree(disk, number, taken)
    trail = guest_files.find_trail(root, segments, fold_case=guest.os_family == guest_files.WINDOWS)
    if not trail:
        raise refuse("names no file or directory in the backup")
    if not trail[-1].restorable:
        raise refuse("cannot be restored (a symbolic link or a file the guest keeps locked)")
    return disk, partition, trail


def restore_files(
    reader: FederationReader,
    store: OperationsStore,
    tasks: TaskEngine,
    backup_id: str,
    vm_id: str,
    paths: Sequence[str],
) -> Record:
    """Files of a backup written into a VM: later backups of the VM show them, and their sizes are
    written to the VM's data."""
    backup = as_of(reader, backup_id, tasks.clock.now())
    with _refused_now():
        target = _alive_vm(reader, vm_id)
        _protected(backup, "restored")
    if not paths:
        raise InvalidBody("Invalid body: paths: Specify at least one file or directory to restore.")
    with store.reading() as state:
        guest = with_restored(guest_vm(reader, backup), state)
    taken = timefmt.from_text(str(backup["created_at"]))
    unique = list(dict.fromkeys(paths))
    resolved = [_resolve(guest, taken, p) for p in unique]
    into = guest_of(target)
    for disk, partition, _ in resolved:
        with _refused_now():
            guest_files.landing(disk, partition, into)
    # What they write is worked out when the task runs, from the backup and the VM as they are then.
    payload = {"backup": backup_id, "vm": vm_id, "paths": unique}
    return tasks.submit("backup.restore_files", payload, [backup_id, vm_id])


def _run_restore_files(txn: Txn, payload: Mapping[str, Any], now: datetime) -> list[AffectedObject]:
    backup = _current(txn, payload["backup"], now)
    _protected(backup, "restored")
    model = txn.content()
    vm = workload.catch_up(txn, model, _alive_vm(txn, payload["vm"]), now)
    written = _written(txn, backup, vm, payload["paths"], now)
    restored = sum(w.size for w in written if not w.directory)
    # Restored files overwrite the guest's current ones: a write of as many of the VM's hot pieces as
    # the restored bytes fill (at least one). The VM's data changes by what those pieces differ in size.
    model.workload(str(vm["id"]), max(1, round(restored / SIZE_CLASSES[HOT_CLASS])))
    size = model.size(str(vm["id"]))
    values = data.with_data(vm, size)
    if values is None:
        raise TaskFailure(
            Codes.INSUFFICIENT_CAPACITY,
            f"The virtual machine {vm['name']} has {vm['hypervisor_free_space']} bytes free on its disks; "
            f"{size - data.vm_data(vm)} more bytes are needed.",
        )
    delta = size - data.vm_data(vm)
    if delta > 0:
        take_space(txn, _found(txn, DATASTORES, str(vm["datastore_id"])), delta)
    elif delta < 0:
        give_space(txn, str(vm["datastore_id"]), -delta)
    txn.update(VIRTUAL_MACHINES, str(vm["id"]), values)
    data.refresh_clusters(txn, model, [str(vm["omnistack_cluster_id"])])
    txn.state().add_restored_files(str(vm["id"]), written)
    return [AffectedObject(str(vm["id"]), VM)]


def _written(txn: Txn, backup: Record, vm: Record, paths: Sequence[str], now: datetime) -> list[RestoredFile]:
    """The files and directories restoring `paths` writes into the VM, in the order written."""
    guest = with_restored(guest_vm(txn, backup), txn.state())
    target = guest_of(vm)
    taken = timefmt.from_text(str(backup["created_at"]))
    at = int(now.timestamp())
    written: list[RestoredFile] = []
    for raw in paths:
        disk, partition, trail = _resolve(guest, taken, raw)
        written += guest_files.restored_files(trail, guest_files.landing(disk, partition, target), at)
    return written


HANDLERS: dict[str, Handler] = {
    "virtual_machine.backup": _run_backup,
    "backup.copy": _run_copy,
    "backup.delete": _run_delete,
    "backup.lock": _run_lock,
    "backup.rename": _run_rename,
    "backup.set_retention": _run_set_retention,
    "backup.cancel": _run_cancel,
    "backup.calculate_unique_size": _run_calculate_unique_size,
    "backup.restore": _run_restore,
    "backup.restore_files": _run_restore_files,
}
