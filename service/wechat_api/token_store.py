"""Where the WeChat access_token lives so every process (web workers, scheduler) shares one: SQL rows or Redis.

A store is also wechatpy's `session` storage (get / set(key, value, ttl) / delete). `lock(key)` serialises
refreshes across processes: the holder re-reads the store before fetching, so one expiry costs one fetch
(WeChat invalidates older tokens on every fetch and allows 2000 fetches a day:
https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html).
`MemoTokenStore` puts a short in-memory cache in front of either for broadcasts.
Expiry is judged with `service.core.clock.now()` so tests can age a token; lock leases use the real wall clock.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator, Optional, Protocol

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from models.token import StoredToken, TokenLock
from service.core import clock
from service.core.config import Settings

log = logging.getLogger(__name__)
REDIS_TIMEOUT = 2.0  # seconds to connect to / hear from Redis before it counts as unreachable
REDIS_RETRY_AFTER = 30.0  # while Redis is unreachable, the database store serves; Redis is tried again after this


class LockTimeout(Exception):
    """Another process held the lock for longer than we were willing to wait."""


class TokenStoreUnavailable(Exception):
    """The store's backend (Redis, the database) could not be reached: an infrastructure fault, worth retrying."""


class TokenStore(Protocol):
    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl: float | None = None) -> None: ...

    def delete(self, key: str) -> None: ...

    def lock(self, key: str, wait: float | None = None) -> Any: ...  # a context manager


@contextmanager
def _unreachable(errors: Any, what: str) -> Iterator[None]:
    """Turn a backend's connection errors into TokenStoreUnavailable."""
    try:
        yield
    except errors as exc:
        raise TokenStoreUnavailable(f"{what} unreachable: {exc}") from exc


def _poll_until(try_acquire: Any, key: str, wait: float, poll: float) -> None:
    deadline = time.monotonic() + wait
    while not try_acquire():
        if time.monotonic() >= deadline:
            raise LockTimeout(key)
        time.sleep(poll)


class SqlTokenStore:
    """Rows in `stored_token`; the lock is a lease row in `token_lock` (unique key, taken over once expired).

    The lease works the same on SQLite (whose writers are serialised anyway) and PostgreSQL (a concurrent insert of
    the same key waits for the first transaction, then fails), and a crashed holder frees it when the lease ends.
    Each call runs in its own short transaction, committed at once, independent of the caller's session.
    """

    def __init__(self, session_factory: sessionmaker[Session], lease: float = 30.0, wait: float = 30.0,
                 poll: float = 0.05):
        self._factory = session_factory
        self.lease, self.wait, self.poll = lease, wait, poll

    def get(self, key: str) -> str | None:
        with _unreachable(OperationalError, "database"), self._factory() as session:
            row = session.get(StoredToken, key)
            if row is None:
                return None
            if row.expires_at is not None and clock.local(row.expires_at) <= clock.now():
                return None
            return row.value

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        expires = clock.now() + timedelta(seconds=ttl) if ttl else None
        values = {"key": key, "value": value, "expires_at": expires, "updated_at": datetime.now(timezone.utc)}
        with _unreachable(OperationalError, "database"), self._factory.begin() as session:
            dialect = session.get_bind().dialect.name
            if dialect in ("sqlite", "postgresql"):
                if dialect == "sqlite":
                    from sqlalchemy.dialects.sqlite import insert
                else:
                    from sqlalchemy.dialects.postgresql import insert
                stmt = insert(StoredToken).values(**values)
                session.execute(stmt.on_conflict_do_update(
                    index_elements=[StoredToken.key],
                    set_={"value": stmt.excluded.value, "expires_at": stmt.excluded.expires_at,
                          "updated_at": stmt.excluded.updated_at}))
            else:
                session.merge(StoredToken(**values))

    def delete(self, key: str) -> None:
        with self._factory.begin() as session:
            session.execute(delete(StoredToken).where(StoredToken.key == key))

    def _try_acquire(self, key: str, owner: str) -> bool:
        now = datetime.now(timezone.utc)
        try:
            with _unreachable(OperationalError, "database"), self._factory.begin() as session:
                session.execute(delete(TokenLock).where(TokenLock.key == key, TokenLock.expires_at < now))
                session.add(TokenLock(key=key, owner=owner, expires_at=now + timedelta(seconds=self.lease)))
        except IntegrityError:
            return False
        return True

    @contextmanager
    def lock(self, key: str, wait: float | None = None) -> Iterator[None]:
        owner = uuid.uuid4().hex
        _poll_until(lambda: self._try_acquire(key, owner), key, self.wait if wait is None else wait, self.poll)
        try:
            yield
        finally:
            with self._factory.begin() as session:
                session.execute(delete(TokenLock).where(TokenLock.key == key, TokenLock.owner == owner))


