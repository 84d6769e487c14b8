"""Delivery: channel per recipient, exactly one call each, retries, fallbacks, a WeChat that is down."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from models.announcement import CS, MASS, TEMPLATE, AnnouncementStatus, Delivery, DeliveryStatus, ServiceWindow
from models.subscription import NoticeOptOut
from service.notices import announcements, delivery as notify
from service.core import clock
from service.core.clock import TZ
from tests.notice_helpers import add_followers, announce, cfg, fake, run, sender_factory, successful_calls  # noqa: F401

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def pinned_clock():
    clock.set_now(lambda: NOW)


def rows(session, ann_id=None):
    session.expire_all()
    query = select(Delivery).order_by(Delivery.openid)
    if ann_id is not None:
        query = query.where(Delivery.announcement_id == ann_id)
    return {d.openid: d for d in session.scalars(query)}


def test_each_recipient_gets_one_message_on_the_channel_wechat_allows(session, session_factory, cfg, fake):
    add_followers(session, ["o-recent"], NOW, timedelta(hours=2))
    add_followers(session, ["o-old"], NOW, timedelta(days=3))
    add_followers(session, ["o-never"], NOW, None)
    add_followers(session, ["o-gone"], NOW, timedelta(hours=1), subscribed=False)
    add_followers(session, ["o-optout"], NOW, timedelta(hours=1))
    session.add(NoticeOptOut(openid="o-optout"))
    ann = announce(session, audience={"type": "openids", "openids": ["o-recent", "o-old", "o-never", "o-gone",
                                                                      "o-optout", "o-stranger"]})
    run(session_factory, cfg)

    got = rows(session, ann.id)
    assert {o: (d.status, d.channel) for o, d in got.items()} == {
        "o-recent": (DeliveryStatus.SENT, CS),
        "o-old": (DeliveryStatus.SENT, TEMPLATE),
        "o-never": (DeliveryStatus.SENT, TEMPLATE),
        "o-gone": (DeliveryStatus.SKIPPED, None),
        "o-optout": (DeliveryStatus.SKIPPED, None),
        "o-stranger": (DeliveryStatus.SKIPPED, None),
    }
    custom = fake.calls_to("message/custom/send")
    assert [c.json["touser"] for c in custom] == ["o-recent"]
    assert custom[0].json["text"]["content"] == "【春季活动通知】\n请各单位按时开展活动。"
    template = fake.calls_to("message/template/send")
    assert sorted(c.json["touser"] for c in template) == ["o-never", "o-old"]
    assert {c.json["template_id"] for c in template} == {"TPL-1"}
    assert all(len(v["value"]) <= 20 for c in template for v in c.json["data"].values())
    assert successful_calls(fake) == {"o-recent": 1, "o-old": 1, "o-never": 1}
    session.refresh(ann)
    assert ann.status == AnnouncementStatus.SENT


def test_customer_service_quota_is_five_per_window_then_template(session, session_factory, cfg, fake):
    add_followers(session, ["o-a"], NOW, timedelta(hours=1))
    for i in range(6):
        announce(session, audience={"type": "openids", "openids": ["o-a"]}, title=f"通知{i}")
    run(session_factory, cfg)
    assert len(fake.calls_to("message/custom/send")) == 5
    assert len(fake.calls_to("message/template/send")) == 1
    assert session.get(ServiceWindow, "o-a").used == 5


def test_without_template_id_recipients_outside_the_window_fail_with_a_reason(session, session_factory, settings,
                                                                              fake):
    cfg = settings.with_(wechat_template_id="", notify_backoff_seconds=0.0)
    add_followers(session, ["o-old"], NOW, timedelta(days=5))
    ann = announce(session)
    run(session_factory, cfg)
    d = rows(session, ann.id)["o-old"]
    assert d.status == DeliveryStatus.FAILED and "48小时" in d.reason
    assert fake.calls == []
    session.refresh(ann)
    assert ann.status == AnnouncementStatus.PARTIAL


def test_busy_rate_limit_and_503_are_retried_until_sent(session, session_factory, cfg, fake):
    add_followers(session, ["o-1", "o-2", "o-3"], NOW)
    fake.inject("message/custom/send", errcode=-1)
    fake.inject("message/custom/send", errcode=45009)
    fake.inject("message/custom/send", http_status=503)  # turned away: 502/504 may come after WeChat acted
    ann = announce(session)
    run(session_factory, cfg)
    got = rows(session, ann.id)
    assert {d.status for d in got.values()} == {DeliveryStatus.SENT}
    assert sum(d.attempts for d in got.values()) == 6  # three faults, each retried once
    assert successful_calls(fake) == {"o-1": 1, "o-2": 1, "o-3": 1}
    assert len(fake.calls_to("message/custom/send")) == 6


def test_token_rejected_is_refreshed_once_and_the_message_sent(session, session_factory, cfg, fake):
    add_followers(session, ["o-1"], NOW)
    fake.inject("message/custom/send", errcode=40001)
    ann = announce(session)
    run(session_factory, cfg)
    assert rows(session, ann.id)["o-1"].status == DeliveryStatus.SENT
    assert len(fake.calls_to("token")) == 2
    assert successful_calls(fake) == {"o-1": 1}


def test_closed_window_falls_back_to_the_template(session, session_factory, cfg, fake):
    add_followers(session, ["o-1", "o-2"], NOW)
    fake.inject("message/custom/send", errcode=45015)
    fake.inject("message/custom/send", errcode=45047)
    ann = announce(session)
    run(session_factory, cfg)
    got = rows(session, ann.id)
    assert {(d.status, d.channel) for d in got.values()} == {(DeliveryStatus.SENT, TEMPLATE)}
    assert all("模板" in d.reason for d in got.values())
    assert session.get(ServiceWindow, "o-1").used == 5


def test_unfollowed_at_send_time_is_skipped(session, session_factory, cfg, fake):
    add_followers(session, ["o-1"], NOW)
    fake.fail_openid("o-1", 43004)
    ann = announce(session)
    run(session_factory, cfg)
    d = rows(session, ann.id)["o-1"]
    assert (d.status, d.errcode) == (DeliveryStatus.SKIPPED, 43004)


def test_wechat_down_leaves_deliveries_pending_never_sent(session, session_factory, cfg, fake):
    down = cfg.with_(wechat_api_base="http://127.0.0.1:9/cgi-bin/", api_timeout=0.5, notify_backoff_seconds=60)
    add_followers(session, ["o-1", "o-2"], NOW)
    ann = announce(session)
    run(session_factory, down)
    got = rows(session, ann.id)
    assert {d.status for d in got.values()} == {DeliveryStatus.PENDING}
    assert all(d.attempts == 1 and d.sent_at is None and d.reason for d in got.values())
    session.refresh(ann)
    assert ann.status == "发送中"
    # WeChat is back and the backoff has passed: the next tick sends each exactly once
    clock.set_now(lambda: NOW + timedelta(minutes=2))
    run(session_factory, cfg)
    assert {d.status for d in rows(session, ann.id).values()} == {DeliveryStatus.SENT}
    assert successful_calls(fake) == {"o-1": 1, "o-2": 1}
    session.refresh(ann)
    assert ann.status == AnnouncementStatus.SENT


def test_retries_give_up_after_the_limit_and_report_the_reason(session, session_factory, cfg, fake):
    add_followers(session, ["o-1"], NOW)
    fake.inject("message/custom/send", errcode=-1, times=None)
    ann = announce(session)
    run(session_factory, cfg.with_(notify_max_attempts=3))
    d = rows(session, ann.id)["o-1"]
    assert (d.status, d.errcode, d.attempts) == (DeliveryStatus.FAILED, -1, 3)
    assert "重试" in d.reason


def test_mass_send_for_all_followers_in_chunks_with_clientmsgid(session, session_factory, cfg, fake, monkeypatch):
    monkeypatch.setattr(notify, "MASS_CHUNK", 4)
    add_followers(session, [f"o-{i:02d}" for i in range(10)], NOW, timedelta(days=4))
    ann = announce(session)
    run(session_factory, cfg.with_(wechat_mass_send_all=True))
    mass = fake.calls_to("message/mass/send")
    assert sorted(len(c.json["touser"]) for c in mass) == [3, 3, 4]  # balanced chunks of ≤ 4
    assert len({c.json["clientmsgid"] for c in mass}) == 3
    assert successful_calls(fake) == {f"o-{i:02d}": 1 for i in range(10)}
    assert {(d.status, d.channel) for d in rows(session, ann.id).values()} == {(DeliveryStatus.SENT, MASS)}


def test_mass_monthly_quota_sends_the_rest_per_user(session, session_factory, cfg, fake):
    add_followers(session, ["o-1", "o-2", "o-3"], NOW, timedelta(hours=1))
    mass_cfg = cfg.with_(wechat_mass_send_all=True, wechat_mass_monthly_limit=1)
    announce(session)
    run(session_factory, mass_cfg)
    second = announce(session, title="第二条")
    run(session_factory, mass_cfg)
    assert {d.channel for d in rows(session, second.id).values()} == {CS}
    assert len(fake.calls_to("message/mass/send")) == 1


def test_interrupted_mass_chunk_is_resent_with_the_same_clientmsgid(session, session_factory, cfg, fake):
    mass_cfg = cfg.with_(wechat_mass_send_all=True, notify_lease_seconds=30)
    add_followers(session, ["o-1", "o-2", "o-3"], NOW)
    ann = announce(session)
    notify.materialize_due(session_factory, mass_cfg, NOW)
    with session_factory() as s:  # a process claims the chunk, calls WeChat, and dies before recording it
        job = notify._claim_mass_chunk(s, NOW, 30, "dead-worker")
        s.commit()
    sender = sender_factory(mass_cfg, session_factory)()
    sender.mass_send_text(job.openids, "【春季活动通知】\n请各单位按时开展活动。", clientmsgid=job.batch)
    clock.set_now(lambda: NOW + timedelta(minutes=1))
    run(session_factory, mass_cfg)
    assert {d.status for d in rows(session, ann.id).values()} == {DeliveryStatus.SENT}
    mass = fake.calls_to("message/mass/send")
    assert len(mass) == 2 and mass[1].errcode == 45065  # WeChat de-duplicated the resend
    assert successful_calls(fake) == {"o-1": 1, "o-2": 1, "o-3": 1}


def test_interrupted_customer_service_claims_become_unknown_not_resent(session, session_factory, cfg, fake):
    add_followers(session, ["o-1", "o-2"], NOW)
    ann = announce(session)
    notify.materialize_due(session_factory, cfg, NOW)
    with session_factory() as s:  # which of the two equally due rows a claim takes first is the database's choice
        [job] = notify._claim_user_rows(s, 1, NOW, 30, "dead-worker")
        s.commit()
    [dead] = job.openids
    [alive] = {"o-1", "o-2"} - {dead}
    clock.set_now(lambda: NOW + timedelta(minutes=1))
    run(session_factory, cfg)
    got = rows(session, ann.id)
    assert (got[dead].status, got[alive].status) == (DeliveryStatus.UNKNOWN, DeliveryStatus.SENT)
    assert "不自动重发" in got[dead].reason
    assert successful_calls(fake) == {alive: 1}
    session.refresh(ann)
    assert ann.status == AnnouncementStatus.PARTIAL


def test_two_workers_never_send_the_same_row(session, session_factory, cfg, fake):
    fake.latency = 0.01
    openids = [f"o-{i:03d}" for i in range(120)]
    add_followers(session, openids, NOW)
    ann = announce(session)
    notify.materialize_due(session_factory, cfg, NOW)
    factory = sender_factory(cfg, session_factory)
    workers = [threading.Thread(target=notify.deliver_pending, args=(session_factory, cfg, factory)) for _ in range(3)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert successful_calls(fake) == {o: 1 for o in openids}
    assert len(fake.calls_to("message/custom/send")) == 120
    assert {d.status for d in rows(session, ann.id).values()} == {DeliveryStatus.SENT}


def test_cancel_stops_pending_deliveries(session, session_factory, cfg, fake):
    add_followers(session, ["o-1", "o-2"], NOW)
    ann = announce(session)
    notify.materialize_due(session_factory, cfg, NOW)
    announcements.cancel(session, ann.id, NOW)
    session.commit()
    run(session_factory, cfg)
    assert fake.calls_to("message/custom/send") == []
    assert {d.status for d in rows(session, ann.id).values()} == {DeliveryStatus.SKIPPED}
    session.refresh(ann)
    assert ann.status == AnnouncementStatus.CANCELLED


def test_recurring_announcement_is_rescheduled_after_each_occurrence(session, session_factory, cfg, fake):
    add_followers(session, ["o-1"], NOW)
    ann = announce(session, recurrence="每周一 9:00", send_at="2025-03-10T09:00:00")
    assert announcements.utc(ann.next_run_at) == datetime(2025, 3, 10, 9, 0, tzinfo=TZ)
    clock.set_now(lambda: datetime(2025, 3, 10, 9, 0, 5, tzinfo=TZ))
    run(session_factory, cfg)
    session.refresh(ann)
    assert (ann.status, ann.occurrence) == (AnnouncementStatus.SCHEDULED, 1)
    assert clock.local(ann.next_run_at) == datetime(2025, 3, 17, 9, 0, tzinfo=TZ)
    clock.set_now(lambda: datetime(2025, 3, 17, 9, 1, tzinfo=TZ))
    add_followers(session, [], NOW)
    run(session_factory, cfg)
    assert sorted(d.occurrence for d in session.scalars(select(Delivery))) == [1, 2]
    assert len(fake.calls_to("message/custom/send")) + len(fake.calls_to("message/template/send")) == 2


def test_templatesendjobfinish_records_whether_the_template_reached_the_user(session, session_factory, cfg, fake,
                                                                            client):
    """WeChat's report on a template message arrives as an event at /wechat; it lands on the delivery row."""
    from tests.wechat_xml import WeChatUser

    add_followers(session, ["o-got", "o-blocked", "o-other"], NOW, timedelta(days=3))  # outside the window
    ann = announce(session)
    run(session_factory, cfg)
    got = rows(session, ann.id)
    assert {(d.status, d.channel) for d in got.values()} == {(DeliveryStatus.SENT, TEMPLATE)}
    msgids = {openid: d.batch.removeprefix(notify.TEMPLATE_BATCH) for openid, d in got.items()}
    assert all(d.batch.startswith(notify.TEMPLATE_BATCH) and msgids[o].isdigit() for o, d in got.items())

    events = {"o-got": "success", "o-blocked": "failed:user block", "o-other": "failed: system failed"}
    for openid, status in events.items():
        user = WeChatUser(client, cfg, openid=openid)
        assert user.post(user.fields("event", Event="TEMPLATESENDJOBFINISH", MsgID=msgids[openid],
                                     Status=status)).status_code == 200
    stranger = WeChatUser(client, cfg, openid="o-got")  # a msgid that is not ours changes nothing
    stranger.post(
        stranger.fields("event", Event="TEMPLATESENDJOBFINISH", MsgID="999999999", Status="failed:user block")
    )
    got = rows(session, ann.id)
    assert got["o-got"].status == DeliveryStatus.SENT and "用户已收到" in got["o-got"].reason
    assert got["o-blocked"].status == DeliveryStatus.FAILED and "拒收" in got["o-blocked"].reason
    assert got["o-other"].status == DeliveryStatus.FAILED and "system failed" in got["o-other"].reason


