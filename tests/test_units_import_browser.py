"""Bulk import in headless Chromium at 375 px and 1280 px: upload, dry run with row errors, apply, code sheet."""
from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from models.staff import Staff
from tests.browser import screenshot, sign_in
from tests.console import make_console_user


def workbook(units: list[list], staff: list[list]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, header, rows in (("单位", ["单位名称", "七进类别", "联系人", "联系电话"], units),
                                ("人员", ["姓名", "所属单位", "电话"], staff)):
        sheet = book.create_sheet(title)
        for row in [header, *rows]:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(page, data: bytes) -> None:
    page.set_input_files("#f-file", files=[{"name": "名单.xlsx", "mimeType": "application/octet-stream",
                                            "buffer": data}])
    page.click("text=检查文件（不会导入）")
    page.wait_for_load_state()


def narrow_enough(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("device,width", [("phone", 375), ("desktop", 1280)])
def test_import_with_errors_then_fixed_and_print_the_codes(device, width, request, live_server, session_factory,
                                                           session):
    page = request.getfixturevalue(device)
    make_console_user(session_factory, "admin")
    sign_in(page, live_server.url, "admin")
    page.goto(f"{live_server.url}/admin/units")
    page.click("text=批量导入（Excel / CSV）")
    assert page.locator("h1").inner_text() == "批量导入单位与人员"
    assert page.locator("a[href$='/admin/units/import/template.xlsx']").count() == 1

    upload(page, workbook([["团结社区", "进社区", "李梅", "abc"]], [["张三", "不存在的单位", ""]]))
    errors = page.locator("#import-errors tbody tr")
    assert errors.count() == 2
    assert "联系电话应为手机号" in errors.nth(0).inner_text() and "不存在的单位" in errors.nth(1).inner_text()
    assert page.locator("text=确认导入").count() == 0
    narrow_enough(page, width)
    screenshot(page, f"{device}-units-import-errors")

    upload(page, workbook([["团结社区", "进社区", "李梅", "0991-2345678"]],
                          [["张三", "团结社区", "13812345678"], ["=1+2", "团结社区", ""]]))
    assert "单位：新建 1" in page.locator("#import-summary").inner_text()
    assert page.locator("#import-changes tbody tr").count() == 2  # the formula row reads as empty: no name
    assert "姓名不能为空" in page.locator("#import-errors").inner_text()
    upload(page, workbook([["团结社区", "进社区", "李梅", "0991-2345678"]],
                          [["张三", "团结社区", "13812345678"], ["@李四", "团结社区", ""]]))
    assert page.locator("#import-changes tbody tr").count() == 3
    assert "'@李四" in page.locator("#import-changes").inner_text()  # echoed back inert
    narrow_enough(page, width)
    screenshot(page, f"{device}-units-import-preview")

    page.click("text=确认导入")
    page.wait_for_load_state()
    assert "生成绑定码 2 个" in page.locator("#import-done").inner_text()
    codes = page.locator("#codes-sheet td.code")
    assert codes.count() == 2 and len(codes.nth(0).inner_text()) == 8
    narrow_enough(page, width)
    screenshot(page, f"{device}-units-import-codes")
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible() and not page.locator("text=下载 .xlsx").is_visible()
    assert page.locator("#codes-sheet td.code").nth(1).is_visible()
    screenshot(page, f"{device}-units-import-codes-print")
    page.emulate_media(media="screen")
    with page.expect_download() as download:
        page.click("text=下载 .xlsx")
    assert download.value.suggested_filename.endswith(".xlsx")
    assert sorted(session.scalars(select(Staff.name))) == ["@李四", "张三"]
