"""The report chat routes against a real database: binding, the whole conversation, quick report, restart,
expiry and 继续, concurrent messages, my reports, the photo download job."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.report import ActivityReport, ReportPhoto
from models.staff import BindingAttempt, Staff
from service.core import clock
from service.chat import conversation, flows
from service.reporting import media, chat as report_chat, reports, units
from service.chat.contract import ChatContext, Inbound
from service.core.errors import WeChatAPIError
from service.core.db import make_engine, make_session_factory, serialized_writes, session_scope
from service.reporting import texts as report_texts
from tests.factories import make_staff, make_unit

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=clock.TZ)
CONTENT = "邀请宣讲员开展民族团结进步专题讲座，居民积极互动。"


class Phone:
    """One WeChat user talking to the report routes; every message is its own transaction, like a request.

    `send` routes the way the router does for this feature: a live report draft gets every inbound first;
    otherwise the given entry point (start, bind...) is called.
    """

    def __init__(self, factory, settings, openid: str = "staff-openid"):
        self.factory, self.settings, self.openid = factory, settings, openid

    def _ctx(self, session, inbound: Inbound) -> ChatContext:
        return ChatContext(session, self.settings, clock.now(), inbound)

    def call(self, route, *args, inbound: Inbound | None = None):
        with session_scope(self.factory) as s:
            return route(self._ctx(s, inbound or self.text("")), *args)

    def text(self, content: str) -> Inbound:
        return Inbound(openid=self.openid, kind="text", content=content)

    def image(self, media_id: str) -> Inbound:
        return Inbound(openid=self.openid, kind="image", media_id=media_id, pic_url=f"http://mmbiz.qpic.cn/{media_id}")

    def send(self, message: str | Inbound):
        """One turn as the gateway's general path runs it: behind the SQLite writer gate (a no-op on PostgreSQL,
        where the drafts' row locks and the version check keep two turns of one user apart)."""
        inbound = self.text(message) if isinstance(message, str) else message
        with serialized_writes(self.factory.kw["bind"]), session_scope(self.factory) as s:
            ctx = self._ctx(s, inbound)
            draft = conversation.load(s, self.openid, ctx.now, flow=report_chat.FLOW)
            if draft is None:
                return "<no live draft>"
            turn = flows.take_turn(ctx, report_chat.REPORT_FLOW, draft)
            return turn.reply if turn.taken else None

    def draft(self):
        with session_scope(self.factory) as s:
            return conversation.load(s, self.openid, clock.now(), flow=report_chat.FLOW, include_expired=True)


@pytest.fixture
def pinned():
    current = {"now": NOW}
    clock.set_now(lambda: current["now"])
    return current


@pytest.fixture
def phone(session_factory, settings, pinned):
    with session_scope(session_factory) as s:
        make_staff(s, make_unit(s, "天山区某社区", "社区"), openid="staff-openid", now=NOW)
    return Phone(session_factory, settings)


def count(factory, model) -> int:
    with session_scope(factory) as s:
        return s.scalar(select(func.count()).select_from(model))


# --- binding -------------------------------------------------------------------------------------------------

def test_bind_replies(session_factory, settings, pinned):
    with session_scope(session_factory) as s:
        staff = make_staff(s, make_unit(s, "某公司", "企业"), name="赵书记")
        code = units.issue_binding_code(s, staff.id, NOW)
    user = Phone(session_factory, settings, "new-user")
    assert user.call(report_chat.start).startswith("您还没有绑定")
    assert user.call(report_chat.bind, "") == report_chat.texts.BIND_USAGE
    assert "绑定码不正确" in user.call(report_chat.bind, "NOPE1234")
    assert "绑定成功" in user.call(report_chat.bind, f" {code} ") and "赵书记（某公司）" in user.call(report_chat.bind_help)
    assert "已经用过" in Phone(session_factory, settings, "other").call(report_chat.bind, code)
    assert "开始上报" in user.call(report_chat.start)


