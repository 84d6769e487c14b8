"""Reports (filters applied) as .xlsx or .csv bytes with Chinese headers, for 督查 and archiving.

CSV is UTF-8 with a BOM so Excel opens the Chinese correctly. Text cells that a spreadsheet would read as a
formula (starting with = + - @ or a tab/CR) get a leading apostrophe, so a report's text can never run as one.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any, Callable

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy.orm import Session

from models.report import ActivityReport
from service.core.clock import local
from service.core.errors import InvalidInput
from service.reporting import texts, texts as api_texts
from service.reporting.query import ReportFilter, all_reports

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[ActivityReport], Any]
    width: int = 12


COLUMNS: tuple[Column, ...] = (
    Column(texts.RECEIPT_NO, lambda r: r.receipt_no, 17),
    Column(texts.UNIT, lambda r: r.unit.name, 20),
    Column(texts.CATEGORY, lambda r: r.category, 14),
    Column(texts.ACTIVITY_TYPE, lambda r: r.activity_type),
    Column(texts.TITLE, lambda r: r.title, 24),
    Column(texts.ACTIVITY_DATE, lambda r: r.activity_date.isoformat()),
    Column(texts.PLACE, lambda r: r.place, 20),
    Column(texts.PARTICIPANTS, lambda r: r.participants, 10),
    Column(texts.CONTENT, lambda r: r.content, 40),
    Column(texts.STAFF, lambda r: r.staff.name),
    Column(texts.PHOTOS, lambda r: len(r.photos), 8),
    Column(texts.STATUS, lambda r: r.status, 8),
    Column(texts.REVIEW_REASON, lambda r: r.review_reason, 20),
    Column(texts.SUBMITTED_AT, lambda r: local(r.submitted_at).strftime("%Y-%m-%d %H:%M"), 17),
)
HEADERS = [c.header for c in COLUMNS]


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def rows(reports: list[ActivityReport]) -> list[list[Any]]:
    return [[_safe(c.value(r)) for c in COLUMNS] for r in reports]


def to_csv(reports: list[ActivityReport]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS)
    writer.writerows(rows(reports))
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(reports: list[ActivityReport]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = texts.SHEET_TITLE
    sheet.append(HEADERS)
    for row in rows(reports):
        sheet.append(row)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


WRITERS: dict[str, tuple[Callable[[list[ActivityReport]], bytes], str]] = {
    "xlsx": (to_xlsx, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "csv": (to_csv, "text/csv; charset=utf-8"),
}


@dataclass(frozen=True)
class ExportFile:
    content: bytes
    filename: str
    mimetype: str
    count: int


def export_reports(session: Session, filters: ReportFilter, fmt: str) -> ExportFile:
    """The matching reports in `fmt` ('xlsx' or 'csv'); the file name says what range it covers."""
    if fmt not in WRITERS:
        raise InvalidInput(api_texts.BAD_FORMAT, "format")
    writer, mimetype = WRITERS[fmt]
    reports = all_reports(session, filters)
    return ExportFile(writer(reports), texts.filename(filters.date_from, filters.date_to, fmt), mimetype,
                      len(reports))
