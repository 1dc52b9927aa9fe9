"""The official SDK's policy operations against a real TLS server: create, rename, delete, rules (create,
edit, get, delete), suspend/resume and the impact reports, each checked against what the next plain GET shows.

The server is shared by every contract test, so these tests change only policies they create, and put back
the hosts' `policy_enabled` they suspend.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from simplivity.exceptions import HPESimpliVityException, HPESimpliVityResourceNotFound

from tests.contract.conftest import Api

pytestmark = pytest.mark.slow


def _name() -> str:
    return f"sdk-pol-{uuid.uuid4().hex[:12]}"


def _single(api: Api, policy_id: str) -> dict[str, Any]:
    found: dict[str, Any] = api.json(f"/api/policies/{policy_id}")["policy"]
    return found


def _response(exc: HPESimpliVityException) -> dict[str, Any]:
    body = exc.response
    assert isinstance(body, dict), exc
    return body


@pytest.fixture
def fresh(ovc: Any, api: Api) -> Iterator[Any]:
    """A policy of this test's own, created through the SDK and gone afterwards."""
    policy = ovc.policies.create(_name())
    policy_id = policy.data["id"]
    yield policy
    if api.get(f"/api/policies/{policy_id}").status_code == 200:
        ovc.policies.get_by_id(policy_id).delete()


def test_create_returns_the_new_policy(ovc: Any, api: Api) -> None:
    name = _name()
    policy = ovc.policies.create(name)
    policy_id = policy.data["id"]
    try:
        assert policy.data == _single(api, policy_id)
        assert (policy.data["name"], policy.data["rules"]) == (name, [])
        assert policy.data["owner_cluster_id"] and policy.data["cluster_group_ids"]
        assert ovc.policies.get_by_name(name).data == policy.data
    finally:
        policy.delete()
    assert policy.data is None
    with pytest.raises(HPESimpliVityResourceNotFound):
        ovc.policies.get_by_name(name)
    assert api.get(f"/api/policies/{policy_id}").status_code == 404


def test_create_in_a_cluster_group(ovc: Any, api: Api) -> None:
    group = api.everything("cluster_groups")[0]
    policy = ovc.policies.create(_name(), flags={"cluster_group_id": group["id"]})
    try:
        assert _single(api, policy.data["id"])["cluster_group_ids"] == [group["id"]]
    finally:
        policy.delete()


def test_rules_create_edit_get_delete(fresh: Any, api: Api) -> None:
    clusters = api.everything("omnistack_clusters")
    remote = clusters[-1]
    policy = fresh.create_rules(
        [{"frequency": 60, "retention": 1440, "days": "Mon,Fri", "start_time": "08:00", "end_time": "18:00",
          "consistency_type": "DEFAULT", "application_consistent": True},
         {"frequency": "1440", "retention": "10080", "destination_id": remote["id"]}],
    )  # fmt: skip
    assert policy is fresh and policy.data == _single(api, fresh.data["id"])
    first, second = policy.data["rules"]
    assert (first["number"], first["frequency"], first["max_backups"], first["destination_name"]) == (
        0,
        60,
        24,
        "<local>",
    )
    assert (second["number"], second["destination_id"], second["destination_name"], second["max_backups"]) == (
        1, remote["id"], remote["name"], 7,
    )  # fmt: skip
    assert policy.get_rule(second["id"]) == {"rule": second}

    policy.edit_rule(first["id"], {"start_time": "14:30", "end_time": "16:00"})
    edited = api.json(f"/api/policies/{fresh.data['id']}/rules/{first['id']}")["rule"]
    assert edited == {**first, "start_time": "14:30", "end_time": "16:00"}
    assert policy.data["rules"][0] == edited

    # A single rule is wrapped in a list by the SDK.
    policy.create_rules({"frequency": 720, "retention": 2880}, replace_all_rules=True)
    (only,) = _single(api, fresh.data["id"])["rules"]
    assert (only["number"], only["frequency"], only["max_backups"]) == (0, 720, 4)
    assert policy.data["rules"] == [only]

    policy.delete_rule(only["id"])
    assert policy.data["rules"] == [] == _single(api, fresh.data["id"])["rules"]
    with pytest.raises(HPESimpliVityException) as info:
        policy.get_rule(only["id"])
    assert _response(info.value)["status"] == "404"


def test_rename(fresh: Any, ovc: Any, api: Api) -> None:
    new_name = _name()
    assert fresh.rename(new_name) is fresh
    assert fresh.data["name"] == new_name == _single(api, fresh.data["id"])["name"]
    assert ovc.policies.get_by_name(new_name).data["id"] == fresh.data["id"]


