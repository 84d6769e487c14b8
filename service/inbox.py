"""Store every accepted inbound message exactly once and keep follower records current.

WeChat re-sends a message up to three times when our answer is late. The message row's unique `dedupe_key` is
inserted as the *first* statement of the request's transaction, so a concurrent retry in another worker blocks on
that key until the first attempt commits, then fails the insert and replays the stored reply: one side effect, one
reply, whatever the number of processes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models.follower import Follower
from models.inbound import InboundMessage
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


# The hot path uses Core statements built once: the ORM unit of work cost more than everything else per message.
_table = InboundMessage.__table__
_CLAIMS = {name: (insert(_table)
                  .values({c: bindparam(c) for c in ("dedupe_key", "openid", "msg_type", "event", "event_key", "msg_id",
                                                     "content", "media_id", "raw_xml", "received_at", "status")})
                  .on_conflict_do_nothing(index_elements=["dedupe_key"]).returning(_table.c.id))
           for name, insert in UPSERTS.items()}
_REPLAY = select(_table.c.reply).where(_table.c.dedupe_key == bindparam("dedupe_key"))
_FINISH = (update(_table).where(_table.c.id == bindparam("message_id"))
           .values(reply=bindparam("reply"), status=bindparam("status"), handled_at=bindparam("handled_at")))


def _insert_for(session: Session):
    return UPSERTS[session.get_bind().dialect.name]


def claim(session: Session, inbound: Inbound, raw_xml: str, now: datetime) -> Claim:
    """Insert the message row first thing in the transaction; a duplicate key means a retry: fetch its reply.

    On PostgreSQL a concurrent insert of the same key waits for the first transaction, then does nothing; on SQLite
    the single writer lock serialises them the same way.
    """
    key = dedupe_key(inbound)
    event_key = inbound.raw.get("EventKey")
    conn = session.connection()
    message_id = conn.execute(_CLAIMS[conn.dialect.name], {
        "dedupe_key": key, "openid": inbound.openid, "msg_type": inbound.kind[:32],
        "event": inbound.event[:64] if inbound.event else None,
        "event_key": event_key[:255] if isinstance(event_key, str) else "", "msg_id": inbound.msg_id,
        "content": inbound.content or inbound.label, "media_id": inbound.media_id[:255], "raw_xml": raw_xml,
        "received_at": now, "status": "processing"}).scalar()
    if message_id is not None:
        return Claim(message_id, key)
    return Claim(None, key, conn.execute(_REPLAY, {"dedupe_key": key}).scalar())


def finish(session: Session, claim: Claim, reply: str | None, now: datetime, failed: bool = False) -> None:
    session.connection().execute(_FINISH, {"message_id": claim.message_id, "reply": reply,
                                           "status": "failed" if failed else "done", "handled_at": now})


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
