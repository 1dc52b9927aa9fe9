"""Txn.delete_at_most on both databases: expiry's check and delete in one statement, as a read then a delete."""

from __future__ import annotations

from openovc.domain.catalog import BACKUPS
from openovc.storage.transaction import SqlTxn
from tests.storage.conftest import Store


def test_deletes_those_of_the_keys_whose_field_is_set_and_at_most_the_value(store: Store) -> None:
    with store.engine.connect() as conn:
        outer = conn.begin()
        txn = SqlTxn(conn)
        ids = sorted(str(b["id"]) for b in txn.find(BACKUPS))[:6]
        assert len(ids) == 6
        at = "2030-01-01T00:00:00Z"
        times = [at, "2030-01-01T00:00:01Z", "2029-12-31T23:59:59Z", None, "2000-01-01T00:00:00Z", at]
        txn.update_each(BACKUPS, [(i, {"expiration_time": t}) for i, t in zip(ids, times, strict=True)])
        # ids[4] has expired but is not asked for; "missing" does not exist.
        asked = [ids[0], ids[1], ids[2], ids[3], ids[5], "missing"]

        gone = txn.delete_at_most(BACKUPS, asked, "expiration_time", at)

        assert sorted(gone) == sorted([ids[0], ids[2], ids[5]])
        left = {str(b["id"]) for b in txn.get_many(BACKUPS, ids)}
        assert left == {ids[1], ids[3], ids[4]}
        assert txn.delete_at_most(BACKUPS, [], "expiration_time", at) == []
        outer.rollback()


def test_more_keys_than_one_statement_binds(store: Store) -> None:
    with store.engine.connect() as conn:
        outer = conn.begin()
        txn = SqlTxn(conn)
        expiring = sorted(str(b["id"]) for b in txn.find(BACKUPS) if b["expiration_time"] is not None)[:3]
        assert len(expiring) == 3
        txn.update_each(BACKUPS, [(i, {"expiration_time": "2000-01-01T00:00:00Z"}) for i in expiring])
        asked = [f"missing-{n}" for n in range(1200)]
        asked[10], asked[600], asked[1199] = expiring  # one in each chunk of SQLite's IN lists

        gone = txn.delete_at_most(BACKUPS, asked, "expiration_time", "2000-01-01T00:00:00Z")

        assert sorted(gone) == expiring
        assert txn.get_many(BACKUPS, expiring) == []
        outer.rollback()
