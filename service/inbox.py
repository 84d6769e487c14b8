"""Store every accepted inbound message exactly once and keep follower records current.

WeChat re-sends a message up to three times when our answer is late. The message row's unique `dedupe_key` is
inserted as the *first* statement of the request's transaction, so a concurrent retry in another worker blocks on
that key until the first attempt commits, then fails the insert and replays the stored reply: one side effect, one
reply, whatever the number of processes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models.follower import Follower
from models.inbound import InboundMessage
from service import fastsql
from service.chat import Inbound
from service.wechat_protocol import dedupe_key

UPSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}

# Events that say nothing about the user being active (platform callbacks, auto location reports).
PASSIVE_EVENTS = {"templatesendjobfinish", "masssendjobfinish", "location", "unsubscribe", "subscribe_msg_sent_event"}


@dataclass
class Claim:
    message_id: int | None  # the row this attempt owns; None for a retry
    dedupe_key: str
    replay: str | None = None  # the first attempt's reply, for a retry

    @property
    def duplicate(self) -> bool:
        return self.message_id is None


# The hot path runs fixed SQL on the session's connection (service/fastsql.py): through the ORM or even Core these
# statements cost more CPU than everything else the gateway does for a message.
_CLAIM = fastsql.Statement(
    "INSERT INTO inbound_message (dedupe_key, openid, msg_type, event, event_key, msg_id, content, media_id, raw_xml,"
    " received_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'processing')"
    " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id")
_ASYNC_COMMIT = fastsql.Statement("SET LOCAL synchronous_commit = off")
_REPLAY = fastsql.Statement("SELECT reply FROM inbound_message WHERE dedupe_key = ?")
_FINISH = fastsql.Statement("UPDATE inbound_message SET reply = ?, status = ?, handled_at = ? WHERE id = ?")
# The common case of the follower upsert: a user message (events take the general statement below).
_TOUCH_ON_MESSAGE = fastsql.Statement(
    "INSERT INTO follower (openid, subscribed, first_seen_at, last_interaction_at, last_message_at, scene, more_pages)"
    " VALUES (?, ?, ?, ?, ?, '', '[]') ON CONFLICT (openid) DO UPDATE"
    " SET last_interaction_at = excluded.last_interaction_at, last_message_at = excluded.last_message_at,"
    " subscribed = excluded.subscribed")  # only followers can send messages


def _insert_for(session: Session):
    return UPSERTS[session.get_bind().dialect.name]


def claim(session: Session, inbound: Inbound, raw_xml: str, now: datetime) -> Claim:
    """Insert the message row first thing in the transaction; a duplicate key means a retry: fetch its reply.

    On PostgreSQL a concurrent insert of the same key waits for the first transaction, then does nothing; on SQLite
    the single writer lock serialises them the same way.
    """
    key = dedupe_key(inbound)
    event_key = inbound.raw.get("EventKey")
    if session.get_bind().dialect.name == "postgresql":
        # Don't wait for the WAL flush: WeChat already has our answer when it matters, and a server crash can lose
        # only the last fraction of a second of message rows, whole transactions with their effects, never half.
        fastsql.execute(session, _ASYNC_COMMIT, ())
    row = fastsql.execute(session, _CLAIM, (
        key, inbound.openid, inbound.kind[:32], inbound.event[:64] if inbound.event else None,
        event_key[:255] if isinstance(event_key, str) else "", inbound.msg_id, inbound.content or inbound.label,
        inbound.media_id[:255], raw_xml, now)).fetchone()
    if row is not None:
        return Claim(row[0], key)
    replay = fastsql.execute(session, _REPLAY, (key,)).fetchone()
    return Claim(None, key, replay[0] if replay else None)


def finish(session: Session, claim: Claim, reply: str | None, now: datetime, failed: bool = False) -> None:
    fastsql.execute(session, _FINISH, (reply, "failed" if failed else "done", now, claim.message_id))


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
    """Upsert the sender's follower record and its times in one race-free statement (PostgreSQL, SQLite)."""
    if not inbound.openid:
        return
    if inbound.kind != "event":
        fastsql.execute(session, _TOUCH_ON_MESSAGE, (inbound.openid, True, now, now, now))
        return
    changes = _follower_changes(inbound, now)
    values = {"openid": inbound.openid, "subscribed": True, "first_seen_at": now, "last_interaction_at": now,
              "scene": "", "more_pages": [], **changes}
    dialect = session.get_bind().dialect.name
    shape = (dialect, tuple(sorted(changes)))
    stmt = _UPSERT_CACHE.get(shape)
    if stmt is None:
        base = _insert_for(session)(Follower).values({c: bindparam(c) for c in values})
        stmt = (base.on_conflict_do_update(index_elements=["openid"],
                                           set_={c: getattr(base.excluded, c) for c in changes})
                if changes else base.on_conflict_do_nothing(index_elements=["openid"]))
        _UPSERT_CACHE[shape] = stmt
    session.connection().execute(stmt, values)


def trim(session: Session, before: datetime) -> int:
    """Delete message-log rows older than the retention window (they outlive WeChat's retry window by far)."""
    result = session.execute(delete(InboundMessage).where(InboundMessage.received_at < before))
    return result.rowcount or 0
