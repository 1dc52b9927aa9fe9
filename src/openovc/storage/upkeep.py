"""PostgreSQL without autovacuum: the store vacuums the tables it churns itself."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, text

_EVERY_S = 2.0  # real seconds between looks at the tables' counts, from the writers of one process
# Autovacuum's default thresholds: autovacuum_vacuum_threshold and autovacuum_vacuum_scale_factor.
_DUE = text("SELECT relname FROM pg_stat_user_tables WHERE n_dead_tup > 50 + 0.2 * n_live_tup")


@dataclass
class _Upkeep:
    autovacuum: bool | None = None  # the server's setting, read once
    last: float = field(default_factory=time.monotonic)
    busy: threading.Lock = field(default_factory=threading.Lock)


_ENGINES: dict[str, _Upkeep] = {}
_GUARD = threading.Lock()


def after_write(engine: Engine) -> None:
    """After a write transaction committed: on a PostgreSQL server whose autovacuum is off, vacuum the
    tables past autovacuum's own threshold of dead rows, every few seconds at most.

    Without it a table the clock churns (a schedule inserts, updates and deletes thousands of backups an
    hour) keeps every dead row, so it and its indexes only grow; and no page is marked all-visible, so the
    planner prices an index-only scan with a heap read per row: a lookup of the few backups expiring
    reads the whole table instead (docs/architecture.md, Performance notes). Statistics are left alone:
    a full ANALYZE of the backups costs more than what it saves.
    """
    key = engine.url.render_as_string(hide_password=True)
    with _GUARD:
        upkeep = _ENGINES.setdefault(key, _Upkeep())
    if upkeep.autovacuum or time.monotonic() - upkeep.last < _EVERY_S:
        return
    if not upkeep.busy.acquire(blocking=False):
        return  # another thread of this process is at it
    try:
        upkeep.last = time.monotonic()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if upkeep.autovacuum is None:
                upkeep.autovacuum = conn.exec_driver_sql("SHOW autovacuum").scalar_one() == "on"
                if upkeep.autovacuum:
                    return
            for name in conn.execute(_DUE).scalars().all():
                # SKIP_LOCKED: another server process vacuuming it already is enough.
                conn.exec_driver_sql(f'VACUUM (SKIP_LOCKED) "{name}"')
    finally:
        upkeep.busy.release()
