"""Routes of /external_stores: the list, and register, update_credentials and unregister (tasks)."""

from __future__ import annotations

from typing import Literal

from fastapi import Request

from openovc.api.bodies import Body
from openovc.api.collection import list_openapi, list_response
from openovc.api.deps import ReaderDep, RuntimeDep, api_router, media_type
from openovc.api.responses import JSON
from openovc.api.tasking import accepted
from openovc.domain.catalog import EXTERNAL_STORES
from openovc.services import external_stores as stores

router = api_router("/external_stores", tags=["external_stores"])


class RegisterExternalStore(Body):
    name: str
    management_ip: str
    omnistack_cluster_id: str
    username: str
    password: str
    management_port: int = 9387
    storage_port: int = 9388
    type: Literal["StoreOnceOnPrem", "StoreOnceCloud"] = "StoreOnceOnPrem"


class UpdateCredentials(Body):
    name: str
    username: str
    password: str
    management_ip: str | None = None


class UnregisterExternalStore(Body):
    name: str
    omnistack_cluster_id: str


@router.get("", operation_id="listExternalStores", openapi_extra=list_openapi(EXTERNAL_STORES))
def list_external_stores(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, EXTERNAL_STORES)


@router.post("", operation_id="registerExternalStores", status_code=202, dependencies=[media_type(11)])
def register_external_store(body: RegisterExternalStore, rt: RuntimeDep) -> JSON:
    task = stores.register(
        rt.reader, rt.tasks, name=body.name, management_ip=body.management_ip,
        cluster_id=body.omnistack_cluster_id, username=body.username, password=body.password,
        management_port=body.management_port, storage_port=body.storage_port, store_type=body.type,
    )  # fmt: skip
    return accepted(rt.tasks, task)


@router.post(
    "/update_credentials",
    operation_id="updateExternalStoreCredentials",
    status_code=202,
    dependencies=[media_type(15)],
)
def update_credentials(body: UpdateCredentials, rt: RuntimeDep) -> JSON:
    task = stores.update_credentials(
        rt.reader, rt.tasks, name=body.name, username=body.username, password=body.password,
        management_ip=body.management_ip,
    )  # fmt: skip
    return accepted(rt.tasks, task)


@router.post(
    "/unregister", operation_id="unregisterExternalStores", status_code=202, dependencies=[media_type(15)]
)
def unregister_external_store(body: UnregisterExternalStore, rt: RuntimeDep) -> JSON:
    task = stores.unregister(rt.reader, rt.tasks, name=body.name, cluster_id=body.omnistack_cluster_id)
    return accepted(rt.tasks, task)