def test_bind_abuse_is_locked_for_an_hour(session_factory, settings, pinned):
    with session_scope(session_factory) as s:
        code = units.issue_binding_code(s, make_staff(s).id, NOW)
    guesser = Phone(session_factory, settings, "guesser")
    for i in range(5):
        assert "绑定码不正确" in guesser.call(report_chat.bind, f"GUESS{i:03d}")
    assert "一小时后再试" in guesser.call(report_chat.bind, code)
    assert count(session_factory, BindingAttempt) == 5  # refused tries do not extend the lock
    pinned["now"] = NOW + timedelta(hours=1, minutes=1)
    assert "绑定成功" in guesser.call(report_chat.bind, code)


def test_expired_code_reply(session_factory, settings, pinned):
    with session_scope(session_factory) as s:
        code = units.issue_binding_code(s, make_staff(s).id, NOW)
    pinned["now"] = NOW + timedelta(days=7, seconds=1)
    assert "已过期" in Phone(session_factory, settings, "late").call(report_chat.bind, code)


# --- the whole conversation ----------------------------------------------------------------------------------

def test_full_conversation_with_photos(phone, session_factory):
    reply = phone.call(report_chat.start)
    assert "天山区某社区" in reply and "【1/8 类别】" in reply
    assert "【2/8 活动类型】" in phone.send("跳过")
    assert "【3/8 主题】" in phone.send("3")
    assert "【4/8 日期】" in phone.send("民族团结知识讲座")
    assert "活动日期不能晚于今天" in phone.send("明天")
    assert "【5/8 地点】" in phone.send("昨天")
    loc = Inbound(openid=phone.openid, kind="location", latitude=43.8, longitude=87.6, label="文化广场")
    assert "【6/8 参与人数】" in phone.send(loc)
    assert "【7/8 内容】" in phone.send("三十五人")
    assert "10–1000" in phone.send("太短")
    assert "【8/8 照片】" in phone.send(CONTENT)
    assert phone.send(Inbound(openid=phone.openid, kind="event", event="pic_photo_or_album")) == "正在接收照片……"
    assert "第1张" in phone.send(phone.image("media-1"))
    assert "第2张" in phone.send(phone.image("media-2"))
    with session_scope(session_factory) as s:  # stored at once, before the report exists
        assert [(p.media_id, p.report_id) for p in s.scalars(select(ReportPhoto).order_by(ReportPhoto.id))] == [
            ("media-1", None), ("media-2", None)]
    summary = phone.send("完成")
    assert "5. 地点：文化广场" in summary and "8. 照片：2张" in summary
    assert count(session_factory, ActivityReport) == 0  # nothing stored before 确认
    reply = phone.send("确认")
    assert "QJ202611270001" in reply and "待审核" in reply
    assert phone.draft() is None
    with session_scope(session_factory) as s:
        report = s.scalars(select(ActivityReport)).one()
        assert (report.category, report.activity_type, report.title, str(report.activity_date), report.place,
                report.latitude, report.participants, report.content, report.status) == (
            "社区", "宣传教育", "民族团结知识讲座", "2026-11-26", "文化广场", 43.8, 35, CONTENT, "待审核")
        assert [p.media_id for p in report.photos] == ["media-1", "media-2"]
    mine = phone.call(report_chat.my_reports)
    assert "1. 11月26日 民族团结知识讲座【待审核】" in mine
    detail = phone.call(report_chat.detail, "1")
    assert "QJ202611270001" in detail and "照片：2张" in detail and "地点：文化广场" in detail
    assert phone.call(report_chat.detail, "QJ202611270001") == detail
    assert phone.call(report_chat.detail, "2") == report_chat.texts.DETAIL_NOT_FOUND
    assert phone.call(report_chat.detail, "") == report_chat.texts.DETAIL_USAGE


def test_cancel_drops_the_draft(phone, session_factory):
    phone.call(report_chat.start)
    phone.send("1")
    phone.send("1")
    assert "确认取消" in phone.send("取消")
    assert phone.draft().data["activity_type"] == "专题学习"
    assert "已取消" in phone.send("确认取消")
    assert phone.draft() is None and count(session_factory, ActivityReport) == 0


