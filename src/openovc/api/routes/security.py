"""/security: trusted certificates and RBAC role assignments (and the pre-1.12 /certificates paths)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field, field_validator

from openovc.api.deps import RuntimeDep, api_router, media_type
from openovc.api.responses import JSON
from openovc.api.schemas import CERTIFICATE, CERTIFICATE_LIST, ROLE_ASSIGNMENT, ROLE_ASSIGNMENTS, answer
from openovc.domain.auth import RBAC_ROLES
from openovc.domain.ports.certificates import CertificateStore
from openovc.domain.ports.role_assignments import RoleAssignmentStore
from openovc.services import certificates

router = api_router(tags=["security"])


async def certificate_store(rt: RuntimeDep) -> CertificateStore:
    # async: no I/O here, so no trip through the thread pool.
    return rt.certificates


async def role_assignment_store(rt: RuntimeDep) -> RoleAssignmentStore:
    return rt.role_assignments


StoreDep = Annotated[CertificateStore, Depends(certificate_store)]
RolesDep = Annotated[RoleAssignmentStore, Depends(role_assignment_store)]


class AddCertificate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    certificate: str = Field(min_length=1)


class RoleAssignment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str = Field(min_length=1)
    groups: list[Annotated[str, Field(min_length=1)]]

    @field_validator("role")
    @classmethod
    def known_role(cls, role: str) -> str:
        if role not in RBAC_ROLES:
            raise ValueError(f"role must be one of {', '.join(RBAC_ROLES)}")
        return role


def _paths(suffix: str) -> list[str]:
    return [f"/security/certificates{suffix}", f"/certificates{suffix}"]


def _register_certificate_routes() -> None:
    for legacy, prefix in ((False, "/security/certificates"), (True, "/certificates")):
        tail = "Legacy" if legacy else ""
        router.add_api_route(prefix, list_certificates, methods=["GET"], operation_id=f"getCertificates{tail}",
                             include_in_schema=not legacy, openapi_extra=answer(CERTIFICATE_LIST))  # fmt: skip
        router.add_api_route(prefix, add_certificate, methods=["POST"], status_code=201,
                             operation_id=f"addCertificate{tail}", include_in_schema=not legacy,
                             dependencies=[media_type(8)], openapi_extra=answer(CERTIFICATE, 201))  # fmt: skip
        router.add_api_route(f"{prefix}/upload_der_encoded_certificate", add_der_certificate, methods=["POST"],
                             status_code=201, operation_id=f"addDEREncodedCertificate{tail}",
                             include_in_schema=not legacy, openapi_extra=answer(CERTIFICATE, 201))  # fmt: skip
        router.add_api_route(f"{prefix}/{{certId}}", get_certificate, methods=["GET"],
                             operation_id=f"getCertificate{tail}", include_in_schema=not legacy,
                             openapi_extra=answer(CERTIFICATE))  # fmt: skip
        router.add_api_route(f"{prefix}/{{certId}}", delete_certificate, methods=["DELETE"],
                             operation_id=f"deleteCertificate{tail}", include_in_schema=not legacy,
                             openapi_extra=answer(CERTIFICATE))  # fmt: skip


def list_certificates(st: StoreDep) -> JSON:
    return JSON({"certificates": st.certificate_list()})


def add_certificate(body: AddCertificate, st: StoreDep) -> JSON:
    return JSON(certificates.add(st, certificates.parse_pem(body.certificate)), status_code=201)


async def add_der_certificate(certificate: UploadFile, rt: RuntimeDep) -> JSON:
    data = await certificate.read()
    return JSON(certificates.add(rt.certificates, certificates.parse_der(data)), status_code=201)


def get_certificate(certId: str, st: StoreDep) -> JSON:
    return JSON(certificates.find(st, certId))


def delete_certificate(certId: str, st: StoreDep) -> JSON:
    return JSON(certificates.delete(st, certId))


_register_certificate_routes()

_RBAC = "/security/rbac/policies/role_assignments"


@router.get(_RBAC, operation_id="getRoleAssignments", openapi_extra=answer(ROLE_ASSIGNMENTS))
def get_role_assignments(st: RolesDep) -> JSON:
    return JSON({"role_assignments": st.role_assignments()})


@router.post(
    _RBAC,
    operation_id="addRoleAssignments",
    status_code=201,
    dependencies=[media_type(16)],
    openapi_extra=answer(ROLE_ASSIGNMENT, 201),
)
def add_role_assignments(body: RoleAssignment, st: RolesDep) -> JSON:
    current = {r["role"]: list(r["groups"]) for r in st.role_assignments()}
    groups = list(dict.fromkeys([*current.get(body.role, []), *body.groups]))
    st.set_groups(body.role, groups)
    return JSON({"role": body.role, "groups": groups}, status_code=201)


@router.post(
    f"{_RBAC}/remove",
    operation_id="removeRoleAssignments",
    status_code=201,
    dependencies=[media_type(16)],
    openapi_extra=answer(ROLE_ASSIGNMENT, 201),
)
def remove_role_assignments(body: RoleAssignment, request: Request, st: RolesDep) -> JSON:
    del request
    current = {r["role"]: list(r["groups"]) for r in st.role_assignments()}
    groups = [g for g in current.get(body.role, []) if g not in set(body.groups)]
    st.set_groups(body.role, groups)
    return JSON({"role": body.role, "groups": groups}, status_code=201)
