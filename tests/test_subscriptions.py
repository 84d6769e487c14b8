"""Residents in chat: 订阅 by topic number, 退订, 通知 (latest five), and unfollow stopping everything."""
from __future__ import annotations

from datetime import timedelta

import pytest

from sqlalchemy import select

from models.announcement import Delivery, DeliveryStatus
from models.subscription import NoticeOptOut, Subscription
from service.notices import announcements, delivery as notify
from service.core import clock
from tests.notice_helpers import record_outcomes, sender_factory, successful_calls


def send(session, session_factory, settings, audience, title="通知标题", body="通知正文"):
    ann = announcements.create(session, {"title": title, "body": body, "audience": audience}, clock.now())
    session.commit()
    notify.run_once(session_factory, settings, sender_factory(settings, session_factory))
    session.expire_all()
    return {d.openid: d.status for d in session.scalars(select(Delivery).where(Delivery.announcement_id == ann.id))}


def test_subscribe_by_number_then_receive_that_topic(wechat, session, session_factory, settings, fake_wechat):
    record_outcomes(fake_wechat)
    menu = wechat.send_text("订阅")
    assert "1. 通知公告" in menu and "2. 活动预告" in menu and "3. 政策更新" in menu and "当前已订阅：无" in menu
    assert "活动预告" in wechat.send_text("2")
    assert session.scalars(select(Subscription.topic)).all() == ["event"]
    assert "当前已订阅：活动预告" in wechat.send_text("订阅")
    assert "已订阅" in wechat.send_text("２")  # full-width digits count too
    wechat.send_text("订阅")
    assert "1-3" in wechat.send_text("9")
    assert send(session, session_factory, settings, {"type": "topic", "topic": "event"}) == {
        wechat.openid: DeliveryStatus.SENT
    }
    assert send(session, session_factory, settings, {"type": "topic", "topic": "policy"}) == {}
    assert successful_calls(fake_wechat) == {wechat.openid: 1}


@pytest.mark.parametrize("reply", ["1 3", "1、3", "1,3", "1，3", "１ ３", "3 1 3", "1和3"])
def test_several_topics_at_once(wechat, session, reply):
    menu = wechat.send_text("订阅")
    assert "1 3" in menu and "全部" in menu
    answer = wechat.send_text(reply)
    assert "通知公告" in answer and "政策更新" in answer and "活动预告" not in answer
    assert sorted(session.scalars(select(Subscription.topic)).all()) == ["notice", "policy"]


def test_all_topics_and_already_subscribed_ones(wechat, session):
    wechat.send_text("订阅")
    wechat.send_text("2")
    wechat.send_text("订阅")
    answer = wechat.send_text("全部")
    assert "已订阅“通知公告”“政策更新”" in answer and "您已订阅“活动预告”" in answer
    assert sorted(session.scalars(select(Subscription.topic)).all()) == ["event", "notice", "policy"]


def test_one_number_out_of_range_subscribes_nothing_and_keeps_the_menu(wechat, session):
    wechat.send_text("订阅")
    assert "1-3" in wechat.send_text("1 4")
    assert session.scalars(select(Subscription.topic)).all() == []
    assert "已订阅" in wechat.send_text("1")


def test_subscribe_with_numbers_in_one_message(wechat, session):
    assert "活动预告" in wechat.send_text("订阅 2 3")
    assert sorted(session.scalars(select(Subscription.topic)).all()) == ["event", "policy"]
    assert "1. 通知公告" in wechat.send_text("订阅 什么")


def test_a_word_after_the_topic_menu_is_routed_normally(wechat, session):
    wechat.send_text("订阅")
    assert "退订" in wechat.send_text("退订") and session.get(NoticeOptOut, wechat.openid) is not None


def test_unsubscribe_stops_every_notice_until_subscribing_again(wechat, session, session_factory, settings,
                                                                fake_wechat):
    wechat.send_text("订阅")
    wechat.send_text("1")
    assert "不再收到" in wechat.send_text("退订")
    assert session.scalars(select(Subscription)).all() == []
    assert send(session, session_factory, settings, "all") == {wechat.openid: DeliveryStatus.SKIPPED}
    assert send(session, session_factory, settings, {"type": "openids", "openids": [wechat.openid]}) == {
        wechat.openid: DeliveryStatus.SKIPPED}
    assert fake_wechat.calls_to("message/custom/send") == []
    wechat.send_text("订阅")
    wechat.send_text("1")
    assert session.get(NoticeOptOut, wechat.openid) is None
    assert send(session, session_factory, settings, "all") == {wechat.openid: DeliveryStatus.SENT}


def test_notices_shows_the_latest_five_sent_to_me(wechat, session, session_factory, settings):
    assert "暂时没有" in wechat.send_text("通知")
    wechat.send_text("帮助")  # opens the 48 h window (5 customer-service messages; the 6th goes by template)
    start = clock.now()
    for i in range(6):
        clock.set_now(lambda i=i: start + timedelta(minutes=i))
        send(session, session_factory, settings.with_(wechat_template_id="TPL"), "all", title=f"第{i}号通知",
             body=f"正文{i}")
    clock.set_now(None)
    reply = wechat.send_text("通知")
    assert "第5号通知" in reply and "第1号通知" in reply and "第0号通知" not in reply
    assert reply.index("第5号通知") < reply.index("第1号通知")


def test_unfollow_stops_everything(wechat, session, session_factory, settings, fake_wechat):
    wechat.send_text("订阅")
    wechat.send_text("3")
    wechat.send_event("unsubscribe")
    assert send(session, session_factory, settings, {"type": "topic", "topic": "policy"}) == {
        wechat.openid: DeliveryStatus.SKIPPED
    }
    assert fake_wechat.calls_to("message/custom/send") == []
