"""The connection pool as the server's metrics see it: its configured size, and each checkout and checkin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.pool import QueuePool


def pool_size(engine: Engine) -> int:
    """The connections the pool keeps open (beyond them it opens overflow connections, closed on checkin)."""
    pool = engine.pool
    return pool.size() if isinstance(pool, QueuePool) else 0


def watch_pool(engine: Engine, checked_out: Callable[[], None], checked_in: Callable[[], None]) -> None:
    """Call `checked_out` as a connection leaves the pool and `checked_in` as it returns.

    Counted by events rather than read from the pool when asked: with several server processes the one
    that answers a scrape cannot read the others' pools.
    """

    # The records out now: a connection that failed to open is checked in without having been out.
    out: set[int] = set()

    def on_checkout(_dbapi: Any, record: Any, _proxy: Any) -> None:
        out.add(id(record))
        checked_out()

    def on_checkin(_dbapi: Any, record: Any) -> None:
        if id(record) in out:
            out.discard(id(record))
            checked_in()

    event.listen(engine, "checkout", on_checkout)
    event.listen(engine, "checkin", on_checkin)
