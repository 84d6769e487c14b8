"""Bulk import of units and staff: reading xlsx/csv, the dry run's plan and row errors, applying, idempotence."""
from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from models.audit import AuditLog
from models.staff import BindingCode, Staff
from models.unit import Unit
from service.console import bulk_import as bi
from service.core import clock
from service.core.errors import InvalidInput
from service.reporting import units
from tests.factories import make_staff, make_unit

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=clock.TZ)
UNIT_HEADER = ["单位名称", "七进类别", "联系人", "联系电话", "延伸拓展单位", "教育基地"]
STAFF_HEADER = ["姓名", "所属单位", "电话"]


def xlsx(sheets: dict[str, list[list]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    return "\r\n".join(",".join(r) for r in rows).encode(encoding)


def plan(session, name: str, data: bytes) -> bi.Plan:
    return bi.plan_import(session, bi.read_tables(name, data))


FILE = xlsx({"单位": [UNIT_HEADER, ["团结社区", "社区", "李梅", "0991 2345678", "否", ""],
                      ["第一中学", "进学校", "", "13812345678", "", "是"]],
             "人员": [STAFF_HEADER, ["张三", "团结社区", "138-1234-5679"], ["王五", "第一中学", ""]]})


def test_dry_run_writes_nothing_and_apply_stores_units_staff_codes_and_one_audit_entry(session):
    dry = plan(session, "名单.xlsx", FILE)
    assert dry.errors == [] and dry.counts["unit_create"] == 2 and dry.counts["staff_create"] == 2
    assert session.scalar(select(func.count()).select_from(Unit)) == 0

    result = bi.apply_import(session, "名单.xlsx", FILE, "admin", NOW)
    session.commit()
    school = session.scalar(select(Unit).where(Unit.name == "第一中学"))
    community = session.scalar(select(Unit).where(Unit.name == "团结社区"))
    assert (community.category, community.contact, community.phone) == ("社区", "李梅", "0991-2345678")
    assert (school.category, school.phone, school.is_education_base, school.is_extension) == \
        ("学校", "13812345678", True, False)
    zhang = session.scalar(select(Staff).where(Staff.name == "张三"))
    assert (zhang.unit_id, zhang.phone, zhang.active) == (community.id, "13812345679", True)
    assert [(c.name, c.unit) for c in result.codes] == [("张三", "团结社区"), ("王五", "第一中学")]
    assert session.scalar(select(func.count()).select_from(BindingCode)) == 2
    # a printed code binds
    assert units.bind(session, "o-zhang", result.codes[0].code, NOW).staff.id == zhang.id
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "units.import"))
    assert entry.actor == "admin"
    assert entry.detail | {} == {"file": "名单.xlsx", "unit_create": 2, "unit_update": 0, "unit_same": 0,
                                 "staff_create": 2, "staff_update": 0, "staff_same": 0, "codes": 2}


def test_importing_the_same_file_again_changes_nothing(session):
    bi.apply_import(session, "a.xlsx", FILE, "admin", NOW)
    session.commit()
    before = [(u.id, u.name, u.category, u.contact, u.phone, u.is_extension, u.is_education_base)
              for u in session.scalars(select(Unit).order_by(Unit.id))]
    staff_before = [(s.id, s.name, s.phone, s.unit_id) for s in session.scalars(select(Staff).order_by(Staff.id))]
    again = plan(session, "a.xlsx", FILE)
    assert not again.has_changes and again.counts["unit_same"] == 2 and again.counts["staff_same"] == 2
    result = bi.apply_import(session, "a.xlsx", FILE, "admin", NOW)
    session.commit()
    assert result.codes == []
    assert [(u.id, u.name, u.category, u.contact, u.phone, u.is_extension, u.is_education_base)
            for u in session.scalars(select(Unit).order_by(Unit.id))] == before
    assert [(s.id, s.name, s.phone, s.unit_id) for s in session.scalars(select(Staff).order_by(Staff.id))] \
        == staff_before
    assert session.scalar(select(func.count()).select_from(BindingCode)) == 2  # old codes still valid


def test_existing_units_matched_by_name_are_updated_and_blank_cells_keep_values(session):
    unit = make_unit(session, "团结社区", "机关", contact="旧联系人", phone="13800000000")
    person = make_staff(session, unit, "张三", "13800000001")
    session.commit()
    data = xlsx({"单位": [UNIT_HEADER, ["团结社区", "社区", "", "0991-2345678", "", ""]],
                 "人员": [STAFF_HEADER, ["张三", "团结社区", "13800000002"]]})
    dry = plan(session, "u.xlsx", data)
    assert [(c.action, c.changes) for c in dry.units] == [
        ("update", {"七进类别": ("机关", "社区"), "联系电话": ("13800000000", "0991-2345678")})]
    assert [(c.action, c.changes) for c in dry.staff] == [("update", {"电话": ("13800000001", "13800000002")})]
    result = bi.apply_import(session, "u.xlsx", data, "admin", NOW)
    session.commit()
    session.expire_all()
    unit = session.get(Unit, unit.id)
    assert (unit.category, unit.contact, unit.phone) == ("社区", "旧联系人", "0991-2345678")
    assert session.get(Staff, person.id).phone == "13800000002"
    assert result.codes == [] and session.scalar(select(func.count()).select_from(Staff)) == 1


