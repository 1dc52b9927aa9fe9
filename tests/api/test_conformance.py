"""Every list and single response validates against the matching definition in HPE's 1.25 spec."""

from __future__ import annotations

import pytest

from openovc.domain.catalog import ALL, BY_PLURAL
from tests.support.inprocess import Env
from tests.support.spec import validate

DEFINITION = {
    "virtual_machines": "virtual_machine", "backups": "BackupMO", "datastores": "datastore", "hosts": "host",
    "omnistack_clusters": "omnistack_cluster", "policies": "policy", "cluster_groups": "clusterGroup",
    "external_stores": "external_store",
    # Never in the published spec: the Go SDK's volumes are VM-like, and carry every field a VM must.
    "persistent_volumes": "virtual_machine",
}  # fmt: skip
SINGLE = [
    "virtual_machines",
    "backups",
    "datastores",
    "hosts",
    "omnistack_clusters",
    "policies",
    "persistent_volumes",
]


@pytest.mark.parametrize("plural", [c.plural for c in ALL])
@pytest.mark.parametrize("optional", [False, True])
def test_lists_conform(env: Env, admin: dict[str, str], plural: str, optional: bool) -> None:
    coll = BY_PLURAL[plural]
    params = {"show_optional_fields": str(optional).lower(), "limit": "5000"}
    body = env.client.get(f"/api/{plural}", headers=admin, params=params).json()
    assert set(body) == {"offset", "limit", "count", plural}
    relax = () if optional else tuple(f.name for f in coll.fields if f.optional)
    assert body[plural], f"the demo federation has no {plural}"
    for item in body[plural]:
        validate(DEFINITION[plural], item, relax=relax)


@pytest.mark.parametrize("plural", SINGLE)
def test_single_objects_conform(env: Env, admin: dict[str, str], plural: str) -> None:
    coll = BY_PLURAL[plural]
    for row in env.federation.rows[plural][:20]:
        body = env.client.get(f"/api/{plural}/{row['id']}", headers=admin).json()
        assert set(body) == {coll.singular}
        validate(DEFINITION[plural], body[coll.singular])
        assert set(body[coll.singular]) == {f.name for f in coll.fields}


def test_rules_conform(env: Env, admin: dict[str, str]) -> None:
    checked = 0
    for policy in env.federation.rows["policies"]:
        for rule in policy["rules"]:
            body = env.client.get(f"/api/policies/{policy['id']}/rules/{rule['id']}", headers=admin).json()
            assert body == {"rule": rule}
            validate("rule", body["rule"])
            checked += 1
    assert checked


def test_hardware_conforms(env: Env, admin: dict[str, str]) -> None:
    for host in env.federation.rows["hosts"]:
        body = env.client.get(f"/api/hosts/{host['id']}/hardware", headers=admin).json()
        validate("host_hardware", body["host"])


def test_standard_hosts_conform(env: Env, admin: dict[str, str]) -> None:
    for ds in env.federation.rows["datastores"]:
        body = env.client.get(f"/api/datastores/{ds['id']}/standard_hosts", headers=admin).json()
        for item in body["standard_hosts"]:
            validate("standard_host", item)
