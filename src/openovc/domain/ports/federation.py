"""The federation's objects: read, found and changed in a transaction; storage implements it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from openovc.domain.fields import Collection
from openovc.domain.ports.operations import OperationsState
from openovc.domain.query import CollectionQuery

Record = dict[str, Any]  # stored values by property name (Any: each kind has its own type)
# A collection's row type (domain/records.py): reads of a Collection[R] give R.
R = TypeVar("R", bound=Mapping[str, Any])


@dataclass(frozen=True)
class Page:
    """One page of a collection: the total match count and the rows of the requested columns."""

    count: int
    columns: tuple[str, ...]
    rows: Sequence[Sequence[object]]


class Finder(Protocol):
    """Finds objects by equal values: both the reader and a transaction can."""

    def find(self, coll: Collection[R], **equals: object) -> list[R]: ...


class Pager(Protocol):
    """What reads pages of a collection: a reader, or a transaction (which sees its own changes)."""

    def page(self, coll: Collection[Any], query: CollectionQuery, columns: Sequence[str]) -> Page: ...


class FederationReader(Protocol):
    """Reads managed objects. JSON-kind values come back as JSON text, times as API text or None."""

    def page(self, coll: Collection[Any], query: CollectionQuery, columns: Sequence[str]) -> Page: ...

    def get(self, coll: Collection[R], key: str) -> R | None: ...

    def get_many(self, coll: Collection[R], keys: Sequence[str]) -> list[R]: ...

    def find(self, coll: Collection[R], **equals: object) -> list[R]: ...

    def hardware(self, host_id: str) -> str | None: ...

    def standard_hosts(self, cluster_id: str) -> list[Record]: ...

    def count_vms(self, datastore_id: str, host_names: Sequence[str]) -> dict[str, int]: ...

    def controller_host_id(self) -> str | None: ...


class Txn(Protocol):
    """One atomic change to the federation. JSON-kind values are Python lists and dicts here."""

    def page(self, coll: Collection[Any], query: CollectionQuery, columns: Sequence[str]) -> Page:
        """As FederationReader.page, seeing this transaction's own changes."""
        ...

    def get(self, coll: Collection[R], key: str) -> R | None: ...

    def get_many(self, coll: Collection[R], keys: Sequence[str]) -> list[R]:
        """Those of these objects that exist (one statement), in no particular order."""
        ...

    def present(self, coll: Collection[Any], keys: Sequence[str]) -> set[str]:
        """Which of these keys are those of objects that exist (one statement, no rows read)."""
        ...

    def find(self, coll: Collection[R], **equals: object) -> list[R]: ...

    def count(self, coll: Collection[Any], **equals: object) -> int: ...

    def insert(self, coll: Collection[Any], record: Record) -> None: ...

    def insert_many(self, coll: Collection[Any], records: Sequence[Record]) -> None:
        """Insert several objects with values of the same fields (one statement run for all)."""
        ...

    def update(self, coll: Collection[Any], key: str, values: Record) -> None: ...

    def update_where(self, coll: Collection[Any], equals: Record, values: Record) -> int: ...

    def update_each(self, coll: Collection[Any], changes: Sequence[tuple[str, Record]]) -> None:
        """Update several objects by key, each with values of the same fields (one statement)."""
        ...

    def delete(self, coll: Collection[Any], key: str) -> bool: ...

    def delete_many(self, coll: Collection[Any], keys: Sequence[str]) -> list[str]:
        """Delete those of these objects that exist (one statement); the keys of those deleted."""
        ...

    def delete_at_most(
        self, coll: Collection[Any], keys: Sequence[str], field: str, value: object
    ) -> list[str]:
        """Delete those of these objects whose `field` is set and at most `value` (one statement, the rows
        not read); the keys of those deleted."""
        ...

    def before_commit(self, key: str, hook: Callable[[], None]) -> None:
        """Run `hook` once, just before this transaction commits; a second hook under the same key is
        ignored (the simulator writes the figures of everything an operation changed, once)."""
        ...

    def state(self) -> OperationsState:
        """The server's own operation records (shutdowns, credentials) in this same transaction."""
        ...
