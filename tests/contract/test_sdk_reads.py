"""Every read the official Python SDK (simplivity 1.1.1) can make, against a real TLS server.

Each SDK answer is cross-checked against plain HTTP GETs of the same server, and against what the
published semantics say the answer must be (filters, order, paging, projections, relations).
"""

from __future__ import annotations

import math
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from simplivity.exceptions import (
    HPESimpliVityAuthenticationError,
    HPESimpliVityException,
    HPESimpliVityMethodNotSupportedError,
    HPESimpliVityResourceNotFound,
)
from simplivity.ovc_client import OVC

from openovc.testing import OpenOVCServer
from openovc.tls import generate_self_signed
from tests.contract.conftest import READER_USER, SDK_DEFAULTS, Api
from tests.support.server import start_server

pytestmark = pytest.mark.slow

NO_MORE_PAGES = "No more pages"


@dataclass(frozen=True)
class Res:
    """One SDK resource collection and what the contract says about it."""

    plural: str  # OVC attribute, URL segment and list key
    key: str = "id"  # the unique property
    singular: str | None = None  # reload_data reads GET /api/{plural}/{id} under this key
    optional_fields: tuple[str, ...] = ()  # shown only with show_optional_fields
    sdk_optional: bool = False  # the SDK's get_all takes show_optional_fields
    name_wildcard: bool = True  # the name filter takes `*` patterns
    insensitive_name_sort: bool = False  # sorting on name ignores case whatever `case` says
    sort_field: str = "id"  # another always-set field to sort on

    def __str__(self) -> str:
        return self.plural


_CAPACITY = ("allocated_capacity", "free_space", "used_capacity", "used_logical_capacity",
             "compression_ratio", "deduplication_ratio", "efficiency_ratio")  # fmt: skip
VMS = Res(
    "virtual_machines",
    singular="virtual_machine",
    optional_fields=(
        "ha_status",
        "ha_resynchronization_progress",
        "hypervisor_virtual_machine_power_state",
        "hypervisor_is_template",
    ),
    sdk_optional=True,
    sort_field="created_at",
)
POLICIES = Res("policies", singular="policy", name_wildcard=False)
DATASTORES = Res(
    "datastores",
    singular="datastore",
    optional_fields=("hypervisor_free_space",),
    sdk_optional=True,
    sort_field="size",
)
CLUSTERS = Res(
    "omnistack_clusters",
    singular="omnistack_cluster",
    optional_fields=("time_zone", "upgrade_state", *_CAPACITY),
    sdk_optional=True,
    sort_field="hypervisor_object_id",
)
BACKUPS = Res("backups", insensitive_name_sort=True, sort_field="created_at")
HOSTS = Res(
    "hosts", singular="host", optional_fields=_CAPACITY, sdk_optional=True, sort_field="management_ip"
)
CLUSTER_GROUPS = Res("cluster_groups", sdk_optional=True)
EXTERNAL_STORES = Res("external_stores", key="name", sort_field="management_ip")

ALL = (VMS, POLICIES, DATASTORES, CLUSTERS, BACKUPS, HOSTS, CLUSTER_GROUPS, EXTERNAL_STORES)
BY_ID = tuple(r for r in ALL if r.key == "id")
SINGLE_GET = tuple(r for r in ALL if r.singular is not None)


def client_of(ovc: Any, res: Res) -> Any:
    return getattr(ovc, res.plural)


def datas(objects: list[Any]) -> list[dict[str, Any]]:
    return [o.data for o in objects]


def _sortable(value: Any) -> Any:
    assert value is not None and value != "NA", "sort checks need an always-set field"
    return value.encode() if isinstance(value, str) else value


def in_order(
    rows: list[dict[str, Any]],
    res: Res,
    field: str = "name",
    *,
    descending: bool = True,
    insensitive: bool = False,
) -> list[dict[str, Any]]:
    """Rows as the contract orders them: by `field` (bytes order), ties broken by the key."""
    lower = insensitive or (field == "name" and res.insensitive_name_sort)

    def sort_key(row: dict[str, Any]) -> tuple[Any, Any]:
        value = row[field]
        if lower and isinstance(value, str):
            value = value.lower()
        return _sortable(value), row[res.key].encode()

    return sorted(rows, key=sort_key, reverse=descending)


def wildcard_match(pattern: str, value: str, *, insensitive: bool = False) -> bool:
    """`*` matches any run of characters; everything else is literal."""
    regex = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.fullmatch(regex, value, re.IGNORECASE if insensitive else 0) is not None


def no_such(res: Res) -> str:
    return f"no-such-{res.plural}-{uuid.uuid4()}"


def status_of(exc: HPESimpliVityException) -> str | None:
    body = exc.response
    return str(body.get("status")) if isinstance(body, dict) else None


@pytest.fixture(scope="module")
def everything(api: Api) -> dict[str, list[dict[str, Any]]]:
    """Every member of every collection, read once over plain HTTP, in the default order."""
    found = {res.plural: api.everything(res.plural) for res in ALL}
    for res in ALL:
        assert found[res.plural], f"the demo federation has no {res.plural}"
    return found


