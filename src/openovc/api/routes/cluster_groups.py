"""GET routes of /cluster_groups."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...domain.catalog import CLUSTER_GROUPS
from ..collection import list_openapi, list_response
from ..deps import ReaderDep
from ..responses import JSON

router = APIRouter(prefix="/cluster_groups", tags=["cluster_groups"])


@router.get("", operation_id="listClusterGroups", openapi_extra=list_openapi(CLUSTER_GROUPS))
def list_cluster_groups(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, CLUSTER_GROUPS)