def test_pause_lets_other_commands_through_and_continue_resumes(phone, session_factory):
    phone.call(report_chat.start)
    phone.send("1")
    phone.send("1")
    assert "不会被当作填写内容" in phone.send("政策")
    assert phone.draft().step == "title" and "title" not in phone.draft().data
    assert "已暂停" in phone.send("暂停")
    assert phone.send("政策") is None  # paused: routed as usual (the policy menu)
    assert phone.send(phone.image("m9")) is None
    assert "确认取消" in phone.send("取消")  # a paused draft with content is not dropped without asking
    assert "继续填写" in phone.send("2")
    assert "已暂停" in phone.send("暂停")
    reply = phone.send("继续")
    assert "已恢复" in reply and "主题" in reply
    assert "paused" not in phone.draft().data
    assert "主题" in phone.send("民族团结知识讲座") or phone.draft().step == "date"
    assert phone.draft().data["title"] == "民族团结知识讲座"


def test_menu_click_during_the_flow_is_left_to_the_router(phone):
    phone.call(report_chat.start)
    click = Inbound(openid=phone.openid, kind="event", event="click", event_key="POLICY")
    assert phone.send(click) is None
    assert phone.draft().step == "category"


def test_quick_report(phone, session_factory):
    reply = phone.call(report_chat.quick_report, "进社区 研究部署 2026-11-20 民族团结知识讲座 35人")
    assert "已识别" in reply and "【5/8 地点】" in reply
    phone.send("社区活动室")
    phone.send(CONTENT)
    phone.send("跳过")
    assert "QJ" in phone.send("确认")
    with session_scope(session_factory) as s:
        report = s.scalars(select(ActivityReport)).one()
        assert (report.activity_type, report.participants, str(report.activity_date)) == ("研究部署", 35, "2026-11-20")


def test_my_reports_follow_the_staff_member_to_a_new_phone(phone, session_factory, settings):
    phone.call(report_chat.quick_report, "进社区 研究部署 2026-11-20 民族团结知识讲座 35人")
    for answer in ("社区活动室", CONTENT, "跳过"):
        phone.send(answer)
    receipt = phone.send("确认").split("QJ", 1)[1][:12]
    with session_scope(session_factory) as s:
        staff = s.scalars(select(Staff)).one()
        code = units.issue_binding_code(s, staff.id, NOW)
    new_phone = Phone(session_factory, settings, openid="staff-new-phone")
    assert "绑定成功" in new_phone.call(report_chat.bind, code)
    assert "民族团结知识讲座【待审核】" in new_phone.call(report_chat.my_reports)
    assert "社区活动室" in new_phone.call(report_chat.detail, f"QJ{receipt}")
    assert phone.call(report_chat.my_reports) == report_texts.MY_REPORTS_NOT_BOUND  # the old phone is no longer bound
    assert phone.call(report_chat.detail, f"QJ{receipt}") == report_texts.DETAIL_NOT_FOUND


def test_unbound_resident_asking_for_my_reports_is_told_how_to_bind(wechat):
    reply = wechat.send_text("我的上报")
    assert "还没有绑定" in reply and "绑定 绑定码" in reply and "区民族团结进步创建办公室" in reply
    assert "回复“上报”" not in reply


def test_quick_report_unbound(session_factory, settings, pinned):
    assert "没有绑定" in Phone(session_factory, settings, "stranger").call(report_chat.quick_report, "进社区 讲座")


def test_resume_after_restart(phone, settings):
    phone.call(report_chat.start)
    phone.send("2")
    phone.send("专题学习")
    # a 'restart': a new engine and new sessions on the same database
    engine = make_engine(settings.database_url)
    try:
        restarted = Phone(make_session_factory(engine), settings)
        assert "【3/8 主题】" in restarted.send("继续")
        restarted.send("民族团结知识讲座")
        assert restarted.draft().data["title"] == "民族团结知识讲座" and restarted.draft().data["category"] == "企业"
    finally:
        engine.dispose()


