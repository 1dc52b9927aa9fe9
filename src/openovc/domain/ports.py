"""Ports the domain and services need; storage implements them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .auth import Failures, Token
from .fields import Collection

if TYPE_CHECKING:
    from .content_model import ContentModel
    from .operations_ports import OperationsState
from .query import CollectionQuery

Record = dict[str, Any]  # stored values by property name (Any: each kind has its own type)


@dataclass(frozen=True)
class Page:
    """One page of a collection: the total match count and the rows of the requested columns."""

    count: int
    columns: tuple[str, ...]
    rows: Sequence[Sequence[object]]


class Finder(Protocol):
    """Finds objects by equal values: both the reader and a transaction can."""

    def find(self, coll: Collection, **equals: object) -> list[Record]: ...


class FederationReader(Protocol):
    """Reads managed objects. JSON-kind values come back as JSON text, times as API text or None."""

    def page(self, coll: Collection, query: CollectionQuery, columns: Sequence[str]) -> Page: ...

    def get(self, coll: Collection, key: str) -> Record | None: ...

    def get_many(self, coll: Collection, keys: Sequence[str]) -> list[Record]: ...

    def find(self, coll: Collection, **equals: object) -> list[Record]: ...

    def hardware(self, host_id: str) -> str | None: ...

    def standard_hosts(self, cluster_id: str) -> list[Record]: ...

    def count_vms(self, datastore_id: str, host_names: Sequence[str]) -> dict[str, int]: ...

    def controller_host_id(self) -> str | None: ...


class AuthStore(Protocol):
    """Users, tokens and failed-login records."""

    def user(self, username: str) -> tuple[str, str] | None:
        """(password_hash, role) of a user, or None."""
        ...

    def upsert_user(self, username: str, password_hash: str, role: str, now_ms: int) -> None: ...

    def delete_user(self, username: str) -> bool: ...

    def list_users(self) -> list[tuple[str, str]]: ...

    def failures(self, username: str) -> Failures | None: ...

    def record_failures(self, username: str, record: Failures | None) -> None: ...

    def add_token(self, token: Token) -> None: ...

    def token(self, access_token: str) -> Token | None: ...

    def session_for(self, access_token: str) -> tuple[Token, str, list[str]] | None:
        """A token, and its user's role and groups."""
        ...

    def role_assignments(self) -> dict[str, list[str]]:
        """OmniStack role -> the vCenter groups it is assigned to."""
        ...

    def user_groups(self, username: str) -> list[str] | None: ...

    def set_user_groups(self, username: str, groups: list[str]) -> bool: ...

    def touch_token(self, access_token: str, now_ms: int) -> None: ...

    def revoke_token(self, access_token: str) -> None: ...

    def purge_tokens(self, older_than_ms: int) -> int: ...


class Txn(Protocol):
    """One atomic change to the federation. JSON-kind values are Python lists and dicts here."""

    def get(self, coll: Collection, key: str) -> Record | None: ...

    def find(self, coll: Collection, **equals: object) -> list[Record]: ...

    def count(self, coll: Collection, **equals: object) -> int: ...

    def insert(self, coll: Collection, record: Record) -> None: ...

    def update(self, coll: Collection, key: str, values: Record) -> None: ...

    def update_where(self, coll: Collection, equals: Record, values: Record) -> int: ...

    def update_each(self, coll: Collection, changes: Sequence[tuple[str, Record]]) -> None:
        """Update several objects by key, each with values of the same fields (one statement)."""
        ...

    def delete(self, coll: Collection, key: str) -> bool: ...

    def state(self) -> OperationsState:
        """The server's own operation records (shutdowns, credentials) in this same transaction."""
        ...

    def content(self) -> ContentModel:
        """What every VM and backup holds (domain/content_model.py), changed in this same transaction."""
        ...