# ---- the honest preview: the planner's own decision, counted, nothing written ----------------------------------

def _mixed_audience(session):
    """Two within the 48 h window (one of them with its 5 messages used up), one outside it, one who never wrote,
    one unfollowed, one who sent 退订 and one openid we never saw."""
    add_followers(session, ["o-recent", "o-used-up"], NOW, timedelta(hours=2))
    add_followers(session, ["o-old"], NOW, timedelta(days=3))
    add_followers(session, ["o-never"], NOW, None)
    add_followers(session, ["o-gone"], NOW, timedelta(hours=1), subscribed=False)
    add_followers(session, ["o-optout"], NOW, timedelta(hours=1))
    session.add(NoticeOptOut(openid="o-optout"))
    session.add(ServiceWindow(openid="o-used-up", window_start=NOW - timedelta(hours=2), used=notify.CS_QUOTA))
    session.commit()
    return {"type": "openids", "openids": ["o-recent", "o-used-up", "o-old", "o-never", "o-gone", "o-optout",
                                           "o-stranger"]}


def _planned(session, ann_id):
    got = rows(session, ann_id).values()
    channels = {c: sum(1 for d in got if d.channel == c and d.status == DeliveryStatus.PENDING)
                for c in (MASS, CS, TEMPLATE)}
    return channels, sum(1 for d in got if d.status == DeliveryStatus.FAILED)