class RedisTokenStore:
    """Keys under `prefix`; the value carries its own expiry (clock-judged) and Redis drops it after the ttl.

    The lock is redis-py's `Lock`: SET NX PX with a random owner token, released by a compare-and-delete script.
    """

    def __init__(self, redis_url: str, prefix: str = "qijin:", lease: float = 30.0, wait: float = 30.0,
                 poll: float = 0.05):
        import redis

        self._redis = redis.Redis.from_url(redis_url, socket_connect_timeout=REDIS_TIMEOUT,
                                           socket_timeout=REDIS_TIMEOUT)
        self._errors = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
        self.prefix = prefix
        self.lease, self.wait, self.poll = lease, wait, poll

    def _down(self) -> Any:
        return _unreachable(self._errors, "Redis")

    def get(self, key: str) -> str | None:
        with self._down():
            raw = self._redis.get(self.prefix + key)
        if raw is None:
            return None
        data = json.loads(raw)
        if data.get("exp") is not None and data["exp"] <= clock.now().timestamp():
            return None
        return data["v"]

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        exp = clock.now().timestamp() + ttl if ttl else None
        px = max(1, int(ttl * 1000)) if ttl else None
        with self._down():
            self._redis.set(self.prefix + key, json.dumps({"v": value, "exp": exp}), px=px)

    def delete(self, key: str) -> None:
        with self._down():
            self._redis.delete(self.prefix + key)

    @contextmanager
    def lock(self, key: str, wait: float | None = None) -> Iterator[None]:
        from redis.exceptions import LockError

        lk = self._redis.lock(f"{self.prefix}lock:{key}", timeout=self.lease, sleep=self.poll,
                              blocking_timeout=self.wait if wait is None else wait)
        with self._down():
            acquired = lk.acquire()
        if not acquired:
            raise LockTimeout(key)
        try:
            yield
        finally:
            try:
                lk.release()
            except LockError:  # the lease ran out while we held it; someone else may own it now
                pass
            except self._errors:  # Redis went away while we held it: the lease frees it
                log.warning("could not release the Redis lock %s (Redis unreachable); its lease frees it", key)


