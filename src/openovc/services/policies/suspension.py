"""Suspending and resuming policy backups on a host, a cluster, a cluster group or the federation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from openovc.domain.catalog import CLUSTER_GROUPS, HOSTS, OMNISTACK_CLUSTERS
from openovc.domain.errors import InvalidBody, ObjectNotFound
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import FederationReader, Finder, R, Record, Txn
from openovc.domain.records import Host
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.policies.common import json_value

# What suspend and resume act on, and where its hosts are found.
TARGETS: dict[str, Collection[Any] | None] = {
    "host": HOSTS,
    "omnistack_cluster": OMNISTACK_CLUSTERS,
    "cluster_group": CLUSTER_GROUPS,
    "federation": None,
}


def _one(finder: Finder, coll: Collection[R], key: str) -> R | None:
    found = finder.find(coll, **{coll.key: key})
    return found[0] if found else None


def _scope_hosts(
    finder: Finder, target_type: str, target_id: str, missing: Callable[[Collection[Any], str], Exception]
) -> list[Host]:
    """The hosts a suspend or resume reaches; `missing` makes the error for an unknown target."""
    coll = TARGETS[target_type]
    if coll is None:
        return finder.find(HOSTS)
    target = _one(finder, coll, target_id)
    if target is None:
        raise missing(coll, target_id)
    if coll is HOSTS:
        return [target]
    clusters = [target_id] if coll is OMNISTACK_CLUSTERS else list(json_value(target["clusters"]) or [])
    return [h for cluster in clusters for h in finder.find(HOSTS, omnistack_cluster_id=cluster)]


def _not_found_now(coll: Collection[Any], key: str) -> Exception:
    return ObjectNotFound(coll.singular, key)


def _not_found_later(coll: Collection[Any], key: str) -> Exception:
    return TaskFailure(Codes.NOT_FOUND, f"Object type: {coll.singular} id: {key} could not be found")


def set_policy_backups(
    reader: FederationReader, tasks: TaskEngine, enabled: bool, target_type: str, target_id: str | None
) -> Record:
    """Suspend (enabled False) or resume policy backups on a host, cluster, cluster group or everywhere."""
    if target_type not in TARGETS:
        raise InvalidBody(
            f"Invalid body: target_object_type: must be one of {', '.join(TARGETS)}, got {target_type!r}"
        )
    key = (target_id or "").strip()
    if not key and target_type != "federation":
        raise InvalidBody(f"Invalid body: target_object_id: Field required for a {target_type}")
    hosts = _scope_hosts(reader, target_type, key, _not_found_now)
    operation = "policy.resume" if enabled else "policy.suspend"
    payload = {"type": target_type, "id": key}
    return tasks.submit(operation, payload, [h["id"] for h in hosts])


def _policy_backups(enabled: bool) -> Handler:
    def run(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
        hosts = _scope_hosts(txn, payload["type"], payload["id"], _not_found_later)
        for host in hosts:
            txn.update(HOSTS, host["id"], {"policy_enabled": enabled})
        # The hosts are what changed (`federation` and `cluster_group` are not affected-object types).
        return [AffectedObject(h["id"], "host") for h in hosts]

    return run


HANDLERS: dict[str, Handler] = {
    "policy.suspend": _policy_backups(False),
    "policy.resume": _policy_backups(True),
}
