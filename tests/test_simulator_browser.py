"""The simulator in a real headless Chromium against a real HTTP server: type, tap the menu, send a picture."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select
from werkzeug.serving import make_server

from models.inbound import InboundMessage
from service.chat import texts as menu_texts

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page(live_server, browser):
    """A page of the suite's one shared Chromium (tests/browser.py): Playwright's sync API allows one driver."""
    context = browser.new_context(viewport={"width": 375, "height": 760}, device_scale_factor=1)
    try:
        page = context.new_page()
        page.goto(live_server + "/simulator")
        yield page
    finally:
        context.close()


def test_simulator_in_a_browser(page, session, tmp_path):
    expect(page.locator(".menu-top")).to_have_text(["学政策", "上报", "服务"])

    page.fill("#text", "帮助")
    page.press("#text", "Enter")
    replies = page.locator(".row.them .bubble")
    expect(replies.first).to_contain_text(menu_texts.MENU_TITLE)
    expect(page.locator(".row.me .bubble").first).to_have_text("帮助")

    page.click("text=服务")
    page.click("text=使用帮助")
    expect(replies).to_have_count(2)
    expect(replies.nth(1)).to_contain_text(menu_texts.MENU_TITLE)

    picture = tmp_path / "photo.png"
    picture.write_bytes(page.screenshot(clip={"x": 0, "y": 0, "width": 120, "height": 90}))
    with page.expect_file_chooser() as chooser:
        page.click("#pick-picture")
    chooser.value.set_files(str(picture))
    expect(page.locator(".row.me .bubble img")).to_have_count(1)
    expect(replies).to_have_count(3)
    expect(replies.nth(2)).to_contain_text("图片")

    page.click("#debug summary")
    expect(page.locator("#raw-request")).to_contain_text("<MsgType><![CDATA[image]]></MsgType>")

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#debug summary").click()  # fold the debug pane again for the screenshot
    page.screenshot(path=str(ARTIFACTS / "simulator.png"))

    session.expire_all()
    rows = list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))
    assert [(r.msg_type, r.event_key or r.content) for r in rows] == [
        ("text", "帮助"), ("event", "HELP"), ("image", "")]
    assert rows[2].media_id.startswith("sim_")
