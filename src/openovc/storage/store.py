"""The database as the composition root holds it: one engine, and what is done to the store as a whole."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, delete, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from openovc.domain.ports.progress import SILENT, Progress
from openovc.domain.snapshots import EncodedTable
from openovc.simulator.federation import Federation
from openovc.storage import tables
from openovc.storage.engine import make_engine, migrate
from openovc.storage.loading import is_empty, load_federation
from openovc.storage.reset import FEDERATION_STATE_KEY, clear_federation

# An unreachable or unopenable database: its `orig` is the driver's error, which says why.
StoreUnavailable = OperationalError

# Any constant works: it only has to be the same in every controller sharing one PostgreSQL database.
_FIRST_START_LOCK = 7243002


def database_label(url: str) -> str:
    """The database's URL as an operator may see it: without its password."""
    return make_url(url).render_as_string(hide_password=True)


class Storage:
    """One opened (and migrated) database; the stores the routes use are built over its engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> Storage:
        """The store at a `sqlite:///` or `postgresql://` URL, its schema brought up to date."""
        engine = make_engine(url)
        migrate(engine)
        return cls(engine)

    @property
    def private(self) -> bool:
        """True when no other controller can share the store: SQLite's file is one data directory's."""
        return self.engine.dialect.name == "sqlite"

    def dispose(self) -> None:
        """Close the pooled connections (a process hands the store to the processes it starts)."""
        self.engine.dispose()

    def is_empty(self) -> bool:
        """True when no federation has been stored yet."""
        return is_empty(self.engine)

    def load(self, federation: Federation, progress: Progress = SILENT) -> dict[str, EncodedTable]:
        """Insert a federation into the empty store, in one transaction; returns its tables encoded for
        the initial snapshot beside the load (none for a small federation)."""
        return load_federation(self.engine, federation, progress)

    def clear_federation(self) -> None:
        """Delete the federation (users, tokens and role assignments stay), in one transaction."""
        clear_federation(self.engine)

    @contextmanager
    def first_start_lock(self) -> Iterator[None]:
        """Serialise first starts of several controllers sharing one PostgreSQL database.

        Without it two could both find the store empty and load two federations, or each generate its
        own administrator password. A session lock, since loading runs in transactions of its own. SQLite
        stores are one per data directory, so they need none.
        """
        if self.engine.dialect.name != "postgresql":
            yield
            return
        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _FIRST_START_LOCK})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _FIRST_START_LOCK})
                conn.commit()

    def federation_record(self) -> dict[str, object] | None:
        """How the stored federation was made (source, seed, time), or None when none was recorded."""
        kv = tables.settings_kv
        with self.engine.connect() as conn:
            value = conn.execute(
                select(kv.c.value).where(kv.c.key == FEDERATION_STATE_KEY)
            ).scalar_one_or_none()
        if value is None:
            return None
        record: dict[str, object] = json.loads(value)
        return record

    def record_federation(self, record: dict[str, object]) -> None:
        """Keep how the stored federation was made, replacing what was kept before."""
        kv = tables.settings_kv
        with self.engine.begin() as conn:
            conn.execute(delete(kv).where(kv.c.key == FEDERATION_STATE_KEY))
            conn.execute(
                insert(kv).values(key=FEDERATION_STATE_KEY, value=json.dumps(record, sort_keys=True))
            )
