"""Cluster operations (time zone, IWO) and cluster group rename, as tasks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from openovc.domain.catalog import CLUSTER_GROUPS, OMNISTACK_CLUSTERS
from openovc.domain.errors import InvalidBody
from openovc.domain.ports.federation import FederationReader, Finder, Record, Txn
from openovc.domain.tasks import AffectedObject
from openovc.domain.timezones import is_time_zone
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.common import existing, fail_duplicate, refuse_duplicate_now, still_there, valid_name

CLUSTER = "omnistack_cluster"
GROUP = "cluster_group"


def _cluster(cluster_id: str) -> list[AffectedObject]:
    return [AffectedObject(cluster_id, CLUSTER)]


# --------------------------------------------------------------------------------------- time zone


def set_time_zone(reader: FederationReader, tasks: TaskEngine, cluster_id: str, time_zone: str) -> Record:
    existing(reader, OMNISTACK_CLUSTERS, cluster_id)
    if not is_time_zone(time_zone):
        raise InvalidBody(
            f"Invalid body: time_zone: {time_zone!r} is not a time zone of "
            "GET /omnistack_clusters/time_zone_list (names are case-sensitive)"
        )
    payload = {"cluster": cluster_id, "time_zone": time_zone}
    return tasks.submit("omnistack_cluster.set_time_zone", payload, [cluster_id])


def _run_set_time_zone(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    cluster = still_there(txn, OMNISTACK_CLUSTERS, payload["cluster"])
    txn.update(OMNISTACK_CLUSTERS, cluster["id"], {"time_zone": payload["time_zone"]})
    return _cluster(cluster["id"])


# --------------------------------------------------------------------------------------------- IWO


def set_iwo(reader: FederationReader, tasks: TaskEngine, cluster_id: str, enabled: bool) -> Record:
    existing(reader, OMNISTACK_CLUSTERS, cluster_id)
    return tasks.submit(
        "omnistack_cluster.set_iwo", {"cluster": cluster_id, "enabled": enabled}, [cluster_id]
    )


def _run_set_iwo(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    cluster = still_there(txn, OMNISTACK_CLUSTERS, payload["cluster"])
    enabled = bool(payload["enabled"])
    # The emulated Intersight Workload Optimizer is always reachable, so it is active once enabled.
    txn.update(OMNISTACK_CLUSTERS, cluster["id"], {"iwo_enabled": enabled, "iwo_active": enabled})
    return _cluster(cluster["id"])


# ---------------------------------------------------------------------------- cluster group rename


def _group_named(finder: Finder, name: str, except_id: str) -> bool:
    return any(g["id"] != except_id for g in finder.find(CLUSTER_GROUPS, name=name))


def rename_group(
    reader: FederationReader, tasks: TaskEngine, group_id: str, name: str, body_id: str | None
) -> Record:
    existing(reader, CLUSTER_GROUPS, group_id)
    # `id` (1.17+) names the group again; the path's id is the authority, so they must agree.
    if body_id is not None and body_id != group_id:
        raise InvalidBody(f"Invalid body: id: {body_id} is not the cluster group {group_id} of the path")
    valid_name(GROUP, name)
    refuse_duplicate_now(_group_named(reader, name, group_id))
    return tasks.submit("cluster_group.rename", {"group": group_id, "name": name}, [group_id])


def _run_rename_group(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    group = still_there(txn, CLUSTER_GROUPS, payload["group"])
    fail_duplicate(_group_named(txn, payload["name"], group["id"]))
    # No other object stores a group's name (they carry cluster_group_ids only).
    txn.update(CLUSTER_GROUPS, group["id"], {"name": payload["name"]})
    return []  # the real one reports no affected object for this task (the Python SDK says so)


HANDLERS: dict[str, Handler] = {
    "omnistack_cluster.set_time_zone": _run_set_time_zone,
    "omnistack_cluster.set_iwo": _run_set_iwo,
    "cluster_group.rename": _run_rename_group,
}