def pick(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """First, middle and last: enough variety without hard-coding anything."""
    chosen = [rows[0], rows[len(rows) // 2], rows[-1]]
    return list({id(r): r for r in chosen}.values())


# ---------------------------------------------------------------------------------------------- get_all


@pytest.mark.parametrize("res", ALL, ids=str)
def test_get_all_default_query(
    ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]], res: Res
) -> None:
    got = datas(client_of(ovc, res).get_all())
    assert got == api.members(res.plural, SDK_DEFAULTS)
    # The SDK's defaults are the server's defaults, and the default order is name descending.
    assert got == everything[res.plural][:500]
    assert got == in_order(everything[res.plural], res)[:500]
    assert len({row[res.key] for row in got}) == len(got)


def test_get_all_virtual_machines_defaults_to_alive(ovc: Any, api: Api) -> None:
    alive = datas(ovc.virtual_machines.get_all())
    assert {vm["state"] for vm in alive} == {"ALIVE"}
    every_state = datas(ovc.virtual_machines.get_all(filters={"state": "ALIVE,DELETED,REMOVED"}))
    assert every_state == api.members("virtual_machines", {**SDK_DEFAULTS, "state": "ALIVE,DELETED,REMOVED"})
    assert {vm["id"] for vm in alive} <= {vm["id"] for vm in every_state}
    deleted = datas(ovc.virtual_machines.get_all(filters={"state": "deleted"}))  # enums ignore case
    assert deleted == [vm for vm in every_state if vm["state"] == "DELETED"]


@pytest.mark.parametrize("res", ALL, ids=str)
def test_get_all_limit_and_offset(ovc: Any, everything: dict[str, list[dict[str, Any]]], res: Res) -> None:
    rows = everything[res.plural]
    assert datas(client_of(ovc, res).get_all(limit=2)) == rows[:2]
    assert datas(client_of(ovc, res).get_all(offset=1, limit=2)) == rows[1:3]
    assert datas(client_of(ovc, res).get_all(offset=len(rows))) == []


@pytest.mark.parametrize("res", ALL, ids=str)
def test_filter_exact_name(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]], res: Res) -> None:
    rows = everything[res.plural]
    for chosen in pick(rows):
        name = chosen["name"]
        got = datas(client_of(ovc, res).get_all(filters={"name": name}))
        assert got == [r for r in rows if r["name"] == name]
        assert got == api.members(res.plural, {**SDK_DEFAULTS, "name": name})
    assert client_of(ovc, res).get_all(filters={"name": no_such(res)}) == []


@pytest.mark.parametrize("res", ALL, ids=str)
def test_filter_comma_list(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]], res: Res) -> None:
    """Comma lists are ORs: `id=a,b,c` as set_policy_for_multiple_vms and set_retention send it."""
    rows = everything[res.plural]
    chosen = {r[res.key] for r in pick(rows)}
    wanted = ",".join([*sorted(chosen), no_such(res)])
    got = datas(client_of(ovc, res).get_all(filters={res.key: wanted}))
    assert got == [r for r in rows if r[res.key] in chosen]
    assert got == api.members(res.plural, {**SDK_DEFAULTS, res.key: wanted})


@pytest.mark.parametrize("res", [r for r in ALL if r.name_wildcard], ids=str)
def test_filter_name_wildcards(
    ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]], res: Res
) -> None:
    rows = everything[res.plural]
    name = rows[len(rows) // 2]["name"]
    assert len(name) >= 3, name
    patterns = [name[:2] + "*", "*" + name[-2:], "*" + name[1:-1] + "*", name[0] + "*" + name[-1], "*"]
    for pattern in patterns:
        got = datas(client_of(ovc, res).get_all(filters={"name": pattern}))
        expected = [r for r in rows if wildcard_match(pattern, r["name"])]
        assert name in {r["name"] for r in got}, pattern
        assert got == expected, pattern
        assert got == api.members(res.plural, {**SDK_DEFAULTS, "name": pattern})


@pytest.mark.parametrize("res", ALL, ids=str)
def test_case_insensitive_filter_and_sort(
    ovc: Any, everything: dict[str, list[dict[str, Any]]], res: Res
) -> None:
    rows = everything[res.plural]
    client = client_of(ovc, res)
    # Sorting on name ignores case.
    got = datas(client.get_all(case_sensitive=False))
    assert got == in_order(rows, res, insensitive=True)[:500]
    # A name in the other case matches only when the case is ignored.
    named = [r for r in rows if r["name"].swapcase() != r["name"]]
    assert named, "no name with letters"
    swapped = named[0]["name"].swapcase()
    expected = [r for r in rows if r["name"].lower() == swapped.lower()]
    assert datas(client.get_all(filters={"name": swapped}, case_sensitive=False)) == expected
    assert datas(client.get_all(filters={"name": swapped})) == [r for r in rows if r["name"] == swapped]
    if res.name_wildcard:
        pattern = swapped[:2] + "*"
        expected = [r for r in rows if wildcard_match(pattern, r["name"], insensitive=True)]
        assert datas(client.get_all(filters={"name": pattern}, case_sensitive=False)) == expected
        expected = [r for r in rows if wildcard_match(pattern, r["name"])]
        assert datas(client.get_all(filters={"name": pattern})) == expected


@pytest.mark.parametrize("res", ALL, ids=str)
def test_sort_and_order(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]], res: Res) -> None:
    rows = everything[res.plural]
    client = client_of(ovc, res)
    assert datas(client.get_all(order="ascending")) == in_order(rows, res, descending=False)[:500]
    for order, descending in (("ascending", False), ("descending", True)):
        for field in dict.fromkeys((res.key, res.sort_field)):
            got = datas(client.get_all(sort=field, order=order))
            assert got == in_order(rows, res, field, descending=descending)[:500], (field, order)
            assert got == api.members(res.plural, {**SDK_DEFAULTS, "sort": field, "order": order})


