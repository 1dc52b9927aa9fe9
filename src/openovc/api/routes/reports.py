"""Backup schedule reports: what the policies take and keep now, and what a proposed change would do.

This router comes before the collection routers, so its literal paths win over `/{id}` ones.
"""

from __future__ import annotations

from fastapi import Request

from openovc.api.bodies import SetPolicyVMs
from openovc.api.deps import RuntimeDep, api_router, media_type
from openovc.api.openapi import response_ref
from openovc.api.responses import JSON
from openovc.api.routes.metrics import MetricsDep, scope_clusters
from openovc.api.routes.policies import REPLACE_ALL_RULES, AnyBody, replace_all_rules
from openovc.api.schemas import IMPACT_REPORT, NEW_RULES, RULE_EDITS, SCHEDULE_REPORT, answer, body, merged
from openovc.services import policies

router = api_router()

_REPORT = merged(
    {
        "parameters": [
            {
                "name": "cluster_group_id",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "Report on the clusters of this cluster group only",
            }
        ]
    },
    answer(SCHEDULE_REPORT),
    {"responses": {"404": response_ref(404)}},  # an unknown cluster group
)
_IMPACT_REPORT = answer(IMPACT_REPORT)
_IMPACT = media_type(9)  # the impact reports came with REST 1.9


@router.get(
    "/policies/policy_schedule_report",
    operation_id="getPolicyScheduleReport",
    tags=["policies"],
    openapi_extra=_REPORT,
)
def get_policy_schedule_report(request: Request, store: MetricsDep) -> JSON:
    """A flat object (clients read its keys at the top level)."""
    clusters = scope_clusters(store, request.query_params)
    return JSON(policies.schedule(store.policy_usage(clusters), store.host_count(clusters)))


@router.post(
    "/policies/{policyId}/impact_report/create_rules",
    operation_id="reportOnProposedRulesCreation",
    tags=["policies"],
    dependencies=[_IMPACT],
    openapi_extra=merged(REPLACE_ALL_RULES, body(NEW_RULES), _IMPACT_REPORT),
)
def report_on_rules_creation(
    policyId: str, body: AnyBody, request: Request, rt: RuntimeDep, store: MetricsDep
) -> JSON:
    replace = replace_all_rules(request)
    return JSON(policies.impact_of_creation(rt.reader, store, policyId, body, replace))


@router.post(
    "/policies/{policyId}/impact_report/edit_rules",
    operation_id="reportOnProposedRulesEdits",
    tags=["policies"],
    dependencies=[_IMPACT],
    openapi_extra=merged(REPLACE_ALL_RULES, body(RULE_EDITS), _IMPACT_REPORT),
)
def report_on_rules_edits(
    policyId: str, body: AnyBody, request: Request, rt: RuntimeDep, store: MetricsDep
) -> JSON:
    replace = replace_all_rules(request)
    return JSON(policies.impact_of_edits(rt.reader, store, policyId, body, replace))


@router.post(
    "/policies/{policyId}/rules/{ruleId}/impact_report/delete_rule",
    operation_id="reportOnProposedRuleDeletion",
    tags=["policies"],
    dependencies=[_IMPACT],
    openapi_extra=_IMPACT_REPORT,
)
def report_on_rule_deletion(policyId: str, ruleId: str, rt: RuntimeDep, store: MetricsDep) -> JSON:
    """The SDK sends the body `null`; any body is ignored."""
    return JSON(policies.impact_of_deletion(rt.reader, store, policyId, ruleId))


@router.post(
    "/virtual_machines/policy_impact_report/apply_policy",
    operation_id="reportOnProposedVMPolicySetting",
    tags=["virtual_machines"],
    dependencies=[_IMPACT],
    openapi_extra=_IMPACT_REPORT,
)
def report_on_vm_policy_setting(body: SetPolicyVMs, rt: RuntimeDep, store: MetricsDep) -> JSON:
    vm_ids = body.virtual_machine_id or []
    return JSON(policies.impact_of_applying(rt.reader, store, vm_ids, body.policy_id))
