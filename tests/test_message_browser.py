"""Residents' messages in headless Chromium: an administrator opens the inbox, a thread, replies (the fake WeChat
API receives exactly one customer-service message) and closes it, on a desktop and on a phone; user text stays
text; 接待员 lands on the inbox and cannot open the reports."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models.admin import ROLE_RECEPTION
from models.message import ResidentThread, ThreadEntry
from service.core import clock
from tests.browser import screenshot, sign_in
from tests.console import make_console_user
from tests.test_message_console import follow, make_thread

XSS = "<img src=x onerror=alert(1)>"


def _answer_in_the_browser(page, base_url: str, session_factory, fake_wechat, name: str) -> None:
    make_console_user(session_factory, "admin")
    make_thread(session_factory, openid="o-other", text="咨询民族团结进步示范单位怎么评", category="consult")
    thread_id = make_thread(session_factory, openid="o-res", text="房东知道我是少数民族后拒租 " + XSS,
                            phone="13812345678")
    follow(session_factory, "o-res", clock.now() - timedelta(minutes=10))
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, base_url, "admin")
    page.goto(f"{base_url}/admin/messages")
    assert page.locator("h1").inner_text() == "群众留言"
    assert page.locator("#count-open").inner_text() == "2"
    row = page.locator(f"tr[data-thread='{thread_id}']")
    assert "sensitive" in row.get_attribute("class")
    assert row.locator("td[data-label=内容]").inner_text() == "房东知道我是少数民族后拒租 " + XSS
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    screenshot(page, f"{name}-messages-inbox")

    row.locator("td[data-label=回执号] a").click()
    assert page.locator("h1").inner_text().startswith("留言 LY")
    assert page.locator("ol.timeline li.entry-resident .entry-body").inner_text() == "房东知道我是少数民族后拒租 " + XSS
    page.fill("#f-reply", "您好，已请社区民警和街道一起协调，今天会联系您。<b>谢谢</b>")
    page.click("#reply button[type=submit]")
    assert "回复已保存" in page.locator(".flash").inner_text()
    reply = page.locator("ol.timeline li.entry-reply")
    assert reply.locator(".entry-body").inner_text() == "您好，已请社区民警和街道一起协调，今天会联系您。<b>谢谢</b>"
    assert reply.locator(".delivery").inner_text() == "已送达"
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    screenshot(page, f"{name}-message-thread")
    sent = fake_wechat.calls_to("message/custom/send")
    assert len(sent) == 1 and sent[0].json["touser"] == "o-res"

    page.click("#close button[type=submit]")
    assert page.locator("#thread-status").inner_text() == "已办结"
    assert page.locator("#reply").count() == 0
    assert dialogs == []
    with session_factory() as s:
        thread = s.get(ResidentThread, thread_id)
        assert thread.status == "closed" and thread.rating_asked_at is not None
        assert s.scalar(select(ThreadEntry.delivery).where(ThreadEntry.thread_id == thread_id,
                                                           ThreadEntry.kind == "reply")) == "sent"


def test_administrator_answers_a_message_on_a_desktop(desktop, live_server, session_factory, fake_wechat):
    _answer_in_the_browser(desktop, live_server.url, session_factory, fake_wechat, "desktop")


def test_administrator_answers_a_message_on_a_phone(phone, live_server, session_factory, fake_wechat):
    _answer_in_the_browser(phone, live_server.url, session_factory, fake_wechat, "phone")


def test_reception_lands_on_the_inbox_and_cannot_open_reports(desktop, live_server, session_factory):
    make_console_user(session_factory, "jiedai", ROLE_RECEPTION)
    sign_in(desktop, live_server.url, "jiedai")
    assert desktop.locator("h1").inner_text() == "群众留言"
    assert desktop.locator("nav.nav >> text=活动报告").count() == 0
    response = desktop.goto(f"{live_server.url}/admin/reports")
    assert response.status == 403 and desktop.locator("h1").inner_text() == "没有权限"
