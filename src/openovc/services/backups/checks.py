"""What every backup operation checks: refusals asked once, answered now or when the task runs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar, cast

import orjson

from openovc.domain import timefmt
from openovc.domain.backups import IN_FLIGHT, PROTECTED
from openovc.domain.catalog import BACKUPS, EXTERNAL_STORES, OMNISTACK_CLUSTERS, VIRTUAL_MACHINES
from openovc.domain.errors import ObjectNotFound, TaskError
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import FederationReader, Finder, R, Record, Txn
from openovc.domain.ports.simulator import Simulator
from openovc.domain.records import Backup, BackupSource, ExternalStore, OmnistackCluster, VirtualMachine
from openovc.domain.tasks import AffectedObject, Codes, PacingMode, TaskFailure
from openovc.operations.engine import TaskEngine

BACKUP = "backup"
VM = "virtual_machine"
LOCAL_STORE = "SimplivityStore"
CLOUD_STORE = "StoreOnceCloud"
INVALID_DESTINATION = "Invalid or unexpected destination specified."
NO_BACKUP_IDS = "Invalid body: Specify a backup_id key/value to {} backup instances."
S = TypeVar("S", bound=BackupSource)


class Missing(TaskFailure):
    """An object an operation names does not exist: 404 before the task exists, a FAILED task after."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(Codes.NOT_FOUND, f"Object type: {kind} id: {key} could not be found")
        self.kind = kind
        self.key = key


@contextmanager
def refused_now() -> Iterator[None]:
    """Quick checks: the refusals a task would fail with, answered before it exists."""
    try:
        yield
    except Missing as missing:
        raise ObjectNotFound(missing.kind, missing.key) from None
    except TaskFailure as failure:
        raise TaskError(failure.error_code, failure.message) from None


def found(finder: Finder, coll: Collection[R], key: str) -> R:
    rows = finder.find(coll, **{coll.key: key})
    if not rows:
        raise Missing(coll.singular, key)
    return rows[0]


def alive(finder: Finder, coll: Collection[S], key: str) -> S:
    """A VM or a persistent volume that is there and ALIVE (a deleted one keeps its row for its backups)."""
    source = found(finder, coll, key)
    if source["state"] != "ALIVE":
        noun = coll.singular.replace("_", " ")
        raise TaskFailure(Codes.INVALID_STATE, f"The {noun} {source['name']} is {source['state']}.")
    return source


def alive_vm(finder: Finder, vm_id: str) -> VirtualMachine:
    return alive(finder, VIRTUAL_MACHINES, vm_id)


def paced(tasks: TaskEngine, operation: str) -> bool:
    """Whether the operation takes wall-clock time (a duration pacing): then so do its backups."""
    return tasks.pacing.for_operation(operation).mode is PacingMode.DURATION


def affected(ids: Sequence[str]) -> list[AffectedObject]:
    return [AffectedObject(i, BACKUP) for i in ids]


def expired(backup: Backup, now: datetime) -> bool:
    expires = backup["expiration_time"]
    return expires is not None and timefmt.from_text(str(expires)) <= now


def as_of(reader: FederationReader, sim: Simulator, backup_id: str, now: datetime) -> Backup:
    """A backup as it is now (quick checks): its progress applied; 404 once expired."""
    backup = reader.get(BACKUPS, backup_id)
    if backup is None or expired(backup, now):
        raise ObjectNotFound(BACKUP, backup_id)
    return cast(Backup, {**backup, **sim.backup_progress(reader, backup, now)})


def current(sim: Simulator, txn: Txn, backup_id: str, now: datetime) -> Backup:
    """A backup inside a task, its progress written down first; a FAILED task once it has expired."""
    backup = txn.get(BACKUPS, backup_id)
    if backup is None or expired(backup, now):
        raise Missing(BACKUP, backup_id)
    changed = sim.backup_progress(txn, backup, now)
    if changed:
        txn.update(BACKUPS, backup_id, changed)
        backup = cast(Backup, {**backup, **changed})
    return backup


def protected(backup: Backup, doing: str) -> None:
    if backup["state"] != PROTECTED:
        raise TaskFailure(
            Codes.INVALID_STATE,
            f"Backup {backup['name']} is {backup['state']}: only a {PROTECTED} backup can be {doing}.",
        )


def not_in_flight(backup: Backup) -> None:
    if backup["state"] in IN_FLIGHT:
        raise TaskFailure(
            Codes.INVALID_STATE,
            f"Backup {backup['name']} is {backup['state']}: cancel it before deleting it.",
        )


# ---- destinations ---------------------------------------------------------------------------------


def target(
    finder: Finder, cluster_id: str | None, store_name: str | None
) -> tuple[OmnistackCluster | None, ExternalStore | None]:
    """The cluster or the store named as a destination (exactly one of them)."""
    if cluster_id and store_name:
        raise TaskFailure(Codes.INVALID_DESTINATION, INVALID_DESTINATION)
    cluster = found(finder, OMNISTACK_CLUSTERS, cluster_id) if cluster_id else None
    store = found(finder, EXTERNAL_STORES, store_name) if store_name else None
    return cluster, store


def store_takes(store: ExternalStore, from_cluster: str, from_type: str) -> None:
    """A StoreOnce takes backups only from the cluster it is registered with, and a cloud store only
    copies of on-premises StoreOnce backups (direct copy from OmniStack to a cloud store is refused)."""
    if store["omnistack_cluster_id"] != from_cluster or (
        store["type"] == CLOUD_STORE and from_type == LOCAL_STORE
    ):
        raise TaskFailure(Codes.INVALID_DESTINATION, INVALID_DESTINATION)


def holder(finder: Finder, cluster: OmnistackCluster | None, store: ExternalStore | None) -> Record:
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
