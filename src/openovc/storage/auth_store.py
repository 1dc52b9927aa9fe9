"""Users, tokens and login failures in the database: implements domain.ports.auth.AuthStore."""

from __future__ import annotations

import orjson
from sqlalchemy import Engine, delete, insert, select, update

from openovc.domain.auth import Failures, Token
from openovc.storage import tables
from openovc.storage.engine import reads
from openovc.storage.security_store import SqlSecurityStore
from openovc.storage.transaction import write_transaction

_T = tables.tokens
_U = tables.users
_F = tables.login_failures


class SqlAuthStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.reads = reads(engine)

    def session_for(self, access_token: str) -> tuple[Token, str, list[str]] | None:
        """A token, its user's role and groups, in one query (this runs on every request)."""
        stmt = (
            select(_T, _U.c.role, _U.c.groups)
            .join(_U, _U.c.username == _T.c.username)
            .where(_T.c.access_token == access_token)
        )
        with self.reads.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        token = Token(
            row.access_token, row.username, row.grant_type, row.issued_at, row.last_used_at, row.revoked
        )
        return token, str(row.role), list(orjson.loads(row.groups))

    def role_assignments(self) -> dict[str, list[str]]:
        return {str(r["role"]): list(r["groups"]) for r in SqlSecurityStore(self.engine).role_assignments()}

    def user_groups(self, username: str) -> list[str] | None:
        with self.engine.connect() as conn:
            found = conn.execute(select(_U.c.groups).where(_U.c.username == username)).scalar_one_or_none()
        return None if found is None else list(orjson.loads(found))

    def set_user_groups(self, username: str, groups: list[str]) -> bool:
        with write_transaction(self.engine, exclusive=False) as conn:
            stmt = update(_U).where(_U.c.username == username).values(groups=orjson.dumps(groups).decode())
            return bool(conn.execute(stmt).rowcount)

    def user(self, username: str) -> tuple[str, str] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_U.c.password_hash, _U.c.role).where(_U.c.username == username)).first()
        return (row[0], row[1]) if row else None

    def upsert_user(self, username: str, password_hash: str, role: str, now_ms: int) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            changed = conn.execute(
                update(_U).where(_U.c.username == username).values(password_hash=password_hash, role=role)
            ).rowcount
            if not changed:
                conn.execute(
                    insert(_U).values(
                        username=username, password_hash=password_hash, role=role, created_at=now_ms
                    )
                )

    def delete_user(self, username: str) -> bool:
        with write_transaction(self.engine, exclusive=False) as conn:
            conn.execute(update(_T).where(_T.c.username == username).values(revoked=True))
            return bool(conn.execute(delete(_U).where(_U.c.username == username)).rowcount)

    def list_users(self) -> list[tuple[str, str]]:
        with self.engine.connect() as conn:
            return [
                (r[0], r[1]) for r in conn.execute(select(_U.c.username, _U.c.role).order_by(_U.c.username))
            ]

    def failures(self, username: str) -> Failures | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_F).where(_F.c.username == username)).first()
        return Failures(row.failures, row.first_failure_at, row.locked_until) if row else None

    def record_failures(self, username: str, record: Failures | None) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            conn.execute(delete(_F).where(_F.c.username == username))
            if record is not None:
                conn.execute(
                    insert(_F).values(
                        username=username,
                        failures=record.failures,
                        first_failure_at=record.first_failure_at,
                        locked_until=record.locked_until,
                    )
                )

    def add_token(self, token: Token) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            conn.execute(
                insert(_T).values(
                    access_token=token.access_token,
                    username=token.username,
                    grant_type=token.grant_type,
                    issued_at=token.issued_at,
                    last_used_at=token.last_used_at,
                    revoked=token.revoked,
                )
            )

    def token(self, access_token: str) -> Token | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_T).where(_T.c.access_token == access_token)).first()
        if row is None:
            return None
        return Token(
            row.access_token, row.username, row.grant_type, row.issued_at, row.last_used_at, row.revoked
        )

    def touch_token(self, access_token: str, now_ms: int) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            # Never move last use backwards when several controllers touch one token.
            conn.execute(
                update(_T)
                .where(_T.c.access_token == access_token, _T.c.last_used_at < now_ms)
                .values(last_used_at=now_ms)
            )

    def revoke_token(self, access_token: str) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            conn.execute(update(_T).where(_T.c.access_token == access_token).values(revoked=True))

    def purge_tokens(self, older_than_ms: int) -> int:
        with write_transaction(self.engine, exclusive=False) as conn:
            return int(conn.execute(delete(_T).where(_T.c.issued_at < older_than_ms)).rowcount)
