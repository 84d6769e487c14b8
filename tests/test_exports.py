"""Report exports: the xlsx opens in openpyxl with the right rows, the csv is BOM'd UTF-8 and parses back."""
from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from models.report import STATUS_REJECTED, ReportPhoto
from service.core.errors import InvalidInput
from service.reporting.exports import HEADERS, export_reports
from service.reporting.query import ReportFilter, parse_filters
from tests.factories import make_reviewed_report, make_staff, make_unit


@pytest.fixture
def march(session):
    staff = make_staff(session, make_unit(session, name="民族团结社区", category="社区"), name="李娜")
    first = make_reviewed_report(session, staff, title="石榴籽讲堂", date="2026-03-02", participants=40,
                                 category="社区")
    second = make_reviewed_report(session, staff, STATUS_REJECTED, reason="照片不清晰",
                                  title="=HYPERLINK(\"http://x\")", date="2026-03-20", participants=15)
    make_reviewed_report(session, staff, title="四月活动", date="2026-04-01")
    session.add_all([ReportPhoto(report_id=first.id, openid="o-test", media_id=f"m{i}") for i in range(3)])
    session.flush()
    return first, second


def test_xlsx_holds_the_months_reports(session, march):
    first_no, second_no = (r.receipt_no for r in march)
    file = export_reports(session, parse_filters(session, {"month": "2026-03"}), "xlsx")
    assert file.count == 2 and file.filename == "七进活动上报_20260301-20260331.xlsx"
    sheet = load_workbook(io.BytesIO(file.content)).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == HEADERS
    by_receipt = {row[0]: dict(zip(HEADERS, row)) for row in values[1:]}
    assert set(by_receipt) == {first_no, second_no}
    first = by_receipt[first_no]
    assert (first["单位"], first["七进类别"], first["活动名称"], first["参与人数"], first["照片数"], first["上报人"]) == (
        "民族团结社区", "社区", "石榴籽讲堂", 40, 3, "李娜")
    second = by_receipt[second_no]
    assert second["审核状态"] == "已退回" and second["审核意见"] == "照片不清晰"
    assert second["活动名称"] == "'=HYPERLINK(\"http://x\")"  # never a live formula
    assert values[1][0] == second_no  # newest activity first


def test_csv_is_utf8_with_bom_and_parses(session, march):
    file = export_reports(session, ReportFilter(status="已通过"), "csv")
    assert file.content.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(file.content.decode("utf-8-sig"))))
    assert parsed[0] == HEADERS
    assert sorted(row[4] for row in parsed[1:]) == sorted(["石榴籽讲堂", "四月活动"])
    assert file.filename == "七进活动上报_起-止.csv" and file.mimetype.startswith("text/csv")


def test_empty_export_has_headers_only(session):
    file = export_reports(session, ReportFilter(), "csv")
    assert file.count == 0
    assert list(csv.reader(io.StringIO(file.content.decode("utf-8-sig")))) == [HEADERS]


def test_unknown_format_is_refused(session):
    with pytest.raises(InvalidInput) as err:
        export_reports(session, ReportFilter(), "pdf")
    assert err.value.field == "format"
