"""How a collection is described: its fields, their kinds, and the filters it accepts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar


class Kind(Enum):
    """How a field is stored, compared and rendered."""

    STR = "string"
    INT = "integer"
    BOOL = "boolean"
    ENUM = "enum"  # compared in upper case, whatever `case` says
    TIME = "time"  # stored as `yyyy-MM-ddTHH:mm:ssZ` text, None rendered as "NA"
    RATIO = "ratio"  # stored as a float, rendered "N.N : 1"
    JSON = "json"  # stored as JSON text, rendered verbatim; not sortable or filterable


@dataclass(frozen=True)
class Field:
    """One property of an object as the API shows it."""

    name: str
    kind: Kind
    enum: tuple[str, ...] = ()
    optional: bool = False  # only with show_optional_fields=true on collection GETs
    index: bool = False

    @property
    def sortable(self) -> bool:
        return self.kind is not Kind.JSON


class Op(Enum):
    """What a filter parameter does to its field."""

    MATCH = "match"  # exact value, or a comma list (OR), optionally with * wildcards
    MIN = "min"
    MAX = "max"
    AFTER = "after"
    BEFORE = "before"
    BOOL = "bool"
    CLUSTER_GROUP = "cluster_group"  # objects whose cluster is in the named groups


@dataclass(frozen=True)
class Filter:
    """A query parameter that narrows a collection."""

    param: str
    field: str
    op: Op = Op.MATCH
    listable: bool = True
    wildcard: bool = False


# The type of a collection's rows (domain/records.py): what reading the collection gives.
R_co = TypeVar("R_co", bound=Mapping[str, Any], covariant=True)


@dataclass(frozen=True)
class Collection(Generic[R_co]):
    """A collection of managed objects: names, fields, filters and defaults."""

    plural: str
    singular: str
    fields: tuple[Field, ...]
    filters: tuple[Filter, ...]
    default_sort: str = "name"
    key: str = "id"  # the unique property: the tie-break of every sort, and the stored primary key
    # Filters applied when the client does not send the parameter (VMs: state=ALIVE).
    default_filters: dict[str, str] = field(default_factory=dict)
    # Sorting on these fields is always case-insensitive (backup names).
    insensitive_sort: frozenset[str] = frozenset()
    has_optional_fields: bool = False

    def field(self, name: str) -> Field | None:
        return self._by_name().get(name)

    def _by_name(self) -> dict[str, Field]:
        cached: dict[str, Field] | None = self.__dict__.get("_fields_by_name")
        if cached is None:
            cached = {f.name: f for f in self.fields}
            object.__setattr__(self, "_fields_by_name", cached)
        return cached

    def filter(self, param: str) -> Filter | None:
        cached: dict[str, Filter] | None = self.__dict__.get("_filters_by_param")
        if cached is None:
            cached = {f.param: f for f in self.filters}
            object.__setattr__(self, "_filters_by_param", cached)
        return cached.get(param)
