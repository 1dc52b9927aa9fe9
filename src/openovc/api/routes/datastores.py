"""Routes of /datastores: the reads, and create, resize, delete, set_policy, share and unshare as tasks."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Request
from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from openovc.api.bodies import Body, Id, SetPolicy
from openovc.api.collection import get_openapi, get_response, list_openapi, list_response
from openovc.api.deps import ReaderDep, RuntimeDep, api_router, media_type
from openovc.api.responses import JSON
from openovc.api.schemas import STANDARD_HOSTS, answer
from openovc.api.tasking import accepted
from openovc.domain.catalog import DATASTORES
from openovc.services import datastores as ds
from openovc.services import reads

router = api_router("/datastores", tags=["datastores"])

MAX_INT64 = 2**63 - 1


def _not_a_boolean(value: Any) -> Any:
    # The real one reads sizes as Java longs: a JSON boolean is not a number there (a string of digits is).
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


Size = Annotated[int, BeforeValidator(_not_a_boolean), Field(gt=0, le=MAX_INT64)]


class CreateDatastore(Body):
    name: str
    omnistack_cluster_id: Id
    policy_id: Id
    size: Size
    single_replica: bool | None = None


class ResizeDatastore(Body):
    size: Size


class StandardHost(Body):
    host_name: str


@router.get("", operation_id="listDatastores", openapi_extra=list_openapi(DATASTORES))
def list_datastores(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, DATASTORES)


@router.post("", operation_id="createDatastore", status_code=202, dependencies=[media_type(0)])
def create_datastore(body: CreateDatastore, rt: RuntimeDep) -> JSON:
    task = ds.create(
        rt.reader, rt.tasks, body.name, body.omnistack_cluster_id, body.policy_id, body.size,
        bool(body.single_replica),
    )  # fmt: skip
    return accepted(rt.tasks, task)


@router.get("/{datastoreId}", operation_id="getDatastore", openapi_extra=get_openapi(DATASTORES))
def get_datastore(datastoreId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, DATASTORES, datastoreId)


@router.delete("/{datastoreId}", operation_id="deleteDatastore", status_code=202)
def delete_datastore(datastoreId: str, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, ds.delete(rt.reader, rt.tasks, datastoreId))


@router.post(
    "/{datastoreId}/resize", operation_id="resizeDatastore", status_code=202, dependencies=[media_type(0)]
)
def resize_datastore(datastoreId: str, body: ResizeDatastore, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, ds.resize(rt.reader, rt.tasks, datastoreId, body.size))


@router.post(
    "/{datastoreId}/set_policy",
    operation_id="setDatastorePolicy",
    status_code=202,
    dependencies=[media_type(0)],
)
def set_datastore_policy(datastoreId: str, body: SetPolicy, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, ds.set_policy(rt.reader, rt.tasks, datastoreId, body.policy_id))


@router.get(
    "/{datastoreId}/standard_hosts", operation_id="getStandardHosts", openapi_extra=answer(STANDARD_HOSTS)
)
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


@router.post(
    "/{datastoreId}/share", operation_id="shareDatastore", status_code=202, dependencies=[media_type(8)]
)
def share_datastore(datastoreId: str, body: StandardHost, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, ds.share(rt.reader, rt.tasks, datastoreId, body.host_name))


@router.post(
    "/{datastoreId}/unshare", operation_id="unShareDatastore", status_code=202, dependencies=[media_type(8)]
)
def unshare_datastore(datastoreId: str, body: StandardHost, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, ds.unshare(rt.reader, rt.tasks, datastoreId, body.host_name))
