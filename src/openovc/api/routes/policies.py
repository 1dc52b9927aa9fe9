"""GET routes of /policies and their rules."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request

from ...domain.catalog import DATASTORES, POLICIES, VIRTUAL_MACHINES
from ...domain.errors import ObjectNotFound
from ...services import reads
from ..collection import get_openapi, get_response, list_openapi, list_response
from ..deps import ReaderDep
from ..responses import JSON

router = APIRouter(prefix="/policies", tags=["policies"])


@router.get("", operation_id="listPolicies", openapi_extra=list_openapi(POLICIES))
def list_policies(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, POLICIES)


@router.get("/{policyId}", operation_id="getPolicy", openapi_extra=get_openapi(POLICIES))
def get_policy(policyId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, POLICIES, policyId)


@router.get("/{policyId}/rules/{ruleId}", operation_id="getRule")
def get_rule(policyId: str, ruleId: str, reader: ReaderDep) -> JSON:
    policy = reads.get_object(reader, POLICIES, policyId)
    for rule in orjson.loads(str(policy["rules"] or "[]")):
        if rule.get("id") == ruleId:
            return JSON({"rule": rule})
    raise ObjectNotFound("rule", ruleId)


@router.get("/{policyId}/virtual_machines", operation_id="getPolicyVirtualMachines", deprecated=True)
def get_policy_vms(policyId: str, request: Request, reader: ReaderDep) -> JSON:
    reads.get_object(reader, POLICIES, policyId)
    return list_response(request, reader, VIRTUAL_MACHINES, fixed={"policy_id": policyId})


@router.get("/{policyId}/datastores", operation_id="getPolicyDatastores", deprecated=True)
def get_policy_datastores(policyId: str, request: Request, reader: ReaderDep) -> JSON:
    reads.get_object(reader, POLICIES, policyId)
    return list_response(request, reader, DATASTORES, fixed={"policy_id": policyId})
