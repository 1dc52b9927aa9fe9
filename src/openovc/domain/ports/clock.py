"""Where the federation's clock stands, shared by every server process; storage implements it."""

from __future__ import annotations

from typing import Protocol

from openovc.domain.clock import ClockState


class ClockStore(Protocol):
    def load(self) -> ClockState | None: ...

    def save(self, state: ClockState, expected: ClockState | None) -> bool:
        """Compare-and-set: stored only if the stored state is still `expected` (None: none yet)."""
        ...