def test_draft_expires_after_two_hours_and_continue_resumes(phone, pinned):
    phone.call(report_chat.start)
    phone.send("1")
    pinned["now"] = NOW + timedelta(hours=1, minutes=59)
    assert "【3/8 主题】" in phone.send("专题学习")  # 1 h 59 idle: still live
    pinned["now"] += timedelta(hours=2, minutes=1)
    assert phone.send("民族团结知识讲座") == "<no live draft>"  # the router would route this elsewhere
    reply = phone.call(report_chat.resume)
    assert reply.startswith("已恢复") and "【3/8 主题】" in reply
    assert "【4/8 日期】" in phone.send("民族团结知识讲座")
    assert phone.draft().data["activity_type"] == "专题学习"


def test_continue_without_draft(phone):
    assert phone.call(report_chat.resume) == report_chat.texts.NOTHING_TO_RESUME


# --- concurrency ---------------------------------------------------------------------------------------------

def _at_photos(phone) -> None:
    phone.call(report_chat.quick_report, "进社区 研究部署 昨天 民族团结知识讲座 地点：文化广场 " + CONTENT + " 35人")
    assert phone.draft().step == "photos"


def _together(*calls) -> list:
    results: list = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(i, fn):
        barrier.wait()
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(calls)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return results


def test_two_photos_at_once_are_both_kept(phone, session_factory):
    _at_photos(phone)
    for round_ in range(4):
        _together(lambda r=round_: phone.send(phone.image(f"a{r}")), lambda r=round_: phone.send(phone.image(f"b{r}")))
    media_ids = sorted(p["media_id"] for p in phone.draft().data["photos"])
    assert media_ids == sorted([f"a{r}" for r in range(4)] + [f"b{r}" for r in range(4)])
    assert count(session_factory, ReportPhoto) == 8


def test_two_answers_at_once_never_corrupt_the_draft(phone):
    phone.call(report_chat.start)
    phone.send("1")
    phone.send("专题学习")
    _together(lambda: phone.send("民族团结知识讲座"), lambda: phone.send("今天"))
    draft = phone.draft()
    # one turn answered the title, the other was applied after it to the step then asked
    assert draft.data["title"] in ("民族团结知识讲座", "今天")
    assert draft.step in ("date", "place") and draft.data["activity_type"] == "专题学习"
    if draft.data["title"] == "民族团结知识讲座":
        assert draft.data["date"] == "2026-11-27" and draft.step == "place"


def test_double_confirm_submits_once(phone, session_factory):
    _at_photos(phone)
    phone.send("完成")
    replies = _together(lambda: phone.send("确认"), lambda: phone.send("确认"))
    assert count(session_factory, ActivityReport) == 1
    assert sum("回执编号" in (r or "") for r in replies) == 1


# --- review result and photos download -----------------------------------------------------------------------

def test_review_result_shows_in_my_reports(phone, session_factory):
    _at_photos(phone)
    phone.send("完成")
    phone.send("确认")
    with session_scope(session_factory) as s:
        report = s.scalars(select(ActivityReport)).one()
        reports.review(s, report.id, False, "admin", clock.now(), reason="请补充照片")
    assert "【已退回】" in phone.call(report_chat.my_reports)
    assert "退回原因：请补充照片" in phone.call(report_chat.detail, "1")