@pytest.mark.parametrize("res", ALL, ids=str)
def test_fields_projection(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]], res: Res) -> None:
    names = ("name", "management_ip") if res.key == "name" else ("id", "name")
    got = datas(client_of(ovc, res).get_all(fields=",".join(names)))
    assert got == [{n: r[n] for n in names} for r in everything[res.plural]]
    assert got == api.members(res.plural, {**SDK_DEFAULTS, "fields": ",".join(names)})


@pytest.mark.parametrize("res", [r for r in ALL if r.sdk_optional], ids=str)
def test_show_optional_fields(
    ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]], res: Res
) -> None:
    client = client_of(ovc, res)
    plain = datas(client.get_all())
    full = datas(client.get_all(show_optional_fields=True))  # sent as `True`, capitalised
    assert full == api.members(res.plural, {**SDK_DEFAULTS, "show_optional_fields": "true"})
    assert [r[res.key] for r in full] == [r[res.key] for r in everything[res.plural]]
    for short, long in zip(plain, full, strict=True):
        assert not set(res.optional_fields) & set(short), short
        assert set(res.optional_fields) <= set(long), long
        assert {k: v for k, v in long.items() if k in short} == short
    if res is VMS:
        assert {vm["hypervisor_virtual_machine_power_state"] for vm in full} <= {
            "ON",
            "OFF",
            "SUSPENDED",
            "UNKNOWN",
        }
    if res is CLUSTERS:
        zones = ovc.omnistack_clusters.get_time_zone_list()
        assert all(c["time_zone"] in zones for c in full)


# ---------------------------------------------------------------------------------------------- paging


def _walk_forward(pages: Any) -> list[dict[str, Any]]:
    seen = datas(pages.data["resources"])
    while True:
        try:
            pages.next_page()
        except HPESimpliVityException as exc:
            assert exc.msg == NO_MORE_PAGES
            return seen
        seen += datas(pages.data["resources"])


@pytest.mark.parametrize("res", ALL, ids=str)
def test_pagination_walks_every_page(ovc: Any, everything: dict[str, list[dict[str, Any]]], res: Res) -> None:
    rows = everything[res.plural]
    count = len(rows)
    size = max(1, count // 3)
    pages = client_of(ovc, res).get_all(pagination=True, page_size=size, limit=count)
    last = math.ceil(count / size)
    assert pages.data["page"] == 1
    assert pages.data["requested_pages"] == last
    assert pages.data["size"] == min(size, count)
    assert _walk_forward(pages) == rows
    assert pages.data["page"] == last
    # And back again, one page at a time.
    for page in range(last - 1, 0, -1):
        pages.previous_page()
        assert pages.data["page"] == page
        assert datas(pages.data["resources"]) == rows[(page - 1) * size : page * size]
    with pytest.raises(HPESimpliVityException, match=NO_MORE_PAGES):
        pages.previous_page()


@pytest.mark.parametrize("res", ALL, ids=str)
def test_pagination_runs_out_of_data(ovc: Any, everything: dict[str, list[dict[str, Any]]], res: Res) -> None:
    """With the default limit of 500 the SDK asks past the end: the server's empty page stops it."""
    rows = everything[res.plural]
    assert len(rows) < 500
    size = max(1, len(rows) // 2)
    pages = client_of(ovc, res).get_all(pagination=True, page_size=size, order="ascending")
    assert _walk_forward(pages) == in_order(rows, res, descending=False)


@pytest.mark.parametrize("res", ALL, ids=str)
def test_pagination_empty_first_page(ovc: Any, res: Res) -> None:
    with pytest.raises(HPESimpliVityException, match=NO_MORE_PAGES):
        client_of(ovc, res).get_all(pagination=True, page_size=2, filters={res.key: no_such(res)})


# ---------------------------------------------------------------------------------------------- by name, by id


@pytest.mark.parametrize("res", ALL, ids=str)
def test_get_by_name(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]], res: Res) -> None:
    client = client_of(ovc, res)
    for chosen in pick(everything[res.plural]):
        found = client.get_by_name(chosen["name"])
        assert found.data["name"] == chosen["name"]
        assert found.data == api.members(res.plural, {**SDK_DEFAULTS, "name": chosen["name"]})[0]
    with pytest.raises(HPESimpliVityResourceNotFound):
        client.get_by_name(no_such(res))


@pytest.mark.parametrize("res", BY_ID, ids=str)
def test_get_by_id(ovc: Any, everything: dict[str, list[dict[str, Any]]], res: Res) -> None:
    client = client_of(ovc, res)
    for chosen in pick(everything[res.plural]):
        assert client.get_by_id(chosen["id"]).data == chosen
    with pytest.raises(HPESimpliVityResourceNotFound):
        client.get_by_id(str(uuid.uuid4()))


def test_external_stores_get_by_id_sends_an_unknown_filter(
    ovc: Any, everything: dict[str, list[dict[str, Any]]]
) -> None:
    """External stores have no id: `id=` is not one of their filters, and unknown parameters are ignored."""
    assert ovc.external_stores.get_by_id(str(uuid.uuid4())).data == everything["external_stores"][0]


