"""Fault rules and run-time task pacing, shared by every server process; storage implements them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class StoredRule:
    """A rule as stored: its id, its checked JSON, and how often it has fired."""

    id: str
    rule: dict[str, Any]
    fired: int


class FaultStore(Protocol):
    def generation(self) -> str | None:
        """Changes whenever the rules do (None: never any): a process re-reads them only then."""
        ...

    def load(self) -> list[StoredRule]:
        """Every rule, oldest first."""
        ...

    def add(self, rule_id: str, rule: dict[str, Any], count: int | None) -> None: ...

    def remove(self, rule_id: str) -> StoredRule | None: ...

    def replace(self, rules: Sequence[tuple[str, dict[str, Any], int | None]]) -> int:
        """Remove every rule and add these, at once; how many were removed."""
        ...

    def claim(self, rule_id: str) -> int | None:
        """Count one more match of a rule that may still fire: its number (from 1), or None when the
        rule is gone or has fired `count` times. Atomic across processes."""
        ...

    def fire(self, rule_id: str) -> bool:
        """Count one firing, unless it has already fired `count` times (then False). Atomic."""
        ...


class PacingStore(Protocol):
    def load(self) -> str | None:
        """The pacing table set at run time (OPENOVC_TASK_PACING's syntax), or None."""
        ...

    def save(self, table: str | None) -> None:
        """Set it (None: back to each process's start-up setting)."""
        ...
