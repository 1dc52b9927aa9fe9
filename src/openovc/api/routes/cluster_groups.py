"""Routes of /cluster_groups: the list, and rename (a task)."""

from __future__ import annotations

from fastapi import Request

from openovc.api.bodies import Body
from openovc.api.collection import list_openapi, list_response
from openovc.api.deps import ReaderDep, RuntimeDep, api_router, media_type
from openovc.api.responses import JSON
from openovc.api.tasking import accepted
from openovc.domain.catalog import CLUSTER_GROUPS
from openovc.services import clusters

router = api_router("/cluster_groups", tags=["cluster_groups"])


class RenameClusterGroup(Body):
    cluster_group_name: str
    id: str | None = None  # 1.17+: must name the group of the path
    revision: int | None = None  # 1.17+: accepted; groups carry no revision to compare with


@router.get("", operation_id="listClusterGroups", openapi_extra=list_openapi(CLUSTER_GROUPS))
def list_cluster_groups(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, CLUSTER_GROUPS)


@router.post(
    "/{clusterGroupId}/rename",
    operation_id="renameClusterGroup",
    status_code=202,
    dependencies=[media_type(7)],
)
def rename_cluster_group(clusterGroupId: str, body: RenameClusterGroup, rt: RuntimeDep) -> JSON:
    task = clusters.rename_group(rt.reader, rt.tasks, clusterGroupId, body.cluster_group_name, body.id)
    return accepted(rt.tasks, task)
