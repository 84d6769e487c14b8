"""Residents' notice subscriptions in chat: 订阅 lists the topics to pick by number, 退订 stops every notice,
通知 shows the latest five announcements delivered to them. Unfollowing stops everything by itself (the
delivery planner skips followers who are not subscribed)."""
from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from typing import Optional

from sqlalchemy import delete, select

from models.announcement import Announcement, Delivery, DeliveryStatus
from models.subscription import TOPICS, NoticeOptOut, Subscription
from service.chat import conversation
from service.chat.contract import ChatContext, Flow, Turn, handled, not_mine
from service.chat.conversation import Draft
from service.core import clock
from service.notices import texts

FLOW = "subscribe"
TTL = timedelta(minutes=10)
RECENT = 5


def topics_of(session, openid: str) -> list[str]:
    return list(session.scalars(select(Subscription.topic).where(Subscription.openid == openid)))


def subscribe(session, openid: str, topic: str) -> bool:
    """Subscribe to `topic` and lift a 退订; False when already subscribed."""
    session.execute(delete(NoticeOptOut).where(NoticeOptOut.openid == openid))
    if topic in topics_of(session, openid):
        return False
    session.add(Subscription(openid=openid, topic=topic))
    session.flush()
    return True


def unsubscribe_all(session, openid: str) -> None:
    session.execute(delete(Subscription).where(Subscription.openid == openid))
    if session.get(NoticeOptOut, openid) is None:
        session.add(NoticeOptOut(openid=openid))
    session.flush()


def show_topics(ctx: ChatContext) -> str:
    subscribed = set(topics_of(ctx.session, ctx.openid))
    current = [name for code, name in TOPICS.items() if code in subscribed]
    conversation.save(ctx.session, Draft(ctx.openid, FLOW, "topic"), ctx.now, TTL)
    lines = "\n".join(f"{i}. {name}" for i, name in enumerate(TOPICS.values(), 1))
    return texts.TOPIC_MENU.format(lines=lines, current="、".join(current) or texts.NONE)


ALL_WORDS = {"全部", "所有", "全选", "都要", "都订阅", "全部订阅", "all"}
_SEPARATORS = re.compile(r"[\s,;、/&+和及]+")


def parse_choice(text: str) -> Optional[list[int]]:
    """The topic numbers of a reply to the topic menu ('2', '1 3', '1、3', '1,3', '全部' = every topic), in
    order and without repeats; None when the reply is not a choice of numbers at all."""
    text = unicodedata.normalize("NFKC", text).strip().lower().rstrip("。.!！~ ")
    if text in ALL_WORDS:
        return list(range(1, len(TOPICS) + 1))
    parts = [part for part in _SEPARATORS.split(text) if part]
    if not parts or not all(part.isdigit() for part in parts):
        return None
    return list(dict.fromkeys(int(part) for part in parts))


def choose_topics(ctx: ChatContext, numbers: list[int]) -> Optional[str]:
    """Subscribe to the topics numbered `numbers`; None (subscribing nothing) if any number is out of range."""
    codes = list(TOPICS)
    if not all(1 <= number <= len(codes) for number in numbers):
        return None
    added, already = [], []
    for number in numbers:
        topic = codes[number - 1]
        (added if subscribe(ctx.session, ctx.openid, topic) else already).append(TOPICS[topic])
    lines = []
    if added:
        lines.append(texts.SUBSCRIBED.format(topic="”“".join(added)))
    if already:
        lines.append(texts.ALREADY_SUBSCRIBED.format(topic="”“".join(already)))
    return "\n".join(lines)


def topic_flow(ctx: ChatContext, draft: Draft) -> Turn:
    """The reply to the topic menu: one or several numbers (or 全部) subscribe; anything else leaves the menu and
    is routed as usual."""
    numbers = parse_choice(ctx.inbound.text)
    if numbers is None:
        return not_mine(end=True)
    reply = choose_topics(ctx, numbers)
    if reply is None:
        return handled(texts.TOPIC_NUMBER_INVALID.format(count=len(TOPICS)))
    return handled(reply, end=True)


def subscribe_command(ctx: ChatContext, rest: str) -> str:
    """`订阅 1 3` / `订阅 全部` in one message; anything else after 订阅 shows the topic menu."""
    numbers = parse_choice(rest)
    reply = choose_topics(ctx, numbers) if numbers is not None else None
    return reply if reply is not None else show_topics(ctx)


SUBSCRIBE_FLOW = Flow(FLOW, topic_flow, TTL)


def unsubscribe(ctx: ChatContext) -> str:
    conversation.clear(ctx.session, ctx.openid, FLOW)
    unsubscribe_all(ctx.session, ctx.openid)
    return texts.UNSUBSCRIBED


def recent_notices(ctx: ChatContext) -> str:
    rows = ctx.session.execute(
        select(Announcement.title, Announcement.body, Delivery.sent_at).join(Delivery)
        .where(Delivery.openid == ctx.openid, Delivery.status == DeliveryStatus.SENT)
        .order_by(Delivery.sent_at.desc(), Delivery.id.desc()).limit(RECENT)).all()
    if not rows:
        return texts.NO_NOTICES
    lines = [texts.NOTICES_TITLE]
    for n, (title, body, sent_at) in enumerate(rows, 1):
        lines.append(texts.NOTICE_LINE.format(n=n, date=clock.local(sent_at).strftime("%m-%d"), title=title,
                                              body=body))
    return "\n\n".join(lines)