@pytest.mark.parametrize("template_id", ["TPL-1", ""])
def test_reach_counts_what_the_planner_will_do_and_writes_nothing(session, cfg, template_id):
    settings = cfg.with_(wechat_template_id=template_id)
    audience = _mixed_audience(session)

    preview = notify.reach(session, settings, audience, NOW)
    assert session.scalar(select(Delivery.id)) is None  # nothing planned
    assert session.get(ServiceWindow, "o-recent") is None  # no window quota taken
    assert session.get(ServiceWindow, "o-used-up").used == notify.CS_QUOTA

    reached_by_template = 3 if template_id else 0  # o-used-up, o-old, o-never
    assert preview["channels"] == {MASS: 0, CS: 1, TEMPLATE: reached_by_template}
    assert preview["reachable"] == 1 + reached_by_template and preview["audience"] == 7
    assert preview["skipped"] == {"unfollowed": 2, "opted_out": 1, "no_channel": 3 - reached_by_template}
    if template_id:
        assert preview["warning"] == ""
    else:
        assert "未配置模板消息" in preview["warning"] and "3 位收件人" in preview["warning"]
    session.rollback()

    # the planner, run on the same rows, does exactly what the preview said
    ann = announce(session, audience=audience)
    notify.plan(session, settings, ann, 1, NOW)
    session.flush()
    assert _planned(session, ann.id) == (preview["channels"], preview["skipped"]["no_channel"])


def test_reach_counts_mass_sends_for_all_followers(session, cfg):
    add_followers(session, ["o-a", "o-b", "o-c"], NOW, timedelta(days=3))
    add_followers(session, ["o-optout"], NOW, None)
    session.add(NoticeOptOut(openid="o-optout"))
    session.commit()
    mass_cfg = cfg.with_(wechat_mass_send_all=True, wechat_template_id="")
    preview = notify.reach(session, mass_cfg, {"type": "all"}, NOW)
    assert preview["channels"] == {MASS: 3, CS: 0, TEMPLATE: 0}
    assert preview["skipped"] == {"unfollowed": 0, "opted_out": 1, "no_channel": 0} and preview["warning"] == ""
    # without mass send and without a template, nobody outside the window is reachable
    preview = notify.reach(session, cfg.with_(wechat_template_id=""), {"type": "all"}, NOW)
    assert preview["reachable"] == 0 and preview["skipped"]["no_channel"] == 3 and preview["warning"]
