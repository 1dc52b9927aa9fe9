"""GET /policies/policy_schedule_report: what the backup policies take and keep, against the budgets."""

from __future__ import annotations

from fastapi import APIRouter, Request

from ...domain.schedules import PolicyLoad, schedule_report
from ..responses import JSON
from .metrics import MetricsDep, scope_clusters

router = APIRouter(prefix="/policies", tags=["policies"])

_REPORT = {
    "parameters": [
        {
            "name": "cluster_group_id",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "Report on the clusters of this cluster group only",
        }
    ]
}


@router.get("/policy_schedule_report", operation_id="getPolicyScheduleReport", openapi_extra=_REPORT)
def get_policy_schedule_report(request: Request, store: MetricsDep) -> JSON:
    """A flat object (clients read its keys at the top level)."""
    clusters = scope_clusters(store, request.query_params)
    loads = [
        PolicyLoad.from_records(usage.rules, usage.vm_count)
        for usage in store.policy_usage(clusters)
        if usage.vm_count  # a policy no VM uses takes nothing, whatever its rules say
    ]
    return JSON(schedule_report(loads, store.host_count(clusters)).as_dict())
