"""Store every accepted inbound message exactly once and keep follower records current.

WeChat re-sends a message up to three times when our answer is late. The message row's unique `dedupe_key` is
inserted as the *first* statement of the request's transaction (`claim`), so a concurrent retry in another worker
blocks on that key until the first attempt commits, then fails the insert and replays the stored reply: one side
effect, one reply, whatever the number of processes.

A message whose route only reads (the keyword menu) has no side effect to protect, so it is stored last, already
answered, in one write (`record_if_idle`); a retry finds its key taken and replays the stored reply the same way.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator

from sqlalchemy import bindparam, delete, exists, func, literal, literal_column, select, true, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models.conversation import ConversationDraft
from models.follower import Follower
from models.inbound import InboundMessage
from service.chat import conversation
from service.chat.contract import Inbound
from service.chat.conversation import Draft
from service.core import fastsql
from service.core.db import serialized_writes
from service.wechat.protocol import dedupe_key

# Events that say nothing about the user being active (platform callbacks, auto location reports).
PASSIVE_EVENTS = {"templatesendjobfinish", "masssendjobfinish", "location", "unsubscribe", "subscribe_msg_sent_event"}


@dataclass
class Claim:
    message_id: int | None  # the row this attempt owns; None for a retry
    dedupe_key: str
    replay: str | None = None  # the first attempt's reply, for a retry
    drafts: list[Draft] | None = None  # the sender's live conversations, when fetched with the claim

    @property
    def duplicate(self) -> bool:
        return self.message_id is None


PROCESSING = "processing"  # a claimed message's status until its transaction stores the reply ('done', 'failed')

_message = InboundMessage.__table__
_follower = Follower.__table__
_draft = ConversationDraft.__table__
_MESSAGE_COLUMNS = ("dedupe_key", "openid", "msg_type", "event", "event_key", "msg_id", "content", "media_id",
                    "raw_xml", "replay_key")


class NonceReused(Exception):
    """The request's signed (timestamp, nonce) came with another message before: a replayed signature, not
    WeChat (whose retry of a message brings the same message, a dedupe_key conflict). Nothing was stored."""


@contextmanager
def _refusing_reused_nonces(connection: Connection):
    """Turn a violation of the message log's unique `replay_key` into NonceReused; the caller rolls back.
    `fastsql.pipeline` raises what the driver raises, so its IntegrityError too."""
    try:
        yield
    except (IntegrityError, connection.dialect.loaded_dbapi.IntegrityError) as exc:
        if "replay_key" in str(exc):
            raise NonceReused("a signed timestamp and nonce came back with another message") from exc
        raise


def _param(column, name: str | None = None):
    """A named parameter of the column's type (for the SELECT of an INSERT ... SELECT, which has no column)."""
    return bindparam(name or column.key, type_=column.type)


def _now(column):
    return _param(column, "now")


# The hot path's statements (service/core/fastsql.py). Parameters: the message's columns by name, and `now`.
_CLAIM = fastsql.PerDialect(lambda dialect: fastsql.insert_for(dialect)(_message).values(
    {**{name: bindparam(name) for name in _MESSAGE_COLUMNS}, "received_at": bindparam("now"), "status": PROCESSING}
).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(_message.c.id))
_REPLAY = select(_message.c.reply).where(_message.c.dedupe_key == bindparam("dedupe_key"))
_FINISH = (update(_message).where(_message.c.id == bindparam("message_id"))
           .values(reply=bindparam("new_reply"), status=bindparam("new_status"), handled_at=bindparam("now")))
# Don't wait for the WAL flush on PostgreSQL: WeChat already has our answer when it matters, and a server crash
# can lose only the last fraction of a second of message rows, whole transactions with their effects, never half.
# The setting's name and value are SQL literals, not parameters: nothing to bind or send per message.
_ASYNC_COMMIT = func.set_config(literal_column("'synchronous_commit'"), literal_column("'off'"), true())
_SET_ASYNC_COMMIT = select(_ASYNC_COMMIT)


def _touch_on_message(dialect: str, claimed=None, if_claimed: bool = False):
    """The follower upsert of a user message (events take touch_follower): from `claimed` (a CTE of the stored
    message's id) when given; with `if_claimed`, only while the message row is this transaction's own."""
    columns = ("openid", "subscribed", "first_seen_at", "last_interaction_at", "last_message_at", "scene",
               "more_pages")
    row = select(_param(_follower.c.openid), true(), *(_now(_follower.c[name]) for name in columns[2:5]),
                 *(literal(fastsql.model_default(_follower.c[name]), _follower.c[name].type) for name in columns[5:]))
    if claimed is not None:
        row = row.select_from(claimed)
    if if_claimed:
        # A message row still 'processing' is this transaction's own (rows are committed 'done' or 'failed'), so a
        # retry changes nothing; its follower row exists then, as the first attempt committed it before the
        # retry's claim could go on.
        row = row.where(exists().where(_message.c.dedupe_key == _param(_message.c.dedupe_key),
                                       _message.c.status == PROCESSING))
    elif claimed is None:
        row = row.where(true())  # SQLite reads ON CONFLICT after a SELECT without WHERE as a join's ON
    upsert = fastsql.insert_for(dialect)(_follower).from_select(columns, row)
    return upsert.on_conflict_do_update(  # only followers can send messages
        index_elements=["openid"],
        set_={name: upsert.excluded[name] for name in ("last_interaction_at", "last_message_at", "subscribed")})


