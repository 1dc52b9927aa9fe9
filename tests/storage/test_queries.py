"""The SQL query engine agrees with a brute-force reading of the rows, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openovc.api.render import envelope
from openovc.domain.catalog import ALL, BY_PLURAL
from openovc.services import reads
from openovc.storage.engine import make_engine, migrate
from openovc.storage.repositories import SqlFederationReader
from tests.storage.conftest import Store
from tests.support.reference import expected_page

# No example database: the strategies draw from generated data, which changes with the generator.
_SETTINGS = settings(
    database=None,
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _page(reader: SqlFederationReader, plural: str, params: dict[str, str]) -> Any:
    coll = BY_PLURAL[plural]
    page, query = reads.list_objects(reader, coll, params)
    return orjson.loads(orjson.dumps(envelope(coll, page, query.offset, query.limit)))


def _params(data: st.DataObject, store: Store, plural: str) -> dict[str, str]:
    coll = BY_PLURAL[plural]
    rows = store.federation.rows[plural]
    params: dict[str, str] = {}
    names = [str(r["name"]) for r in rows]
    if data.draw(st.booleans()) and names:
        picked = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3))
        name_filter = coll.filter("name")
        if name_filter is not None and name_filter.wildcard and data.draw(st.booleans()):
            picked = [p[:2] + "*" + p[-1:] for p in picked]
        params["name"] = ",".join(picked)
    sortable = [f.name for f in coll.fields if f.sortable and all(r[f.name] is not None for r in rows)]
    params["sort"] = data.draw(st.sampled_from(sortable))
    params["order"] = data.draw(st.sampled_from(["ascending", "descending"]))
    params["case"] = data.draw(st.sampled_from(["sensitive", "insensitive"]))
    params["limit"] = str(data.draw(st.integers(1, 50)))
    params["offset"] = str(data.draw(st.integers(0, 30)))
    return params


@_SETTINGS
@given(data=st.data(), plural=st.sampled_from([c.plural for c in ALL]))
def test_queries_match_reference(store: Store, data: st.DataObject, plural: str) -> None:
    params = _params(data, store, plural)
    assert _page(store.reader, plural, params) == expected_page(store.federation, plural, params)


def test_every_collection_round_trips(store: Store) -> None:
    for coll in ALL:
        params = {"limit": "5000", "show_optional_fields": "true", "state": "ALIVE,DELETED,REMOVED"}
        if coll.plural != "virtual_machines":
            params.pop("state")
        assert _page(store.reader, coll.plural, params) == expected_page(
            store.federation, coll.plural, params
        )


def test_byte_order_sort_and_case_sensitive_wildcards(store: Store) -> None:
    # Upper-case letters sort before lower-case ones on both engines, and `*` matches case-sensitively.
    names = [str(v["name"]) for v in store.federation.rows["virtual_machines"] if v["state"] == "ALIVE"]
    body = _page(store.reader, "virtual_machines", {"sort": "name", "order": "ascending", "limit": "5000"})
    assert [v["name"] for v in body["virtual_machines"]] == sorted(names, key=lambda n: n.encode())
    prefix = names[0][:1]
    lower = _page(store.reader, "virtual_machines", {"name": prefix.swapcase() + "*", "limit": "5000"})
    assert all(v["name"].startswith(prefix.swapcase()) for v in lower["virtual_machines"])


def test_data_survives_reopening(store: Store) -> None:
    before = _page(store.reader, "backups", {"limit": "5000"})
    engine = make_engine(store.url)
    try:
        migrate(engine)  # a second start migrates nothing and keeps the data
        assert _page(SqlFederationReader(engine), "backups", {"limit": "5000"}) == before
    finally:
        engine.dispose()
