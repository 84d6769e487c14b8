"""Console side of residents' messages: the inbox (filters, counts, roles), a thread's timeline, reply / assign /
note / close with their audit entries, the dashboard panel, the weekly digest and answering unanswered questions."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from models.admin import ROLE_ADMIN, ROLE_RECEPTION, ROLE_REVIEWER, AdminUser
from models.audit import AuditLog
from models.follower import Follower
from models.inbound import InboundMessage
from models.message import ResidentThread, ThreadEntry, UnansweredAsker
from models.policy import FaqEntry, UnansweredQuestion
from service.core import clock
from service.messages import staff, threads
from tests.console import signed_in

XSS = "<script>alert(1)</script>"
NOW = datetime(2026, 11, 18, 10, 0, tzinfo=clock.TZ)  # a Wednesday


def text(response) -> str:
    return response.get_data(as_text=True)


def make_thread(session_factory, openid="o-res", text="小区门口的商铺拒绝租给我们", category="complaint", *,
                assigned_to=None, created=None, **fields) -> int:
    """A thread as a resident leaves it (through the resident side's open_thread), then adjusted for the test."""
    if created is not None:
        clock.set_now(lambda: created)
    try:
        with session_factory() as s:
            thread = threads.open_thread(s, openid=openid, text=text, category=category)
            thread.assigned_to = assigned_to
            for name, value in fields.items():
                setattr(thread, name, value)
            s.commit()
            return thread.id
    finally:
        if created is not None:
            clock.set_now(None)


def user_id(session_factory, username: str) -> int:
    with session_factory() as s:
        return s.scalar(select(AdminUser.id).where(AdminUser.username == username))


def follow(session_factory, openid: str, last_message_at: datetime) -> None:
    """The resident wrote to the account at `last_message_at` (their customer-service window opens then)."""
    with session_factory() as s:
        s.add(Follower(openid=openid, subscribed=True, last_message_at=last_message_at))
        s.commit()


@pytest.fixture
def reception_console(app, session_factory):
    return signed_in(app, session_factory, "jiedai", ROLE_RECEPTION)


def test_inbox_lists_filters_and_counts_per_status(admin_console, session_factory):
    first = make_thread(session_factory, text="想问一下民族团结示范社区怎么申报", category="consult")
    second = make_thread(session_factory, text="房东因为我是少数民族拒租", category="complaint")
    make_thread(session_factory, text="建议多办民族节日活动", category="suggest", status="closed")
    page = admin_console.get("/admin/messages")
    html = text(page)
    assert page.status_code == 200
    assert "怎么申报" in html and "拒租" in html and "节日活动" in html
    assert 'id="count-open">2<' in html and 'id="count-closed">1<' in html
    assert 'id="nav-open"' in html  # the nav carries the badge
    assert f'class="sensitive" data-thread="{second}"' in html  # 反映问题 highlighted
    assert f'class="" data-thread="{first}"' in html
    only = text(admin_console.get("/admin/messages?category=complaint"))
    assert "拒租" in only and "怎么申报" not in only
    closed = text(admin_console.get("/admin/messages?status=closed"))
    assert "节日活动" in closed and "拒租" not in closed
    found = text(admin_console.get("/admin/messages?q=申报"))
    assert "怎么申报" in found and "拒租" not in found


def test_bad_filters_say_which_field_beside_it(admin_console, session_factory):
    make_thread(session_factory)
    response = admin_console.get("/admin/messages?date_from=2026-13-01")
    assert response.status_code == 422 and "开始日期必须是 YYYY-MM-DD" in text(response)
    reversed_dates = admin_console.get("/admin/messages?date_from=2026-11-10&date_to=2026-11-01")
    assert reversed_dates.status_code == 422 and "结束日期不能早于开始日期" in text(reversed_dates)
    status = admin_console.get("/admin/messages?status=whatever")
    assert status.status_code == 422 and "状态只能是" in text(status)


def test_overdue_and_date_filters(admin_console, session_factory):
    old = make_thread(session_factory, text="一周前的求助", category="help", created=NOW - timedelta(days=7))
    make_thread(session_factory, text="刚提交的咨询", category="consult", created=NOW)
    clock.set_now(lambda: NOW)
    overdue = text(admin_console.get("/admin/messages?overdue=1"))
    assert "一周前的求助" in overdue and "刚提交的咨询" not in overdue and "已超期" in overdue
    assert 'id="count-overdue">1<' in overdue
    dated = text(admin_console.get("/admin/messages?date_from=2026-11-18&date_to=2026-11-18"))
    assert "刚提交的咨询" in dated and "一周前的求助" not in dated
    with session_factory() as s:
        assert staff.is_overdue(s.get(ResidentThread, old), NOW)


def test_reception_uses_the_inbox_and_nothing_else(reception_console, session_factory):
    me = user_id(session_factory, "jiedai")
    mine = make_thread(session_factory, text="分给接待员的留言", assigned_to=me)
    other = make_thread(session_factory, text="别人的留言")
    home = reception_console.get("/admin/")
    assert home.status_code == 302 and home.headers["Location"].endswith("/admin/messages")
    inbox = text(reception_console.get("/admin/messages"))
    assert "分给接待员的留言" in inbox and "别人的留言" not in inbox
    assert "活动报告" not in inbox and "概览" not in inbox  # the nav offers only the inbox
    assert reception_console.get(f"/admin/messages/{mine}").status_code == 200
    assert reception_console.get(f"/admin/messages/{other}").status_code == 403
    for path in ("/admin/reports", "/admin/dashboard", "/admin/policy/unanswered", "/admin/accounts", "/admin/audit"):
        assert reception_console.get(path).status_code == 403, path
    assert reception_console.post(f"/admin/messages/{mine}/assign", {"user_id": str(me)}).status_code == 403


# What a 接待员 may open: the inbox and threads, and their own account's pages. Every other console view refuses them,
# including views other branches add later with `login_required` by mistake (this walks the app's routes).
RECEPTION_PAGES = {"admin.home", "admin.messages", "admin.message_thread", "admin.message_photo", "admin.reply_message",
                   "admin.note_message",
                   "admin.assign_message", "admin.close_message", "admin.password", "admin.logout", "admin.login"}


def test_reception_is_refused_by_every_other_console_view(app):
    from models.admin import ROLE_RECEPTION as reception

    allowed = {endpoint for endpoint, view in app.view_functions.items()
               if endpoint.startswith("admin.") and reception in getattr(view, "allowed_roles", {reception})}
    assert allowed == RECEPTION_PAGES


def test_reviewer_sees_only_threads_assigned_to_them(reviewer_console, session_factory):
    me = user_id(session_factory, "reviewer")
    make_thread(session_factory, text="审核员的留言", assigned_to=me)
    make_thread(session_factory, text="未分派的留言")
    inbox = text(reviewer_console.get("/admin/messages"))
    assert "审核员的留言" in inbox and "未分派的留言" not in inbox
    assert reviewer_console.get("/admin/reports").status_code == 200


def test_thread_page_shows_the_residents_timeline(admin_console, session_factory):
    clock.set_now(lambda: NOW)
    with session_factory() as s:
        for minutes, content in ((30, "几点上班"), (20, "没有找到相关内容就留言")):
            s.add(InboundMessage(dedupe_key=f"k{minutes}", openid="o-res", msg_type="text", content=content,
                                 raw_xml="<xml/>", received_at=NOW - timedelta(minutes=minutes)))
        s.add(InboundMessage(dedupe_key="other", openid="o-someone-else", msg_type="text", content="别人的消息",
                             raw_xml="<xml/>", received_at=NOW))
        s.commit()
    earlier = make_thread(session_factory, text="上个月的咨询", category="consult", created=NOW - timedelta(days=30))
    thread_id = make_thread(session_factory, text="房东拒租 " + XSS, created=NOW)
    page = admin_console.get(f"/admin/messages/{thread_id}")
    html = text(page)
    assert page.status_code == 200
    assert "房东拒租 &lt;script&gt;" in html and XSS not in html
    assert "几点上班" in html and "没有找到相关内容就留言" in html and "别人的消息" not in html
    assert f"/admin/messages/{earlier}" in html and "上个月的咨询" in html
    assert "敏感类别" in html


def test_reply_is_stored_audited_and_sent_once(admin_console, session_factory, fake_wechat):
    thread_id = make_thread(session_factory, openid="o-res")
    follow(session_factory, "o-res", clock.now() - timedelta(minutes=5))
    empty = admin_console.post(f"/admin/messages/{thread_id}/reply", {"text": "  "})
    assert empty.status_code == 422 and 'id="e-reply_text"' in text(empty) and "回复内容不能为空" in text(empty)
    long = admin_console.post(f"/admin/messages/{thread_id}/reply", {"text": "长" * 501})
    assert long.status_code == 422 and "回复内容最多 500 字" in text(long) and "长" * 501 in text(long)
    ok = admin_console.post(f"/admin/messages/{thread_id}/reply", {"text": "您好，已联系社区处理。"})
    assert ok.status_code == 302
    with session_factory() as s:
        thread = s.get(ResidentThread, thread_id)
        reply = s.scalar(select(ThreadEntry).where(ThreadEntry.thread_id == thread_id, ThreadEntry.kind == "reply"))
        assert thread.status == "replied" and thread.first_response_at is not None
        assert reply.body == "您好，已联系社区处理。"
        assert s.scalar(select(AuditLog).where(AuditLog.action == "message.reply")).target_id == str(thread_id)
    sent = fake_wechat.calls_to("message/custom/send")
    assert len(sent) == 1 and sent[0].json["touser"] == "o-res"
    assert "已联系社区处理" in sent[0].json["text"]["content"]
    page = text(admin_console.get(f"/admin/messages/{thread_id}"))
    assert "已送达" in page


def test_assign_note_and_close(admin_console, session_factory, app):
    with session_factory() as s:
        from service.console import accounts
        helper = accounts.create_admin(s, "wang", "correct-horse-9", ROLE_RECEPTION, display_name="王接待")
        s.commit()
        helper_id = helper.id
    thread_id = make_thread(session_factory)
    bad = admin_console.post(f"/admin/messages/{thread_id}/assign", {"user_id": "99999"})
    assert bad.status_code == 422 and 'id="e-assign_user_id"' in text(bad) and "没有这个后台账号" in text(bad)
    assert admin_console.post(f"/admin/messages/{thread_id}/assign", {"user_id": str(helper_id)}).status_code == 302
    note = admin_console.post(f"/admin/messages/{thread_id}/note", {"text": "已电话联系房东 " + XSS})
    assert note.status_code == 302
    page = text(admin_console.get(f"/admin/messages/{thread_id}"))
    assert "王接待" in page and "仅工作人员可见" in page and "已电话联系房东 &lt;script&gt;" in page
    assert admin_console.post(f"/admin/messages/{thread_id}/close").status_code == 302
    with session_factory() as s:
        thread = s.get(ResidentThread, thread_id)
        assert thread.status == "closed" and thread.assigned_to == helper_id and thread.closed_at is not None
        assert thread.rating_asked_at is not None
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.target_type == "resident_thread")
                                               .order_by(AuditLog.id))]
        assert actions == ["message.assign", "message.note", "message.close"]
        events = [e.body for e in s.scalars(select(ThreadEntry).where(ThreadEntry.thread_id == thread_id,
                                                                      ThreadEntry.kind == "event"))]
        assert events[:2] == ["分派给 王接待", "办结"] and events[2].startswith("【留言 LY")  # the rating question
    audit_page = text(admin_console.get("/admin/audit"))
    assert "分派留言" in audit_page and "留言内部备注" in audit_page and "办结留言" in audit_page
    assert "留言编号" in audit_page
    again = admin_console.post(f"/admin/messages/{thread_id}/close")
    assert again.status_code == 409 and "这条留言已办结，不能再修改" in text(again)
    late = admin_console.post(f"/admin/messages/{thread_id}/reply", {"text": "补充"})
    assert late.status_code == 409 and 'class="error form-error"' in text(late) and "已办结" in text(late)