class FallbackTokenStore:
    """Redis first, the database when Redis cannot be reached, so a Redis outage costs no message.

    Every token written goes to both (the database copy best effort), so the database holds the current token the
    moment Redis goes away and nothing has to be fetched again. While Redis is unreachable the database serves
    everything (lock included) and Redis is tried again every REDIS_RETRY_AFTER seconds; the switch is logged once
    each way. Two processes may briefly disagree on which store serves, so both may fetch once: that costs a
    token, never a message."""

    def __init__(self, primary: TokenStore, fallback: TokenStore, retry_after: float = REDIS_RETRY_AFTER):
        self.primary, self.fallback, self.retry_after = primary, fallback, retry_after
        self._down_until = 0.0
        self._down = False
        self._mutex = threading.Lock()

    def _use_primary(self) -> bool:
        with self._mutex:
            return time.monotonic() >= self._down_until

    def _failed(self, exc: TokenStoreUnavailable) -> None:
        with self._mutex:
            self._down_until = time.monotonic() + self.retry_after
            first, self._down = not self._down, True
        if first:
            log.warning("token store: %s; using the database token store until Redis answers again", exc)

    def _answered(self) -> None:
        if self._down:
            with self._mutex:
                back, self._down = self._down, False
            if back:
                log.info("token store: Redis answers again; using it")

    def _call(self, op: str, *args: Any) -> Any:
        if self._use_primary():
            try:
                result = getattr(self.primary, op)(*args)
            except TokenStoreUnavailable as exc:
                self._failed(exc)
            else:
                self._answered()
                return result
        return getattr(self.fallback, op)(*args)

    def get(self, key: str) -> str | None:
        return self._call("get", key)

    def set(self, key: str, value: str, ttl: float | None = None) -> None:
        self._call("set", key, value, ttl)
        try:
            self.fallback.set(key, value, ttl)  # the copy the database serves when Redis goes away
        except TokenStoreUnavailable as exc:
            log.warning("token store: could not copy the token to the database: %s", exc)

    def delete(self, key: str) -> None:
        self._call("delete", key)
        self.fallback.delete(key)

    @contextmanager
    def lock(self, key: str, wait: float | None = None) -> Iterator[None]:
        def take(store: TokenStore) -> Any:
            return store.lock(key) if wait is None else store.lock(key, wait)

        with ExitStack() as stack:
            if self._use_primary():
                try:
                    stack.enter_context(take(self.primary))
                except TokenStoreUnavailable as exc:
                    self._failed(exc)
                    stack.enter_context(take(self.fallback))
                else:
                    self._answered()
            else:
                stack.enter_context(take(self.fallback))
            yield


class MemoTokenStore:
    """The shared token store with a short in-memory cache in front of `get` (WeChat's guidance: central storage,
    cache in memory ≤ 1 min), so a broadcast does not read the database once per message. Taking the refresh
    lock drops the cache, so the client's 40001 path re-reads the stored token as it expects."""

    def __init__(self, store: TokenStore, ttl: float = 30.0):
        self._store, self._ttl = store, ttl
        self._cache: dict[str, tuple[float, Optional[str]]] = {}
        self._mutex = threading.Lock()

    def get(self, key: str) -> Optional[str]:
        with self._mutex:
            hit = self._cache.get(key)
        if hit is not None and time.monotonic() - hit[0] < self._ttl and hit[1]:
            return hit[1]
        value = self._store.get(key)
        with self._mutex:
            self._cache[key] = (time.monotonic(), value)
        return value

    def set(self, key: str, value: str, ttl: Optional[float] = None) -> None:
        self._store.set(key, value, ttl)
        with self._mutex:
            self._cache.pop(key, None)

    def delete(self, key: str) -> None:
        self._store.delete(key)
        with self._mutex:
            self._cache.pop(key, None)

    def lock(self, key: str, wait: Optional[float] = None) -> Any:
        with self._mutex:
            self._cache.clear()
        return self._store.lock(key) if wait is None else self._store.lock(key, wait)


def make_token_store(settings: Settings, session_factory: sessionmaker[Session] | None = None,
                     prefix: str = "qijin:") -> TokenStore:
    """Redis when REDIS_URL is set (falling back to the database while Redis is unreachable), else the database;
    the lease outlives the slowest token fetch."""
    lease = max(30.0, 3 * settings.api_timeout)
    sql = SqlTokenStore(session_factory, lease=lease, wait=lease) if session_factory is not None else None
    if settings.redis_url:
        redis_store = RedisTokenStore(settings.redis_url, prefix=prefix, lease=lease, wait=lease)
        return redis_store if sql is None else FallbackTokenStore(redis_store, sql)
    if sql is None:
        raise ValueError("a session factory is needed when REDIS_URL is not set")
    return sql
