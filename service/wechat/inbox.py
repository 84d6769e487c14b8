"""Store every accepted inbound message exactly once and keep follower records current.

WeChat re-sends a message up to three times when our answer is late. The message row's unique `dedupe_key` is
inserted as the *first* statement of the request's transaction (`claim`), so a concurrent retry in another worker
blocks on that key until the first attempt commits, then fails the insert and replays the stored reply: one side
effect, one reply, whatever the number of processes.

A message whose route only reads (the keyword menu) has no side effect to protect, so it is stored last, already
answered, in one write (`record_if_idle`); a retry finds its key taken and replays the stored reply the same way.
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
from service.chat import conversation
from service.core import fastsql
from service.chat.contract import Inbound
from service.chat.conversation import Draft
from service.wechat.protocol import dedupe_key

UPSERTS = {"postgresql": pg_insert, "sqlite": sqlite_insert}

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
_FOLLOWER_INSERT = ("INSERT INTO follower (openid, subscribed, first_seen_at, last_interaction_at, last_message_at,"
                    " scene, more_pages)")
_FOLLOWER_ON_MESSAGE = (" ON CONFLICT (openid) DO UPDATE"
                        " SET last_interaction_at = excluded.last_interaction_at,"
                        " last_message_at = excluded.last_message_at,"
                        " subscribed = excluded.subscribed")  # only followers can send messages
_TOUCH_SQL = _FOLLOWER_INSERT + " VALUES (?, ?, ?, ?, ?, '', '[]')" + _FOLLOWER_ON_MESSAGE
_TOUCH_ON_MESSAGE = fastsql.Statement(_TOUCH_SQL)
# The same, in the claim's round trip: it checks the claim itself. A message row still 'processing' is this
# transaction's own (rows are committed 'done' or 'failed'), so a retry changes nothing; its follower row exists
# then, as the first attempt committed it before the retry's claim could go on.
_TOUCH_IF_CLAIMED = fastsql.Statement(
    _TOUCH_SQL + " WHERE EXISTS (SELECT 1 FROM inbound_message WHERE dedupe_key = ? AND status = 'processing')")

# The read-only fast path (record_if_idle): the message row, already answered, unless the sender has a live
# conversation (which must see the message) or the row exists (a retry); both then take the general path.
_RECORD_SQL = (
    "INSERT INTO inbound_message (dedupe_key, openid, msg_type, event, event_key, msg_id, content, media_id, raw_xml,"
    " received_at, status, reply, handled_at) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'done', ?, ?"
    " WHERE NOT EXISTS (SELECT 1 FROM conversation_draft WHERE openid = ? AND expires_at > ?)"
    " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id")
_RECORD = fastsql.Statement(_RECORD_SQL)
# PostgreSQL: the same, the follower upsert and the asynchronous commit in one self-committing statement.
_RECORD_AND_TOUCH = fastsql.Statement(
    "WITH claimed AS (" + _RECORD_SQL + "), touched AS ("
    + _FOLLOWER_INSERT + " SELECT ?, true, ?, ?, ?, '', '[]'::json FROM claimed" + _FOLLOWER_ON_MESSAGE + ")"
    # no column to read back (psycopg sets up a loader per result column): the row count says whether it was stored
    " SELECT FROM claimed WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL")


def _insert_for(session: Session):
    return UPSERTS[session.get_bind().dialect.name]


def claim(session: Session, inbound: Inbound, raw_xml: str, now: datetime) -> Claim:
    """Insert the message row first thing in the transaction, record the sender's activity and, for a user
    message, fetch their live conversations; a duplicate key means a retry: fetch its reply instead.

    On PostgreSQL a concurrent insert of the same key waits for the first transaction, then does nothing; on SQLite
    the single writer lock serialises them the same way. For a user message the claim, the follower upsert and the
    conversation lookup are one round trip (fastsql.run); the upsert takes the follower's row lock, so the lookup
    that follows sees what an earlier message of the same user committed.
    """
    key = dedupe_key(inbound)
    postgres = session.get_bind().dialect.name == "postgresql"
    # Don't wait for the WAL flush on PostgreSQL: WeChat already has our answer when it matters, and a server crash
    # can lose only the last fraction of a second of message rows, whole transactions with their effects, never half.
    steps: list[tuple[fastsql.Statement, tuple]] = [(_ASYNC_COMMIT, ())] if postgres else []
    steps.append((_CLAIM, _message_row(key, inbound, raw_xml, now)))
    from_user = inbound.kind != "event" and bool(inbound.openid)
    if from_user:
        steps.append((_TOUCH_IF_CLAIMED, (inbound.openid, True, now, now, now, key)))
        steps.append(conversation.live_drafts_query(session, inbound.openid, for_update=True))
    cursors = fastsql.run(session, steps)
    row = cursors[-3 if from_user else -1].fetchone()
    if row is None:
        replay = fastsql.execute(session, _REPLAY, (key,)).fetchone()
        return Claim(None, key, replay[0] if replay else None)
    if not from_user:
        touch_follower(session, inbound, now)
        return Claim(row[0], key)
    return Claim(row[0], key, drafts=conversation.live_drafts_from(inbound.openid, cursors[-1].fetchall(), now))


def _message_row(key: str, inbound: Inbound, raw_xml: str, now: datetime) -> tuple:
    event_key = inbound.raw.get("EventKey")  # as WeChat sent it (Inbound.event_key drops the qrscene_ prefix)
    return (key, inbound.openid, inbound.kind[:32], inbound.event[:64] if inbound.event else None,
            event_key[:255] if isinstance(event_key, str) else "", inbound.msg_id, inbound.content or inbound.label,
            inbound.media_id[:255], raw_xml, now)


def record_if_idle(wire: fastsql.Wire, inbound: Inbound, raw_xml: str, reply: str, now: datetime) -> bool:
    """Store a new user message with its read-only reply and touch the follower, and commit, unless the sender has
    a live conversation or the message is stored already; False then, and nothing changed.

    The gateway's fast path: the route ran first, but it only read, so storing the message last is still exactly
    once. `wire` is a connection of its own (fastsql.kept_write): PostgreSQL does it in one self-committing
    statement; SQLite in one transaction behind the writer gate, so the conversation check is exact there.
    """
    if inbound.kind == "event" or not inbound.openid:
        return False
    row = _message_row(dedupe_key(inbound), inbound, raw_xml, now) + (reply, now, inbound.openid, now)
    if wire.dialect == "postgresql":
        return wire.count(_RECORD_AND_TOUCH, row + (inbound.openid, now, now, now)) == 1
    stored = wire.execute(_RECORD, row).fetchone() is not None
    if stored:
        wire.execute(_TOUCH_ON_MESSAGE, (inbound.openid, True, now, now, now))
    wire.commit()
    return stored


def finish(session: Session, claim: Claim, reply: str | None, now: datetime, failed: bool = False) -> None:
    """Store the reply and commit the message's transaction (one round trip on PostgreSQL); the caller then
    ends the session's transaction."""
    fastsql.run(session, [(_FINISH, (reply, "failed" if failed else "done", now, claim.message_id))], commit=True)


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
