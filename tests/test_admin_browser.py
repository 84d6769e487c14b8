"""The console in headless Chromium: what a district staff member does on a phone or a desktop."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from models.admin import ROLE_ADMIN, ROLE_REVIEWER
from models.audit import AuditLog
from service.console import audit
from tests.browser import screenshot, sign_in
from tests.console import make_console_user


def test_sign_in_on_a_phone_and_open_the_menu(phone, live_server, session_factory, session):
    make_console_user(session_factory, "admin")
    sign_in(phone, live_server.url, "admin", "wrong-password")
    assert phone.locator(".form-error").inner_text() == "用户名或密码不正确"
    assert phone.input_value("#f-username") == "admin"  # what was typed survives
    sign_in(phone, live_server.url, "admin")
    assert "/admin" in phone.url and phone.locator("text=退出（admin").count() == 1
    nav = phone.locator("nav.nav")
    assert not nav.is_visible()  # collapsed on a phone
    phone.click("label.nav-button")
    assert nav.is_visible()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"page is {width}px wide on a 375px phone"
    phone.click("nav.nav >> text=审计日志")
    assert phone.locator("h1").inner_text() == "审计日志"
    assert phone.locator("table.list td[data-label=操作]").first.inner_text() == "登录"
    screenshot(phone, "phone-audit")
    assert session.scalar(select(AuditLog).where(AuditLog.action == "auth.login_failed")).actor == "admin"


def test_user_text_is_shown_as_text_not_run(desktop, live_server, session_factory):
    make_console_user(session_factory, "admin")
    with session_factory() as s:
        audit.record(s, "<script>alert(1)</script>", "report.reject", ("activity_report", 1),
                     {"reason": "<img src=x onerror=alert(2)>"})
        s.commit()
    dialogs: list[str] = []
    desktop.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(desktop, live_server.url, "admin")
    desktop.goto(f"{live_server.url}/admin/audit")
    assert desktop.locator("td[data-label=操作人]", has_text="<script>alert(1)</script>").count() == 1
    assert desktop.locator("text=<img src=x onerror=alert(2)>").count() == 1
    assert dialogs == []
    screenshot(desktop, "desktop-audit")


def test_reviewer_opening_an_administrators_url_gets_403(desktop, live_server, session_factory):
    make_console_user(session_factory, "shen", ROLE_REVIEWER)
    sign_in(desktop, live_server.url, "shen")
    response = desktop.goto(f"{live_server.url}/admin/audit")
    assert response.status == 403
    assert desktop.locator("h1").inner_text() == "没有权限"
    assert desktop.locator("nav.nav >> text=审计日志").count() == 0


def test_reviewer_approves_a_report_on_a_phone(phone, live_server, session_factory, session):
    from models.report import ActivityReport
    from tests.factories import make_report, make_staff, make_unit

    make_console_user(session_factory, "shen", ROLE_REVIEWER)
    with session_factory() as s:
        staff = make_staff(s, make_unit(s, "团结社区"), openid="o-reporter")
        report_id = make_report(s, staff, title="民族团结讲座", content="<script>alert(1)</script>").id
        s.commit()
    dialogs: list[str] = []
    phone.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(phone, live_server.url, "shen")
    assert phone.locator("h1").inner_text() == "活动报告"  # a reviewer lands on the queue
    phone.click("text=民族团结讲座 >> nth=0")
    assert phone.locator("#report-content").inner_text() == "<script>alert(1)</script>"
    screenshot(phone, "phone-report-detail")
    phone.click("button[value=approve]")
    assert "已通过上报" in phone.locator(".flash").inner_text()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    session.expire_all()
    report = session.get(ActivityReport, report_id)
    assert report.status == "已通过" and report.reviewed_by == "shen"
    assert dialogs == []


def chart_text_heights(page) -> list[float]:
    """The rendered height of each dashboard chart's first text (an axis value), in CSS px."""
    return page.evaluate("[...document.querySelectorAll('.chart svg')].map("
                         "svg => svg.querySelector('text').getBoundingClientRect().height)")


def test_dashboard_charts_on_a_phone(phone, live_server, session_factory):
    from tests.factories import make_reviewed_report, make_staff, make_unit

    make_console_user(session_factory, "admin")
    with session_factory() as s:
        staff = make_staff(s, make_unit(s, "团结社区", is_extension=True), openid="o-reporter")
        make_reviewed_report(s, staff, title="讲座")
        make_reviewed_report(s, staff, status="待审核", title="座谈", category="学校")
        s.commit()
    sign_in(phone, live_server.url, "admin")
    assert phone.locator("h1").inner_text().startswith("概览")  # administrators land on the dashboard
    assert phone.locator("#month-total").inner_text() == "2"
    assert phone.locator(".chart svg").count() == 3
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    # every chart's axis labels render legibly; the wide monthly one scrolls sideways rather than shrink its text
    heights = chart_text_heights(phone)
    assert len(heights) == 3 and min(heights) >= 10, heights
    # bars in the console's status colours: pending amber, approved green
    assert phone.locator('.chart rect[fill="#d97706"]').count() and phone.locator('.chart rect[fill="#16a34a"]').count()
    screenshot(phone, "phone-dashboard")
    for path, name in (("/admin/announcements/new", "phone-compose"), ("/admin/units", "phone-units"),
                       ("/admin/policy/faq", "phone-faq")):
        phone.goto(live_server.url + path)
        assert phone.evaluate("document.documentElement.scrollWidth") <= 375, path
        screenshot(phone, name)


