"""Engine and session plumbing, free of Flask so the scheduler and tests use it directly."""
from __future__ import annotations

import fcntl
import itertools
import json
import os
import threading
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence, TypeVar

from sqlalchemy import JSON, Table, create_engine, event, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

MAX_ROW_ID = 2**31 - 1  # the largest `integer` (PostgreSQL's 4 bytes): ids and counts from clients stay within it


def is_row_id(value: object) -> bool:
    """A JSON/Python value that can name a row: a plain int (not a bool) from 1 to MAX_ROW_ID."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ROW_ID


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)  # the default lives under instance/
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # WAL lets readers run beside the one writer
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: no fsync per commit, still crash-safe
            cur.close()

        return engine
    # No pre-ping round trip per checkout (it cost a tenth of a message's time); recycle connections instead, and
    # SQLAlchemy invalidates the whole pool on the first disconnect error after a database restart.
    kwargs.setdefault("pool_recycle", 1800)
    return create_engine(url, **kwargs)


_gates: dict[str, tuple[threading.Lock, int]] = {}
_gates_lock = threading.Lock()
_NO_GATE = nullcontext()


def serialized_writes(engine: Engine) -> AbstractContextManager[None]:
    """Queue this process's write transaction behind the others on an OS file lock (SQLite files only).

    SQLite allows one writer at a time and its busy handler waits by sleeping 1, 2, 5, 10... ms; when several
    workers write on every request, those sleeps rather than the work bound throughput. A writer queued on
    flock() wakes the moment the previous one commits. Other databases need no gate: this is then a no-op.
    """
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        return _NO_GATE
    return _gate(database)


@contextmanager
def _gate(database: str) -> Iterator[None]:
    with _gates_lock:
        gate = _gates.get(database)
        if gate is None:
            fd = os.open(f"{database}-writelock", os.O_RDWR | os.O_CREAT, 0o600)
            gate = _gates[database] = (threading.Lock(), fd)
    thread_lock, fd = gate
    with thread_lock:  # flock() does not exclude threads sharing the descriptor
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work for a job or a CLI command: commit on success, roll back on error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` items: bounded IN lists and insert batches."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def insert_rows(connection: Connection, table: Table, rows: Iterable[Mapping[str, Any]],
                shared: Optional[Mapping[str, Any]] = None, chunk: int = 5000) -> int:
    """Insert many rows in the connection's transaction: COPY on PostgreSQL (100,000 rows in a second or two, where
    executemany takes ten), executemany in chunks elsewhere. Every row carries the same columns; `shared` holds the
    values all rows have in common. Model defaults are not applied on PostgreSQL, so rows and `shared` name every
    column the insert sets. Returns the number of rows."""
    shared = dict(shared or {})
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return 0
    n = 0
    if connection.dialect.name != "postgresql":
        for part in _chunked(itertools.chain([first], iterator), chunk):
            connection.execute(table.insert(), [{**shared, **row} for row in part])
            n += len(part)
        return n
    columns = list(first)
    as_json = [isinstance(table.c[name].type, JSON) for name in columns]
    tail = [json.dumps(v, ensure_ascii=False) if isinstance(table.c[k].type, JSON) else v for k, v in shared.items()]
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY {table.name} ({', '.join(columns + list(shared))}) FROM STDIN") as copy:
            for row in itertools.chain([first], iterator):
                values = [row[c] for c in columns]
                for i, is_json in enumerate(as_json):
                    if is_json:
                        values[i] = json.dumps(values[i], ensure_ascii=False)
                copy.write_row(values + tail)
                n += 1
    return n


def _chunked(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    part: list[T] = []
    for row in rows:
        part.append(row)
        if len(part) == size:
            yield part
            part = []
    if part:
        yield part