def test_photo_sent_outside_a_report_is_offered_at_the_next_photo_step(phone, session_factory, pinned):
    from service.wechat import router

    def outside(media_id):
        with session_scope(session_factory) as s:
            return router.route_media(ChatContext(s, phone.settings, clock.now(), phone.image(media_id)))

    assert "保留3天" in outside("early-1")
    pinned["now"] = NOW - timedelta(days=4)
    outside("too-old")
    pinned["now"] = NOW + timedelta(minutes=1)
    stranger = Phone(session_factory, phone.settings, openid="resident")
    with session_scope(session_factory) as s:  # a resident's picture is not kept
        reply = router.route_media(ChatContext(s, phone.settings, clock.now(), stranger.image("r1")))
    assert "保留" not in reply
    assert "保留3天" in outside("early-2")
    _at_photos_text = "邀请宣讲员开展民族团结进步专题讲座，居民积极互动。"
    phone.call(report_chat.start)
    for answer in ("1", "1", "民族团结知识讲座", "今天", "社区党群服务中心", "35"):
        phone.send(answer)
    reply = phone.send(_at_photos_text)
    assert "【8/8 照片】" in reply and "发过2张照片" in reply and "用照片" in reply
    assert "已附上2张" in phone.send("用照片")
    phone.send("完成")
    phone.send("确认")
    with session_scope(session_factory) as s:
        report = s.scalars(select(ActivityReport)).one()
        assert sorted(p.media_id for p in report.photos) == ["early-1", "early-2"]
    phone.call(report_chat.start)  # used photos are not offered again
    for answer in ("1", "1", "民族团结知识讲座", "今天", "社区党群服务中心", "35"):
        phone.send(answer)
    assert "发过" not in phone.send(_at_photos_text)


# --- fix and resubmit a rejected report ----------------------------------------------------------------------

def _submitted_and_rejected(phone, session_factory, reason="请补充照片") -> str:
    _at_photos(phone)
    phone.send(phone.image("m1"))
    phone.send("完成")
    phone.send("确认")
    with session_scope(session_factory) as s:
        report = s.scalars(select(ActivityReport)).one()
        reports.review(s, report.id, False, "admin", clock.now(), reason=reason)
        return report.receipt_no


def test_reopen_a_rejected_report_fix_it_and_resubmit(phone, session_factory, pinned):
    receipt = _submitted_and_rejected(phone, session_factory)
    assert "修改 1" in phone.call(report_chat.my_reports)
    assert f"修改 {receipt}" in phone.call(report_chat.detail, "1")
    reply = phone.call(report_chat.reopen, receipt.lower())
    assert receipt in reply and "退回原因：请补充照片" in reply and "重新提交" in reply
    assert phone.draft().step == "confirm"
    assert "照片" in phone.send("修改 8")
    phone.send(phone.image("m2"))
    assert "退回原因：请补充照片" in phone.send("完成")
    first_submitted = NOW
    pinned["now"] = NOW + timedelta(hours=1)
    reply = phone.send("确认")
    assert "已重新提交" in reply and receipt in reply and phone.draft() is None
    with session_scope(session_factory) as s:
        report = s.scalars(select(ActivityReport)).one()
        assert report.receipt_no == receipt and report.status == "待审核" and report.review_reason == ""
        assert report.submitted_at == pinned["now"]
        assert sorted(p.media_id for p in report.photos) == ["m1", "m2"]
        [revision] = report.revisions
        assert revision.number == 1 and revision.review_reason == "请补充照片" and revision.reviewed_by == "admin"
        assert revision.status == "已退回" and revision.submitted_at == first_submitted
        assert revision.fields["photos"] == ["m1"] and revision.fields["title"] == report.title
        reports.review(s, report.id, True, "admin", clock.now())
    assert "已重新提交1次，上次退回原因：请补充照片" in phone.call(report_chat.detail, "1")


def test_reopen_by_position_changes_fields_and_cancel_keeps_the_rejection(phone, session_factory):
    receipt = _submitted_and_rejected(phone, session_factory, reason="主题不准确")
    assert "主题不准确" in phone.call(report_chat.reopen, "1")
    assert "主题" in phone.send("修改 3")
    phone.send("民族团结进步专题讲座")
    assert "确认取消" in phone.send("取消")
    assert f"修改 {receipt}" in phone.send("确认取消")
    with session_scope(session_factory) as s:
        report = s.scalars(select(ActivityReport)).one()
        assert report.status == "已退回" and report.title != "民族团结进步专题讲座" and not report.revisions


