"""The read side of the federation store: implements domain.ports.federation.FederationReader."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Engine, func, select

from openovc.domain.fields import Collection
from openovc.domain.ports.federation import Page, R, Record
from openovc.domain.query import CollectionQuery
from openovc.storage import querying, tables
from openovc.storage.engine import reads
from openovc.storage.rows import as_record
from openovc.storage.transaction import find_statement, found_records


class SqlFederationReader:
    """Reads collections with filtering, sorting and paging done by the database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = reads(engine)

    def page(self, coll: Collection[Any], query: CollectionQuery, columns: Sequence[str]) -> Page:
        with self.engine.connect() as conn:
            return querying.read_page(conn, coll, query, columns)

    def get(self, coll: Collection[R], key: str) -> R | None:
        if coll.key == "hash":
            found = self.get_many(coll, [key])  # thumbprints match in any case
        else:
            found = self.find(coll, **{coll.key: key})
        return found[0] if found else None

    def get_many(self, coll: Collection[R], keys: Sequence[str]) -> list[R]:
        table = tables.COLLECTION_TABLES[coll.plural]
        key = table.c[coll.key]
        with self.engine.connect() as conn:
            if coll.key == "hash":
                stmt = select(table).where(func.lower(key).in_([k.lower() for k in keys]))
            else:
                stmt = select(table).where(key.in_(list(keys)))
            return cast(list[R], [as_record(row) for row in conn.execute(stmt)])

    def find(self, coll: Collection[R], **equals: object) -> list[R]:
        stmt = find_statement(coll.plural, coll.key, tuple(sorted(equals)))
        with self.engine.connect() as conn:
            return cast(list[R], found_records(conn, coll.plural, stmt.rows(conn, equals)))

    def hardware(self, host_id: str) -> str | None:
        hw = tables.host_hardware
        with self.engine.connect() as conn:
            return conn.execute(select(hw.c.document).where(hw.c.host_id == host_id)).scalar_one_or_none()

    def standard_hosts(self, cluster_id: str) -> list[Record]:
        sh = tables.standard_hosts
        with self.engine.connect() as conn:
            stmt = select(sh).where(sh.c.omnistack_cluster_id == cluster_id).order_by(sh.c.name)
            return [as_record(row) for row in conn.execute(stmt)]

    def count_vms(self, datastore_id: str, host_names: Sequence[str]) -> dict[str, int]:
        vms = tables.COLLECTION_TABLES["virtual_machines"]
        stmt = (
            select(vms.c.host_name, func.count())
            .where(
                vms.c.datastore_id == datastore_id,
                vms.c.state == "ALIVE",
                vms.c.host_name.in_(list(host_names)),
            )
            .group_by(vms.c.host_name)
        )
        with self.engine.connect() as conn:
            return {str(name): int(n) for name, n in conn.execute(stmt)}

    def controller_host_id(self) -> str | None:
        """The host whose Virtual Controller this server plays: the first host, by id."""
        hosts = tables.COLLECTION_TABLES["hosts"]
        with self.engine.connect() as conn:
            found = conn.execute(select(func.min(hosts.c.id))).scalar_one_or_none()
        return str(found) if found is not None else None
