"""A policy's life: create, rename and delete, as tasks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from openovc.domain.catalog import (
    CLUSTER_GROUPS,
    DATASTORES,
    HOSTS,
    OMNISTACK_CLUSTERS,
    PERSISTENT_VOLUMES,
    POLICIES,
    VIRTUAL_MACHINES,
)
from openovc.domain.errors import ObjectInUse
from openovc.domain.ports.federation import FederationReader, Finder, Record, Txn
from openovc.domain.records import Policy
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.common import (
    existing,
    fail_duplicate,
    new_id,
    refuse_duplicate_now,
    still_there,
    valid_name,
)
from openovc.services.policies.common import POLICY


def _named(finder: Finder, name: str, except_id: str | None = None) -> bool:
    return any(p["id"] != except_id for p in finder.find(POLICIES, name=name))


def create(reader: FederationReader, tasks: TaskEngine, name: str, cluster_group_id: str | None) -> Record:
    valid_name(POLICY, name)
    if cluster_group_id:
        existing(reader, CLUSTER_GROUPS, cluster_group_id)
    refuse_duplicate_now(_named(reader, name))
    # The policy belongs to the cluster of the Virtual Controller that creates it.
    host_id = reader.controller_host_id()
    host = reader.get(HOSTS, host_id) if host_id else None
    owner = str(host["omnistack_cluster_id"]) if host else ""
    payload = {"name": name, "cluster_group": cluster_group_id or None, "owner": owner}
    return tasks.submit("policy.create", payload, [])


def _run_create(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    fail_duplicate(_named(txn, payload["name"]))
    owner = still_there(txn, OMNISTACK_CLUSTERS, payload["owner"]) if payload["owner"] else None
    if payload["cluster_group"]:
        groups = [still_there(txn, CLUSTER_GROUPS, payload["cluster_group"])["id"]]
    else:
        groups = list(owner["cluster_group_ids"] or []) if owner else []
    policy_id = new_id()
    txn.insert(
        POLICIES,
        {
            "id": policy_id,
            "name": payload["name"],
            "rules": [],
            "cluster_group_ids": groups,
            "owner_cluster_id": owner["id"] if owner else "",
            "owner_cluster_name": owner["name"] if owner else "",
        },
    )
    return [AffectedObject(policy_id, POLICY)]


def rename(reader: FederationReader, tasks: TaskEngine, policy_id: str, name: str) -> Record:
    existing(reader, POLICIES, policy_id)
    valid_name(POLICY, name)
    refuse_duplicate_now(_named(reader, name, except_id=policy_id))
    return tasks.submit("policy.rename", {"policy": policy_id, "name": name}, [policy_id])


def _run_rename(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    policy = still_there(txn, POLICIES, payload["policy"])
    fail_duplicate(_named(txn, payload["name"], except_id=policy["id"]))
    name = payload["name"]
    txn.update(POLICIES, policy["id"], {"name": name})
    # Every object that names the policy follows, deleted VMs included (their rows still show it).
    txn.update_where(VIRTUAL_MACHINES, {"policy_id": policy["id"]}, {"policy_name": name})
    txn.update_where(PERSISTENT_VOLUMES, {"policy_id": policy["id"]}, {"policy_name": name})
    txn.update_where(DATASTORES, {"policy_id": policy["id"]}, {"policy_name": name})
    return [AffectedObject(policy["id"], POLICY)]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _in_use(finder: Finder, policy: Policy) -> str | None:
    """Why the policy cannot be deleted: datastores or live VMs still use it."""
    datastores = finder.find(DATASTORES, policy_id=policy["id"])
    vms = finder.find(VIRTUAL_MACHINES, policy_id=policy["id"], state="ALIVE")
    volumes = finder.find(PERSISTENT_VOLUMES, policy_id=policy["id"], state="ALIVE")
    counts = (
        (len(datastores), "datastore"),
        (len(vms), "virtual machine"),
        (len(volumes), "persistent volume"),
    )
    if not any(n for n, _ in counts):
        return None
    named = [_plural(n, noun) for n, noun in counts if n]
    users = " and ".join([", ".join(named[:-1]), named[-1]] if len(named) > 1 else named)
    return f"The policy {policy['name']} is in use by {users}; assign them another policy first."


def delete(reader: FederationReader, tasks: TaskEngine, policy_id: str) -> Record:
    policy = existing(reader, POLICIES, policy_id)
    problem = _in_use(reader, policy)
    if problem:
        raise ObjectInUse(problem)
    return tasks.submit("policy.delete", {"policy": policy_id}, [policy_id])


def _run_delete(txn: Txn, payload: Mapping[str, Any], _now: datetime) -> list[AffectedObject]:
    policy = still_there(txn, POLICIES, payload["policy"])
    problem = _in_use(txn, policy)
    if problem:
        raise TaskFailure(Codes.OBJECT_IN_USE, problem)
    txn.delete(POLICIES, policy["id"])
    return [AffectedObject(policy["id"], POLICY)]


HANDLERS: dict[str, Handler] = {
    "policy.create": _run_create,
    "policy.rename": _run_rename,
    "policy.delete": _run_delete,
}
