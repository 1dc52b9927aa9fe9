"""The typed rows of domain/records.py match the catalog: every field, typed from its kind, no more."""

from __future__ import annotations

from typing import Any, get_type_hints

import pytest

from openovc.domain import catalog, records
from openovc.domain.fields import Collection, Kind

ROWS: dict[str, type] = {
    "virtual_machines": records.VirtualMachine,
    "backups": records.Backup,
    "datastores": records.Datastore,
    "hosts": records.Host,
    "omnistack_clusters": records.OmnistackCluster,
    "policies": records.Policy,
    "cluster_groups": records.ClusterGroup,
    "external_stores": records.ExternalStore,
    "persistent_volumes": records.PersistentVolume,
    "certificates": records.Certificate,
}

KIND_TYPES: dict[Kind, object] = {
    Kind.STR: str | None,
    Kind.ENUM: str | None,
    Kind.TIME: str | None,
    Kind.INT: int | None,
    Kind.BOOL: bool | None,
    Kind.RATIO: float | None,
    Kind.JSON: Any,
}


def test_every_collection_has_a_row_type() -> None:
    assert set(ROWS) == set(catalog.BY_PLURAL)


@pytest.mark.parametrize("coll", list(catalog.BY_PLURAL.values()), ids=lambda c: c.plural)
def test_the_row_type_has_every_field_typed_from_its_kind(coll: Collection[Any]) -> None:
    row = ROWS[coll.plural]
    expected = {f.name: str if f.name == coll.key else KIND_TYPES[f.kind] for f in coll.fields}
    assert get_type_hints(row) == expected
    assert list(get_type_hints(row)) == [f.name for f in coll.fields]  # in the catalog's order
    assert row.__required_keys__ == frozenset(expected)  # type: ignore[attr-defined]
