"""Fixed SQL run on the session's own DBAPI connection, inside its transaction, for the per-message hot path.

Every inbound message costs a claim, a follower upsert, a look for open conversations and a finish. Through
SQLAlchemy's execution machinery those four statements cost four times the CPU of everything else the gateway does,
so they are written once here as plain SQL that SQLite and PostgreSQL both accept (`ON CONFLICT`, `RETURNING`),
with the two small conversions SQLAlchemy would otherwise do: placeholders and date-times.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Sequence

from sqlalchemy.orm import Session

# SQLAlchemy's SQLite DateTime storage format; UTCDateTime stores UTC (models/base.py).
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


class Statement:
    """One SQL text written with `?` placeholders, rendered once per dialect's paramstyle."""

    def __init__(self, sql: str):
        self.by_dialect = {"sqlite": sql, "postgresql": sql.replace("?", "%s")}


def execute(session: Session, statement: Statement, params: Sequence[Any]) -> Any:
    """Run `statement` on the session's connection (joining its transaction); returns the DBAPI cursor."""
    connection = session.connection()
    dialect = connection.dialect.name
    cursor = connection.connection.driver_connection.cursor()
    cursor.execute(statement.by_dialect[dialect], [to_db(dialect, p) for p in params])
    return cursor


def to_db(dialect: str, value: Any) -> Any:
    if isinstance(value, datetime) and dialect == "sqlite":
        return value.astimezone(timezone.utc).strftime(SQLITE_DATETIME)
    return value


def datetime_from_db(value: Any) -> datetime:
    """A stored date-time as an aware UTC datetime (SQLite gives text, PostgreSQL an aware datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def json_from_db(value: Any) -> Any:
    """A JSON column's value (SQLite gives text, psycopg already decodes)."""
    return json.loads(value) if isinstance(value, str) else value
