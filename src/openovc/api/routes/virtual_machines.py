"""Routes of /virtual_machines; the task functions of backup, clone, move and set_policy are the lean path's too."""

from __future__ import annotations

from typing import Literal

from fastapi import Request

from openovc.api.bodies import BackupVM, CloneVM, MoveVM, SetPolicy, SetPolicyVMs
from openovc.api.bodies import Body as BodyModel
from openovc.api.collection import get_openapi, get_response, list_openapi, list_response
from openovc.api.deps import ReaderDep, Runtime, RuntimeDep, api_router, media_type
from openovc.api.responses import JSON
from openovc.api.schemas import CREDENTIALS_VALIDATION, answer
from openovc.api.tasking import accepted
from openovc.domain.catalog import BACKUPS, VIRTUAL_MACHINES
from openovc.domain.ports.federation import Record
from openovc.services import backups, reads
from openovc.services import guest_credentials as guests
from openovc.services import virtual_machines as vms

router = api_router("/virtual_machines", tags=["virtual_machines"])


@router.get("", operation_id="listVms", openapi_extra=list_openapi(VIRTUAL_MACHINES))
def list_vms(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, VIRTUAL_MACHINES)


@router.post("/set_policy", operation_id="setPolicyForVms", status_code=202, dependencies=[media_type(0)])
def set_policy_for_vms(body: SetPolicyVMs, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, set_policy_for_vms_task(rt, body))


def set_policy_for_vms_task(rt: Runtime, body: SetPolicyVMs) -> Record:
    return vms.set_policy(rt.reader, rt.tasks, body.virtual_machine_id or [], body.policy_id)


@router.get("/{vmId}", operation_id="getVm", openapi_extra=get_openapi(VIRTUAL_MACHINES))
def get_vm(vmId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, VIRTUAL_MACHINES, vmId)


@router.get("/{vmId}/backups", operation_id="listVMBackups", openapi_extra=list_openapi(BACKUPS))
def list_vm_backups(vmId: str, request: Request, reader: ReaderDep) -> JSON:
    reads.get_object(reader, VIRTUAL_MACHINES, vmId)
    return list_response(request, reader, BACKUPS, fixed={"virtual_machine_id": vmId})


@router.post(
    "/{vmId}/set_policy", operation_id="setPolicyForVm", status_code=202, dependencies=[media_type(0)]
)
def set_policy_for_vm(vmId: str, body: SetPolicy, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, set_policy_for_vm_task(rt, vmId, body))


def set_policy_for_vm_task(rt: Runtime, vmId: str, body: SetPolicy) -> Record:
    return vms.set_policy(rt.reader, rt.tasks, [vmId], body.policy_id)


@router.post("/{vmId}/backup", operation_id="backupVm", status_code=202, dependencies=[media_type(0)])
def backup_vm(vmId: str, body: BackupVM, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, backup_task(rt, vmId, body))


def backup_task(rt: Runtime, vmId: str, body: BackupVM) -> Record:
    return backups.backup_vm(
        rt.reader, rt.tasks, vmId, name=body.backup_name, cluster_id=body.destination_id,
        store_name=body.external_store_name, consistency=body.consistency(), retention=body.retention or 0,
    )  # fmt: skip


@router.post("/{vmId}/clone", operation_id="cloneVm", status_code=202, dependencies=[media_type(0)])
def clone_vm(vmId: str, body: CloneVM, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, clone_task(rt, vmId, body))


def clone_task(rt: Runtime, vmId: str, body: CloneVM) -> Record:
    return vms.clone(rt.reader, rt.tasks, vmId, body.virtual_machine_name, body.consistency())


@router.post("/{vmId}/move", operation_id="moveVm", status_code=202, dependencies=[media_type(0)])
def move_vm(vmId: str, body: MoveVM, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, move_task(rt, vmId, body))


def move_task(rt: Runtime, vmId: str, body: MoveVM) -> Record:
    return vms.move(rt.reader, rt.tasks, vmId, body.destination_datastore_id, body.virtual_machine_name)


@router.post(
    "/{vmId}/power_on", operation_id="powerOnVMUsingPOST", status_code=202, dependencies=[media_type(9)]
)
def power_on(vmId: str, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, vms.power(rt.reader, rt.tasks, vmId, "ON"))


@router.post(
    "/{vmId}/power_off", operation_id="powerOffVMUsingPOST", status_code=202, dependencies=[media_type(9)]
)
def power_off(vmId: str, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, vms.power(rt.reader, rt.tasks, vmId, "OFF"))


# ---- guest credentials for application-aware backups ----


class BackupParameters(BodyModel):
    guest_username: str
    guest_password: str
    override_guest_validation: bool | None = None
    override_validation: bool | None = None  # what the Go SDK sends instead
    app_aware_type: Literal["NONE", "DEFAULT", "VSS"] | None = None

    def override(self) -> bool:
        chosen = self.override_guest_validation
        return bool(chosen if chosen is not None else self.override_validation)


class GuestLogin(BodyModel):
    guest_username: str
    guest_password: str


@router.post(
    "/{vmId}/backup_parameters", operation_id="setBackupParams", status_code=202, dependencies=[media_type(8)]
)
def set_backup_parameters(vmId: str, body: BackupParameters, rt: RuntimeDep) -> JSON:
    task = guests.set_backup_parameters(
        rt.operations, rt.reader, rt.tasks, rt.simulator, vmId, username=body.guest_username,
        password=body.guest_password, override=body.override(), app_aware_type=body.app_aware_type,
    )  # fmt: skip
    return accepted(rt.tasks, task)


@router.post(
    "/{vmId}/validate_backup_credentials",
    operation_id="validateBackupCred",
    dependencies=[media_type(8)],
    openapi_extra=answer(CREDENTIALS_VALIDATION),
)
def validate_backup_credentials(vmId: str, body: GuestLogin, rt: RuntimeDep) -> JSON:
    status = guests.validate(
        rt.operations, rt.reader, rt.simulator, vmId, body.guest_username, body.guest_password
    )
    return JSON({"credentials_validation": {"status": status}})
