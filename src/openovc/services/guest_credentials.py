"""A VM's guest credentials for application-aware backups: backup_parameters (a task) and validation.

How a simulated guest answers a login (the emulator cannot ask a real one):

- Every guest has one administrator account: `root` on a Linux guest; `Administrator` on a Windows
  guest, written `Administrator`, `.\\Administrator` or `<DOMAIN>\\Administrator`, in any case (Windows
  account names ignore case). The guest's OS family is what the simulator's guest_os reads from
  the VM's row and what it recorded of the guest, as file-level restore sees it.
- Until backup_parameters has stored credentials that the guest accepted, the guest accepts its
  administrator account with any non-empty password. From then on it accepts exactly those
  credentials (the password is checked against the stored hash), so what validate_backup_credentials
  answers and the VM's app_aware_vm_status agree.
- Credentials stored with override_guest_validation were not checked, so they do not teach the
  guest a password.

backup_parameters sets app_aware_vm_status on a Windows guest to VALID_CREDS (accepted, or override
set) or INVALID_CREDS. Application-aware (VSS) backups need a Windows guest, so a Linux guest's
credentials are stored but its status is left alone, and a running one shows INVALID_OS.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import Any

from openovc.domain.catalog import VIRTUAL_MACHINES
from openovc.domain.errors import InvalidBody, TaskError
from openovc.domain.ports.federation import FederationReader, Record, Txn
from openovc.domain.ports.operations import GuestCredentials, OperationsState
from openovc.domain.ports.operations_store import OperationsStore
from openovc.domain.ports.simulator import LINUX, Simulator
from openovc.domain.records import VirtualMachine
from openovc.domain.tasks import AffectedObject, Codes, TaskFailure
from openovc.operations.engine import Handler, TaskEngine
from openovc.services.auth import hash_password, verify_password
from openovc.services.common import existing, still_there

VM = "virtual_machine"
VALID, INVALID, POWERED_OFF = "VALID", "INVALID", "VM_POWERED_OFF"


def is_administrator(family: str, username: str) -> bool:
    if family == LINUX:
        return username == "root"
    domain, sep, account = username.rpartition("\\")
    return account.lower() == "administrator" and (not sep or domain != "")


def _same_account(family: str, known: str, username: str) -> bool:
    return known == username if family == LINUX else known.lower() == username.lower()


def accepts(
    sim: Simulator,
    state: OperationsState,
    vm: VirtualMachine,
    known: GuestCredentials | None,
    username: str,
    password: str,
) -> bool:
    """Whether the guest accepts this login (see the module's docstring)."""
    if username == "" or password == "":
        return False
    family = sim.guest_os(vm, state)
    if known is not None and known.account_username is not None and known.account_password_hash is not None:
        return _same_account(family, known.account_username, username) and verify_password(
            known.account_password_hash, password
        )
    return is_administrator(family, username)


def _alive(vm: VirtualMachine) -> None:
    if vm["state"] != "ALIVE":
        raise TaskError(Codes.INVALID_STATE, f"The virtual machine {vm['name']} is {vm['state']}.")


# --------------------------------------------------------------------------------------- validation


def validate(
    store: OperationsStore, reader: FederationReader, sim: Simulator, vm_id: str, username: str, password: str
) -> str:
    """VALID, INVALID, or VM_POWERED_OFF when no running guest can answer."""
    vm = existing(reader, VIRTUAL_MACHINES, vm_id)
    _alive(vm)
    if vm["hypervisor_virtual_machine_power_state"] != "ON":
        return POWERED_OFF
    with store.reading() as state:
        known = state.guest_credentials(vm_id)
        return VALID if accepts(sim, state, vm, known, username, password) else INVALID


# -------------------------------------------------------------------------------- backup parameters


def set_backup_parameters(
    store: OperationsStore,
    reader: FederationReader,
    tasks: TaskEngine,
    sim: Simulator,
    vm_id: str,
    *,
    username: str,
    password: str,
    override: bool,
    app_aware_type: str | None,
) -> Record:
    vm = existing(reader, VIRTUAL_MACHINES, vm_id)
    _alive(vm)
    for field, value in (("guest_username", username), ("guest_password", password)):
        if value == "":
            raise InvalidBody(f"Invalid body: {field}: must not be empty")
    with store.reading() as state:
        known = state.guest_credentials(vm_id)
        accepted = accepts(sim, state, vm, known, username, password)
    # The guest is asked now, while the password is at hand; the task only ever sees its hash.
    payload = {
        "vm": vm_id,
        "username": username,
        "password_hash": hash_password(password),
        "override": override,
        "app_aware_type": app_aware_type,
        "accepted": accepted,
        "asked": known.account_password_hash if known is not None else None,
    }
    return tasks.submit("virtual_machine.backup_parameters", payload, [vm_id])


def _status(sim: Simulator, state: OperationsState, vm: VirtualMachine, accepted: bool) -> str:
    if sim.guest_os(vm, state) == LINUX:
        on = vm["hypervisor_virtual_machine_power_state"] == "ON"
        return "INVALID_OS" if on else str(vm["app_aware_vm_status"])
    return "VALID_CREDS" if accepted else "INVALID_CREDS"


def _run_backup_parameters(
    sim: Simulator, txn: Txn, payload: Mapping[str, Any], _now: datetime
) -> list[AffectedObject]:
    vm = still_there(txn, VIRTUAL_MACHINES, payload["vm"])
    if vm["state"] != "ALIVE":
        raise TaskFailure(Codes.INVALID_STATE, f"The virtual machine {vm['name']} is {vm['state']}.")
    state = txn.state()
    known = state.guest_credentials(vm["id"])
    if (known.account_password_hash if known is not None else None) != payload["asked"]:
        # The guest's password was learnt by another request in between: this answer is stale.
        raise TaskFailure(
            Codes.INVALID_STATE,
            f"The guest credentials of virtual machine {vm['name']} changed after this request was "
            "accepted; send it again.",
        )
    accepted = bool(payload["accepted"])
    app_aware = payload["app_aware_type"]
    state.put_guest_credentials(
        GuestCredentials(
            vm_id=vm["id"],
            username=payload["username"],
            password_hash=payload["password_hash"],
            # null leaves the type as it was (the Python SDK sends null unless told otherwise).
            app_aware_type=app_aware if app_aware is not None else (known.app_aware_type if known else None),
            override_validation=bool(payload["override"]),
            account_username=payload["username"] if accepted else (known.account_username if known else None),
            account_password_hash=payload["password_hash"]
            if accepted
            else (known.account_password_hash if known else None),
        )
    )
    status = _status(sim, state, vm, accepted or bool(payload["override"]))
    txn.update(VIRTUAL_MACHINES, vm["id"], {"app_aware_vm_status": status})
    return [AffectedObject(vm["id"], VM)]


def handlers(sim: Simulator) -> dict[str, Handler]:
    return {"virtual_machine.backup_parameters": partial(_run_backup_parameters, sim)}
