"""Residents' messages, the delivery side: receipts unique under concurrency, the working-day service level, and a
staff reply reaching the resident exactly once — customer-service message inside the 48-hour window, the passive
reply to their next message outside it, a template message when one is configured — against the fake WeChat API."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from models.conversation import ConversationDraft
from models.message import EntryKind, ReplyDelivery, ResidentThread, ThreadEntry, ThreadStatus
from service.core import clock
from service.core.clock import TZ
from service.core.db import make_engine, make_session_factory, session_scope
from service.core.errors import InvalidInput
from service.messages import replies, sla, threads
from service.notices import delivery as notify
from service.wechat import inbox
from tests.notice_helpers import add_followers

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=TZ)  # a Wednesday
OPENID = "o_test_user"  # the `wechat` fixture's resident


@pytest.fixture
def pinned():
    current = {"now": NOW}
    clock.set_now(lambda: current["now"])
    return current


def custom_sends(fake, openid: str = OPENID) -> list:
    return [c for c in fake.calls_to("message/custom/send") if (c.json or {}).get("touser") == openid]


def new_thread(factory, openid: str = OPENID, text: str = "孩子转学需要哪些材料？", messaged_ago=timedelta(hours=1)):
    with session_scope(factory) as s:
        if messaged_ago is not False:
            add_followers(s, [openid], clock.now(), messaged_ago)
        thread = threads.open_thread(s, openid=openid, text=text, category="consult", now=clock.now())
        return thread.id, thread.receipt


def reply(factory, thread_id: int, text: str = "请携带户口本和学籍证明到街道办理。") -> int:
    with session_scope(factory) as s:
        return replies.post_reply(s, s.get(ResidentThread, thread_id), author_id=None, text=text).id


def entry(factory, entry_id: int) -> ThreadEntry:
    with session_scope(factory) as s:
        row = s.get(ThreadEntry, entry_id)
        s.expunge(row)
        return row


def deliver(factory, settings, client, entry_id: int) -> str:
    return replies.deliver_reply(entry_id, session_factory=factory, settings=settings, sender=client)


# ---- receipts and service levels -------------------------------------------------------------------------------

def test_receipts_count_per_day_in_shanghai_time(session_factory, pinned):
    assert new_thread(session_factory, "o-a")[1] == "LY202612020001"
    assert new_thread(session_factory, "o-b")[1] == "LY202612020002"
    pinned["now"] = datetime(2026, 12, 2, 16, 30, tzinfo=TZ).astimezone(TZ) + timedelta(hours=8)  # 00:30 next day
    assert new_thread(session_factory, "o-c")[1] == "LY202612030001"


def test_receipts_are_unique_when_residents_write_at_once(database_url, session_factory):
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    receipts: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def write(n: int) -> None:
        try:
            start.wait()
            for i in range(5):
                with session_scope(factory) as s:
                    receipts.append(threads.open_thread(s, openid=f"o-{n}", text=f"留言 {n}-{i}",
                                                        category="help").receipt)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    engine.dispose()
    assert not errors
    assert len(receipts) == 40 and len(set(receipts)) == 40
    assert sorted(int(r[-4:]) for r in receipts) == list(range(1, 41))


@pytest.mark.parametrize("start, hours, due", [
    (datetime(2026, 12, 2, 10, 0), 48, datetime(2026, 12, 4, 10, 0)),  # Wed → Fri
    (datetime(2026, 12, 4, 10, 0), 48, datetime(2026, 12, 8, 10, 0)),  # Fri → Tue: the weekend does not count
    (datetime(2026, 12, 5, 10, 0), 48, datetime(2026, 12, 9, 0, 0)),  # Sat: the clock starts on Monday
    (datetime(2026, 12, 4, 23, 0), 2, datetime(2026, 12, 7, 1, 0)),
])
def test_the_service_level_counts_working_days_only(start, hours, due):
    assert sla.due_at(start.replace(tzinfo=TZ), hours) == due.replace(tzinfo=TZ)


def test_open_thread_checks_every_field_and_sets_the_due_time(session_factory, pinned):
    with session_scope(session_factory) as s:
        for kwargs, field in (({"text": "  "}, "text"), ({"text": "字" * 1001}, "text"),
                              ({"photos": ["a", "b", "c", "d"]}, "photos"), ({"category": "x"}, "category"),
                              ({"phone": "12345"}, "phone")):
            with pytest.raises(InvalidInput) as caught:
                threads.open_thread(s, **{"openid": "o-a", "text": "问题", "category": "help", **kwargs})
            assert caught.value.field == field
        thread = threads.open_thread(s, openid="o-a", text="字" * 1000, category="complaint", phone="0851 8681 2345",
                                     sla_hours=48)
        assert thread.phone == "0851-86812345" and thread.status == ThreadStatus.OPEN
        assert clock.local(thread.due_at) == datetime(2026, 12, 4, 10, 0, tzinfo=TZ)
        assert [e.kind for e in thread.entries] == [EntryKind.RESIDENT]


def test_a_resident_reaches_only_their_own_threads(session_factory, pinned):
    mine, receipt = new_thread(session_factory, "o-mine")
    theirs, their_receipt = new_thread(session_factory, "o-other")
    with session_scope(session_factory) as s:
        assert threads.thread_of(s, "o-mine", receipt).id == mine
        assert threads.thread_of(s, "o-mine", receipt.lower()).id == mine
        assert threads.thread_of(s, "o-mine", "1").id == mine
        assert threads.thread_of(s, "o-mine", their_receipt) is None
        assert threads.thread_of(s, "o-mine", theirs) is None
        assert threads.thread_of(s, "o-mine", "2") is None


# ---- delivery ---------------------------------------------------------------------------------------------------

def test_inside_the_window_the_reply_goes_out_once_as_a_customer_service_message(
        session_factory, settings, fake_wechat, wechat_client, pinned):
    thread_id, receipt = new_thread(session_factory)
    entry_id = reply(session_factory, thread_id)
    assert deliver(session_factory, settings, wechat_client, entry_id) == ReplyDelivery.SENT
    assert deliver(session_factory, settings, wechat_client, entry_id) == ReplyDelivery.SENT  # a second click
    replies.deliver_pending_replies(session_factory, settings, lambda: wechat_client)
    sent = custom_sends(fake_wechat)
    assert len(sent) == 1
    content = sent[0].json["text"]["content"]
    assert content.startswith(f"【留言 {receipt} 的回复】") and "户口本" in content
    row = entry(session_factory, entry_id)
    assert row.channel == "cs" and row.delivered_at is not None and row.attempts == 1
    with session_scope(session_factory) as s:
        thread = s.get(ResidentThread, thread_id)
        assert thread.status == ThreadStatus.REPLIED and thread.first_response_at is not None


def test_two_senders_racing_send_one_message(session_factory, settings, fake_wechat, wechat_client, pinned):
    thread_id, _ = new_thread(session_factory)
    entry_id = reply(session_factory, thread_id)
    results: list[str] = []
    go = threading.Barrier(4)

    def send() -> None:
        go.wait()
        results.append(deliver(session_factory, settings, wechat_client, entry_id))

    workers = [threading.Thread(target=send) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(custom_sends(fake_wechat)) == 1
    assert entry(session_factory, entry_id).delivery == ReplyDelivery.SENT


def test_the_window_quota_is_shared_with_announcements(session_factory, settings, fake_wechat, wechat_client,
                                                        pinned):
    thread_id, _ = new_thread(session_factory)
    ids = [reply(session_factory, thread_id, f"第{i}条回复") for i in range(6)]
    states = [deliver(session_factory, settings, wechat_client, i) for i in ids]
    assert states == [ReplyDelivery.SENT] * 5 + [ReplyDelivery.WAITING]  # 5 per window (notices' bookkeeping)
    assert len(custom_sends(fake_wechat)) == 5


def test_outside_the_window_the_reply_comes_with_the_residents_next_message(
        session_factory, settings, fake_wechat, wechat_client, wechat, pinned):
    thread_id, receipt = new_thread(session_factory, messaged_ago=timedelta(days=3))
    entry_id = reply(session_factory, thread_id)
    assert deliver(session_factory, settings, wechat_client, entry_id) == ReplyDelivery.WAITING
    assert custom_sends(fake_wechat) == []
    clock.set_now(None)  # the resident writes now: a real signed message through /wechat
    answer = wechat.send_text("帮助")  # a menu word: without the waiting reply it would take the fast path
    assert answer.startswith(f"【留言 {receipt} 的回复】\n请携带户口本")
    assert "回复数字" in answer or "1." in answer  # the bot's own answer follows
    assert len(answer.encode()) <= 2048
    row = entry(session_factory, entry_id)
    assert row.delivery == ReplyDelivery.PASSIVE and row.channel == "passive"
    again = wechat.send_text("帮助")
    assert "的回复】" not in again  # exactly once
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(ConversationDraft)
                        .where(ConversationDraft.flow == replies.WAITING_FLOW)) == 0
    assert custom_sends(fake_wechat) == []


def test_a_retry_of_the_message_that_carried_the_reply_replays_it_without_sending_twice(
        session_factory, settings, fake_wechat, wechat_client, wechat, pinned):
    thread_id, receipt = new_thread(session_factory, messaged_ago=None)
    entry_id = reply(session_factory, thread_id)
    deliver(session_factory, settings, wechat_client, entry_id)
    clock.set_now(None)
    fields = wechat.fields("text", Content="你好")
    first = wechat.reply(fields)
    assert receipt in first and wechat.reply(fields) == first  # WeChat's retry: the stored reply again
    assert "的回复】" not in wechat.send_text("你好")


def test_with_a_template_configured_the_reply_goes_out_as_a_template_message(
        session_factory, settings, fake_wechat, wechat_client, pinned):
    cfg = settings.with_(message_reply_template_id="tpl-reply")
    thread_id, receipt = new_thread(session_factory, messaged_ago=timedelta(days=3))
    entry_id = reply(session_factory, thread_id)
    assert deliver(session_factory, cfg, wechat_client, entry_id) == ReplyDelivery.SENT
    [call] = fake_wechat.calls_to("message/template/send")
    assert call.json["template_id"] == "tpl-reply" and call.json["data"]["thing1"]["value"] == f"留言{receipt}"
    assert all(len(v["value"]) <= 20 for v in call.json["data"].values())
    assert entry(session_factory, entry_id).channel == "template"


def test_a_closed_window_found_by_wechat_waits_for_the_residents_next_message(
        session_factory, settings, fake_wechat, wechat_client, pinned):
    thread_id, _ = new_thread(session_factory)
    entry_id = reply(session_factory, thread_id)
    fake_wechat.inject("message/custom/send", errcode=45047)
    assert deliver(session_factory, settings, wechat_client, entry_id) == ReplyDelivery.WAITING
    assert "45047" in entry(session_factory, entry_id).delivery_error
    second = reply(session_factory, thread_id)  # the window is known to be used up now: no call at all
    assert deliver(session_factory, settings, wechat_client, second) == ReplyDelivery.WAITING
    assert len(fake_wechat.calls_to("message/custom/send")) == 1


def test_a_closed_window_falls_back_to_the_template_at_once(session_factory, settings, fake_wechat, wechat_client,
                                                             pinned):
    cfg = settings.with_(message_reply_template_id="tpl-reply")
    thread_id, _ = new_thread(session_factory)
    entry_id = reply(session_factory, thread_id)
    fake_wechat.inject("message/custom/send", errcode=45015)
    assert deliver(session_factory, cfg, wechat_client, entry_id) == ReplyDelivery.SENT
    assert len(fake_wechat.calls_to("message/template/send")) == 1
    assert entry(session_factory, entry_id).channel == "template"


def test_an_unknown_outcome_is_never_sent_again(session_factory, settings, fake_wechat, wechat_client, pinned):
    slow = settings.with_(api_timeout=0.5)
    from service.wechat_api.client import make_client
    from service.wechat_api.token_store import make_token_store

    client = make_client(slow, make_token_store(slow, session_factory))
    thread_id, _ = new_thread(session_factory)
    entry_id = reply(session_factory, thread_id)
    fake_wechat.inject("message/custom/send", latency=1.5)
    assert deliver(session_factory, slow, client, entry_id) == ReplyDelivery.UNKNOWN
    pinned["now"] = NOW + timedelta(hours=1)
    replies.deliver_pending_replies(session_factory, slow, lambda: client)
    assert deliver(session_factory, slow, client, entry_id) == ReplyDelivery.UNKNOWN
    assert len(fake_wechat.calls_to("message/custom/send")) == 1
    assert "可能已送达" in entry(session_factory, entry_id).delivery_error


def test_a_refusal_is_failed_with_the_reason(session_factory, settings, fake_wechat, wechat_client, pinned):
    thread_id, _ = new_thread(session_factory, "o-gone")
    entry_id = reply(session_factory, thread_id)
    fake_wechat.fail_openid("o-gone", 43004)
    assert deliver(session_factory, settings, wechat_client, entry_id) == ReplyDelivery.FAILED
    assert entry(session_factory, entry_id).delivery_error == "未关注或已取消关注"
    other_id, _ = new_thread(session_factory, "o-bad")
    bad = reply(session_factory, other_id)
    fake_wechat.fail_openid("o-bad", 40003)
    assert deliver(session_factory, settings, wechat_client, bad) == ReplyDelivery.FAILED
    assert entry(session_factory, bad).delivery_error.startswith("40003")


def test_a_busy_wechat_is_retried_by_the_scheduler_after_the_backoff(session_factory, settings, fake_wechat,
                                                                     wechat_client, pinned):
    thread_id, _ = new_thread(session_factory)
    entry_id = reply(session_factory, thread_id)
    fake_wechat.inject("message/custom/send", errcode=-1)
    assert deliver(session_factory, settings, wechat_client, entry_id) == ReplyDelivery.PENDING
    assert replies.deliver_pending_replies(session_factory, settings, lambda: wechat_client) == {}  # not yet due
    pinned["now"] = NOW + timedelta(minutes=1)
    assert replies.deliver_pending_replies(session_factory, settings, lambda: wechat_client) == {"sent": 1}
    assert len([c for c in custom_sends(fake_wechat)]) == 2  # the refused try and the one that went through
    assert entry(session_factory, entry_id).attempts == 2


def test_a_sender_that_died_mid_call_leaves_the_reply_unknown(session_factory, settings, fake_wechat,
                                                              wechat_client, pinned):
    thread_id, _ = new_thread(session_factory)
    entry_id = reply(session_factory, thread_id)
    with session_scope(session_factory) as s:  # claimed, then the process was killed before any answer
        assert replies._claim(s, entry_id, NOW, settings.notify_lease_seconds)
    pinned["now"] = NOW + timedelta(seconds=settings.notify_lease_seconds + 1)
    replies.deliver_pending_replies(session_factory, settings, lambda: wechat_client)
    assert entry(session_factory, entry_id).delivery == ReplyDelivery.UNKNOWN
    assert custom_sends(fake_wechat) == []


def test_the_rating_is_asked_once(session_factory, settings, fake_wechat, wechat_client, pinned):
    thread_id, receipt = new_thread(session_factory)
    with session_scope(session_factory) as s:
        thread = s.get(ResidentThread, thread_id)
        question = replies.request_rating(s, thread)
        assert replies.request_rating(s, thread) is None
        question_id = question.id
    assert deliver(session_factory, settings, wechat_client, question_id) == ReplyDelivery.SENT
    [sent] = custom_sends(fake_wechat)
    assert sent.json["text"]["content"].startswith(f"【留言 {receipt} 已办结】") and "1 满意" in sent.json["text"]["content"]
    with session_scope(session_factory) as s:
        assert s.get(ConversationDraft, (OPENID, replies.RATING_FLOW)).data == {"thread": thread_id}


def test_the_message_log_purge_keeps_threads(session_factory, pinned):
    thread_id, _ = new_thread(session_factory)
    list(inbox.trim_batches(session_factory, NOW + timedelta(days=400)))
    with session_scope(session_factory) as s:
        assert s.get(ResidentThread, thread_id) is not None
        assert s.scalar(select(func.count()).select_from(ThreadEntry)) == 1


def test_the_window_reservation_is_the_notices_one(session_factory, pinned):
    with session_scope(session_factory) as s:
        add_followers(s, ["o-w"], NOW, timedelta(hours=47))
        assert all(notify.reserve_cs_slot(s, "o-w", NOW) for _ in range(5))
        assert not notify.reserve_cs_slot(s, "o-w", NOW)
        add_followers(s, ["o-old"], NOW, timedelta(hours=49))
        assert not notify.reserve_cs_slot(s, "o-old", NOW)


def test_the_scheduler_job_sends_what_the_console_left_pending(session_factory, settings, fake_wechat, pinned):
    from scheduler import jobs

    jobs.configure(settings, session_factory)
    thread_id, _ = new_thread(session_factory)
    entry_id = reply(session_factory, thread_id)
    assert jobs.deliver_replies() == {"sent": 1}
    assert jobs.deliver_replies() == {}
    assert len(custom_sends(fake_wechat)) == 1
    assert entry(session_factory, entry_id).delivery == ReplyDelivery.SENT


def test_the_weekly_digest_counts_unanswered_and_overdue_messages(session_factory, settings, fake_wechat, pinned):
    from scheduler import jobs

    jobs.configure(settings.with_(admin_openids=("o-admin",)), session_factory)
    new_thread(session_factory, "o-late")  # Wednesday 10:00: due Friday 10:00
    answered, _ = new_thread(session_factory, "o-answered")
    reply(session_factory, answered)
    pinned["now"] = datetime(2026, 12, 7, 8, 30, tzinfo=TZ)  # the next Monday
    new_thread(session_factory, "o-new", messaged_ago=False)
    with session_scope(session_factory) as s:
        add_followers(s, ["o-admin"], clock.now())
        assert sla.open_and_overdue(s, clock.now()) == (2, 1)
        assert s.scalar(select(func.count()).select_from(ResidentThread).where(sla.overdue(clock.now()))) == 1
    assert jobs.weekly_digest() is not None
    jobs.deliver_announcements()
    [digest] = [c for c in custom_sends(fake_wechat, "o-admin")]
    assert "居民留言未答复 2 条，其中超时 1 条" in digest.json["text"]["content"]


def test_wechats_later_word_on_a_template_reply_lands_on_the_thread(
        session_factory, settings, fake_wechat, wechat_client, wechat, pinned):
    """A template WeChat accepted may still not arrive (the resident blocked it): TEMPLATESENDJOBFINISH, sent to
    /wechat, turns that reply to failed with the reason; a success only notes it; another resident's event or an
    unknown msgid changes nothing."""
    cfg = settings.with_(message_reply_template_id="tpl-reply")
    thread_id, _ = new_thread(session_factory, messaged_ago=timedelta(days=3))
    blocked, received = reply(session_factory, thread_id), reply(session_factory, thread_id, "第二条回复")
    for entry_id in (blocked, received):
        assert deliver(session_factory, cfg, wechat_client, entry_id) == ReplyDelivery.SENT
    msgids = {entry_id: entry(session_factory, entry_id).platform_id for entry_id in (blocked, received)}
    assert all(msgids.values()) and len(set(msgids.values())) == 2
    clock.set_now(None)

    sent_at = iter(range(int(datetime.now().timestamp()) - 60, 10**10))  # events are told apart by CreateTime

    def finished(msgid: str, status: str, user=wechat) -> None:
        assert user.post(user.fields("event", Event="TEMPLATESENDJOBFINISH", MsgID=msgid, Status=status,
                                     CreateTime=next(sent_at))).status_code == 200

    from tests.wechat_xml import WeChatUser

    finished(msgids[blocked], "failed:user block", WeChatUser(wechat.client, wechat.settings, openid="o-someone"))
    finished("123456789", "failed:user block")
    assert entry(session_factory, blocked).delivery == ReplyDelivery.SENT  # neither was about this reply
    finished(msgids[blocked], "failed:user block")
    finished(msgids[received], "success")
    gone, arrived = entry(session_factory, blocked), entry(session_factory, received)
    assert gone.delivery == ReplyDelivery.FAILED and "拒收" in gone.delivery_error
    assert arrived.delivery == ReplyDelivery.SENT and "已收到" in arrived.delivery_error
