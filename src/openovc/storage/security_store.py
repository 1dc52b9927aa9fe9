"""Certificates and role assignments in the database."""

from __future__ import annotations

import orjson
from sqlalchemy import Engine, delete, insert, select

from openovc.domain.ports.federation import Record
from openovc.storage import tables
from openovc.storage.rows import as_record
from openovc.storage.transaction import write_transaction

_C = tables.COLLECTION_TABLES["certificates"]
_R = tables.role_assignments


class SqlSecurityStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def certificate_list(self) -> list[Record]:
        with self.engine.connect() as conn:
            return [as_record(r) for r in conn.execute(select(_C).order_by(_C.c.hash))]

    def put_certificate(self, record: Record) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            conn.execute(delete(_C).where(_C.c.hash == record["hash"]))
            conn.execute(insert(_C).values(**record))

    def delete_certificate(self, thumbprint: str) -> bool:
        with write_transaction(self.engine, exclusive=False) as conn:
            return bool(conn.execute(delete(_C).where(_C.c.hash == thumbprint)).rowcount)

    def role_assignments(self) -> list[Record]:
        with self.engine.connect() as conn:
            return [
                {"role": r.role, "groups": orjson.loads(r.groups)}
                for r in conn.execute(select(_R).order_by(_R.c.role))
            ]

    def set_groups(self, role: str, groups: list[str]) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            conn.execute(delete(_R).where(_R.c.role == role))
            if groups:
                conn.execute(insert(_R).values(role=role, groups=orjson.dumps(groups).decode()))