_TOUCH_ON_MESSAGE = fastsql.PerDialect(_touch_on_message)
# In the claim's round trip: it checks the claim itself.
_TOUCH_IF_CLAIMED = fastsql.PerDialect(lambda dialect: _touch_on_message(dialect, if_claimed=True))


def _record(dialect: str):
    """The read-only fast path (record_if_idle): the message row, already answered, unless the sender has a live
    conversation (which must see the message) or the row exists (a retry); both then take the general path."""
    row = select(*(_param(_message.c[name]) for name in _MESSAGE_COLUMNS), _now(_message.c.received_at),
                 literal("done", _message.c.status.type), _param(_message.c.reply), _now(_message.c.handled_at))
    row = row.where(~exists().where(_draft.c.openid == _param(_draft.c.openid),
                                    _draft.c.expires_at > _now(_draft.c.expires_at)))
    return fastsql.insert_for(dialect)(_message).from_select(
        _MESSAGE_COLUMNS + ("received_at", "status", "reply", "handled_at"), row
    ).on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(_message.c.id)


_RECORD = fastsql.PerDialect(_record)


def _record_and_touch(dialect: str):
    """PostgreSQL: the record, the follower upsert and the asynchronous commit in one self-committing statement;
    whether it returns a row says whether the message was stored. The row has no column: psycopg sets up a loader
    per result column, a measurable cost on this path."""
    claimed = _record(dialect).cte("claimed")
    return select().select_from(claimed).where(_ASYNC_COMMIT.is_not(None)).add_cte(
        _touch_on_message(dialect, claimed=claimed).cte("touched"))


_RECORD_AND_TOUCH = fastsql.PerDialect(_record_and_touch)


def claim(session: Session, inbound: Inbound, raw_xml: str, now: datetime, replay_key: str | None = None) -> Claim:
    """Insert the message row first thing in the transaction, record the sender's activity and, for a user
    message, fetch their live conversations; a duplicate key means a retry: fetch its reply instead.
    `replay_key` taken by another message raises NonceReused (the caller rolls back).

    On PostgreSQL a concurrent insert of the same key waits for the first transaction, then does nothing; on SQLite
    the single writer lock serialises them the same way. For a user message the claim, the follower upsert and the
    conversation lookup are one round trip (fastsql.pipeline); the upsert takes the follower's row lock, so the
    lookup that follows sees what an earlier message of the same user committed.
    """
    connection = session.connection()
    dialect = connection.dialect
    row = _message_row(inbound, raw_xml, now, replay_key)
    steps: dict[str, fastsql.Step] = {"async_commit": (_SET_ASYNC_COMMIT, {})} if dialect.name == "postgresql" else {}
    steps["claim"] = (_CLAIM(dialect), row)
    from_user = inbound.kind != "event" and bool(inbound.openid)
    if from_user:
        steps["touch"] = (_TOUCH_IF_CLAIMED(dialect), row)
        steps["drafts"] = conversation.live_drafts_query(dialect, inbound.openid, for_update=True)
    with _refusing_reused_nonces(connection):
        results = dict(zip(steps, fastsql.pipeline(connection, list(steps.values()))))
    claimed = results["claim"]
    if not claimed:
        replay = connection.execute(_REPLAY, row).scalar()
        return Claim(None, row["dedupe_key"], replay)
    message_id = claimed[0][0]
    if not from_user:
        touch_follower(session, inbound, now)
        return Claim(message_id, row["dedupe_key"])
    drafts = conversation.live_drafts_from(inbound.openid, results["drafts"], now)
    return Claim(message_id, row["dedupe_key"], drafts=drafts)


def _message_row(inbound: Inbound, raw_xml: str, now: datetime, replay_key: str | None) -> dict:
    event_key = inbound.raw.get("EventKey")  # as WeChat sent it (Inbound.event_key drops the qrscene_ prefix)
    return {"dedupe_key": dedupe_key(inbound), "openid": inbound.openid, "msg_type": inbound.kind[:32],
            "event": inbound.event[:64] if inbound.event else None,
            "event_key": event_key[:255] if isinstance(event_key, str) else "", "msg_id": inbound.msg_id,
            "content": inbound.content or inbound.label, "media_id": inbound.media_id[:255], "raw_xml": raw_xml,
            "replay_key": replay_key, "now": now}


