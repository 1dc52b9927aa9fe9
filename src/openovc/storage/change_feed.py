"""SQLite's change feed of the VMs: each commit's changed keys, in commit order, for rendered rows kept.

Triggers write the key of every VM inserted, updated or deleted into `<table>_changes` in the transaction
that changes it, whatever writes it (the storage layer, a loader, a restore, another process), so a reader
asks "what changed since sequence N" in one indexed query. SQLite serialises writers, so sequences commit
in order and a read snapshot sees every change up to the largest sequence it sees. Each insert drops the
rows FEED_ROWS behind it: a reader further behind than that forgets everything it kept.
PostgreSQL has no feed: concurrent writers commit their sequences out of order (see storage/lean_reads).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import DDL, Column, Integer, MetaData, PrimaryKeyConstraint, String, Table, event

# The collections with a feed, by table: their key column.
FEEDS = {"virtual_machines": "id"}
# How many changes the feed keeps (its newest); about 50 bytes each.
FEED_ROWS = 100_000


def feed_table(table: str) -> str:
    return f"{table}_changes"


def declare(metadata: MetaData, table: str) -> Table:
    """The feed of `table` in `metadata`, its triggers made with it on SQLite (on PostgreSQL it stays
    empty). The declared schema and the migration both make it so."""
    key = FEEDS[table]
    # AUTOINCREMENT: a sequence is never given twice, even once the rows below it are gone.
    feed = Table(
        feed_table(table),
        metadata,
        Column("seq", Integer),
        Column(key, String().with_variant(String(collation="C"), "postgresql"), nullable=False),
        PrimaryKeyConstraint("seq", name=f"pk_{feed_table(table)}"),
        sqlite_autoincrement=True,
    )
    for sql in _triggers(table, key):
        trigger = DDL(sql)  # type: ignore[no-untyped-call]
        event.listen(feed, "after_create", trigger.execute_if(dialect="sqlite"))
    return feed


def forget_all(cursor: Any) -> None:
    """After rows were replaced with the triggers off (a snapshot's restore): move each feed's sequence
    past what any reader follows, so every reader forgets all it kept (on SQLite's DB-API cursor)."""
    for table in FEEDS:
        name = feed_table(table)
        cursor.execute("INSERT OR IGNORE INTO sqlite_sequence (name, seq) SELECT ?, 0", (name,))
        cursor.execute("UPDATE sqlite_sequence SET seq = seq + ? WHERE name = ?", (FEED_ROWS + 1, name))


def _triggers(table: str, key: str) -> list[str]:
    feed = feed_table(table)
    prune = f"DELETE FROM {feed} WHERE seq <= last_insert_rowid() - {FEED_ROWS};"
    return [
        f"CREATE TRIGGER {feed}_insert AFTER INSERT ON {table} BEGIN"
        f" INSERT INTO {feed} ({key}) VALUES (NEW.{key}); {prune} END",
        f"CREATE TRIGGER {feed}_update AFTER UPDATE ON {table} BEGIN"
        f" INSERT INTO {feed} ({key}) SELECT OLD.{key} WHERE OLD.{key} IS NOT NEW.{key};"
        f" INSERT INTO {feed} ({key}) VALUES (NEW.{key}); {prune} END",
        f"CREATE TRIGGER {feed}_delete AFTER DELETE ON {table} BEGIN"
        f" INSERT INTO {feed} ({key}) VALUES (OLD.{key}); {prune} END",
    ]
