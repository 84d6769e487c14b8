"""Fixed SQL run on a bare DBAPI connection, for the per-message hot path.

Every inbound message costs a claim, a follower upsert, a look for open conversations and a finish. Through
SQLAlchemy's execution machinery those statements cost more CPU than everything else the gateway does, so they
are written once here as plain SQL that SQLite and PostgreSQL both accept (`ON CONFLICT`, `RETURNING`), with the
two small conversions SQLAlchemy would otherwise do: placeholders and date-times.

A `Wire` is the DBAPI connection under a Session (joining its transaction) or one a thread keeps for
self-contained writes (`kept_write`): an ORM session's own set-up and commit cost as much as the statements.

On PostgreSQL each command is a network round trip and costs both processes more than the statement itself:
`Wire.run` sends a group of statements as one libpq pipeline (the server still runs them one after the other,
each with its own snapshot), and a kept wire runs each statement as its own transaction, without the BEGIN and
COMMIT commands.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import weakref
from contextlib import nullcontext
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Callable, Sequence, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
T = TypeVar("T")

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
        self._cursor: Any = None  # for count()

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

    def count(self, statement: Statement, params: Sequence[Any]) -> int:
        """Run one statement for its row count, on a cursor kept for the purpose (creating one costs more)."""
        if self._cursor is None:
            self._cursor = self.driver.cursor()
        self._cursor.execute(statement.by_dialect[self.dialect], self._params(params))
        return self._cursor.rowcount

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

    def usable(self) -> bool:
        """False once the connection is closed or lost (then it must be replaced)."""
        if self.dialect == "postgresql":
            return not (self.driver.closed or self.driver.broken)
        try:
            self.driver.total_changes  # raises once closed
        except Exception:
            return False
        return True

    def close(self) -> None:
        try:
            self.driver.close()
        except Exception:  # closing what is already lost
            pass

    def _params(self, params: Sequence[Any]) -> Sequence[Any]:
        if self.dialect != "sqlite":
            return params
        return [sqlite_datetime(p) if type(p) is datetime else p for p in params]


class _Kept:
    """One engine's kept connections: each thread's own, and all of them with their threads, so that those of
    threads that ended are closed (the development server runs each request in a thread of its own) and all are
    closed when the engine is disposed."""

    def __init__(self, engine: Engine) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.owned: list[tuple[Wire, "weakref.ref[threading.Thread]"]] = []
        self.pid = os.getpid()
        event.listen(engine, "engine_disposed", lambda _engine: self.close_all())

    def get(self, engine: Engine) -> Wire:
        wire = getattr(self.local, "wire", None)
        if wire is not None and wire.usable():
            return wire
        if wire is not None:
            self.discard(wire)
        pooled = engine.raw_connection()
        driver = pooled.driver_connection
        pooled.detach()  # ours from now on: the pool neither counts it nor resets it at check-in
        wire = self.local.wire = Wire(driver, engine.dialect.name)
        if wire.dialect == "postgresql":
            driver.autocommit = True
        ended: list[Wire] = []
        with self.lock:
            owned = [(wire, weakref.ref(threading.current_thread()))]
            for pair in self.owned:
                if _alive(pair[1]()):
                    owned.append(pair)
                else:
                    ended.append(pair[0])
            self.owned = owned
        for old in ended:
            old.close()
        return wire

    def discard(self, wire: Wire) -> None:
        if getattr(self.local, "wire", None) is wire:
            self.local.wire = None
        with self.lock:
            self.owned = [pair for pair in self.owned if pair[0] is not wire]
        wire.close()

    def close_all(self) -> None:
        if self.pid != os.getpid():  # a parent's connections: closing them here would end the parent's sessions
            return
        with self.lock:
            owned, self.owned = self.owned, []
        for wire, _thread in owned:
            wire.close()


def _alive(thread: threading.Thread | None) -> bool:
    return thread is not None and thread.is_alive()


_kept: "weakref.WeakKeyDictionary[Engine, _Kept]" = weakref.WeakKeyDictionary()
_kept_lock = threading.Lock()
_inherited: list[_Kept] = []  # a parent process's, kept from the garbage collector, which would close them


def _forget_parents_connections() -> None:
    """In a forked child: the kept connections are the parent's (their sockets are shared), the child opens its own."""
    global _kept_lock
    _kept_lock = threading.Lock()  # a thread of the parent may have held it at the fork
    _inherited.extend(_kept.values())
    _kept.clear()


os.register_at_fork(after_in_child=_forget_parents_connections)


def kept_write(engine: Engine, write: Callable[[Wire], T]) -> T:
    """`write(wire)` on this thread's own connection to `engine`'s database, kept open between requests; once
    more on a new connection if the kept one turned out lost, as after a database restart. For self-contained
    writes that are idempotent: the first attempt may have landed.

    Kept rather than checked out of the pool each time: a pool checkout and check-in (with its reset) and a new
    cursor cost a good share of what the read-only fast path's one statement costs. A kept connection is never
    inside a transaction between uses: on PostgreSQL each statement commits by itself (the caller writes with a
    single statement); on SQLite `write` commits, and anything left uncommitted is rolled back here. One that
    fails is closed and replaced; disposing of the engine closes them all; a forked child opens its own rather
    than share its parent's socket.
    """
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        # one connection is the whole database: lend the pool's, as a detached one would be a database apart
        pooled = engine.raw_connection()
        try:
            return write(Wire(pooled.driver_connection, "sqlite"))
        finally:
            pooled.close()  # the pool rolls back whatever is left
    kept = _kept.get(engine)
    if kept is None:
        with _kept_lock:
            kept = _kept.get(engine)
            if kept is None:
                kept = _kept[engine] = _Kept(engine)
    for attempt in (1, 2):
        wire = kept.get(engine)
        try:
            result = write(wire)
        except BaseException as exc:
            lost = not wire.usable()
            kept.discard(wire)
            if attempt == 2 or not lost or not isinstance(exc, engine.dialect.loaded_dbapi.Error):
                raise
            log.warning("lost a kept %s connection; writing again on a new one", engine.dialect.name)
            continue
        if wire.dialect == "sqlite" and wire.driver.in_transaction:
            wire.driver.rollback()
        return result
    raise AssertionError("unreachable")


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
