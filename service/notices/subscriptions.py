"""Residents' notice subscriptions in chat: 订阅 lists the topics to pick by number, 退订 stops every notice,
通知 shows the latest five announcements delivered to them. Unfollowing stops everything by itself (the
delivery planner skips followers who are not subscribed)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from models.announcement import Announcement, Delivery, DeliveryStatus
from models.subscription import TOPICS, NoticeOptOut, Subscription
from service.core import clock
from service.chat import conversation
from service.chat.contract import ChatContext, Flow, Turn, handled, not_mine
from service.chat.conversation import Draft
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


def topic_flow(ctx: ChatContext, draft: Draft) -> Turn:
    """The reply to the topic menu: a number subscribes; anything else leaves the menu and is routed as usual."""
    text = ctx.inbound.text
    if not text.isdigit():
        return not_mine(end=True)
    codes = list(TOPICS)
    number = int(text)
    if not 1 <= number <= len(codes):
        return handled(texts.TOPIC_NUMBER_INVALID.format(count=len(codes)))
    topic = codes[number - 1]
    added = subscribe(ctx.session, ctx.openid, topic)
    return handled((texts.SUBSCRIBED if added else texts.ALREADY_SUBSCRIBED).format(topic=TOPICS[topic]), end=True)


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
