"""Setting the backup policy of VMs or of persistent volumes: one task for one or many, its affected
objects naming each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from openovc.domain.catalog import POLICIES
from openovc.domain.errors import InvalidBody
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import FederationReader, Record, Txn
from openovc.domain.records import BackupSource
from openovc.domain.tasks import AffectedObject
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.backups.checks import alive
from openovc.services.common import existing, still_there


def set_policy(
    reader: FederationReader,
    tasks: TaskEngine,
    coll: Collection[BackupSource],
    keys: Sequence[str],
    policy_id: str,
) -> Record:
    """Quick checks (each object and the policy exist: 404 naming the first missing one), then the task."""
    if not keys:
        raise InvalidBody(
            f"Invalid body: Specify a {coll.singular}_id key/value to set a policy for {coll.singular} instances."
        )
    for key in keys:
        existing(reader, coll, key)
    existing(reader, POLICIES, policy_id)
    ids = list(dict.fromkeys(keys))
    locks = [*ids, policy_id]  # it writes only these objects, and reads the policy
    # "vms": the payload's key since VMs were its only objects (queued tasks keep it).
    return tasks.submit(f"{coll.singular}.set_policy", {"vms": ids, "policy": policy_id}, locks, scope=locks)


def _run(
    coll: Collection[BackupSource], txn: Txn, payload: Mapping[str, Any], _now: datetime
) -> list[AffectedObject]:
    policy = still_there(txn, POLICIES, payload["policy"])
    objects = [alive(txn, coll, key) for key in payload["vms"]]
    for obj in objects:
        txn.update(coll, obj["id"], {"policy_id": policy["id"], "policy_name": policy["name"]})
    return [AffectedObject(obj["id"], coll.singular) for obj in objects]


def handler(coll: Collection[BackupSource]) -> Handler:
    return partial(_run, coll)
