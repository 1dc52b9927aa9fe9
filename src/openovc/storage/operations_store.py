"""The operations store over an engine: implements domain.ports.operations_store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from openovc.domain.ports.federation import Txn
from openovc.domain.ports.operations import OperationsState
from openovc.storage.operations_state import SqlOperationsState
from openovc.storage.transaction import SqlTxn, write_transaction


class SqlOperationsStore:
    """OperationsStore over an engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def reading(self) -> Iterator[OperationsState]:
        with self.engine.connect() as conn:
            yield SqlOperationsState(conn)

    @contextmanager
    def changing(self) -> Iterator[tuple[Txn, OperationsState]]:
        with write_transaction(self.engine) as conn:
            txn = SqlTxn(conn)
            yield txn, SqlOperationsState(conn)
            txn.finish()
