"""Opens the operations state outside a task: read-only, or with the federation in one write transaction; storage implements it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

from openovc.domain.ports.federation import Txn
from openovc.domain.ports.operations import OperationsState


class OperationsStore(Protocol):
    """For direct (non-task) operations: a task's handler has the state of its own transaction already."""

    def reading(self) -> AbstractContextManager[OperationsState]: ...

    def changing(self) -> AbstractContextManager[tuple[Txn, OperationsState]]: ...