def test_row_errors_name_row_column_and_rule_in_chinese_and_nothing_is_applied(session):
    make_unit(session, "停用单位", "企业").active = False
    session.commit()
    data = xlsx({"单位": [UNIT_HEADER, ["", "社区"], ["甲社区", "请选择", "", "abc"], ["乙社区", "社区", "", "", "也许"],
                          ["甲社区", "社区"]],
                 "人员": [STAFF_HEADER, ["", "甲社区", ""], ["赵六", "不存在的单位", "123"], ["钱七", "停用单位"],
                          ["孙八", "乙社区"], ["孙八", "乙社区"]]})
    dry = plan(session, "bad.xlsx", data)
    got = [(e.sheet, e.row, e.column, e.message) for e in dry.errors]
    assert ("单位", 2, "单位名称", "单位名称不能为空，且不超过100字") in got
    assert ("单位", 3, "七进类别", "七进类别只能是：机关、企业、社区、乡镇、学校、连队、宗教活动场所") in got
    assert any(e[:3] == ("单位", 3, "联系电话") and e[3].startswith("联系电话应为手机号") for e in got)
    assert ("单位", 4, "延伸拓展单位", "延伸拓展单位只能填“是”或“否”（可留空）") in got
    assert ("单位", 5, "单位名称", "文件中有同名单位（第 3 行），每个单位只写一行") in got
    assert ("人员", 2, "姓名", "姓名不能为空，且不超过50字") in got
    assert ("人员", 3, "所属单位", "单位“不存在的单位”不存在，请先在“单位”表中填写它或在控制台中创建") in got
    assert any(e[:3] == ("人员", 3, "电话") and e[3].startswith("电话应为手机号") for e in got)
    assert ("人员", 4, "所属单位", "单位“停用单位”已停用，不能导入人员") in got
    assert ("人员", 6, "姓名", "文件中同一单位有同名人员（第 5 行）") in got
    with pytest.raises(InvalidInput):
        bi.apply_import(session, "bad.xlsx", data, "admin", NOW)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Unit)) == 1
    assert session.scalar(select(func.count()).select_from(AuditLog)) == 0


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_utf8_with_or_without_bom_and_gbk(session, encoding):
    data = csv_bytes([UNIT_HEADER[:4], ["团结社区", "社区", "李梅", "13812345678"]], encoding)
    bi.apply_import(session, "单位.csv", data, "admin", NOW)
    assert session.scalar(select(Unit.contact).where(Unit.name == "团结社区")) == "李梅"


def test_staff_csv_for_existing_units(session):
    make_unit(session, "团结社区")
    data = csv_bytes([STAFF_HEADER, ["张三", "团结社区", "13812345678"]], "gbk")
    result = bi.apply_import(session, "人员.csv", data, "admin", NOW)
    assert [c.name for c in result.codes] == ["张三"]
    assert session.scalar(select(Staff.phone).where(Staff.name == "张三")) == "13812345678"


def test_formula_cells_are_read_as_values_and_echoed_text_is_neutralised(session):
    book = Workbook()
    sheet = book.active
    sheet.append(UNIT_HEADER)
    sheet.append(["=1+1", "社区"])  # no cached value (never opened in Excel): read as empty, never as a formula
    sheet.append(["@团结社区", "社区"])
    buffer = io.BytesIO()
    book.save(buffer)
    dry = plan(session, "f.xlsx", buffer.getvalue())
    assert [(e.row, e.column) for e in dry.errors] == [(2, "单位名称")]
    assert bi.neutral("=HYPERLINK(1)") == "'=HYPERLINK(1)" and bi.neutral("-1") == "'-1" and bi.neutral("甲") == "甲"
    sheet_back = load_workbook(io.BytesIO(bi.codes_xlsx([["=cmd", "+单位", "ABCD2345", "2026-03-09 09:00"]]))).active
    assert [c.value for c in sheet_back[2]] == ["'=cmd", "'+单位", "ABCD2345", "2026-03-09 09:00"]


def test_file_limits_and_unreadable_files(session):
    with pytest.raises(InvalidInput, match="2 MB"):
        bi.read_tables("a.csv", b"x" * (bi.MAX_BYTES + 1))
    with pytest.raises(InvalidInput, match="5000"):
        bi.read_tables("a.csv", csv_bytes([STAFF_HEADER] + [[f"人{i}", "甲", ""] for i in range(bi.MAX_ROWS + 1)]))
    assert len(bi.read_tables("a.csv", csv_bytes([STAFF_HEADER] + [[f"人{i}", "甲", ""]
                                                                    for i in range(bi.MAX_ROWS)]))[0].rows) == 5001
    with pytest.raises(InvalidInput, match="xlsx"):
        bi.read_tables("a.xls", b"\xd0\xcf\x11\xe0")
    with pytest.raises(InvalidInput, match="无法读取"):
        bi.read_tables("a.xlsx", b"not a zip")
    with pytest.raises(InvalidInput, match="编码"):
        bi.read_tables("a.csv", b"\xff\xfe\x00\xd8\x81")
    assert [e.message for e in plan(session, "a.csv", csv_bytes([["名字", "电话"], ["甲", "1"]])).errors] == [bi.NO_TABLE]
    assert [e.message for e in plan(session, "a.csv", csv_bytes([STAFF_HEADER])).errors] == [bi.EMPTY]


def test_template_has_both_sheets_with_header_and_example_and_imports_cleanly(session):
    book = load_workbook(io.BytesIO(bi.template_xlsx()))
    assert book.sheetnames == ["单位", "人员"]
    assert [c.value for c in book["单位"][1]][:4] == ["单位名称", "七进类别", "联系人", "联系电话"]
    assert [c.value for c in book["人员"][1]] == ["姓名", "所属单位", "电话"]
    assert book["单位"].max_row == 2 and book["人员"].max_row == 2
    result = bi.apply_import(session, "模板.xlsx", bi.template_xlsx(), "admin", NOW)
    assert result.plan.counts["unit_create"] == 1 and len(result.codes) == 1