@pytest.mark.parametrize("res", SINGLE_GET, ids=str)
def test_reload_data_reads_the_single_object(
    ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]], res: Res
) -> None:
    assert res.singular is not None
    for chosen in pick(everything[res.plural]):
        obj = client_of(ovc, res).get_by_id(chosen["id"])
        obj.reload_data()
        assert obj.data == api.json(f"/api/{res.plural}/{chosen['id']}")[res.singular]
        # The single object carries every list field with the same value, and the optional ones too.
        assert {k: v for k, v in obj.data.items() if k in chosen} == chosen
        assert set(res.optional_fields) <= set(obj.data)


@pytest.mark.parametrize("res", SINGLE_GET, ids=str)
def test_reload_data_of_an_unknown_object(ovc: Any, res: Res) -> None:
    ghost = client_of(ovc, res).get_by_data({"id": str(uuid.uuid4())})
    with pytest.raises(HPESimpliVityException) as info:
        ghost.reload_data()
    assert status_of(info.value) == "404"
    assert info.value.response["exception"].endswith("ObjectNotFoundException")
    assert info.value.msg == f"Object type: {res.singular} id: {ghost.data['id']} could not be found"


@pytest.mark.parametrize("res", [BACKUPS, CLUSTER_GROUPS], ids=str)
def test_reload_data_through_the_list(
    ovc: Any, everything: dict[str, list[dict[str, Any]]], res: Res
) -> None:
    for chosen in pick(everything[res.plural]):
        obj = client_of(ovc, res).get_by_data({"id": chosen["id"]})
        obj.reload_data()
        assert obj.data == chosen


def test_virtual_machine_single_object_has_power_state(ovc: Any) -> None:
    """power_on/power_off read this after their refresh."""
    vm = ovc.virtual_machines.get_all(limit=1)[0]
    vm.reload_data()
    assert vm.data["hypervisor_virtual_machine_power_state"] in {"ON", "OFF", "SUSPENDED", "UNKNOWN"}


# ---------------------------------------------------------------------------------------------- sub-reads


