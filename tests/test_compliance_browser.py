"""督查考核 in headless Chromium at 375 px and 1280 px: from the dashboard's lagging units to the compliance page,
filtered, paged, and on to one unit's reports. Screenshots: tests/artifacts/{phone,desktop}-compliance*.png."""
from __future__ import annotations

import pytest

from tests.browser import screenshot, sign_in
from tests.console import make_console_user
from tests.test_compliance_pages import district  # noqa: F401  (fixture: 25 units on 2026-08-15)

ROWS = "table.compliance-list tbody tr[id^=unit-]"


def fits(page, device: str) -> None:
    if device == "phone":
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"page is {width}px wide on a 375px phone"


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_from_the_dashboard_to_a_units_reports(device, request, live_server, session_factory, district):
    page = request.getfixturevalue(device)
    make_console_user(session_factory, "admin")
    sign_in(page, live_server.url, "admin")
    lagging = page.locator("#lagging")
    assert lagging.locator(".lagging-unit").count() == 10 and "滞后单位（13）" in lagging.inner_text()
    page.click("#all-lagging")
    assert page.locator("h1").inner_text() == "督查考核 2026年"
    assert page.locator(ROWS).count() == 13
    assert page.locator("select[name=status]").input_value() == "滞后"
    first = page.locator(ROWS).first
    assert first.locator("td[data-label=状态]").inner_text() == "滞后"
    assert "已完成 0，要求 1" in first.locator("td[data-label=未达标的要求]").inner_text()
    fits(page, device)
    screenshot(page, f"{device}-compliance-lagging")

    page.select_option("select[name=category]", "社区")
    page.select_option("select[name=period]", "2026-Q2")
    page.click("form.filters button[type=submit]")
    assert page.locator("h1").inner_text() == "督查考核 2026年第2季度"
    assert page.locator(ROWS).count() == 12
    assert page.locator("nav.status-tabs a.active").inner_text() == "滞后 12"
    fits(page, device)
    screenshot(page, f"{device}-compliance-filtered")

    page.locator(ROWS).first.locator("text=查看上报").click()
    assert page.locator("h1").inner_text() == "活动报告"
    assert page.locator("input[name=date_from]").input_value() == "2026-04-01"
    assert page.locator("select[name=unit_id] option:checked").inner_text() == "社区01"


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_every_unit_a_page_at_a_time(device, request, live_server, session_factory, district):
    page = request.getfixturevalue(device)
    make_console_user(session_factory, "admin")
    sign_in(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/admin/compliance")
    assert page.locator(ROWS).count() == 20 and "第 1 / 2 页（共 25 条）" in page.locator("nav.pager").inner_text()
    header = page.locator("table.compliance-list thead")
    assert header.is_visible() == (device == "desktop")  # a phone shows each unit as a card
    fits(page, device)
    screenshot(page, f"{device}-compliance")
    page.click("nav.pager >> text=下一页")
    assert page.locator(ROWS).count() == 5
    badges = page.locator(f"{ROWS} td[data-label=状态]").all_inner_texts()
    assert set(badges) <= {"达标", "进行中", "滞后"}
    fits(page, device)
