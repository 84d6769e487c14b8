"""Store every accepted inbound message exactly once and keep follower records current.

WeChat re-sends a message up to three times when our answer is late. The message row's unique `dedupe_key` is
inserted as the *first* statement of the request's transaction, so a concurrent retry in another worker blocks on
that key until the first attempt commits, then fails the insert and replays the stored reply: one side effect, one
reply, whatever the number of processes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
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
    message: InboundMessage | None  # the row this attempt owns; None for a retry
    replay: str | None = None  # the first attempt's reply, for a retry

    @property
    def duplicate(self) -> bool:
        return self.message is None


def claim(session: Session, inbound: Inbound, raw_xml: str, now: datetime) -> Claim:
    """Insert the message row first thing in the transaction; on a duplicate key roll back and fetch the reply."""
    key = dedupe_key(inbound)
    row = InboundMessage(dedupe_key=key, openid=inbound.openid, msg_type=inbound.kind[:32], event=(inbound.event or None) and inbound.event[:64],
                         event_key=(inbound.raw.get("EventKey") if isinstance(inbound.raw.get("EventKey"), str) else "")[:255],
                         msg_id=inbound.msg_id, content=inbound.content or inbound.label, media_id=inbound.media_id[:255],
                         raw_xml=raw_xml, received_at=now)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        first = session.scalars(select(InboundMessage).where(InboundMessage.dedupe_key == key)).one()
        return Claim(None, first.reply)
    return Claim(row)


def finish(session: Session, row: InboundMessage, reply: str | None, now: datetime, failed: bool = False) -> None:
    row.reply = reply
    row.status = "failed" if failed else "done"
    row.handled_at = now


def touch_follower(session: Session, inbound: Inbound, now: datetime) -> None:
    """Upsert the sender's follower record and its times in one race-free statement (PostgreSQL, SQLite)."""
    if not inbound.openid:
        return
    changes: dict = {}
    if inbound.event not in PASSIVE_EVENTS:
        changes["last_interaction_at"] = now
    if inbound.kind != "event":
        changes["last_message_at"] = now
    if inbound.event == "subscribe":
        changes.update(subscribed=True, subscribed_at=now, unsubscribed_at=None,
                       scene=inbound.event_key[:128])
    elif inbound.event == "unsubscribe":
        changes.update(subscribed=False, unsubscribed_at=now)
    values = {"openid": inbound.openid, "subscribed": True, "first_seen_at": now, "last_interaction_at": now,
              "scene": "", "more_pages": [], **changes}
    upsert = UPSERTS.get(session.get_bind().dialect.name)
    if upsert is not None:
        stmt = upsert(Follower).values(**values)
        session.execute(stmt.on_conflict_do_update(index_elements=["openid"], set_=changes) if changes
                        else stmt.on_conflict_do_nothing(index_elements=["openid"]))
    elif session.get(Follower, inbound.openid) is None:
        session.execute(insert(Follower).values(**values))
    elif changes:
        session.execute(update(Follower).where(Follower.openid == inbound.openid).values(**changes)
                        .execution_options(synchronize_session=False))


def trim(session: Session, before: datetime) -> int:
    """Delete message-log rows older than the retention window (they outlive WeChat's retry window by far)."""
    result = session.execute(delete(InboundMessage).where(InboundMessage.received_at < before))
    return result.rowcount or 0