def test_dashboard_messages_panel(admin_console, session_factory):
    clock.set_now(lambda: NOW)
    base = NOW - timedelta(days=3)
    for hours, rating in ((2, 1), (4, 1), (10, 3)):
        make_thread(session_factory, created=base, first_response_at=base + timedelta(hours=hours), status="closed",
                    rating=rating, rated_at=NOW - timedelta(hours=1))
    make_thread(session_factory, text="超期的", created=NOW - timedelta(days=8))
    clock.set_now(lambda: NOW)
    with session_factory() as s:
        figures = staff.month_figures(s, NOW)
    assert figures.open == 1 and figures.overdue == 1
    assert figures.median_first_response == timedelta(hours=4)
    assert figures.satisfaction == {1: 2, 2: 0, 3: 1}
    html = text(admin_console.get("/admin/dashboard"))
    assert 'id="messages-open">1<' in html and 'id="messages-overdue">1<' in html
    assert "4.0 小时" in html and "满意 2（67%）" in html and "不满意 1（33%）" in html
    assert "/admin/messages?overdue=1" in html


def test_weekly_digest_lists_overdue_threads(session_factory):
    make_thread(session_factory, text="超期的求助", category="help", created=NOW - timedelta(days=9))
    make_thread(session_factory, text="新的", created=NOW)
    with session_factory() as s:
        line = staff.digest_line(s, NOW)
        receipt = s.scalar(select(ResidentThread.receipt).where(ResidentThread.subject == "超期的求助"))
    assert line == f"超时最久的留言：{receipt}（求助，9 天）。"


