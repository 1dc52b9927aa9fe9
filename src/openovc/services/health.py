"""Readiness for /_openovc/health: the process answers, and so does its database."""

from __future__ import annotations

import logging

from openovc.domain.ports.clock import ClockStore

_log = logging.getLogger(__name__)


class Health:
    """Ready when the database answers a trivial query: one small row read by its key (the clock's)."""

    def __init__(self, store: ClockStore) -> None:
        self._store = store

    def ready(self) -> bool:
        """True when the query answered; any failure is logged (for the operator) and means not ready."""
        try:
            self._store.load()
        except Exception as problem:  # whatever the driver raises, the answer is the same: not ready
            _log.warning("Health check: the database does not answer: %s", problem)
            return False
        return True
