"""storage/upkeep.py: on a PostgreSQL server without autovacuum, the store vacuums what it churns."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Connection, MetaData, Table, text

from openovc.storage import upkeep
from openovc.storage.engine import make_engine
from openovc.storage.transaction import write_transaction
from tests.support.databases import fresh_postgres_database

_META = MetaData()
_CHURNED = Table("churned", _META, Column("id", BigInteger, primary_key=True))


def _vacuums(conn: Connection) -> int:
    found = conn.execute(text("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'churned'"))
    return int(found.scalar_one())


def test_a_table_past_autovacuums_threshold_of_dead_rows_is_vacuumed_after_a_write() -> None:
    with fresh_postgres_database() as url:
        engine = make_engine(url)
        try:
            _META.create_all(engine)
            with engine.connect() as conn:
                autovacuum = conn.exec_driver_sql("SHOW autovacuum").scalar_one() == "on"
            with write_transaction(engine) as conn:
                conn.execute(_CHURNED.insert(), [{"id": i} for i in range(1000)])
            with write_transaction(engine) as conn:
                conn.execute(_CHURNED.delete())  # 1,000 dead rows, no live one
                conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
            key = engine.url.render_as_string(hide_password=True)
            upkeep._ENGINES[key].last -= upkeep._EVERY_S  # the next write looks at the tables
            with write_transaction(engine) as conn:
                conn.execute(_CHURNED.insert(), [{"id": 1}])
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
                # A server whose autovacuum is on does it: the store leaves it alone.
                assert _vacuums(conn) == (0 if autovacuum else 1)
        finally:
            engine.dispose()