def test_weekly_digest_job_carries_the_overdue_line(settings, session_factory, fake_wechat):
    from models.announcement import Announcement
    from scheduler import jobs

    make_thread(session_factory, text="超期的反映", created=NOW - timedelta(days=10))
    clock.set_now(lambda: NOW)
    jobs.configure(settings.with_(admin_openids=("o-admin",)), session_factory)
    assert jobs.weekly_digest() is not None
    with session_factory() as s:
        body = s.scalar(select(Announcement.body).where(Announcement.kind == "system"))
    assert "过去一周" in body and "其中超时 1 条" in body and "超时最久的留言：LY" in body


def test_unanswered_question_is_answered_to_its_askers_and_becomes_faq(admin_console, session_factory,
                                                                        fake_wechat):
    with session_factory() as s:
        question = UnansweredQuestion(normalized="清真食堂", example="清真食堂在哪", count=2)
        s.add(question)
        s.flush()
        s.add_all([UnansweredAsker(question_id=question.id, openid="o-a", text="清真食堂在哪"),
                   UnansweredAsker(question_id=question.id, openid="o-b", text="学校有清真食堂吗")])
        s.commit()
        question_id = question.id
    follow(session_factory, "o-a", clock.now() - timedelta(minutes=1))
    listing = text(admin_console.get("/admin/policy/unanswered"))
    assert "回复提问者并做成问答" in listing
    form = text(admin_console.get(f"/admin/policy/faq?from={question_id}"))
    assert "同时把答案回复给提问的群众（2 人）" in form
    too_long = admin_console.post("/admin/policy/faq", {"questions": "清真食堂在哪", "answer": "长" * 700,
                                                        "unanswered_id": str(question_id), "reply_askers": "1"})
    assert too_long.status_code == 422 and "回复内容最多 500 字" in text(too_long)
    with session_factory() as s:
        assert s.scalar(select(ResidentThread.id)) is None and s.get(UnansweredQuestion, question_id) is not None
    ok = admin_console.post("/admin/policy/faq", {"questions": "清真食堂在哪", "answer": "各街道清真食堂名单见区民宗局网站。",
                                                  "unanswered_id": str(question_id), "reply_askers": "1"})
    assert ok.status_code == 302
    with session_factory() as s:
        made = {t.openid: t for t in s.scalars(select(ResidentThread))}
        assert set(made) == {"o-a", "o-b"} and {t.source for t in made.values()} == {"unanswered"}
        assert made["o-b"].subject.startswith("学校有清真食堂吗")
        assert all(t.status == "replied" for t in made.values())
        assert s.scalar(select(FaqEntry).where(FaqEntry.answer.startswith("各街道"))) is not None
        assert s.get(UnansweredQuestion, question_id) is None
    sent = fake_wechat.calls_to("message/custom/send")
    assert [c.json["touser"] for c in sent] == ["o-a"]  # o-b's window is closed: waits for their next message


