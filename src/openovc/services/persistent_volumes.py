"""Persistent volumes (the CSI driver's first-class disks): their policy, their backups, and finding them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from openovc.domain.catalog import BACKUPS, PERSISTENT_VOLUMES
from openovc.domain.ports.federation import FederationReader, Page, Record
from openovc.domain.query import CollectionQuery, parse_collection_query
from openovc.operations.engine import Handler, TaskEngine
from openovc.services import assign_policy, reads


def set_policy(reader: FederationReader, tasks: TaskEngine, pv_ids: Sequence[str], policy_id: str) -> Record:
    """One task for one or many volumes, as for VMs; its affected objects name each volume."""
    return assign_policy.set_policy(reader, tasks, PERSISTENT_VOLUMES, pv_ids, policy_id)


def list_backups(
    reader: FederationReader, params: Mapping[str, str], pv_name: str
) -> tuple[Page, CollectionQuery]:
    """The backups of the volumes named `pv_name` (deleted ones too: their backups remain), with the
    client's other parameters: the `pv` filter of GET /backups, which the Go SDK sends."""
    volumes = reader.find(PERSISTENT_VOLUMES, name=pv_name.strip())
    if not volumes:
        # Nothing to match: the client's parameters are still checked, and the page is empty.
        query = parse_collection_query(BACKUPS, params)
        return Page(count=0, columns=(), rows=()), query
    return reads.list_objects(
        reader, BACKUPS, params, {"virtual_machine_id": ",".join(v["id"] for v in volumes)}
    )


HANDLERS: dict[str, Handler] = {"persistent_volume.set_policy": assign_policy.handler(PERSISTENT_VOLUMES)}
