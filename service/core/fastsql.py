"""The per-message hot path's statements: SQLAlchemy Core, built once per dialect, run on SQLAlchemy connections.

Every inbound message costs a claim, a follower upsert, a look for open conversations and a finish. They are
Core statements (`insert(...).on_conflict_do_nothing(...).returning(...)`, named `bindparam`s) built once per
dialect (`PerDialect`) and run with `Connection.execute` on the session's connection, so SQLAlchemy knows the
transaction and its column types render and read date-times and JSON (models/base.py); reusing the same statement
objects keeps SQLAlchemy's compiled cache warm.

Two measured exceptions, both still Core statements compiled by SQLAlchemy, on connections SQLAlchemy manages:

* `pipeline` sends the hot path's statements, compiled by SQLAlchemy, to the driver itself: SQLAlchemy's
  execution cost more CPU than the 5 % the hot path may give away, and on PostgreSQL a group of statements (and
  the COMMIT) goes out as one libpq pipeline, saving round trips. It is the one place that drives the driver.
* `kept_write`: the read-only fast path writes on a connection its thread keeps rather than on one checked out of
  the pool each time (a checkout, its reset at check-in and an ORM session cost as much as the statement).
"""
from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import Any, Callable, Generic, Mapping, Sequence, TypeVar

from sqlalchemy import Column, event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import Executable

log = logging.getLogger(__name__)
T = TypeVar("T")

Step = tuple[Executable, Mapping[str, Any]]

_INSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}


def insert_for(dialect_name: str) -> Callable[..., Any]:
    """The dialect's `insert`, the one with `on_conflict_do_nothing` / `on_conflict_do_update`."""
    return _INSERTS[dialect_name]


class PerDialect(Generic[T]):
    """A statement built once per dialect: `build(dialect_name)` on first use, the same object afterwards."""

    def __init__(self, build: Callable[[str], T]):
        self._build = build
        self._built: dict[str, T] = {}

    def __call__(self, dialect: Dialect) -> T:
        built = self._built.get(dialect.name)
        if built is None:
            built = self._built[dialect.name] = self._build(dialect.name)
        return built


def model_default(column: Column) -> Any:
    """The value `column`'s Python-side default gives, for a statement SQLAlchemy does not fill defaults in for
    (an INSERT inside a WITH, a statement `pipeline` sends)."""
    default = column.default
    return default.arg(None) if default.is_callable else default.arg


def pipeline(connection: Connection, steps: Sequence[Step], commit: bool = False) -> list[list[Sequence[Any]]]:
    """Run the statements in order on `connection`, inside its transaction; returns each one's rows ([] if it
    returns none). With `commit`, the transaction ends with them: the caller then calls `Session.commit()` (or
    leaves `kept_write` to commit), which finds it ended and sends nothing.

    The one place that drives the database driver directly, for two measured reasons. The statements are Core
    statements, compiled by SQLAlchemy for the dialect once, with their types' bind and result processing; only
    SQLAlchemy's execution is skipped:

    * CPU: through `Connection.execute` each statement cost about 100 µs more of the worker's CPU here (the fast
      path's one statement: 175 against 70 µs on PostgreSQL), some 8 % of what a whole fast-path request costs,
      more than the 5 % the hot path may give away.
    * Round trips: on PostgreSQL each command is a round trip and costs both processes more than the statement
      itself, and psycopg's pipeline mode cannot run under SQLAlchemy's execution (it reads each result at once).
      So more than one statement, or a statement and the COMMIT, go out as one psycopg pipeline; the server still
      runs them one after the other, each with its own snapshot.

    A failure raises the driver's error and leaves the transaction failed: the caller rolls back as after any error.
    """
    dialect = connection.dialect
    pooled = connection.connection
    driver = pooled.driver_connection
    compiled = [(_Compiled.of(statement, dialect), params) for statement, params in steps]
    if len(compiled) == 1 and not commit:  # the common case: one statement on the connection's own cursor
        form, params = compiled[0]
        kept = pooled.info.get("fastsql.cursor")  # (driver connection, its cursor): creating one costs more
        if kept is None or kept[0] is not driver:
            kept = pooled.info["fastsql.cursor"] = (driver, driver.cursor())
        cursor = kept[1]
        cursor.execute(form.sql, form.params(params))
        return [form.rows(cursor)]

    def send(form: _Compiled, params: Mapping[str, Any]) -> Any:
        cursor = driver.cursor()
        cursor.execute(form.sql, form.params(params))
        return cursor

    if dialect.name == "postgresql":
        with driver.pipeline():
            cursors = [send(form, params) for form, params in compiled]
            if commit:
                driver.commit()
        return [form.rows(cursor) for (form, _params), cursor in zip(compiled, cursors)]
    rows = [form.rows(send(form, params)) for form, params in compiled]  # read before a commit (SQLite needs it)
    if commit:
        driver.commit()
    return rows