def test_only_rejected_reports_of_the_bound_staff_can_be_reopened(phone, session_factory, settings):
    _at_photos(phone)
    phone.send("完成")
    phone.send("确认")
    assert "正在等待审核，不能修改" in phone.call(report_chat.reopen, "1")
    with session_scope(session_factory) as s:
        report = s.scalars(select(ActivityReport)).one()
        reports.review(s, report.id, True, "admin", clock.now())
        receipt = report.receipt_no
    assert "已通过" in phone.call(report_chat.reopen, receipt) and "只有被退回" in phone.call(report_chat.reopen, "1")
    assert phone.draft() is None
    assert "没有找到" in phone.call(report_chat.reopen, "7")
    assert "修改 QJ" in phone.call(report_chat.reopen, "")
    stranger = Phone(session_factory, settings, openid="someone-else")
    assert "还没有绑定" in stranger.call(report_chat.reopen, receipt)


def test_resubmission_raced_by_another_resubmission_happens_once(phone, session_factory):
    receipt = _submitted_and_rejected(phone, session_factory)
    phone.call(report_chat.reopen, receipt)
    with session_scope(session_factory) as s:
        report = s.scalars(select(ActivityReport)).one()
        data = reports.draft_of(report, "社区")
        reports.resubmit(s, report.id, data, "other", clock.now())
    assert "正在等待审核" in phone.send("确认")
    with session_scope(session_factory) as s:
        assert len(s.scalars(select(ActivityReport)).one().revisions) == 1


class FlakyWeChat:
    """Stands in for WeChat's media API: fails the first `failures` downloads of each media id."""

    def __init__(self, failures: int = 0, missing: frozenset[str] = frozenset()):
        self.failures, self.missing, self.calls = failures, missing, []

    def download_media(self, media_id: str) -> bytes:
        self.calls.append(media_id)
        if media_id in self.missing:
            raise WeChatAPIError(40007, "invalid media_id")
        if self.calls.count(media_id) <= self.failures:
            raise ConnectionError("timeout")
        return b"\xff\xd8\xff\xe0" + media_id.encode()


def test_photo_download_job_retries_then_stores(phone, session_factory, settings, pinned):
    phone.call(report_chat.start)
    phone.send(phone.image("m-ok"))
    phone.send(phone.image("m-gone"))
    wechat = FlakyWeChat(failures=1, missing=frozenset({"m-gone"}))
    for attempt in range(3):
        with session_scope(session_factory) as s:
            media.download_pending(s, wechat, settings.media_dir, clock.now())
        pinned["now"] += media.RETRY_AFTER
    with session_scope(session_factory) as s:
        ok, gone = (s.scalars(select(ReportPhoto).where(ReportPhoto.media_id == m)).one() for m in ("m-ok", "m-gone"))
        assert (ok.download_status, ok.attempts) == ("done", 2)
        assert (Path(settings.media_dir) / ok.local_path).read_bytes() == b"\xff\xd8\xff\xe0m-ok"
        assert (gone.download_status, gone.attempts) == ("failed", 1)  # 40007: WeChat no longer has it
        assert "invalid media_id" in gone.last_error
    assert wechat.calls.count("m-ok") == 2


def test_photo_download_waits_between_tries(phone, session_factory, settings):
    phone.call(report_chat.start)
    phone.send(phone.image("m1"))
    wechat = FlakyWeChat(failures=5)
    with session_scope(session_factory) as s:
        assert media.download_pending(s, wechat, settings.media_dir, clock.now()).retrying == 1
    with session_scope(session_factory) as s:
        assert media.download_pending(s, wechat, settings.media_dir, clock.now()).retrying == 0  # too soon
    assert wechat.calls == ["m1"]


# --- through /wechat and the router --------------------------------------------------------------------------

