"""Users, tokens and login failures in the database: implements domain.ports.auth.AuthStore."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Connection,
    Engine,
    Row,
    bindparam,
    case,
    delete,
    func,
    insert,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.sql import Executable

from openovc.domain.auth import Token
from openovc.domain.lockout import LockoutPolicy
from openovc.storage import tables
from openovc.storage.engine import reads
from openovc.storage.security_store import SqlSecurityStore
from openovc.storage.transaction import write_transaction

_T = tables.tokens
_U = tables.users
_A = tables.login_attempts


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

    def reserve_attempt(
        self, username: str, source: str, now_ms: int, policy: LockoutPolicy, *, known: bool
    ) -> int:
        statement = reserve_statement(self.engine.dialect.name, policy)
        params = {"username": username, "source": source, "now": now_ms, "known": known}
        with write_transaction(self.engine, exclusive=False) as conn:
            if conn.execute(statement, params).first() is not None:
                return 0
            # Locked: nothing was counted. Only the answer's "try again in" needs the lock's end.
            until = conn.execute(
                select(_A.c.locked_until).where(_A.c.username == username, _A.c.source == source)
            ).scalar_one_or_none()
        return max(1, (until or now_ms) - now_ms)

    def forget_attempts(self, username: str, source: str) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            conn.execute(delete(_A).where(_A.c.username == username, _A.c.source == source))

    def prune_attempts(self, source: str, now_ms: int, policy: LockoutPolicy) -> None:
        with write_transaction(self.engine, exclusive=False) as conn:
            conn.execute(delete(_A).where(_A.c.expires_at <= now_ms))
            made_up = select(_A.c.username, _A.c.source).where(_A.c.known.is_(False))
            beyond = (
                made_up.where(_A.c.source == source).order_by(_A.c.first_at.desc(), _A.c.username)
                .offset(policy.unknown_per_source)
            )  # fmt: skip
            _delete_keys(conn, conn.execute(beyond).all())
            total = conn.execute(
                select(func.count()).select_from(_A).where(_A.c.known.is_(False))
            ).scalar_one()
            if total > policy.unknown_total:
                oldest = made_up.order_by(_A.c.first_at, _A.c.username).limit(total - policy.unknown_total)
                _delete_keys(conn, conn.execute(oldest).all())

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


@lru_cache(maxsize=8)
def reserve_statement(dialect: str, policy: LockoutPolicy) -> Executable:
    """domain.lockout.reserve as one statement: INSERT ... ON CONFLICT DO UPDATE ... WHERE not locked
    RETURNING. The row lock the conflict takes makes the read, the check and the count one step, on
    PostgreSQL across servers too (SQLite serialises every writer); a locked pair returns no row."""
    now = bindparam("now", type_=BigInteger)
    # SET expressions read the row as it was: each is written from the old values.
    expired = _A.c.expires_at <= now
    attempts = case((expired, 1), else_=_A.c.attempts + 1)
    locks = attempts >= policy.max_failures
    first_at = case((expired, now), else_=_A.c.first_at)
    locked_until = case((locks, now + policy.lockout_ms), else_=None)
    at_once = policy.max_failures <= 1  # a policy of one attempt locks at the first
    values: dict[str, Any] = {
        "username": bindparam("username"),
        "source": bindparam("source"),
        "attempts": 1,
        "first_at": now,
        "locked_until": now + policy.lockout_ms if at_once else None,
        "expires_at": now + (policy.lockout_ms if at_once else policy.window_ms),
        "known": bindparam("known", type_=Boolean),
    }
    upsert = (sqlite_insert if dialect == "sqlite" else postgresql_insert)(_A).values(values)
    return upsert.on_conflict_do_update(
        index_elements=[_A.c.username, _A.c.source],
        set_={
            "attempts": attempts,
            "first_at": first_at,
            "locked_until": locked_until,
            "expires_at": case((locks, now + policy.lockout_ms), else_=first_at + policy.window_ms),
            "known": upsert.excluded.known,
        },
        where=(_A.c.locked_until.is_(None)) | (_A.c.locked_until <= now),
    ).returning(_A.c.attempts)


def _delete_keys(conn: Connection, keys: Sequence[Row[str, str]]) -> None:
    if keys:
        conn.execute(delete(_A).where(tuple_(_A.c.username, _A.c.source).in_(keys)))