class _Compiled:
    """A statement compiled for one dialect, with its types' bind and result processors (what
    `Connection.execute` applies), for `pipeline`."""

    _cache: "weakref.WeakKeyDictionary[Executable, dict[str, _Compiled]]" = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, statement: Executable, dialect: Dialect) -> "_Compiled":
        forms = cls._cache.get(statement)
        form = forms.get(dialect.name) if forms is not None else None
        if form is None:
            form = cls._cache.setdefault(statement, {})[dialect.name] = cls(statement, dialect)
        return form

    def __init__(self, statement: Executable, dialect: Dialect):
        compiled = statement.compile(dialect=dialect)
        if compiled.insert_prefetch or compiled.update_prefetch:  # executed by SQLAlchemy only
            raise ValueError(f"give these columns a value: {compiled.insert_prefetch + compiled.update_prefetch}")
        self.compiled = compiled
        self.sql = compiled.string
        processors = {name: processor for name, bind in compiled.binds.items()
                      if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect))}
        # Literal values written into the statement (`literal(...)`, e.g. a model default): processed once here.
        self.fixed = {name: processors.pop(name)(bind.value) if name in processors else bind.value
                      for name, bind in compiled.binds.items() if bind.unique and bind.callable is None}
        self.bind_processors = list(processors.items())
        self.result_processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                                  for column in statement.exported_columns]  # a SELECT's, or RETURNING's
        self.processed = any(self.result_processors)

    def params(self, values: Mapping[str, Any]) -> Mapping[str, Any] | Sequence[Any]:
        params = self.compiled.construct_params(values)
        params.update(self.fixed)
        for name, processor in self.bind_processors:
            if name in params:
                params[name] = processor(params[name])
        if self.compiled.positional:  # SQLite's qmark style
            return [params[name] for name in self.compiled.positiontup]
        return params

    def rows(self, cursor: Any) -> list[tuple]:
        if cursor.description is None:
            return []
        processors = self.result_processors
        if not self.processed:
            return cursor.fetchall()  # both drivers give tuples
        return [tuple(value if processor is None else processor(value) for processor, value in zip(processors, row))
                for row in cursor.fetchall()]


# ---- the fast path's kept connections -------------------------------------------------------------------------

def usable(connection: Connection) -> bool:
    """False once the connection is closed or lost (then it must be replaced)."""
    if connection.closed or connection.invalidated:
        return False
    driver = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        return not (driver.closed or driver.broken)
    try:
        driver.total_changes  # raises once closed
    except Exception:
        return False
    return True


def _close(connection: Connection) -> None:
    """Close the connection itself (not back into the pool: its engine may be disposed, its thread gone)."""
    try:
        connection.invalidate()
        connection.close()
    except Exception:  # closing what is already lost
        pass


class _Kept:
    """One engine's kept connections: each thread's own, and all of them with their threads, so that those of
    threads that ended are closed (the development server runs each request in a thread of its own) and all are
    closed when the engine is disposed."""

    def __init__(self, engine: Engine) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.owned: list[tuple[Connection, "weakref.ref[threading.Thread]"]] = []
        self.pid = os.getpid()
        event.listen(engine, "engine_disposed", lambda _engine: self.close_all())

    def get(self, engine: Engine) -> Connection:
        connection = getattr(self.local, "connection", None)
        if connection is not None and usable(connection):
            return connection
        if connection is not None:
            self.discard(connection)
        ended: list[Connection] = []
        with self.lock:
            owned = []
            for pair in self.owned:
                (owned if _alive(pair[1]()) else ended).append(pair)
            self.owned = owned
        for old in ended:
            _close(old)
        connection = engine.connect()
        if engine.dialect.name == "postgresql":  # each statement commits by itself: no BEGIN and COMMIT commands
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        self.local.connection = connection
        with self.lock:
            self.owned.append((connection, weakref.ref(threading.current_thread())))
        return connection

    def discard(self, connection: Connection) -> None:
        if getattr(self.local, "connection", None) is connection:
            self.local.connection = None
        with self.lock:
            self.owned = [pair for pair in self.owned if pair[0] is not connection]
        _close(connection)

    def close_all(self) -> None:
        if self.pid != os.getpid():  # a parent's connections: closing them here would end the parent's sessions
            return
        with self.lock:
            owned, self.owned = self.owned, []
        for connection, _thread in owned:
            _close(connection)


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


def kept_write(engine: Engine, write: Callable[[Connection], T]) -> T:
    """`write(connection)` on this thread's own connection to `engine`'s database, kept open between requests;
    once more on a new connection if the kept one turned out lost, as after a database restart. For
    self-contained writes that are idempotent: the first attempt may have landed.

    Kept rather than checked out of the pool each time: a pool checkout and check-in (with its reset) cost a good
    share of what the read-only fast path's one statement costs. `write` runs in a transaction committed here
    (rolled back if it raises), so a kept connection is never inside one between uses; on PostgreSQL it is in
    autocommit mode, each statement its own transaction without BEGIN and COMMIT commands (the caller writes with
    one statement). One that fails is closed and replaced; disposing of the engine closes them all; a forked child
    opens its own rather than share its parent's socket. An exception of `write` that is not the database's (a
    refusal it raised after rolling back, say) leaves the connection kept.
    """
    if engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:"):
        # one connection is the whole database: lend the pool's, as another would be a database apart
        with engine.begin() as connection:
            return write(connection)
    kept = _kept.get(engine)
    if kept is None:
        with _kept_lock:
            kept = _kept.get(engine)
            if kept is None:
                kept = _kept[engine] = _Kept(engine)
    for attempt in (1, 2):
        connection = kept.get(engine)
        try:
            with connection.begin():
                return write(connection)
        except BaseException as exc:
            lost = not usable(connection)
            database_error = isinstance(exc, (DBAPIError, engine.dialect.loaded_dbapi.Error))
            if lost or database_error:
                kept.discard(connection)
            if attempt == 2 or not lost or not database_error:
                raise
            log.warning("lost a kept %s connection; writing again on a new one", engine.dialect.name)
            continue
    raise AssertionError("unreachable")
