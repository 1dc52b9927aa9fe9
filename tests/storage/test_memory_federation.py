"""The in-memory federation of the unit tests (tests/support/fakes.py) reads as the stores do."""

from __future__ import annotations

from typing import Any

import pytest

from openovc.domain.catalog import (
    BACKUPS,
    BY_PLURAL,
    DATASTORES,
    EXTERNAL_STORES,
    HOSTS,
    OMNISTACK_CLUSTERS,
    POLICIES,
    VIRTUAL_MACHINES,
)
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import Page
from openovc.domain.query import parse_collection_query, visible_fields
from tests.storage.conftest import Store
from tests.support.fakes import MemoryFederation


@pytest.fixture(scope="module")
def fake(store: Store) -> MemoryFederation:
    return MemoryFederation.from_federation(store.federation)


def _rows(page: Page) -> tuple[int, tuple[str, ...], list[tuple[object, ...]]]:
    return page.count, page.columns, [tuple(row) for row in page.rows]


QUERIES = [
    ("virtual_machines", {}),
    (
        "virtual_machines",
        {"state": "ALIVE,DELETED", "sort": "created_at", "order": "ascending", "limit": "7"},
    ),
    (
        "virtual_machines",
        {"name": "*-0*", "case": "insensitive", "offset": "3", "show_optional_fields": "true"},
    ),
    ("virtual_machines", {"name": "WEB*", "case": "insensitive", "fields": "id,name,policy_name"}),
    (
        "virtual_machines",
        {"sort": "hypervisor_allocated_capacity", "fields": "id,hypervisor_allocated_capacity"},
    ),
    ("backups", {"limit": "25", "offset": "40", "sort": "created_at"}),
    ("backups", {"name": "*", "sort": "name", "order": "ascending", "limit": "30"}),
    ("backups", {"min_size": "1000000", "max_size": "90000000000", "sort": "size", "limit": "5000"}),
    ("backups", {"state": "protected", "application_consistent": "true", "sort": "id", "limit": "10"}),
    ("backups", {"type": "MANUAL,POLICY", "sort": "id", "order": "ascending", "limit": "9"}),
    ("datastores", {"sort": "size", "order": "ascending"}),
    ("datastores", {"name": "DS-*-01", "sort": "name"}),
    ("datastores", {"name": "ds-prod*", "case": "insensitive", "single_replica": "false"}),
    ("hosts", {"sort": "name", "show_optional_fields": "true"}),
    ("omnistack_clusters", {"sort": "time_zone", "order": "ascending"}),
    ("policies", {"sort": "name", "order": "ascending"}),
    ("external_stores", {"name": "Store*"}),
]
# Sorts on a field some objects have no value of (half the backups were never sent).
NULL_SORTS = [
    ("backups", {"sort": "sent_completion_time", "order": "ascending", "limit": "5", "fields": "id,name"}),
    ("backups", {"sort": "sent_completion_time", "offset": "280", "fields": "id,sent_completion_time"}),
]


@pytest.mark.parametrize(("plural", "params"), QUERIES)
def test_pages_match_the_stores(
    store: Store, fake: MemoryFederation, plural: str, params: dict[str, str]
) -> None:
    coll = BY_PLURAL[plural]
    query = parse_collection_query(coll, params)
    columns = visible_fields(coll, query)
    page = _rows(fake.page(coll, query, columns))
    assert page == _rows(store.reader.page(coll, query, columns))
    assert page[2], "each of these queries finds something"


@pytest.mark.parametrize(("plural", "params"), NULL_SORTS)
def test_nulls_sort_as_on_sqlite(
    store: Store, fake: MemoryFederation, plural: str, params: dict[str, str]
) -> None:
    if store.backend != "sqlite":
        pytest.skip(
            "NULL is the smallest value on SQLite, the largest on PostgreSQL; the fake follows SQLite"
        )
    coll = BY_PLURAL[plural]
    query = parse_collection_query(coll, params)
    columns = visible_fields(coll, query)
    assert _rows(fake.page(coll, query, columns)) == _rows(store.reader.page(coll, query, columns))


def test_cluster_group_and_time_filters_match_the_stores(store: Store, fake: MemoryFederation) -> None:
    group = store.federation.rows["cluster_groups"][0]["id"]
    middle = sorted(b["created_at"] for b in store.federation.rows["backups"])[150]
    for coll, params in [
        (DATASTORES, {"cluster_group_id": f"{group},nope"}),
        (DATASTORES, {"cluster_group_id": "nope"}),
        (BACKUPS, {"created_after": middle, "sort": "created_at", "limit": "20"}),
        (BACKUPS, {"created_before": middle, "cluster_group_id": group, "sort": "id", "limit": "20"}),
    ]:
        query = parse_collection_query(coll, params)
        columns = visible_fields(coll, query)
        assert _rows(fake.page(coll, query, columns)) == _rows(store.reader.page(coll, query, columns)), (
            params
        )


def test_lookups_match_the_stores(store: Store, fake: MemoryFederation) -> None:
    colls: tuple[Collection[Any], ...] = (
        VIRTUAL_MACHINES,
        BACKUPS,
        DATASTORES,
        HOSTS,
        OMNISTACK_CLUSTERS,
        POLICIES,
        EXTERNAL_STORES,
    )
    for coll in colls:
        keys = [str(r[coll.key]) for r in store.federation.rows[coll.plural]]
        for key in keys[:3]:
            assert fake.get(coll, key) == store.reader.get(coll, key)
        assert fake.get(coll, "nope") is None is store.reader.get(coll, "nope")
        assert fake.find(coll) == store.reader.find(coll)
        wanted = [*keys[:4], "nope"]
        assert sorted(map(str, (r[coll.key] for r in fake.get_many(coll, wanted)))) == sorted(
            str(r[coll.key]) for r in store.reader.get_many(coll, wanted)
        )
    vm = next(v for v in store.federation.rows["virtual_machines"] if v["state"] == "ALIVE")
    equals = {"datastore_id": vm["datastore_id"], "state": "ALIVE"}
    assert fake.find(VIRTUAL_MACHINES, **equals) == store.reader.find(VIRTUAL_MACHINES, **equals)
    hosts = [*sorted({v["host_name"] for v in store.federation.rows["virtual_machines"]}), "nowhere"]
    for ds in store.federation.rows["datastores"]:
        assert fake.count_vms(ds["id"], hosts) == store.reader.count_vms(ds["id"], hosts)
    for cluster in store.federation.rows["omnistack_clusters"]:
        assert fake.standard_hosts(cluster["id"]) == store.reader.standard_hosts(cluster["id"])
    for host in store.federation.rows["hosts"]:
        assert fake.hardware(host["id"]) == store.reader.hardware(host["id"])
    assert fake.hardware("nope") is None is store.reader.hardware("nope")
    assert fake.controller_host_id() == store.reader.controller_host_id()
