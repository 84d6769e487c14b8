"""Fixed SQL run on a bare DBAPI connection, for the per-message hot path.

Every inbound message costs a claim, a follower upsert, a look for open conversations and a finish. Through
SQLAlchemy's execution machinery those statements cost more CPU than everything else the gateway does, so they
are written once here as plain SQL that SQLite and PostgreSQL both accept (`ON CONFLICT`, `RETURNING`), with the
two small conversions SQLAlchemy would otherwise do: placeholders and date-times.

A `Wire` is the DBAPI connection under a Session (joining its transaction) or one checked out of the pool for a
single self-contained write (`checkout`): an ORM session's own set-up and commit cost as much as the statements.

On PostgreSQL each command is a network round trip and costs both processes more than the statement itself:
`Wire.run` sends a group of statements as one libpq pipeline (the server still runs them one after the other,
each with its own snapshot), and a checked-out wire runs each statement as its own transaction, without the
BEGIN and COMMIT commands.
"""
from __future__ import annotations

import json
from contextlib import contextmanager, nullcontext
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Iterator, Sequence

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

# SQLAlchemy's SQLite DateTime storage format; UTCDateTime stores UTC (models/base.py).
SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


class Statement:
    """One SQL text written with `?` placeholders, rendered once per dialect's paramstyle."""

    def __init__(self, sql: str):
        self.by_dialect = {"sqlite": sql, "postgresql": sql.replace("?", "%s")}


class Wire:
    """A DBAPI connection and its dialect name ('sqlite' or 'postgresql')."""

    def __init__(self, driver: Any, dialect: str):
        self.driver = driver
        self.dialect = dialect

    @classmethod
    def of(cls, session: Session) -> "Wire":
        """The session's connection, inside the session's transaction."""
        connection = session.connection()
        return cls(connection.connection.driver_connection, connection.dialect.name)

    def execute(self, statement: Statement, params: Sequence[Any]) -> Any:
        """Run one statement; returns the DBAPI cursor."""
        cursor = self.driver.cursor()
        cursor.execute(statement.by_dialect[self.dialect], self._params(params))
        return cursor

    def run(self, steps: Sequence[tuple[Statement, Sequence[Any]]], commit: bool = False) -> list[Any]:
        """Run the statements in order and return their cursors; with `commit`, commit the transaction.

        PostgreSQL gets them, and the COMMIT, in one pipeline.
        """
        with self.driver.pipeline() if self.dialect == "postgresql" else nullcontext():
            cursors = [self.execute(statement, params) for statement, params in steps]
            if commit:
                self.driver.commit()
        return cursors

    def commit(self) -> None:
        self.driver.commit()

    def _params(self, params: Sequence[Any]) -> Sequence[Any]:
        if self.dialect != "sqlite":
            return params
        return [sqlite_datetime(p) if type(p) is datetime else p for p in params]


@contextmanager
def checkout(engine: Engine) -> Iterator[Wire]:
    """A pooled connection of its own for a self-contained write, returned to the pool afterwards.

    On PostgreSQL each statement commits by itself (the caller writes with a single statement); on SQLite the
    driver opens a transaction at the first write and the caller commits it. Anything uncommitted is rolled back.
    """
    pooled = engine.raw_connection()
    try:
        wire = Wire(pooled.driver_connection, engine.dialect.name)
        if wire.dialect == "postgresql":
            wire.driver.autocommit = True
            try:
                yield wire
            finally:
                wire.driver.autocommit = False
        else:
            yield wire
    finally:
        pooled.close()  # the pool rolls back whatever is left


def execute(session: Session, statement: Statement, params: Sequence[Any]) -> Any:
    """Run `statement` on the session's connection (joining its transaction); returns the DBAPI cursor."""
    return Wire.of(session).execute(statement, params)


def run(session: Session, steps: Sequence[tuple[Statement, Sequence[Any]]], commit: bool = False) -> list[Any]:
    """`Wire.run` on the session's connection; with `commit`, pending ORM changes are flushed first.

    After a commit the caller ends the session's own transaction (`session.commit()`, which then sends nothing).
    """
    if commit:
        session.flush()
    return Wire.of(session).run(steps, commit)


@lru_cache(maxsize=64)
def sqlite_datetime(value: datetime) -> str:
    """A date-time as SQLAlchemy stores it in SQLite (UTC text); cached, as one message writes the same 'now'
    several times."""
    return value.astimezone(timezone.utc).strftime(SQLITE_DATETIME)


def datetime_from_db(value: Any) -> datetime:
    """A stored date-time as an aware UTC datetime (SQLite gives text, PostgreSQL an aware datetime)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def json_from_db(value: Any) -> Any:
    """A JSON column's value (SQLite gives text, psycopg already decodes)."""
    return json.loads(value) if isinstance(value, str) else value
