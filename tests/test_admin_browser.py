"""The console in headless Chromium: what a district staff member does on a phone or a desktop."""
from __future__ import annotations

from sqlalchemy import select

from models.admin import ROLE_REVIEWER
from models.audit import AuditLog
from service import audit
from tests.browser import browser, desktop, live_server, phone, screenshot, sign_in  # noqa: F401
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
