"""GET routes of /datastores."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request

from ...domain.catalog import DATASTORES
from ...services import reads
from ..collection import get_openapi, get_response, list_openapi, list_response
from ..deps import ReaderDep
from ..responses import JSON

router = APIRouter(prefix="/datastores", tags=["datastores"])


@router.get("", operation_id="listDatastores", openapi_extra=list_openapi(DATASTORES))
def list_datastores(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, DATASTORES)


@router.get("/{datastoreId}", operation_id="getDatastore", openapi_extra=get_openapi(DATASTORES))
def get_datastore(datastoreId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, DATASTORES, datastoreId)


@router.get("/{datastoreId}/standard_hosts", operation_id="getStandardHosts")
def get_standard_hosts(datastoreId: str, reader: ReaderDep) -> JSON:
    """Standard (non-OmniStack) hosts of the datastore's cluster, and whether it is shared with each."""
    datastore = reads.get_object(reader, DATASTORES, datastoreId)
    shares = orjson.loads(str(datastore["shares"] or "[]"))
    shared = {share["host"] for share in shares}
    hosts = reader.standard_hosts(str(datastore["omnistack_cluster_id"]))
    counts = reader.count_vms(datastoreId, [str(h["name"]) for h in hosts])
    return JSON(
        {
            "standard_hosts": [
                {
                    "hypervisor_object_id": h["hypervisor_object_id"],
                    "ip_address": h["ip_address"],
                    "name": h["name"],
                    "shared": h["name"] in shared,
                    "virtual_machine_count": counts.get(str(h["name"]), 0),
                }
                for h in hosts
            ]
        }
    )
