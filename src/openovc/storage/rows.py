"""Result rows as plain records (str keys: SQLAlchemy's quoted names are not JSON-serialisable keys)."""

from __future__ import annotations

from sqlalchemy import Row

from openovc.domain.ports.federation import Record


def as_record(row: Row[object]) -> Record:
    return {str(key): value for key, value in row._mapping.items()}
