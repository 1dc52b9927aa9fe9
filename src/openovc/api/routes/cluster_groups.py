"""Routes of /cluster_groups: the list, and rename (a task)."""

from __future__ import annotations

from fastapi import Request

from ...domain.catalog import CLUSTER_GROUPS
from ...services import clusters
from ..bodies import Body
from ..collection import list_openapi, list_response
from ..deps import ReaderDep, RuntimeDep, api_router, media_type
from ..responses import JSON
from ..tasking import accepted

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
