"""Routes of /persistent_volumes: never in HPE's published spec, served as the Go SDK (and so HPE's vSphere
CSI driver) calls them, with the v1.16 media type."""

from __future__ import annotations

from fastapi import Request

from openovc.api.bodies import BackupVM, Body, Id
from openovc.api.collection import get_openapi, get_response, list_openapi, list_response
from openovc.api.deps import ReaderDep, RuntimeDep, api_router, media_type
from openovc.api.responses import JSON
from openovc.api.tasking import accepted
from openovc.domain.catalog import PERSISTENT_VOLUMES
from openovc.services import persistent_volumes as pvs
from openovc.services.backups.taking import backup_of

router = api_router("/persistent_volumes", tags=["persistent_volumes"])

V1_16 = 16  # the media type version that brought persistent volumes


class SetPolicyPVs(Body):
    persistent_volume_id: list[Id] | None = None
    policy_id: Id


@router.get("", operation_id="listPersistentVolumes", openapi_extra=list_openapi(PERSISTENT_VOLUMES))
def list_persistent_volumes(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, PERSISTENT_VOLUMES)


@router.post(
    "/set_policy",
    operation_id="setPolicyForPersistentVolumes",
    status_code=202,
    dependencies=[media_type(V1_16)],
)
def set_policy_for_persistent_volumes(body: SetPolicyPVs, rt: RuntimeDep) -> JSON:
    return accepted(
        rt.tasks, pvs.set_policy(rt.reader, rt.tasks, body.persistent_volume_id or [], body.policy_id)
    )


@router.get("/{pvId}", operation_id="getPersistentVolume", openapi_extra=get_openapi(PERSISTENT_VOLUMES))
def get_persistent_volume(pvId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, PERSISTENT_VOLUMES, pvId)


@router.post(
    "/{pvId}/backup", operation_id="backupPersistentVolume", status_code=202, dependencies=[media_type(V1_16)]
)
def backup_persistent_volume(pvId: str, body: BackupVM, rt: RuntimeDep) -> JSON:
    # Taken as a VM's backup is.
    task = backup_of(
        rt.reader, rt.tasks, PERSISTENT_VOLUMES, pvId, name=body.backup_name, cluster_id=body.destination_id,
        store_name=body.external_store_name, consistency=body.consistency(), retention=body.retention or 0,
    )  # fmt: skip
    return accepted(rt.tasks, task)