def _vm_with_most_backups(everything: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    alive = {vm["id"]: vm for vm in everything["virtual_machines"]}
    counts = Counter(
        b["virtual_machine_id"] for b in everything["backups"] if b["virtual_machine_id"] in alive
    )
    assert counts, "no live VM has a backup"
    return alive[counts.most_common(1)[0][0]]


def test_vm_get_backups(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    chosen = _vm_with_most_backups(everything)
    vm = ovc.virtual_machines.get_by_id(chosen["id"])
    got = datas(vm.get_backups())
    expected = [b for b in everything["backups"] if b["virtual_machine_id"] == chosen["id"]]
    assert got == expected
    assert got == api.members(f"virtual_machines/{chosen['id']}/backups", key="backups")
    assert {b["virtual_machine_name"] for b in got} == {chosen["name"]}


def test_backups_filtered_by_vm(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    chosen = _vm_with_most_backups(everything)
    expected = [b for b in everything["backups"] if b["virtual_machine_id"] == chosen["id"]]
    assert datas(ovc.backups.get_all(filters={"virtual_machine_id": chosen["id"]})) == expected
    by_name = datas(ovc.backups.get_all(filters={"virtual_machine_name": chosen["name"]}))
    assert by_name == [b for b in everything["backups"] if b["virtual_machine_name"] == chosen["name"]]
    assert by_name == api.members("backups", {**SDK_DEFAULTS, "virtual_machine_name": chosen["name"]})
    ids = [b["id"] for b in expected[:3]]
    assert [b.data["id"] for b in ovc.backups.get_all(filters={"id": ",".join(ids)})] == ids


def test_vm_get_metrics(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    vm = ovc.virtual_machines.get_by_id(everything["virtual_machines"][0]["id"])
    params = {"range": "3600", "resolution": "MINUTE", "time_offset": "0"}
    metrics, raw = _within_one_minute(
        lambda: vm.get_metrics(range=3600, resolution="MINUTE"),
        lambda: api.json(f"/api/virtual_machines/{vm.data['id']}/metrics", params),
    )
    _check_performance(metrics)
    assert metrics == raw


def _within_one_minute(through_sdk: Callable[[], Any], direct: Callable[[], Any]) -> tuple[Any, Any]:
    """Both answers from within one wall-clock minute, since time-series windows end at the current minute."""
    for _ in range(3):
        minute = int(time.time()) // 60
        pair = (through_sdk(), direct())
        if int(time.time()) // 60 == minute:
            return pair
    raise AssertionError("could not fetch both answers within one minute")


def _check_performance(body: Any) -> None:
    """`{"metrics": [iops, throughput, latency]}`, points with reads/writes/date, in lock-step."""
    assert isinstance(body, dict)
    metrics = body["metrics"]
    assert [m["name"] for m in metrics] == ["iops", "throughput", "latency"]
    dates = [[p["date"] for p in m["data_points"]] for m in metrics]
    assert dates[0], "no data points"
    assert dates[0] == dates[1] == dates[2]
    assert dates[0] == sorted(dates[0])
    for metric in metrics:
        for point in metric["data_points"]:
            assert isinstance(point["reads"], int) and isinstance(point["writes"], int)
            assert point["reads"] >= 0 and point["writes"] >= 0


def _policy_with_most(everything: dict[str, list[dict[str, Any]]], plural: str) -> dict[str, Any]:
    counts = Counter(row["policy_id"] for row in everything[plural])
    assert counts, f"no {plural} has a policy"
    policies = {p["id"]: p for p in everything["policies"]}
    return policies[counts.most_common(1)[0][0]]


def test_policy_get_vms(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    for chosen in everything["policies"]:
        policy = ovc.policies.get_by_id(chosen["id"])
        got = datas(policy.get_vms())
        assert got == [vm for vm in everything["virtual_machines"] if vm["policy_id"] == chosen["id"]]
        assert got == api.members(f"policies/{chosen['id']}/virtual_machines", key="virtual_machines")
        assert {vm["policy_name"] for vm in got} <= {chosen["name"]}
    assert ovc.policies.get_by_id(_policy_with_most(everything, "virtual_machines")["id"]).get_vms()


def test_policy_datastores(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    for chosen in everything["policies"]:
        got = datas(ovc.datastores.get_all(filters={"policy_id": chosen["id"]}))
        assert got == [d for d in everything["datastores"] if d["policy_id"] == chosen["id"]]
        assert got == api.members(f"policies/{chosen['id']}/datastores", key="datastores")
        assert datas(ovc.datastores.get_all(filters={"policy_name": chosen["name"]})) == got


def test_policy_get_rule(ovc: Any, everything: dict[str, list[dict[str, Any]]]) -> None:
    with_rules = [p for p in everything["policies"] if p["rules"]]
    assert with_rules, "no policy has rules"
    for chosen in with_rules:
        policy = ovc.policies.get_by_id(chosen["id"])
        for rule in chosen["rules"]:
            assert policy.get_rule(rule["id"]) == {"rule": rule}
            assert rule["frequency"] > 0 and rule["retention"] > 0
    with pytest.raises(HPESimpliVityException) as info:
        ovc.policies.get_by_id(with_rules[0]["id"]).get_rule(str(uuid.uuid4()))
    assert status_of(info.value) == "404"


_SCHEDULE_KEYS = {"daily_backup_rate", "daily_backup_rate_limit", "backup_rate_level",
                  "projected_retained_backups", "retained_backups_limit", "projected_retained_backups_level"}  # fmt: skip


def test_policy_schedule_report(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    policy = ovc.policies.get_by_id(everything["policies"][0]["id"])
    report = policy.policy_schedule_report()
    assert isinstance(report, dict)
    assert _SCHEDULE_KEYS <= set(report), report
    assert all(isinstance(report[k], int) and report[k] >= 0 for k in _SCHEDULE_KEYS)
    assert report["daily_backup_rate_limit"] > 0 and report["retained_backups_limit"] > 0
    assert report == api.json("/api/policies/policy_schedule_report")
    group = everything["cluster_groups"][0]["id"]
    by_group = policy.policy_schedule_report(cluster_group_id=group)
    assert by_group == api.json("/api/policies/policy_schedule_report", {"cluster_group_id": group})
    assert _SCHEDULE_KEYS <= set(by_group)


def test_datastore_standard_hosts(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    listed = 0
    for chosen in everything["datastores"]:
        datastore = ovc.datastores.get_by_id(chosen["id"])
        body = datastore.standard_hosts()
        assert body == api.json(f"/api/datastores/{chosen['id']}/standard_hosts")
        hosts = body["standard_hosts"]
        listed += len(hosts)
        shared_with = {share["host"] for share in chosen["shares"]}
        for host in hosts:
            assert set(host) >= {
                "hypervisor_object_id",
                "ip_address",
                "name",
                "shared",
                "virtual_machine_count",
            }
            assert host["shared"] is (host["name"] in shared_with)
            assert isinstance(host["virtual_machine_count"], int) and host["virtual_machine_count"] >= 0
        assert shared_with <= {h["name"] for h in hosts}, (
            "a datastore is shared with an unknown standard host"
        )
    assert listed, "no datastore's cluster has a standard host"


def test_host_get_hardware(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    for chosen in everything["hosts"]:
        host = ovc.hosts.get_by_id(chosen["id"])
        hardware = host.get_hardware()
        assert hardware == api.json(f"/api/hosts/{chosen['id']}/hardware")
        inner = hardware["host"]
        assert inner["host_id"] == chosen["id"]
        assert inner["status"] in {"GREEN", "YELLOW", "RED", "UNKNOWN"}
        assert inner["serial_number"] and inner["manufacturer"] and inner["model_number"]
        assert isinstance(inner["logical_drives"], list)


def test_host_virtual_controller_shutdown_status(
    ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]
) -> None:
    for chosen in everything["hosts"]:
        status = ovc.hosts.get_by_id(chosen["id"]).get_virtual_controller_shutdown_status()
        assert status in {"NONE", "IN_PROGRESS", "CANCEL_IN_PROGRESS", "FORCE_IN_PROGRESS", "HA"}
        body = api.json(f"/api/hosts/{chosen['id']}/virtual_controller_shutdown_status")
        assert body == {"shutdown_status": {"status": status}}


def test_host_get_capacity(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    host = ovc.hosts.get_by_id(everything["hosts"][0]["id"])
    params = {"range": "3600", "resolution": "MINUTE", "time_offset": "0"}
    body, raw = _within_one_minute(
        lambda: host.get_capacity(range=3600),
        lambda: api.json(f"/api/hosts/{host.data['id']}/capacity", params),
    )
    names = [m["name"] for m in body["metrics"]]
    assert set(names) >= {"allocated_capacity", "free_space", "used_capacity"}
    for metric in body["metrics"]:
        dates = [p["date"] for p in metric["data_points"]]
        assert dates and dates == sorted(dates)
        assert all(isinstance(p["value"], int | float) for p in metric["data_points"])
    assert body == raw
    chosen = host.get_capacity(fields="free_space,used_capacity", range=3600)
    assert sorted(m["name"] for m in chosen["metrics"]) == ["free_space", "used_capacity"]


def test_host_get_metrics(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    host = ovc.hosts.get_by_id(everything["hosts"][0]["id"])
    params = {"range": "3600", "resolution": "MINUTE", "time_offset": "0"}
    metrics, raw = _within_one_minute(
        lambda: host.get_metrics(range=3600),
        lambda: api.json(f"/api/hosts/{host.data['id']}/metrics", params),
    )
    _check_performance(metrics)
    assert metrics == raw


def test_cluster_time_zone_list(ovc: Any, api: Api) -> None:
    zones = ovc.omnistack_clusters.get_time_zone_list()
    assert zones == api.json("/api/omnistack_clusters/time_zone_list")
    assert isinstance(zones, list) and all(isinstance(z, str) for z in zones)
    assert "America/New_York" in zones and len(zones) == len(set(zones))


def test_cluster_connected_clusters(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    by_id = {c["id"]: c for c in everything["omnistack_clusters"]}
    for chosen in everything["omnistack_clusters"]:
        connected = ovc.omnistack_clusters.get_by_id(chosen["id"]).get_connected_clusters()
        raw = api.members(f"omnistack_clusters/{chosen['id']}/connected_clusters", key="omnistack_clusters")
        assert [c.data["id"] for c in connected] == [c["id"] for c in raw]
        assert chosen["id"] not in {c.data["id"] for c in connected}
        for cluster in connected:  # the SDK looks each one up again by id
            assert cluster.data == by_id[cluster.data["id"]]
    if len(by_id) > 1:
        assert any(ovc.omnistack_clusters.get_by_id(i).get_connected_clusters() for i in by_id)


def test_cluster_get_throughput(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    clusters = everything["omnistack_clusters"]
    cluster = ovc.omnistack_clusters.get_by_id(clusters[0]["id"])
    body, raw = _within_one_minute(
        lambda: cluster.get_throughput(range=3600),
        lambda: api.json(f"/api/omnistack_clusters/{cluster.data['id']}/throughput",
                         {"range": "3600", "time_offset": "0"}),
    )  # fmt: skip
    assert set(body) >= {"start_time", "end_time", "cluster_throughput"}
    assert body["start_time"] < body["end_time"]
    others = {c["id"] for c in clusters[1:]}
    for pair in body["cluster_throughput"]:
        assert pair["source_omnistack_cluster_id"] == cluster.data["id"]
        assert pair["destination_omnistack_cluster_id"] in others
        assert isinstance(pair["average_throughput"], int)
        assert isinstance(pair["data"]["data_points"], list)
    assert body == raw
    if others:
        other = sorted(others)[0]
        narrowed = cluster.get_throughput(destination_id=other, range=3600)
        assert {p["destination_omnistack_cluster_id"] for p in narrowed["cluster_throughput"]} <= {other}


def test_cluster_get_metrics(ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]) -> None:
    cluster = ovc.omnistack_clusters.get_by_id(everything["omnistack_clusters"][0]["id"])
    params = {"range": "3600", "resolution": "MINUTE", "time_offset": "0"}
    metrics, raw = _within_one_minute(
        lambda: cluster.get_metrics(range=3600, resolution="MINUTE"),
        lambda: api.json(f"/api/omnistack_clusters/{cluster.data['id']}/metrics", params),
    )
    _check_performance(metrics)
    assert metrics == raw


def test_backup_virtual_disk_partitions(
    ovc: Any, api: Api, everything: dict[str, list[dict[str, Any]]]
) -> None:
    backup = ovc.backups.get_by_id(everything["backups"][0]["id"])
    disks = ovc.connection.get(f"/backups/{backup.data['id']}/virtual_disks")
    assert disks == api.json(f"/api/backups/{backup.data['id']}/virtual_disks")
    assert disks["virtual_disks"] and all(isinstance(d, str) for d in disks["virtual_disks"])
    disk = disks["virtual_disks"][0]
    partitions = backup.get_virtual_disk_partitions(disk)
    assert partitions == api.json(
        f"/api/backups/{backup.data['id']}/virtual_disk_partitions", {"virtual_disk": disk}
    )
    assert partitions["partitions"], partitions
    # A Windows system disk starts with a partition that cannot be mounted: browse the first that can.
    number = next(p["partition_number"] for p in partitions["partitions"] if p["mountable"])
    files = backup.get_virtual_disk_partition_files(disk, number, "/")
    params = {"virtual_disk": disk, "partition_number": str(number), "file_path": "/"}
    assert files == api.json(f"/api/backups/{backup.data['id']}/virtual_disk_partition_files", params)
    assert files["virtual_disk_partition_files"], files


# ---------------------------------------------------------------------------------------------- relations


def _by_id(objects: list[Any]) -> dict[str, dict[str, Any]]:
    return {o.data["id"]: o.data for o in objects}


def test_vm_relations(ovc: Any) -> None:
    """Every live VM's datastore, host, cluster and policy exist, and the names it carries match."""
    datastores = _by_id(ovc.datastores.get_all())
    hosts = _by_id(ovc.hosts.get_all())
    clusters = _by_id(ovc.omnistack_clusters.get_all())
    policies = _by_id(ovc.policies.get_all())
    vms = datas(ovc.virtual_machines.get_all())
    for vm in vms:
        assert datastores[vm["datastore_id"]]["name"] == vm["datastore_name"]
        assert datastores[vm["datastore_id"]]["omnistack_cluster_id"] == vm["omnistack_cluster_id"]
        assert hosts[vm["host_id"]]["name"] == vm["host_name"]
        assert hosts[vm["host_id"]]["omnistack_cluster_id"] == vm["omnistack_cluster_id"]
        assert clusters[vm["omnistack_cluster_id"]]["name"] == vm["omnistack_cluster_name"]
        assert policies[vm["policy_id"]]["name"] == vm["policy_name"]
    # And one of them followed with the SDK's own look-ups.
    vm = vms[len(vms) // 2]
    assert ovc.datastores.get_by_id(vm["datastore_id"]).data["name"] == vm["datastore_name"]
    assert ovc.hosts.get_by_id(vm["host_id"]).data["name"] == vm["host_name"]
    assert (
        ovc.omnistack_clusters.get_by_name(vm["omnistack_cluster_name"]).data["id"]
        == vm["omnistack_cluster_id"]
    )
    assert ovc.policies.get_by_name(vm["policy_name"]).data["id"] == vm["policy_id"]
    in_datastore = ovc.virtual_machines.get_all(filters={"datastore_id": vm["datastore_id"]})
    assert vm["id"] in {v.data["id"] for v in in_datastore}
    on_host = ovc.virtual_machines.get_all(filters={"host_id": vm["host_id"]})
    assert vm["id"] in {v.data["id"] for v in on_host}
    assert all(v.data["host_id"] == vm["host_id"] for v in on_host)


def test_cluster_members_are_its_hosts(ovc: Any) -> None:
    hosts = datas(ovc.hosts.get_all())
    clusters = datas(ovc.omnistack_clusters.get_all())
    assert {h["omnistack_cluster_id"] for h in hosts} <= {c["id"] for c in clusters}
    for cluster in clusters:
        mine = {h["id"] for h in hosts if h["omnistack_cluster_id"] == cluster["id"]}
        assert mine, f"cluster {cluster['name']} has no host"
        assert set(cluster["members"]) == mine
        assert {
            h.data["id"] for h in ovc.hosts.get_all(filters={"omnistack_cluster_id": cluster["id"]})
        } == mine


def test_datastore_and_policy_relations(ovc: Any) -> None:
    clusters = _by_id(ovc.omnistack_clusters.get_all())
    policies = _by_id(ovc.policies.get_all())
    for datastore in datas(ovc.datastores.get_all()):
        assert clusters[datastore["omnistack_cluster_id"]]["name"] == datastore["omnistack_cluster_name"]
        assert policies[datastore["policy_id"]]["name"] == datastore["policy_name"]
    for policy in policies.values():
        for rule in policy["rules"]:
            if rule.get("destination_id"):
                assert rule["destination_id"] in clusters
                assert rule["destination_name"] == clusters[rule["destination_id"]]["name"]


def test_cluster_group_relations(ovc: Any) -> None:
    clusters = _by_id(ovc.omnistack_clusters.get_all())
    for group in datas(ovc.cluster_groups.get_all()):
        assert group["clusters"], group
        assert set(group["clusters"]) <= set(clusters)
        for cluster_id, cluster in clusters.items():
            assert (group["id"] in cluster["cluster_group_ids"]) is (cluster_id in group["clusters"])
    for store in datas(ovc.external_stores.get_all()):
        assert store["omnistack_cluster_id"] in clusters


def test_backup_relations(ovc: Any) -> None:
    """A backup's VM exists (in any state); it is held by a cluster, or by an external store."""
    clusters = _by_id(ovc.omnistack_clusters.get_all())
    datastores = _by_id(ovc.datastores.get_all())
    stores = {s.data["name"]: s.data for s in ovc.external_stores.get_all()}
    vms = _by_id(ovc.virtual_machines.get_all(filters={"state": "ALIVE,DELETED,REMOVED"}))
    # A persistent volume's backups name it where a VM's name the VM (the SDK has no volume resource).
    volumes = ovc.connection.get("/persistent_volumes?state=ALIVE,DELETED,REMOVED&limit=5000")
    vms.update({v["id"]: v for v in volumes["persistent_volumes"]})
    kinds: Counter[str] = Counter()
    for backup in datas(ovc.backups.get_all()):
        vm = vms[backup["virtual_machine_id"]]
        assert vm["name"] == backup["virtual_machine_name"]
        assert vm["state"] == backup["virtual_machine_state"]
        assert datastores[backup["datastore_id"]]["name"] == backup["datastore_name"]
        if backup["external_store_name"]:
            kinds["external"] += 1
            store = stores[backup["external_store_name"]]
            assert backup["backup_store_type"] == store["type"]
            assert backup["associated_cluster"] == store["omnistack_cluster_id"]
            assert backup["omnistack_cluster_id"] == backup["omnistack_cluster_name"] == ""
        else:
            kinds["cluster"] += 1
            assert backup["backup_store_type"] == "SimplivityStore"
            assert clusters[backup["omnistack_cluster_id"]]["name"] == backup["omnistack_cluster_name"]
    assert kinds["cluster"], kinds


# ---------------------------------------------------------------------------------------------- auth


def test_wrong_password_is_an_authentication_error(openovc: OpenOVCServer) -> None:
    with pytest.raises(HPESimpliVityAuthenticationError):
        openovc.sdk(openovc.username, openovc.password + "-wrong")
    with pytest.raises(HPESimpliVityAuthenticationError):
        openovc.sdk(f"nobody-{uuid.uuid4()}@vsphere.local", openovc.password)
    openovc.sdk()  # a good login clears the failure count


def test_sdk_verifies_the_server_certificate_when_given_one(openovc: OpenOVCServer, api: Api) -> None:
    """`ssl_certificate` switches the SDK to CERT_REQUIRED against that bundle (hostnames unchecked)."""
    bundle = openovc.certificate
    assert bundle is not None and bundle.is_file()
    verified = openovc.sdk(ssl_certificate=str(bundle))
    assert datas(verified.hosts.get_all()) == api.members("hosts", SDK_DEFAULTS)


def test_revoked_token_is_transparently_renewed(openovc: OpenOVCServer, api: Api) -> None:
    sdk = openovc.sdk()
    before = sdk.connection._access_token
    assert sdk.hosts.get_all()
    revoked = api.get("/api/oauth/revoke", token=before)
    assert revoked.status_code == 200 and revoked.content == b""
    refused = api.get("/api/hosts", token=before)
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    assert datas(sdk.hosts.get_all()) == api.members("hosts", SDK_DEFAULTS)
    after = sdk.connection._access_token
    assert after != before
    assert api.get("/api/hosts", token=after).status_code == 200


@pytest.fixture
def quick_expiry(openovc: OpenOVCServer) -> Iterator[str]:
    """A second server over the plugin's store whose tokens expire after two idle seconds (a setting of
    the process, which no scenario holds)."""
    assert openovc.data_dir is not None
    env = {"OPENOVC_ADMIN_PASSWORD": openovc.password, "OPENOVC_TOKEN_IDLE_SECONDS": "2"}
    server = start_server(openovc.data_dir, env=env)
    try:
        yield server.address
    finally:
        server.stop()


def test_expired_token_is_transparently_renewed(quick_expiry: str, api: Api, openovc: OpenOVCServer) -> None:
    sdk = OVC({"ip": quick_expiry, "credentials": openovc.credentials})
    token = sdk.connection._access_token
    with httpx.Client(base_url=f"https://{quick_expiry}", verify=False) as raw:
        assert raw.get("/api/hosts", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        # Deliberate: the token must sit idle past its two seconds (a poll would keep it alive).
        time.sleep(3)
        refused = raw.get("/api/hosts", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid_token"
    assert "inactivity" in refused.json()["error_description"]
    # The SDK sees the same answer, logs in again and repeats the request once.
    assert datas(sdk.hosts.get_all()) == api.members("hosts", SDK_DEFAULTS)
    assert sdk.connection._access_token != token


def test_read_only_user_reads(ro_ovc: Any, ovc: Any, everything: dict[str, list[dict[str, Any]]]) -> None:
    for res in ALL:
        assert datas(client_of(ro_ovc, res).get_all()) == datas(client_of(ovc, res).get_all())
    chosen = everything["virtual_machines"][0]
    vm = ro_ovc.virtual_machines.get_by_id(chosen["id"])
    vm.reload_data()
    assert vm.data["id"] == chosen["id"]


def test_read_only_user_cannot_write(ro_ovc: Any, api: Api) -> None:
    pem = generate_self_signed("read-only-attempt.example.local")[0]
    thumbprint = x509.load_pem_x509_certificate(pem).fingerprint(hashes.SHA1()).hex()
    with pytest.raises(HPESimpliVityException) as info:
        ro_ovc.certificates.add_certificate(pem.decode())
    assert status_of(info.value) == "403"
    assert info.value.response["exception"].endswith("PermissionDeniedException")
    assert READER_USER in info.value.msg
    # Nothing was added.
    assert api.get(f"/api/security/certificates/{thumbprint}").status_code == 404


# ---------------------------------------------------------------------------------------------- certificates


def test_certificates_get_all(ovc: Any, api: Api) -> None:
    assert datas(ovc.certificates.get_all()) == api.members("security/certificates", key="certificates")
    pem = generate_self_signed("contract-test.example.local")[0].decode()
    added = ovc.certificates.add_certificate(pem)
    assert set(added) >= {"certificate", "hash", "subject", "issuer", "serialno"}
    assert "contract-test.example.local" in added["subject"]
    got = datas(ovc.certificates.get_all())
    assert got == api.members("security/certificates", key="certificates")
    assert got == api.members("security/certificates", SDK_DEFAULTS, key="certificates")
    assert added["hash"] in {c["hash"] for c in got}
    assert next(c for c in got if c["hash"] == added["hash"]) == added
    with pytest.raises(HPESimpliVityMethodNotSupportedError):
        ovc.certificates.get_by_id(added["hash"])
    with pytest.raises(HPESimpliVityMethodNotSupportedError):
        ovc.certificates.get_by_name(added["subject"])


def test_read_only_user_lists_certificates(ro_ovc: Any, ovc: Any) -> None:
    assert datas(ro_ovc.certificates.get_all()) == datas(ovc.certificates.get_all())
