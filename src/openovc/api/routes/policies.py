"""Routes of /policies and their rules: reads, and the changes that run as tasks."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import Body, Request

from openovc.api.bodies import Body as BodyModel
from openovc.api.collection import get_openapi, get_response, list_openapi, list_response
from openovc.api.deps import ReaderDep, RuntimeDep, api_router, media_type
from openovc.api.responses import JSON
from openovc.api.schemas import NEW_RULES, RULE_ANSWER, RULE_EDIT, answer, body, merged
from openovc.api.tasking import accepted
from openovc.domain.catalog import DATASTORES, POLICIES, VIRTUAL_MACHINES
from openovc.domain.errors import ObjectNotFound
from openovc.domain.query import parse_bool
from openovc.services import policies, reads

router = api_router("/policies", tags=["policies"])

# Rule bodies are read as plain JSON: the rules module names the rule and field that is wrong.
AnyBody = Annotated[Any, Body()]


class PolicyName(BodyModel):
    name: str


class PolicyTarget(BodyModel):
    target_object_type: str
    target_object_id: str | None = None


REPLACE_ALL_RULES = {
    "parameters": [
        {
            "name": "replace_all_rules",
            "in": "query",
            "required": False,
            "schema": {"type": "boolean", "default": False},
            "description": "true: the rules replace every rule of the policy; false: they are added",
        }
    ]
}


def replace_all_rules(request: Request) -> bool:
    """The spec marks it required with a default of false; clients send true/false or True/False."""
    raw = request.query_params.get("replace_all_rules")
    return parse_bool("replace_all_rules", raw) if raw else False


@router.get("", operation_id="listPolicies", openapi_extra=list_openapi(POLICIES))
def list_policies(request: Request, reader: ReaderDep) -> JSON:
    return list_response(request, reader, POLICIES)


@router.post("", operation_id="createPolicy", status_code=202, dependencies=[media_type(0)])
def create_policy(body: PolicyName, rt: RuntimeDep, cluster_group_id: str | None = None) -> JSON:
    return accepted(rt.tasks, policies.create(rt.reader, rt.tasks, body.name, cluster_group_id))


@router.post("/suspend", operation_id="suspendPolicy", status_code=202, dependencies=[media_type(0)])
def suspend_policy(body: PolicyTarget, rt: RuntimeDep) -> JSON:
    task = policies.set_policy_backups(
        rt.reader, rt.tasks, False, body.target_object_type, body.target_object_id
    )
    return accepted(rt.tasks, task)


@router.post("/resume", operation_id="resumePolicy", status_code=202, dependencies=[media_type(0)])
def resume_policy(body: PolicyTarget, rt: RuntimeDep) -> JSON:
    task = policies.set_policy_backups(
        rt.reader, rt.tasks, True, body.target_object_type, body.target_object_id
    )
    return accepted(rt.tasks, task)


@router.get("/{policyId}", operation_id="getPolicy", openapi_extra=get_openapi(POLICIES))
def get_policy(policyId: str, reader: ReaderDep) -> JSON:
    return get_response(reader, POLICIES, policyId)


@router.delete("/{policyId}", operation_id="deletePolicy", status_code=202)
def delete_policy(policyId: str, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, policies.delete(rt.reader, rt.tasks, policyId))


@router.post("/{policyId}/rename", operation_id="renamePolicy", status_code=202, dependencies=[media_type(0)])
def rename_policy(policyId: str, body: PolicyName, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, policies.rename(rt.reader, rt.tasks, policyId, body.name))


@router.post(
    "/{policyId}/rules",
    operation_id="createRule",
    status_code=202,
    dependencies=[media_type(1)],
    openapi_extra=merged(REPLACE_ALL_RULES, body(NEW_RULES)),
)
def create_rules(policyId: str, body: AnyBody, request: Request, rt: RuntimeDep) -> JSON:
    task = policies.create_rules(rt.reader, rt.tasks, policyId, body, replace_all_rules(request))
    return accepted(rt.tasks, task)


@router.get("/{policyId}/rules/{ruleId}", operation_id="getRule", openapi_extra=answer(RULE_ANSWER))
def get_rule(policyId: str, ruleId: str, reader: ReaderDep) -> JSON:
    policy = reads.get_object(reader, POLICIES, policyId)
    for rule in orjson.loads(str(policy["rules"] or "[]")):
        if rule.get("id") == ruleId:
            return JSON({"rule": rule})
    raise ObjectNotFound("rule", ruleId)


@router.put(
    "/{policyId}/rules/{ruleId}",
    operation_id="updateRule",
    status_code=202,
    dependencies=[media_type(0)],
    openapi_extra=body(RULE_EDIT),
)
def update_rule(policyId: str, ruleId: str, body: AnyBody, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, policies.update_rule(rt.reader, rt.tasks, policyId, ruleId, body))


@router.delete("/{policyId}/rules/{ruleId}", operation_id="deleteRule", status_code=202)
def delete_rule(policyId: str, ruleId: str, rt: RuntimeDep) -> JSON:
    return accepted(rt.tasks, policies.delete_rule(rt.reader, rt.tasks, policyId, ruleId))


@router.get(
    "/{policyId}/virtual_machines",
    operation_id="getPolicyVirtualMachines",
    deprecated=True,
    openapi_extra=list_openapi(VIRTUAL_MACHINES),
)
def get_policy_vms(policyId: str, request: Request, reader: ReaderDep) -> JSON:
    reads.get_object(reader, POLICIES, policyId)
    return list_response(request, reader, VIRTUAL_MACHINES, fixed={"policy_id": policyId})


@router.get(
    "/{policyId}/datastores",
    operation_id="getPolicyDatastores",
    deprecated=True,
    openapi_extra=list_openapi(DATASTORES),
)
def get_policy_datastores(policyId: str, request: Request, reader: ReaderDep) -> JSON:
    reads.get_object(reader, POLICIES, policyId)
    return list_response(request, reader, DATASTORES, fixed={"policy_id": policyId})
