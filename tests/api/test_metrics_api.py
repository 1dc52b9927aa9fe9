"""Metrics, capacity, throughput and the policy schedule report, end to end over the demo federation."""

from __future__ import annotations

from typing import Any

import pytest

from openovc.domain.schedules import PolicyLoad, schedule_report
from tests.support.inprocess import READER, Env
from tests.support.spec import validate

Rows = list[dict[str, Any]]


def rows(env: Env, table: str) -> Rows:
    return env.federation.rows[table]


def get(env: Env, admin: dict[str, str], url: str, **params: str) -> Any:
    resp = env.client.get(url, headers=admin, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def series(body: Any, name: str, side: str) -> list[int]:
    (metric,) = [m for m in body["metrics"] if m["name"] == name]
    return [p[side] for p in metric["data_points"]]


# ---- performance ------------------------------------------------------------------------------


def test_host_metrics_default_window(env: Env, admin: dict[str, str]) -> None:
    host = rows(env, "hosts")[0]
    body = get(env, admin, f"/api/hosts/{host['id']}/metrics")
    assert [m["name"] for m in body["metrics"]] == ["iops", "throughput", "latency"]
    for metric in body["metrics"]:
        validate("analytics_info", metric)
        assert len(metric["data_points"]) == 720
        assert metric["data_points"][-1]["date"] == "2026-11-20T12:00:00Z"
    assert sum(series(body, "iops", "reads")) > 0


def test_host_is_the_sum_of_its_vms(env: Env, admin: dict[str, str]) -> None:
    host = rows(env, "hosts")[0]
    params = {"range": "600", "resolution": "minute"}
    body = get(env, admin, f"/api/hosts/{host['id']}/metrics", **params)
    vms = [vm for vm in rows(env, "virtual_machines") if vm["host_id"] == host["id"]]
    assert any(vm["hypervisor_virtual_machine_power_state"] == "ON" for vm in vms)
    each = [get(env, admin, f"/api/virtual_machines/{vm['id']}/metrics", **params) for vm in vms]
    for name in ("iops", "throughput"):
        for side in ("reads", "writes"):
            sums = [sum(col) for col in zip(*(series(b, name, side) for b in each), strict=True)]
            assert series(body, name, side) == sums


def test_cluster_is_the_sum_of_its_hosts(env: Env, admin: dict[str, str]) -> None:
    cluster = rows(env, "omnistack_clusters")[0]
    params = {"range": "7200", "resolution": "HOUR"}
    body = get(env, admin, f"/api/omnistack_clusters/{cluster['id']}/metrics", **params)
    hosts = [h for h in rows(env, "hosts") if h["omnistack_cluster_id"] == cluster["id"]]
    each = [get(env, admin, f"/api/hosts/{h['id']}/metrics", **params) for h in hosts]
    for side in ("reads", "writes"):
        assert series(body, "iops", side) == [
            sum(c) for c in zip(*(series(b, "iops", side) for b in each), strict=True)
        ]


def test_powered_off_vm_reports_zeros(env: Env, admin: dict[str, str]) -> None:
    vm = next(
        v for v in rows(env, "virtual_machines") if v["hypervisor_virtual_machine_power_state"] == "OFF"
    )
    body = get(env, admin, f"/api/virtual_machines/{vm['id']}/metrics", range="60", resolution="SECOND")
    assert len(body["metrics"][0]["data_points"]) == 12
    for name in ("iops", "throughput", "latency"):
        assert set(series(body, name, "reads")) | set(series(body, name, "writes")) == {0}


def test_metrics_are_stable_across_calls(env: Env, admin: dict[str, str]) -> None:
    vm = next(v for v in rows(env, "virtual_machines") if v["hypervisor_virtual_machine_power_state"] == "ON")
    url = f"/api/virtual_machines/{vm['id']}/metrics"
    assert get(env, admin, url, range="3600") == get(env, admin, url, range="3600")


def test_time_offset_moves_the_window(env: Env, admin: dict[str, str]) -> None:
    host = rows(env, "hosts")[0]
    url = f"/api/hosts/{host['id']}/metrics"
    by_seconds = get(env, admin, url, time_offset="3600", range="600")
    by_date = get(env, admin, url, time_offset="2026-11-20T11:00:00Z", range="600")
    assert by_seconds == by_date
    assert by_seconds["metrics"][0]["data_points"][-1]["date"] == "2026-11-20T11:00:00Z"


def test_read_only_users_may_read_metrics(env: Env) -> None:
    host = rows(env, "hosts")[0]
    resp = env.client.get(
        f"/api/hosts/{host['id']}/metrics", headers=env.headers(READER), params={"range": "60"}
    )
    assert resp.status_code == 200


def test_vendor_media_type_is_echoed(env: Env, admin: dict[str, str]) -> None:
    host = rows(env, "hosts")[0]
    headers = {**admin, "Accept": "application/vnd.simplivity.v1.14+json"}
    resp = env.client.get(f"/api/hosts/{host['id']}/metrics", headers=headers, params={"range": "60"})
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/vnd.simplivity.v1.14+json")


# ---- capacity ---------------------------------------------------------------------------------


def test_host_capacity_is_the_current_value_at_every_point(env: Env, admin: dict[str, str]) -> None:
    host = rows(env, "hosts")[1]
    body = get(env, admin, f"/api/hosts/{host['id']}/capacity", range="300")
    assert len(body["metrics"]) == 13
    for metric in body["metrics"]:
        validate("capacity_info", metric)
        values = {p["value"] for p in metric["data_points"]}
        assert values == {host[metric["name"]]}
        assert len(metric["data_points"]) == 5


def test_host_capacity_fields(env: Env, admin: dict[str, str]) -> None:
    host = rows(env, "hosts")[0]
    body = get(
        env, admin, f"/api/hosts/{host['id']}/capacity", fields="free_space,deduplication_ratio", range="60"
    )
    assert [m["name"] for m in body["metrics"]] == ["deduplication_ratio", "free_space"]
    assert isinstance(body["metrics"][0]["data_points"][0]["value"], float)
    assert isinstance(body["metrics"][1]["data_points"][0]["value"], int)


# ---- throughput -------------------------------------------------------------------------------


def _clusters(env: Env) -> tuple[dict[str, Any], dict[str, Any]]:
    first, second = rows(env, "omnistack_clusters")[:2]
    return first, second


def _sent_between(env: Env, source: str, destination: str, start: str, end: str) -> int:
    ds_cluster = {d["id"]: d["omnistack_cluster_id"] for d in rows(env, "datastores")}
    return sum(
        int(b["sent"])
        for b in rows(env, "backups")
        if b["sent"]
        and b["omnistack_cluster_id"] == destination
        and ds_cluster[b["datastore_id"]] == source
        and b["sent_completion_time"]
        and start < b["sent_completion_time"] <= end
    )


def test_cluster_throughput(env: Env, admin: dict[str, str]) -> None:
    source, destination = _clusters(env)
    body = get(env, admin, f"/api/omnistack_clusters/{source['id']}/throughput", range="604800")
    validate("omnistack_cluster_to_cluster_throughput", body)
    assert (body["start_time"], body["end_time"]) == ("2026-11-13T12:00:00Z", "2026-11-20T12:00:00Z")
    (entry,) = body["cluster_throughput"]  # every other cluster of the demo: there is one
    assert entry["source_omnistack_cluster_id"] == source["id"]
    assert entry["destination_omnistack_cluster_id"] == destination["id"]
    assert entry["destination_omnistack_cluster_name"] == destination["name"]
    points = entry["data"]["data_points"]
    assert len(points) == 10_080
    values = [p["value"] for p in points]
    assert entry["data"]["maximum_throughput"] == max(values) > 0
    assert entry["data"]["minimum_throughput"] == min(values)
    assert entry["average_throughput"] == round(sum(values) / len(values))
    # Every byte sent in the week shows up, within the rounding of each minute to whole bytes/s.
    sent = _sent_between(env, source["id"], destination["id"], "2026-11-13T12:00:00Z", "2026-11-20T12:00:00Z")
    assert sent > 0
    assert abs(sum(values) * 60 - sent) <= 30 * sum(1 for v in values if v) + 60


def test_cluster_throughput_destination_list(env: Env, admin: dict[str, str]) -> None:
    source, destination = _clusters(env)
    url = f"/api/omnistack_clusters/{source['id']}/throughput"
    body = get(env, admin, url, destination_id=f"{destination['id']},{source['id']}", range="600")
    assert [e["destination_omnistack_cluster_id"] for e in body["cluster_throughput"]] == [
        destination["id"],
        source["id"],
    ]


def test_legacy_throughput_is_a_bare_array(env: Env, admin: dict[str, str]) -> None:
    source, destination = _clusters(env)
    body = get(env, admin, "/api/omnistack_clusters/throughput")
    assert isinstance(body, list) and len(body) == 2
    pairs = {(e["source_omnistack_cluster_id"], e["destination_omnistack_cluster_id"]) for e in body}
    assert pairs == {(source["id"], destination["id"]), (destination["id"], source["id"])}
    current = get(env, admin, f"/api/omnistack_clusters/{source['id']}/throughput")
    (entry,) = [e for e in body if e["source_omnistack_cluster_id"] == source["id"]]
    assert entry["throughput"] == current["cluster_throughput"][0]["average_throughput"]
    assert set(entry) == {
        "date", "throughput",
        *(f"{role}_omnistack_cluster_{f}" for role in ("source", "destination")
          for f in ("id", "name", "hypervisor_object_parent_id", "hypervisor_object_parent_name")),
    }  # fmt: skip


def test_legacy_throughput_by_cluster_group(env: Env, admin: dict[str, str]) -> None:
    group = rows(env, "cluster_groups")[0]
    body = get(env, admin, "/api/omnistack_clusters/throughput", cluster_group_id=group["id"])
    assert len(body) == 2


def test_legacy_throughput_is_not_in_the_schema(env: Env) -> None:
    paths = env.client.get("/api/openapi.json").json()["paths"]
    assert "/api/omnistack_clusters/throughput" not in paths
    ours = {
        "/api/hosts/{hostId}/metrics": "getHostMetrics",
        "/api/hosts/{hostId}/capacity": "getHostCapacity",
        "/api/omnistack_clusters/{clusterId}/metrics": "getClusterPerfomance",
        "/api/virtual_machines/{vmId}/metrics": "getVmMetrics",
        "/api/omnistack_clusters/{clusterId}/throughput": "getClustersThroughput",
        "/api/policies/policy_schedule_report": "getPolicyScheduleReport",
    }
    assert {path: paths[path]["get"]["operationId"] for path in ours} == ours


# ---- policy schedule report -------------------------------------------------------------------


def _expected_report(env: Env) -> dict[str, int]:
    # The schedule backs up live persistent volumes as it does live VMs.
    sources = [*rows(env, "virtual_machines"), *rows(env, "persistent_volumes")]
    vms = [vm for vm in sources if vm["state"] == "ALIVE"]
    loads = [
        PolicyLoad.from_records(p["rules"], sum(1 for vm in vms if vm["policy_id"] == p["id"]))
        for p in rows(env, "policies")
    ]
    hosts = sum(1 for h in rows(env, "hosts") if h["state"] != "REMOVED")
    return schedule_report(loads, hosts).as_dict()


def test_policy_schedule_report(env: Env, admin: dict[str, str]) -> None:
    body = get(env, admin, "/api/policies/policy_schedule_report")
    validate("policy_schedule_report", body)
    assert body == _expected_report(env)
    assert body["daily_backup_rate"] > 0 and body["projected_retained_backups"] > 0


def test_policy_schedule_report_by_cluster_group(env: Env, admin: dict[str, str]) -> None:
    group = rows(env, "cluster_groups")[0]  # the demo's one group holds every cluster
    body = get(env, admin, "/api/policies/policy_schedule_report", cluster_group_id=group["id"])
    assert body == _expected_report(env)


# ---- errors -----------------------------------------------------------------------------------

_NOT_FOUND = [
    ("/api/hosts/nope/metrics", "host"),
    ("/api/hosts/nope/capacity", "host"),
    ("/api/omnistack_clusters/nope/metrics", "omnistack_cluster"),
    ("/api/virtual_machines/nope/metrics", "virtual_machine"),
    ("/api/omnistack_clusters/nope/throughput", "omnistack_cluster"),
    ("/api/policies/policy_schedule_report?cluster_group_id=nope", "cluster_group"),
    ("/api/omnistack_clusters/throughput?cluster_group_id=nope", "cluster_group"),
]


@pytest.mark.parametrize(("url", "kind"), _NOT_FOUND)
def test_unknown_ids_are_404(env: Env, admin: dict[str, str], url: str, kind: str) -> None:
    resp = env.client.get(url, headers=admin)
    assert resp.status_code == 404, resp.text
    body = resp.json()
    assert body["exception"] == "com.simplivity.restapi.exceptions.ObjectNotFoundException"
    assert body["message"] == f"Object type: {kind} id: nope could not be found"


def test_unknown_destination_is_404(env: Env, admin: dict[str, str]) -> None:
    source, destination = _clusters(env)
    resp = env.client.get(
        f"/api/omnistack_clusters/{source['id']}/throughput",
        headers=admin,
        params={"destination_id": f"{destination['id']},ghost"},
    )
    assert resp.status_code == 404
    assert resp.json()["message"] == "Object type: omnistack_cluster id: ghost could not be found"


@pytest.mark.parametrize(
    ("params", "exception", "message"),
    [
        ({"range": "abc"}, "TypeMismatchException", "Invalid value 'abc' for parameter 'range': expected an integer"),
        ({"resolution": "weekly"}, "InvalidParameterException",
         "Invalid value 'weekly' for parameter 'resolution': expected one of SECOND, MINUTE, HOUR, DAY"),
        ({"range": "50000", "resolution": "second"}, "InvalidParameterException",
         "Invalid value '50000' for parameter 'range': must be at most 43200 seconds at resolution SECOND"),
        ({"time_offset": "soon"}, "InvalidParameterException",
         "Invalid value 'soon' for parameter 'time_offset': expected seconds before now or an ISO-8601 date and time"),
    ],
)  # fmt: skip
def test_bad_parameters_are_400(
    env: Env, admin: dict[str, str], params: dict[str, str], exception: str, message: str
) -> None:
    host = rows(env, "hosts")[0]
    resp = env.client.get(f"/api/hosts/{host['id']}/metrics", headers=admin, params=params)
    assert resp.status_code == 400
    body = resp.json()
    assert body["exception"] == f"com.simplivity.restapi.exceptions.{exception}"
    assert body["message"] == message


def test_unknown_capacity_field_is_400(env: Env, admin: dict[str, str]) -> None:
    host = rows(env, "hosts")[0]
    resp = env.client.get(f"/api/hosts/{host['id']}/capacity", headers=admin, params={"fields": "iops"})
    assert resp.status_code == 400
    assert resp.json()["message"] == "Invalid value for parameter 'fields': iops is not a capacity metric"


def test_metrics_need_a_token(env: Env) -> None:
    host = rows(env, "hosts")[0]
    assert env.client.get(f"/api/hosts/{host['id']}/metrics").status_code == 401
