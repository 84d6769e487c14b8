"""Report exports: the xlsx opens in openpyxl with the right rows and real date cells, the csv is BOM'd UTF-8 and
parses back; both come in chunks, the file name says the period."""
from __future__ import annotations

import csv
import io
from datetime import datetime

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


def content(file) -> bytes:
    return b"".join(file.chunks)


def test_xlsx_holds_the_months_reports(session, march):
    first_no, second_no = (r.receipt_no for r in march)
    file = export_reports(session, parse_filters(session, {"month": "2026-03"}), "xlsx")
    assert file.count == 2 and file.filename == "七进活动上报_2026年3月.xlsx"
    sheet = load_workbook(io.BytesIO(content(file))).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == HEADERS
    by_receipt = {row[0]: dict(zip(HEADERS, row)) for row in values[1:]}
    assert set(by_receipt) == {first_no, second_no}
    first = by_receipt[first_no]
    assert (first["单位"], first["七进类别"], first["活动名称"], first["参与人数"], first["照片数"], first["上报人"]) == (
        "民族团结社区", "进社区", "石榴籽讲堂", 40, 3, "李娜")
    assert first["活动日期"] == datetime(2026, 3, 2)  # a date cell (openpyxl reads dates back as datetimes)
    second = by_receipt[second_no]
    assert second["审核状态"] == "已退回" and second["审核意见"] == "照片不清晰"
    assert second["审核人"] == "tester" and isinstance(second["审核时间"], datetime)
    assert isinstance(second["提交时间"], datetime)
    assert second["活动名称"] == "'=HYPERLINK(\"http://x\")"  # never a live formula
    assert values[1][0] == second_no  # newest activity first


def test_csv_is_utf8_with_bom_and_parses(session, march):
    file = export_reports(session, ReportFilter(status="已通过"), "csv")
    data = content(file)
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert parsed[0] == HEADERS
    assert sorted(row[4] for row in parsed[1:]) == sorted(["石榴籽讲堂", "四月活动"])
    assert {row[5] for row in parsed[1:]} == {"2026-03-02", "2026-04-01"} and {row[2] for row in parsed[1:]} == {"进社区"}
    assert file.filename == "七进活动上报_全部.csv" and file.mimetype.startswith("text/csv")


def test_empty_export_has_headers_only(session):
    file = export_reports(session, ReportFilter(), "csv")
    assert file.count == 0
    assert list(csv.reader(io.StringIO(content(file).decode("utf-8-sig")))) == [HEADERS]


def test_unknown_format_is_refused(session):
    with pytest.raises(InvalidInput) as err:
        export_reports(session, ReportFilter(), "pdf")
    assert err.value.field == "format"


@pytest.mark.parametrize("args, name, ascii_name", [
    ({"month": "2026-03"}, "七进活动上报_2026年3月", "qijin-reports_2026-03"),
    ({"date_from": "2026-01-01", "date_to": "2026-12-31"}, "七进活动上报_2026年", "qijin-reports_2026"),
    ({"date_from": "2026-03-01", "date_to": "2026-03-20"}, "七进活动上报_2026-03-01至2026-03-20",
     "qijin-reports_2026-03-01_2026-03-20"),
    ({"date_from": "2026-03-01"}, "七进活动上报_2026-03-01起", "qijin-reports_from-2026-03-01"),
    ({"date_to": "2026-03-20"}, "七进活动上报_截至2026-03-20", "qijin-reports_to-2026-03-20"),
])
def test_the_file_name_says_the_period(session, args, name, ascii_name):
    file = export_reports(session, parse_filters(session, args), "csv")
    assert (file.filename, file.ascii_filename) == (f"{name}.csv", f"{ascii_name}.csv")
    assert file.content_disposition.startswith(f'attachment; filename="{ascii_name}.csv"; filename*=UTF-8\'\'%E4%B8%83')


def test_csv_comes_in_batches_read_as_they_are_sent(session, monkeypatch):
    """Rows are read from the database only while the chunks are consumed, a batch per chunk."""
    from service.reporting import exports

    monkeypatch.setattr(exports, "BATCH", 2)
    staff = make_staff(session, make_unit(session), name="李娜")
    for day in range(1, 6):
        make_reviewed_report(session, staff, title=f"活动{day}", date=f"2026-03-0{day}")
    session.commit()
    chunks = export_reports(session, ReportFilter(), "csv").chunks
    first = next(chunks)
    assert first.startswith(b"\xef\xbb\xbf") and first.decode("utf-8-sig").count("\r\n") == 1  # the headers
    rest = list(chunks)
    assert [chunk.decode().count("\r\n") for chunk in rest] == [2, 2, 1]
    assert [row[4] for row in csv.reader(io.StringIO(b"".join(rest).decode()))] == [f"活动{d}" for d in (5, 4, 3, 2, 1)]