def test_end_to_end_through_the_gateway(wechat, session_factory, pinned):
    with session_scope(session_factory) as s:
        code = units.issue_binding_code(s, make_staff(s, make_unit(s, "第一中学", "学校"), name="王老师").id, NOW)
    assert wechat.send_text("上报").startswith("您还没有绑定")
    assert wechat.click("REPORT").startswith("您还没有绑定")
    assert "绑定成功" in wechat.send_text(f"绑定 {code.lower()}")
    # a second CLICK in the same second would be a WeChat retry (same dedupe key), so it comes a second later
    assert "【1/8 类别】" in wechat.send_event("CLICK", "REPORT", CreateTime=int(time.time()) + 1)
    assert "【2/8 活动类型】" in wechat.send_text("跳过")
    wechat.send_text("4")
    wechat.send_text("升旗仪式暨民族团结宣讲")
    assert "【5/8 地点】" in wechat.send_text("今天")
    assert "【6/8 参与人数】" in wechat.send_location(43.8, 87.6, "第一中学操场")
    wechat.send_text("一千二百人")
    assert "【8/8 照片】" in wechat.send_text("全校师生参加升旗仪式，民族团结宣讲员讲述各民族团结奋斗的故事。")
    assert wechat.send_event("pic_photo_or_album", "PHOTO") == "正在接收照片……"
    assert "第1张" in wechat.send_image("media-a")
    assert "1. 类别：进学校" in wechat.send_text("完成")
    assert "QJ202611270001" in wechat.send_text("确认")
    assert "升旗仪式暨民族团结宣讲【待审核】" in wechat.send_text("我的上报")
    assert "第一中学操场" in wechat.send_text("上报详情 1")
    assert "已识别" in wechat.send_text("上报 进学校 宣传教育 昨天 国旗下讲话 800人")
    assert "【5/8 地点】" in wechat.send_text("帮助")  # inside the flow 帮助 explains the flow, not the main menu
    pinned["now"] = NOW + timedelta(hours=3)
    assert "已恢复" in wechat.send_text("继续")
    assert "不会被当作填写内容" in wechat.send_text("菜单")
    assert "已暂停" in wechat.send_text("暂停")
    policy = wechat.send_text("政策")
    assert "不会被当作" not in policy and "已暂停" not in policy  # the policy feature answers while paused
    assert "已恢复" in wechat.send_text("继续")
    assert "【5/8 地点】" in wechat.send_text("帮助")
    assert "确认取消" in wechat.send_text("取消")
    assert "已取消" in wechat.send_text("确认取消")
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(ActivityReport)) == 1
        report = s.scalars(select(ActivityReport)).one()
        reports.review(s, report.id, False, "admin", clock.now(), reason="地点不详")
        receipt = report.receipt_no
    assert "退回原因：地点不详" in wechat.send_text(f"修改 {receipt}")
    assert "【5/8 地点】" in wechat.send_text("修改 5")
    wechat.send_text("第一中学操场主席台")
    assert "已重新提交" in wechat.send_text("确认")
    assert "【待审核】" in wechat.send_text("我的上报")


def test_photo_download_through_the_wechat_api(phone, session_factory, settings, pinned, fake_wechat, wechat_client):
    from tests.fake_wechat_api import TINY_JPEG

    fake_wechat.register_media(TINY_JPEG, media_id="real-media")
    fake_wechat.inject("media/get", http_status=500, times=None)  # WeChat down for a while
    phone.call(report_chat.start)
    phone.send(phone.image("real-media"))
    phone.send(phone.image("unknown-media"))
    with session_scope(session_factory) as s:
        run = media.download_pending(s, wechat_client, settings.media_dir, clock.now())
    assert (run.done, run.retrying) == (0, 2)
    fake_wechat.reset()
    fake_wechat.register_media(TINY_JPEG, media_id="real-media")
    for _ in range(3):
        pinned["now"] += media.RETRY_CAP
        with session_scope(session_factory) as s:
            media.download_pending(s, wechat_client, settings.media_dir, clock.now())
    with session_scope(session_factory) as s:
        real, unknown = (s.scalars(select(ReportPhoto).where(ReportPhoto.media_id == m)).one()
                         for m in ("real-media", "unknown-media"))
        assert real.download_status == "done" and real.last_error == ""
        assert (Path(settings.media_dir) / real.local_path).read_bytes() == TINY_JPEG
        assert real.local_path.endswith(".jpg")
        assert unknown.download_status == "failed" and "40007" in unknown.last_error
    assert {c.query.get("media_id") for c in fake_wechat.calls_to("media/get")} == {"real-media", "unknown-media"}
