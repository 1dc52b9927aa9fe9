"""Collection GETs answer exactly what a brute-force reading of the stored rows gives."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openovc.domain.catalog import ALL, BY_PLURAL
from openovc.domain.fields import Kind, Op
from tests.support.inprocess import Env
from tests.support.reference import expected_page


def _get(env: Env, headers: dict[str, str], path: str, params: dict[str, str]) -> Any:
    resp = env.client.get(path, headers=headers, params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


@pytest.mark.parametrize("plural", [c.plural for c in ALL])
def test_default_listing(env: Env, admin: dict[str, str], plural: str) -> None:
    assert _get(env, admin, f"/api/{plural}", {}) == expected_page(env.federation, plural, {})


@pytest.mark.parametrize("plural", ["virtual_machines", "hosts", "omnistack_clusters", "datastores"])
def test_optional_fields(env: Env, admin: dict[str, str], plural: str) -> None:
    params = {"show_optional_fields": "True"}
    assert _get(env, admin, f"/api/{plural}", params) == expected_page(env.federation, plural, params)


def test_python_sdk_query_string(env: Env, admin: dict[str, str]) -> None:
    params = {"case": "sensitive", "limit": "500", "offset": "0", "order": "descending", "sort": "name"}
    for coll in ALL:
        assert _get(env, admin, f"/api/{coll.plural}", params) == expected_page(
            env.federation, coll.plural, params
        )


def test_paging_walks_every_backup_once(env: Env, admin: dict[str, str]) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        page = _get(env, admin, "/api/backups", {"limit": "37", "offset": str(offset), "sort": "created_at"})
        seen.extend(b["id"] for b in page["backups"])
        offset += 37
        if offset >= page["count"]:
            break
    assert len(seen) == len(set(seen)) == len(env.federation.rows["backups"])


def test_offset_past_the_end_is_an_empty_page(env: Env, admin: dict[str, str]) -> None:
    body = _get(env, admin, "/api/hosts", {"offset": "1000"})
    assert body == {"offset": 1000, "limit": 500, "count": len(env.federation.rows["hosts"]), "hosts": []}


def test_no_match_is_an_empty_list(env: Env, admin: dict[str, str]) -> None:
    assert _get(env, admin, "/api/virtual_machines", {"name": "no-such-vm"}) == {
        "offset": 0, "limit": 500, "count": 0, "virtual_machines": [],
    }  # fmt: skip


def test_a_list_of_only_commas_matches_nothing(env: Env, admin: dict[str, str]) -> None:
    # It once reached the database as an empty OR, which SQLAlchemy refuses.
    assert _get(env, admin, "/api/backups", {"external_store_name": " , ,"}) == {
        "offset": 0, "limit": 500, "count": 0, "backups": [],
    }  # fmt: skip


def test_fields_projection(env: Env, admin: dict[str, str]) -> None:
    body = _get(env, admin, "/api/virtual_machines", {"fields": "id,name", "limit": "5000"})
    assert all(set(vm) == {"id", "name"} for vm in body["virtual_machines"])
    assert body["count"] == sum(1 for v in env.federation.rows["virtual_machines"] if v["state"] == "ALIVE")


def test_deleted_vms_only_when_asked(env: Env, admin: dict[str, str]) -> None:
    params = {"state": "deleted,alive"}
    body = _get(env, admin, "/api/virtual_machines", params)
    assert body == expected_page(env.federation, "virtual_machines", params)
    assert {vm["state"] for vm in body["virtual_machines"]} == {"ALIVE", "DELETED"}


def _sample_params(data: st.DataObject, plural: str, env: Env) -> dict[str, str]:
    coll = BY_PLURAL[plural]
    rows = env.federation.rows[plural]
    params: dict[str, str] = {}
    for flt in data.draw(st.lists(st.sampled_from(coll.filters), max_size=3, unique=True)):
        fld = coll.field(flt.field)
        assert fld is not None
        values = [r[flt.field] for r in rows if r[flt.field] is not None]
        if flt.op is Op.CLUSTER_GROUP:
            params[flt.param] = ",".join(g["id"] for g in env.federation.rows["cluster_groups"])
        elif flt.op is Op.BOOL:
            params[flt.param] = data.draw(st.sampled_from(["true", "False", "TRUE"]))
        elif not values:
            continue
        elif flt.op is Op.MATCH:
            picked = [str(v) for v in data.draw(st.lists(st.sampled_from(values), min_size=1, max_size=3))]
            if flt.wildcard and fld.kind is Kind.STR and data.draw(st.booleans()):
                picked = [p[: max(1, len(p) // 2)] + "*" for p in picked]
            params[flt.param] = ",".join(picked) if flt.listable else picked[0]
        else:
            params[flt.param] = str(data.draw(st.sampled_from(values)))
    sortable = [f.name for f in coll.fields if f.sortable and all(r[f.name] is not None for r in rows)]
    params["sort"] = data.draw(st.sampled_from(sortable))
    params["order"] = data.draw(st.sampled_from(["ascending", "descending"]))
    params["case"] = data.draw(st.sampled_from(["sensitive", "insensitive"]))
    params["limit"] = str(data.draw(st.integers(1, 60)))
    params["offset"] = str(data.draw(st.integers(0, 40)))
    return params


# No example database: the strategies draw from generated data, which changes with the generator.
@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), plural=st.sampled_from([c.plural for c in ALL]))
def test_random_queries_match_the_reference(
    env: Env, admin: dict[str, str], data: st.DataObject, plural: str
) -> None:
    params = _sample_params(data, plural, env)
    assert _get(env, admin, f"/api/{plural}", params) == expected_page(env.federation, plural, params)
