"""services/reads.py against the in-memory federation: pages of collections, and single objects."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from openovc.domain.catalog import BACKUPS, CLUSTER_GROUPS, DATASTORES, POLICIES, VIRTUAL_MACHINES
from openovc.domain.errors import InvalidParameter, InvalidSortCriteria, ObjectNotFound, TypeMismatch
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import Page, Record
from openovc.services import reads
from tests.support.fakes import MemoryFederation


@pytest.fixture(scope="module")
def fed() -> MemoryFederation:
    return MemoryFederation.generated()


def _ids(page: Page) -> list[str]:
    at = page.columns.index("id")
    return [str(row[at]) for row in page.rows]


def _plain(coll: Collection[Any]) -> tuple[str, ...]:
    """The fields a collection GET shows without show_optional_fields."""
    return tuple(f.name for f in coll.fields if not f.optional)


def test_virtual_machines_default_to_the_live_ones_by_name_descending(fed: MemoryFederation) -> None:
    page, query = reads.list_objects(fed, VIRTUAL_MACHINES, {})
    alive = [v for v in fed.rows(VIRTUAL_MACHINES) if v["state"] == "ALIVE"]
    assert (query.sort, query.descending, query.limit, query.offset) == ("name", True, 500, 0)
    assert page.count == len(alive) < len(fed.rows(VIRTUAL_MACHINES))
    # VM names sort whatever their case; the id breaks ties, in the same direction.
    expected = sorted(alive, key=lambda v: (v["name"].lower(), v["id"]), reverse=True)
    assert _ids(page) == [v["id"] for v in expected]
    assert page.columns == _plain(VIRTUAL_MACHINES) and "hypervisor_is_template" not in page.columns
    # JSON-kind values come as the store's text.
    first = dict(zip(page.columns, page.rows[0], strict=True))
    assert orjson.loads(str(first["cluster_group_ids"])) == expected[0]["cluster_group_ids"]


def test_filters_paging_and_projection(fed: MemoryFederation) -> None:
    params = {"state": "alive,deleted", "name": "*-0*", "sort": "created_at", "order": "ascending",
              "offset": "2", "limit": "3", "fields": "name,id,state"}  # fmt: skip
    page, _ = reads.list_objects(fed, VIRTUAL_MACHINES, params)
    matching = sorted(
        (v for v in fed.rows(VIRTUAL_MACHINES) if "-0" in v["name"]), key=lambda v: (v["created_at"], v["id"])
    )
    assert {v["state"] for v in matching} == {"ALIVE", "DELETED"}
    assert page.count == len(matching) > 5
    assert page.columns == ("id", "name", "state")  # in the collection's order, whatever the request's
    assert list(page.rows) == [(v["id"], v["name"], v["state"]) for v in matching[2:5]]


def test_wildcards_are_case_sensitive_unless_asked(fed: MemoryFederation) -> None:
    assert reads.list_objects(fed, DATASTORES, {"name": "ds-*"})[0].count == 0
    page, _ = reads.list_objects(
        fed, DATASTORES, {"name": "ds-*", "case": "insensitive", "order": "ascending"}
    )
    assert _ids(page) == [
        d["id"] for d in sorted(fed.rows(DATASTORES), key=lambda d: (d["name"].lower(), d["id"]))
    ]
    # Without `*` a name matches whole.
    assert reads.list_objects(fed, DATASTORES, {"name": "DS-Prod"})[0].count == 0


def test_ranges_booleans_and_cluster_groups(fed: MemoryFederation) -> None:
    sizes = sorted({d["size"] for d in fed.rows(DATASTORES)})
    low = sizes[-1]
    page, _ = reads.list_objects(fed, DATASTORES, {"min_size": str(low), "sort": "size"})
    assert sorted(_ids(page)) == sorted(d["id"] for d in fed.rows(DATASTORES) if d["size"] >= low)
    page, _ = reads.list_objects(fed, DATASTORES, {"max_size": str(low - 1), "single_replica": "FALSE"})
    assert sorted(_ids(page)) == sorted(
        d["id"] for d in fed.rows(DATASTORES) if d["size"] <= low - 1 and not d["single_replica"]
    )
    group = fed.named(CLUSTER_GROUPS, "Global")
    page, _ = reads.list_objects(fed, DATASTORES, {"cluster_group_id": f"{group['id']},nope"})
    assert page.count == len(fed.rows(DATASTORES))
    assert reads.list_objects(fed, DATASTORES, {"cluster_group_id": "nope"})[0].count == 0
    backups = fed.rows(BACKUPS)
    middle = sorted(b["created_at"] for b in backups)[len(backups) // 2]
    page, _ = reads.list_objects(fed, BACKUPS, {"created_before": middle, "limit": "5000", "fields": "id"})
    assert sorted(_ids(page)) == sorted(b["id"] for b in backups if b["created_at"] <= middle)


def test_fixed_filters_override_the_clients(fed: MemoryFederation) -> None:
    policy = fed.named(POLICIES, "Gold")
    other = fed.named(POLICIES, "Silver")
    page, query = reads.list_objects(
        fed,
        VIRTUAL_MACHINES,
        {"policy_id": other["id"], "show_optional_fields": "true"},
        {"policy_id": policy["id"]},
    )
    expected = [
        v for v in fed.rows(VIRTUAL_MACHINES) if v["policy_id"] == policy["id"] and v["state"] == "ALIVE"
    ]
    assert sorted(_ids(page)) == sorted(v["id"] for v in expected) and expected
    assert query.show_optional_fields and page.columns == tuple(f.name for f in VIRTUAL_MACHINES.fields)


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        ({"sort": "shares"}, InvalidSortCriteria, "Invalid sort criteria: 'shares' is not a sortable field of datastores"),
        ({"limit": "0"}, InvalidSortCriteria, "Invalid limit: 0. The limit must be between 1 and 5000"),
        ({"offset": "-1"}, InvalidParameter, "Invalid value '-1' for parameter 'offset': must be at least 0"),
        ({"offset": "x"}, TypeMismatch, "Invalid value 'x' for parameter 'offset': expected an integer"),
        ({"single_replica": "yes"}, TypeMismatch,
         "Invalid value 'yes' for parameter 'single_replica': expected true or false"),
        ({"order": "up"}, InvalidParameter, "Invalid value 'up' for parameter 'order': expected ascending or descending"),
        ({"fields": "id,color"}, InvalidParameter,
         "Invalid value for parameter 'fields': color is not a field of datastores"),
        ({"created_after": "soon"}, InvalidParameter,
         "Invalid value 'soon' for parameter 'created_after': expected an ISO-8601 date and time"),
    ],
)  # fmt: skip
def test_bad_queries(
    fed: MemoryFederation, params: dict[str, str], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as refused:
        reads.list_objects(fed, DATASTORES, params)
    assert str(refused.value) == message


def test_get_object(fed: MemoryFederation) -> None:
    gold: Record = fed.named(POLICIES, "Gold")
    found = reads.get_object(fed, POLICIES, gold["id"])
    assert found == {**gold, "rules": orjson.dumps(gold["rules"]).decode(),
                     "cluster_group_ids": orjson.dumps(gold["cluster_group_ids"]).decode()}  # fmt: skip
    with pytest.raises(ObjectNotFound) as missing:
        reads.get_object(fed, POLICIES, "nope")
    assert missing.value.message == "Object type: policy id: nope could not be found"
    # A deleted VM is still an object: only lists filter to the live ones by default.
    dead = next(v for v in fed.rows(VIRTUAL_MACHINES) if v["state"] == "DELETED")
    assert reads.get_object(fed, VIRTUAL_MACHINES, dead["id"])["state"] == "DELETED"
