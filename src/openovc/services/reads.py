"""Reading managed objects: collection queries, single objects and sub-collections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openovc.domain.errors import ObjectNotFound
from openovc.domain.fields import Collection
from openovc.domain.ports.federation import FederationReader, Page, R
from openovc.domain.query import CollectionQuery, parse_collection_query, visible_fields


def list_objects(
    reader: FederationReader,
    coll: Collection[Any],
    params: Mapping[str, str],
    fixed: Mapping[str, str] | None = None,
) -> tuple[Page, CollectionQuery]:
    """One page of a collection; `fixed` filters (a parent's id) override the client's."""
    merged = dict(params)
    if fixed:
        merged.update(fixed)
    query = parse_collection_query(coll, merged)
    return reader.page(coll, query, visible_fields(coll, query)), query


def get_object(reader: FederationReader, coll: Collection[R], key: str) -> R:
    """One object with every field, or ObjectNotFound with the real message."""
    record = reader.get(coll, key)
    if record is None:
        raise ObjectNotFound(coll.singular, key)
    return record