def test_dashboard_charts_on_a_desktop_share_one_text_size(desktop, live_server, session_factory):
    """The monthly chart spans the page, the others half of it: its text must not come out twice as large."""
    make_console_user(session_factory, "admin")
    sign_in(desktop, live_server.url, "admin")
    heights = chart_text_heights(desktop)
    assert len(heights) == 3 and min(heights) >= 10 and max(heights) <= 1.2 * min(heights), heights


def test_schedule_an_announcement_and_see_it_delivered(desktop, live_server, session_factory, settings, fake_wechat):
    from models.follower import Follower
    from service.core import clock
    from service.notices import delivery as notify

    make_console_user(session_factory, "admin")
    with session_factory() as s:  # a follower who wrote within 48 h, so a customer-service message is allowed
        s.add(Follower(openid="o-follower-1", subscribed=True, last_message_at=clock.now(), more_pages=[]))
        s.commit()
    sign_in(desktop, live_server.url, "admin")
    desktop.goto(f"{live_server.url}/admin/announcements/new")
    desktop.fill("#f-title", "周五活动通知")
    desktop.fill("#f-body", "本周五下午三点在社区开展民族团结知识竞赛。")
    counter = desktop.locator("[data-unit=message] .used")
    assert int(counter.inner_text()) == len("【周五活动通知】\n本周五下午三点在社区开展民族团结知识竞赛。".encode())
    assert desktop.locator("[data-unit=title] .used").inner_text() == "6"
    desktop.click("button[value=preview]")
    assert "本周五下午三点" in desktop.locator("#preview-text").inner_text()
    assert desktop.input_value("#f-title") == "周五活动通知"  # the preview keeps the form
    desktop.click("button[value=schedule]")
    assert desktop.locator("#announcement-status").inner_text() == "已排期"
    stats = notify.run_once(session_factory, settings, notify.sender_factory(settings, session_factory))
    assert stats.sent == 1
    desktop.reload()
    assert desktop.locator("#announcement-status").inner_text() == "已发送"
    assert desktop.locator("[data-status=sent]").inner_text() == "已送达 1"
    sent = [c for c in fake_wechat.calls if c.path == "message/custom/send"]
    assert len(sent) == 1 and sent[0].json["touser"] == "o-follower-1"
    assert "本周五下午三点" in sent[0].json["text"]["content"]
    screenshot(desktop, "desktop-announcement-delivered")


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_fix_and_resubmit_a_rejected_report(device, request, live_server, session_factory, session):
    """At 375 px and 1280 px: the rejected report's form comes prefilled; after the fix it is 待审核 again under the
    same receipt number, and the rejection is kept as a revision on the page."""
    from models.report import ActivityReport
    from tests.factories import make_reviewed_report, make_staff, make_unit

    page = request.getfixturevalue(device)
    make_console_user(session_factory, "wang", ROLE_ADMIN)
    with session_factory() as s:
        staff = make_staff(s, make_unit(s, "团结社区"), openid="o-reporter")
        report = make_reviewed_report(s, staff, "已退回", "请写清地点", title="民族团结讲座", place="社区")
        report_id, receipt = report.id, report.receipt_no
        s.commit()
    sign_in(page, live_server.url, "wang")
    page.goto(f"{live_server.url}/admin/reports/{report_id}")
    assert page.locator("#f-title").input_value() == "民族团结讲座"
    page.fill("#f-place", "团结社区党群服务中心二楼")
    page.fill("#f-title", "")
    page.click("#resubmit button[type=submit]")
    assert [e.split("\n")[0] for e in page.locator("#resubmit .has-error").all_inner_texts()] == ["主题 *"]
    page.fill("#f-title", "民族团结进步知识讲座")
    page.click("#resubmit button[type=submit]")
    assert "已修改并重新提交上报" in page.locator(".flash").inner_text()
    assert page.locator("#report-status").inner_text() == "待审核"
    assert "请写清地点" in page.locator("#revisions").inner_text()
    screenshot(page, f"{device}-report-resubmitted")
    if device == "phone":
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    session.expire_all()
    stored = session.get(ActivityReport, report_id)
    assert (stored.status, stored.receipt_no, stored.place) == ("待审核", receipt, "团结社区党群服务中心二楼")
    assert [r.review_reason for r in stored.revisions] == ["请写清地点"]
