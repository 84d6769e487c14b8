"""The console's bulk import: template download, dry run page with row errors, apply with the binding-code sheet."""
from __future__ import annotations

import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from models.audit import AuditLog
from models.staff import BindingCode, Staff
from models.unit import Unit
from service.console import bulk_import

GOOD = ("单位名称,七进类别,联系人,联系电话\r\n团结社区,社区,李梅,0991-2345678\r\n").encode("gbk")
STAFF = ("姓名,所属单位,电话\r\n张三,团结社区,13812345678\r\n=HYPERLINK(1),团结社区,\r\n").encode("utf-8-sig")


def text(response) -> str:
    return response.get_data(as_text=True)


def preview(console, data: bytes, name: str = "名单.csv"):
    return console.post("/admin/units/import", {"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def apply(console, page: str, issue_codes: bool = True):
    payload = re.search(r'name="payload" value="([^"]*)"', page)[1]
    filename = re.search(r'name="filename" value="([^"]*)"', page)[1]
    return console.post("/admin/units/import/apply",
                        {"payload": payload, "filename": filename, **({"issue_codes": "1"} if issue_codes else {})})


def test_import_pages_are_for_administrators_only(reviewer_console):
    assert reviewer_console.get("/admin/units/import").status_code == 403
    assert reviewer_console.get("/admin/units/import/template.xlsx").status_code == 403
    assert preview(reviewer_console, GOOD).status_code == 403


def test_forms_need_the_csrf_token(admin_console):
    admin_console.get("/admin/units/import")
    response = admin_console.client.post("/admin/units/import/apply", data={"payload": "", "filename": "a.csv"})
    assert response.status_code == 400 and "页面已过期" in text(response)


def test_template_downloads_as_xlsx(admin_console):
    response = admin_console.get("/admin/units/import/template.xlsx")
    assert response.status_code == 200 and response.mimetype == bulk_import.XLSX_MIMETYPE
    assert "attachment" in response.headers["Content-Disposition"]
    assert load_workbook(io.BytesIO(response.data)).sheetnames == ["单位", "人员"]


def test_dry_run_shows_changes_then_apply_stores_and_shows_codes_once(admin_console, session):
    page = preview(admin_console, GOOD, "单位.csv")
    assert page.status_code == 200
    assert "新建 1" in text(page) and "团结社区" in text(page)
    assert session.scalar(select(func.count()).select_from(Unit)) == 0  # a dry run writes nothing
    done = apply(admin_console, text(page))
    assert done.status_code == 200 and "导入完成" in text(done)
    assert session.scalar(select(Unit.phone).where(Unit.name == "团结社区")) == "0991-2345678"

    page = preview(admin_console, STAFF, "人员.csv")
    assert "&#39;=HYPERLINK(1)（团结社区）" in text(page)  # echoed back inert
    done = apply(admin_console, text(page))
    codes = re.findall(r'class="code">([A-Z0-9]{8})<', text(done))
    assert len(codes) == 2 and session.scalar(select(func.count()).select_from(BindingCode)) == 2
    assert session.scalar(select(func.count()).select_from(Staff)) == 2
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "units.import").order_by(AuditLog.id.desc()))
    assert entry.actor == "admin" and entry.detail["staff_create"] == 2 and entry.detail["codes"] == 2

    sheet = admin_console.post("/admin/units/import/codes.xlsx", {
        "name": ["张三", "=HYPERLINK(1)"], "unit": ["团结社区"] * 2, "code": codes, "expires": ["2026-03-09 09:00"] * 2})
    rows = [[c.value for c in r] for r in load_workbook(io.BytesIO(sheet.data)).active.iter_rows()]
    assert rows == [["姓名", "所属单位", "绑定码", "有效期至"], ["张三", "团结社区", codes[0], "2026-03-09 09:00"],
                    ["'=HYPERLINK(1)", "团结社区", codes[1], "2026-03-09 09:00"]]

    again = preview(admin_console, STAFF, "人员.csv")  # the same file again: nothing to do
    assert "无需导入" in text(again) and 'name="payload"' not in text(again)


def test_row_errors_are_listed_and_nothing_can_be_applied(admin_console, session):
    bad = "单位名称,七进类别,联系人,联系电话\r\n甲社区,请选择,,abc\r\n".encode()
    page = preview(admin_console, bad)
    assert page.status_code == 422
    body = text(page)
    assert "七进类别只能是" in body and "联系电话应为手机号" in body and 'name="payload"' not in body
    assert '<td data-label="行">2</td>' in body
    assert session.scalar(select(func.count()).select_from(Unit)) == 0


def test_unreadable_or_missing_files_are_refused_in_chinese(admin_console):
    assert "只能导入 .xlsx 或 .csv" in text(preview(admin_console, b"abc", "a.xls"))
    missing = admin_console.post("/admin/units/import", {}, content_type="multipart/form-data")
    assert missing.status_code == 422 and "请选择要导入的文件" in text(missing)
    tampered = admin_console.post("/admin/units/import/apply", {"payload": "%%%", "filename": "a.csv"})
    assert tampered.status_code == 422


def test_units_page_links_to_the_import(admin_console):
    assert "/admin/units/import" in text(admin_console.get("/admin/units"))
