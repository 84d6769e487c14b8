"""The console's 设置与状态 page: administrators only, linked in the menu, each check with its level and what to do,
on a phone (375 px) and a desktop (1280 px)."""
from __future__ import annotations

from scheduler import jobs
from service.chat.menu import CUSTOM_MENU
from service.core import clock, runlog
from tests.browser import screenshot, sign_in
from tests.console import make_console_user
from tests.factories import make_reviewed_report, make_staff
from tests.notice_helpers import add_followers


def text(response) -> str:
    return response.get_data(as_text=True)


def without_secret(app, session, session_factory):
    """The app running without WECHAT_SECRET, and an approval notice the scheduler could not send."""
    rt = app.extensions["qijin"]
    rt.settings = rt.settings.with_(wechat_secret="")
    add_followers(session, ["o-li"], clock.now())
    make_reviewed_report(session, make_staff(session, name="李梅", openid="o-li"))
    session.commit()
    jobs.configure(rt.settings, session_factory)
    jobs.deliver_announcements()
    runlog.record(session_factory, "deliver_announcements", True)


def test_the_status_page_is_for_administrators_only(admin_console, reviewer_console):
    page = admin_console.get("/admin/status")
    assert page.status_code == 200 and "设置与状态" in text(page)
    assert 'href="/admin/status"' in text(admin_console.get("/admin/reports"))
    assert reviewer_console.get("/admin/status").status_code == 403
    assert 'href="/admin/status"' not in text(reviewer_console.get("/admin/reports"))


def test_waiting_approval_notices_without_an_appsecret_show_in_chinese(admin_console, app, session,
                                                                       session_factory, fake_wechat):
    without_secret(app, session, session_factory)
    html = text(admin_console.get("/admin/status"))
    assert "未设置 AppSecret，消息发不出去" in html and "1 条审核结果通知在等待发送" in html
    assert "WECHAT_SECRET" in html and 'id="check-outbound" class="status-bad"' in html
    assert fake_wechat.calls_to("token") == []  # nothing to try without a secret


def test_status_on_a_phone_and_a_desktop(phone, desktop, app, live_server, session, session_factory, fake_wechat):
    make_console_user(session_factory, "admin")
    fake_wechat.menu = {"button": CUSTOM_MENU["button"]}
    runlog.record(session_factory, runlog.SYNC_MENU, True)
    sign_in(desktop, live_server.url, "admin")
    desktop.click("nav.nav >> text=设置与状态")
    assert desktop.locator("h1").inner_text().startswith("设置与状态")
    assert desktop.locator("#check-token").get_attribute("data-level") == "ok"
    assert desktop.locator("#check-menu").get_attribute("data-level") == "ok"
    assert desktop.locator("#check-template").get_attribute("data-level") == "warn"
    assert desktop.locator("#check-scheduler").get_attribute("data-level") == "bad"
    assert "python -m scheduler" in desktop.locator("#check-scheduler").inner_text()
    assert desktop.locator("#job-deliver_announcements").inner_text().count("从未") >= 1
    screenshot(desktop, "desktop-status")

    without_secret(app, session, session_factory)
    sign_in(phone, live_server.url, "admin")
    phone.goto(f"{live_server.url}/admin/status")
    assert phone.locator("#check-secret").get_attribute("data-level") == "bad"
    assert "审核结果通知在等待发送" in phone.locator("#check-outbound").inner_text()
    assert phone.locator("#job-deliver_announcements >> text=成功").count() == 1
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"page is {width}px wide on a 375px phone"
    screenshot(phone, "phone-status")
