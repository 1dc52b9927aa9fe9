"""Txn.present on both databases: which of many keys exist, in one statement, as the transaction sees them."""

from __future__ import annotations

from openovc.domain.catalog import BACKUPS
from openovc.storage.transaction import SqlTxn
from tests.storage.conftest import Store


def test_the_keys_of_objects_that_exist_as_the_transaction_sees_them(store: Store) -> None:
    with store.engine.connect() as conn:
        outer = conn.begin()
        txn = SqlTxn(conn)
        ids = sorted(str(b["id"]) for b in txn.find(BACKUPS))[:4]
        assert len(ids) == 4
        assert txn.delete(BACKUPS, ids[3])  # gone in this transaction, not yet committed

        asked = [ids[0], "missing", ids[1], ids[0], ids[3], ids[2].upper()]

        assert txn.present(BACKUPS, asked) == {ids[0], ids[1]}
        assert txn.present(BACKUPS, []) == set()
        outer.rollback()


def test_more_keys_than_one_statement_binds(store: Store) -> None:
    with store.engine.connect() as conn:
        txn = SqlTxn(conn)
        ids = sorted(str(b["id"]) for b in txn.find(BACKUPS))[:3]
        asked = [f"missing-{n}" for n in range(40_000)]
        asked[10], asked[20_000], asked[39_999] = ids

        assert txn.present(BACKUPS, asked) == set(ids)