def test_a_residents_photo_is_shown_on_the_thread_to_those_who_may_open_it(app, admin_console, reception_console,
                                                                           session_factory):
    from pathlib import Path

    from models.message import ThreadPhoto

    with session_factory() as s:
        thread = threads.open_thread(s, openid="o-pic", text="门口的告示写着不租给外地少数民族",
                                     category="complaint", photos=[{"media_id": "m-1"}, {"media_id": "m-2"}])
        s.commit()
        stored, pending = thread.entries[0].photo_files
        thread_id, stored_id, pending_id = thread.id, stored.id, pending.id
        stored.local_path, stored.download_status = "messages/o-pic-1.jpg", "done"
        s.commit()
    media_dir = Path(app.extensions["qijin"].settings.media_dir)
    (media_dir / "messages").mkdir(parents=True, exist_ok=True)
    (media_dir / "messages" / "o-pic-1.jpg").write_bytes(b"\xff\xd8jpeg-bytes")
    other = make_thread(session_factory, openid="o-else", text="别的留言")

    page = text(admin_console.get(f"/admin/messages/{thread_id}"))
    assert f"/admin/messages/{thread_id}/photos/{stored_id}" in page and "正在从微信下载" in page
    photo = admin_console.get(f"/admin/messages/{thread_id}/photos/{stored_id}")
    assert photo.status_code == 200 and photo.data == b"\xff\xd8jpeg-bytes"
    assert admin_console.get(f"/admin/messages/{thread_id}/photos/{pending_id}").status_code == 404  # not yet stored
    assert admin_console.get(f"/admin/messages/{other}/photos/{stored_id}").status_code == 404  # another thread's
    assert reception_console.get(f"/admin/messages/{thread_id}/photos/{stored_id}").status_code == 403  # not theirs