def test_refusals_reach_the_sdk_as_errors(fresh: Any, ovc: Any, api: Api) -> None:
    taken = next(p["name"] for p in api.everything("policies") if p["id"] != fresh.data["id"])
    with pytest.raises(HPESimpliVityException) as info:
        ovc.policies.create(taken)
    body = _response(info.value)
    assert (body["status"], body["error_code"], body["message"]) == ("400", "13", "Duplicate name exists.")
    with pytest.raises(HPESimpliVityException) as info:
        fresh.rename(taken)
    assert _response(info.value)["error_code"] == "13"
    with pytest.raises(HPESimpliVityException) as info:
        fresh.create_rules([{"frequency": 60, "retention": 30}])
    body = _response(info.value)
    assert (body["status"], body["exception"]) == (
        "400",
        "com.simplivity.restapi.exceptions.InvalidBodyException",
    )
    assert body["message"].startswith("Invalid body: rule 0: retention: must be at least the frequency")
    assert _single(api, fresh.data["id"])["rules"] == []
    used = next(d["policy_id"] for d in api.everything("datastores"))
    with pytest.raises(HPESimpliVityException) as info:
        ovc.policies.get_by_id(used).delete()
    body = _response(info.value)
    assert (body["status"], body["exception"]) == (
        "400",
        "com.simplivity.restapi.exceptions.ObjectInUseException",
    )
    assert api.get(f"/api/policies/{used}").status_code == 200


def test_read_only_users_cannot_create(ro_ovc: Any, api: Api) -> None:
    name = _name()
    with pytest.raises(HPESimpliVityException) as info:
        ro_ovc.policies.create(name)
    assert _response(info.value)["status"] == "403"
    assert api.members("policies", {"name": name}) == []


def _enabled(api: Api) -> dict[str, bool]:
    return {h["id"]: h["policy_enabled"] for h in api.everything("hosts")}


def test_suspend_and_resume(ovc: Any, api: Api) -> None:
    before = _enabled(api)
    assert set(before.values()) == {True}, "another test left policy backups suspended"
    cluster = ovc.omnistack_clusters.get_all()[0]
    host = ovc.hosts.get_by_id(cluster.data["members"][0])
    group = ovc.cluster_groups.get_all()[0]
    try:
        ovc.policies.suspend(host)
        assert _enabled(api) == {**before, host.data["id"]: False}
        ovc.policies.suspend(cluster)
        assert _enabled(api) == {h: h not in cluster.data["members"] for h in before}
        ovc.policies.resume(cluster)
        assert set(_enabled(api).values()) == {True}
        ovc.policies.suspend(group)
        in_group = {
            h["id"] for c in group.data["clusters"] for h in api.members("hosts", {"omnistack_cluster_id": c})
        }
        assert _enabled(api) == {h: h not in in_group for h in before}
        ovc.policies.resume(group)
        ovc.policies.suspend()  # no target: the whole federation
        assert set(_enabled(api).values()) == {False}
    finally:
        ovc.policies.resume()
    assert _enabled(api) == before


def test_impact_reports(fresh: Any, ovc: Any, api: Api) -> None:
    now = api.json("/api/policies/policy_schedule_report")
    fresh.create_rules([{"frequency": 1440, "retention": 1440}])
    rule = fresh.data["rules"][0]
    reports = [
        fresh.impact_create_rules([{"frequency": 60, "retention": 120}]),
        fresh.impact_create_rules({"frequency": "30", "retention": "60"}, replace_all_rules=True),
        fresh.impact_edit_rules([{"rule_id": rule["id"], "frequency": 60, "retention": 60}]),
        fresh.impact_report_delete_rule(rule["id"]),
    ]
    for report in reports:
        assert set(report) == {"schedule_before_change", "schedule_after_change"}
        # No VM uses the new policy yet, so its rules take nothing either way.
        assert report["schedule_before_change"] == report["schedule_after_change"] == now
    # VMs of a policy without rules would each get one backup a day, kept a day.
    idle = next(p["id"] for p in api.everything("policies") if not p["rules"] and p["id"] != fresh.data["id"])
    vms = ovc.virtual_machines.get_all(filters={"policy_id": idle}, limit=3)
    assert vms, "no VM uses a policy without rules"
    applied = ovc.virtual_machines.policy_impact_report(fresh, vms)
    assert applied["schedule_before_change"] == now
    assert applied["schedule_after_change"] == {
        **now,
        "daily_backup_rate": now["daily_backup_rate"] + len(vms),
        "backup_rate_level": (now["daily_backup_rate"] + len(vms)) * 100 // now["daily_backup_rate_limit"],
        "projected_retained_backups": now["projected_retained_backups"] + len(vms),
        "projected_retained_backups_level": (now["projected_retained_backups"] + len(vms))
        * 100
        // now["retained_backups_limit"],
    }
    # Nothing changed: the policy keeps its one rule and the VMs their policy.
    assert _single(api, fresh.data["id"])["rules"] == [rule]
    assert {
        vm["policy_id"] for vm in api.members("virtual_machines", {"id": ",".join(v.data["id"] for v in vms)})
    } == {idle}
