"""Routes of /omnistack_clusters: reads, and the time zone and IWO settings (tasks)."""

from __future__ import annotations

from fastapi import Request

from openovc.api.bodies import Body
from openovc.api.collection import get_openapi, get_response, list_openapi, list_response
from openovc.api.deps import ReaderDep, RuntimeDep, api_router, media_type
from openovc.api.render import render_rows
from openovc.api.responses import JSON
from openovc.api.schemas import TIME_ZONES, answer, listing
from openovc.api.tasking import accepted
from openovc.domain.catalog import OMNISTACK_CLUSTERS
from openovc.domain.timezones import time_zone_list
from openovc.services import clusters, reads

router = api_router("/omnistack_clusters", tags=["omnistack_clusters"])


class SetTimeZone(Body):
    time_zone: str


class SetIwo(Body):
    enabled: bool


@router.get("", operation_id="listClusters", openapi_extra=list_openapi(OMNISTACK_CLUSTERS))
def list_clusters(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, OMNISTACK_CLUSTERS)


@router.get("/time_zone_list", operation_id="getTimeZones", openapi_extra=answer(TIME_ZONES))
def get_time_zones() -> JSON:
    return JSON(time_zone_list())


@router.get("/{clusterId}", operation_id="getCluster", openapi_extra=get_openapi(OMNISTACK_CLUSTERS))
def get_cluster(clusterId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, OMNISTACK_CLUSTERS, clusterId)


@router.get(
    "/{clusterId}/connected_clusters",
    operation_id="getConnectedClusters",
    openapi_extra=answer(listing(OMNISTACK_CLUSTERS)),
)
def get_connected_clusters(clusterId: str, request: Request, reader: ReaderDep) -> JSON:
    """In a peer-managed federation every other cluster is directly connected."""
    reads.get_object(reader, OMNISTACK_CLUSTERS, clusterId)
    params = {**request.query_params, "show_optional_fields": "true", "limit": "5000"}
    page, _ = reads.list_objects(reader, OMNISTACK_CLUSTERS, params)
    others = [
        row for row in render_rows(OMNISTACK_CLUSTERS, page.columns, page.rows) if row["id"] != clusterId
    ]
    return JSON({"omnistack_clusters": others})


@router.post(
    "/{clusterId}/set_time_zone",
    operation_id="setClusterTimeZone",
    status_code=202,
    dependencies=[media_type(0)],
)
def set_time_zone(clusterId: str, body: SetTimeZone, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, clusters.set_time_zone(rt.reader, rt.tasks, clusterId, body.time_zone))


@router.post(
    "/{clusterId}/set_iwo", operation_id="enableClusterIWO", status_code=202, dependencies=[media_type(16)]
)
def set_iwo(clusterId: str, body: SetIwo, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, clusters.set_iwo(rt.reader, rt.tasks, clusterId, body.enabled))