def record_if_idle(connection: Connection, inbound: Inbound, raw_xml: str, reply: str, now: datetime,
                   replay_key: str | None = None) -> bool:
    """Store a new user message with its read-only reply and touch the follower, unless the sender has a live
    conversation or the message is stored already; False then, and nothing changed. NonceReused if `replay_key`
    is another message's.

    The gateway's fast path: the route ran first, but it only read, so storing the message last is still exactly
    once. `connection` is one of its own (fastsql.kept_write, which commits): PostgreSQL does it in one
    self-committing statement; SQLite in one transaction behind the writer gate, so the conversation check is exact
    there.
    """
    if inbound.kind == "event" or not inbound.openid:
        return False
    dialect = connection.dialect
    row = {**_message_row(inbound, raw_xml, now, replay_key), "reply": reply}
    with _refusing_reused_nonces(connection):
        if dialect.name == "postgresql":
            return bool(fastsql.pipeline(connection, [(_RECORD_AND_TOUCH(dialect), row)])[0])
        stored = bool(fastsql.pipeline(connection, [(_RECORD(dialect), row)])[0])
    if stored:
        fastsql.pipeline(connection, [(_TOUCH_ON_MESSAGE(dialect), row)])
    return stored


def finish(session: Session, claim: Claim, reply: str | None, now: datetime, failed: bool = False) -> None:
    """Store the reply and commit the message's transaction (one round trip on PostgreSQL); the caller then
    ends the session's transaction."""
    params = {"message_id": claim.message_id, "new_reply": reply, "new_status": "failed" if failed else "done",
              "now": now}
    fastsql.pipeline(session.connection(), [(_FINISH, params)], commit=True)


def _follower_changes(inbound: Inbound, now: datetime) -> dict:
    changes: dict = {}
    if inbound.event not in PASSIVE_EVENTS:
        changes["last_interaction_at"] = now
    if inbound.kind != "event":
        changes["last_message_at"] = now
    if inbound.event == "subscribe":
        changes.update(subscribed=True, subscribed_at=now, unsubscribed_at=None, scene=inbound.event_key[:128])
    elif inbound.event == "unsubscribe":
        changes.update(subscribed=False, unsubscribed_at=now)
    return changes


_UPSERT_CACHE: dict[tuple[str, tuple[str, ...]], object] = {}


def touch_follower(session: Session, inbound: Inbound, now: datetime) -> None:
    """Upsert the sender's follower record after an event, in one race-free statement (PostgreSQL, SQLite)."""
    if not inbound.openid:
        return
    changes = _follower_changes(inbound, now)
    values = {"openid": inbound.openid, "subscribed": True, "first_seen_at": now, "last_interaction_at": now,
              "scene": "", "more_pages": [], **changes}
    dialect = session.get_bind().dialect.name
    shape = (dialect, tuple(sorted(changes)))
    stmt = _UPSERT_CACHE.get(shape)
    if stmt is None:
        base = fastsql.insert_for(dialect)(Follower).values({c: bindparam(c) for c in values})
        stmt = (base.on_conflict_do_update(index_elements=["openid"],
                                           set_={c: getattr(base.excluded, c) for c in changes})
                if changes else base.on_conflict_do_nothing(index_elements=["openid"]))
        _UPSERT_CACHE[shape] = stmt
    session.connection().execute(stmt, values)


TRIM_BATCH = 2_000  # ids per purge transaction: tens of milliseconds, well under a second even on a loaded machine


def trim_batches(session_factory: sessionmaker[Session], before: datetime,
                 batch: int = TRIM_BATCH) -> Iterator[tuple[int, float]]:
    """Delete message-log rows older than the retention window (they outlive WeChat's retry window by far).

    The ids of the expired rows are bounded first (read only, through the `received_at` index); then each range of
    `batch` ids is deleted in its own short transaction, so the purge never holds many rows (or SQLite's one write
    lock) for long while messages keep arriving. Ids grow with time, so a range holds at most `batch` expired rows
    and usually exactly that. Yields (rows deleted, seconds the transaction took) per range.
    """
    with session_factory() as session:
        low, high = session.execute(select(func.min(InboundMessage.id), func.max(InboundMessage.id))
                                    .where(InboundMessage.received_at < before)).one()
    if low is None:
        return
    for start in range(low, high + 1, batch):
        started = time.perf_counter()
        with session_factory() as session, serialized_writes(session.get_bind()):
            deleted = session.execute(delete(InboundMessage).where(
                InboundMessage.id >= start, InboundMessage.id < start + batch, InboundMessage.received_at < before))
            session.commit()
        yield deleted.rowcount or 0, time.perf_counter() - started
