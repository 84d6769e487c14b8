"""Reports (filters applied) as .xlsx or .csv with Chinese headers, for 督查 and archiving, streamed.

Neither format ever holds the reports in memory: rows come from the database in batches (a server-side cursor on
PostgreSQL), CSV is sent as it is written, and xlsx goes through openpyxl's write-only mode into a temporary file
that is then sent in chunks. Dates and times are real date cells in xlsx (local time, Asia/Shanghai).

CSV is UTF-8 with a BOM so Excel opens the Chinese correctly. Text cells that a spreadsheet would read as a
formula (starting with = + - @ or a tab/CR) get a leading apostrophe, so a report's text can never run as one.
"""
from __future__ import annotations

import codecs
import csv
import io
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any, Callable, Iterator, Optional
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter
from sqlalchemy import Row, Select, func, select
from sqlalchemy.orm import Session

from models.report import ActivityReport, ReportPhoto
from models.staff import Staff
from models.unit import Unit
from service.core.clock import local
from service.core.errors import InvalidInput
from service.reporting import texts
from service.reporting.query import ReportFilter, ordered

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000  # rows fetched from the database at a time
CHUNK = 256 * 1024  # bytes of a file sent at a time
DATE_FORMAT = "yyyy-mm-dd"
TIME_FORMAT = "yyyy-mm-dd hh:mm"


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Row], Any]
    width: int = 12
    number_format: str = ""


def _when(value: Optional[datetime]) -> Optional[datetime]:
    """A stored instant as the local wall-clock time a spreadsheet shows (it has no time zones)."""
    return local(value).replace(tzinfo=None, second=0, microsecond=0) if value else None


COLUMNS: tuple[Column, ...] = (
    Column(texts.RECEIPT_NO, lambda r: r.receipt_no, 17),
    Column(texts.UNIT, lambda r: r.unit_name, 20),
    Column(texts.CATEGORY, lambda r: texts.category_label(r.category), 14),
    Column(texts.ACTIVITY_TYPE, lambda r: r.activity_type),
    Column(texts.TITLE, lambda r: r.title, 24),
    Column(texts.ACTIVITY_DATE, lambda r: r.activity_date, 12, DATE_FORMAT),
    Column(texts.PLACE, lambda r: r.place, 20),
    Column(texts.PARTICIPANTS, lambda r: r.participants, 10),
    Column(texts.CONTENT, lambda r: r.content, 40),
    Column(texts.STAFF, lambda r: r.staff_name),
    Column(texts.PHOTOS, lambda r: r.photos, 8),
    Column(texts.STATUS, lambda r: r.status, 8),
    Column(texts.REVIEW_REASON, lambda r: r.review_reason, 20),
    Column(texts.REVIEWER, lambda r: r.reviewed_by),
    Column(texts.REVIEWED_AT, lambda r: _when(r.reviewed_at), 17, TIME_FORMAT),
    Column(texts.SUBMITTED_AT, lambda r: _when(r.submitted_at), 17, TIME_FORMAT),
)
HEADERS = [c.header for c in COLUMNS]


def _statement(filters: ReportFilter) -> Select:
    """The export's rows as plain columns (no objects to keep): the unit and staff joined, photos counted."""
    photos = (select(func.count(ReportPhoto.id)).where(ReportPhoto.report_id == ActivityReport.id)
              .correlate(ActivityReport).scalar_subquery())
    report = ActivityReport
    return (ordered(filters).with_only_columns(
        report.receipt_no, Unit.name.label("unit_name"), report.category, report.activity_type, report.title,
        report.activity_date, report.place, report.participants, report.content, Staff.name.label("staff_name"),
        photos.label("photos"), report.status, report.review_reason, report.reviewed_by, report.reviewed_at,
        report.submitted_at, maintain_column_froms=False)
        .join(Unit, Unit.id == report.unit_id).join(Staff, Staff.id == report.staff_id))


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _rows(session: Session, filters: ReportFilter) -> Iterator[list[Any]]:
    for row in session.execute(_statement(filters).execution_options(yield_per=BATCH)):
        yield [_safe(column.value(row)) for column in COLUMNS]


def _text(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else value


def _drain(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data


def csv_chunks(session: Session, filters: ReportFilter) -> Iterator[bytes]:
    """The CSV as it is written: the BOM and headers, then a chunk per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS)
    yield codecs.BOM_UTF8 + _drain(buffer)
    for number, row in enumerate(_rows(session, filters), start=1):
        writer.writerow([_text(value) for value in row])
        if number % BATCH == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def write_xlsx(session: Session, filters: ReportFilter, target: IO[bytes]) -> None:
    """The workbook into `target`, row by row (openpyxl's write-only mode keeps no rows in memory)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(texts.SHEET_TITLE)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.append(HEADERS)
    formats = [column.number_format for column in COLUMNS]
    for row in _rows(session, filters):
        sheet.append([_cell(sheet, value, fmt) if fmt and value is not None else value
                      for value, fmt in zip(row, formats)])
    workbook.save(target)


def _cell(sheet: Any, value: Any, number_format: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value)
    cell.number_format = number_format
    return cell


def _file_chunks(file: IO[bytes]) -> Iterator[bytes]:
    """A temporary file sent in chunks, closed (and so deleted) when sent or when the download is abandoned."""
    with file:
        file.seek(0)
        while chunk := file.read(CHUNK):
            yield chunk


def xlsx_chunks(session: Session, filters: ReportFilter) -> Iterator[bytes]:
    """The workbook, written whole to a temporary file first (a zip cannot be sent before it is finished)."""
    file = tempfile.TemporaryFile()
    try:
        write_xlsx(session, filters, file)
    except BaseException:
        file.close()
        raise
    return _file_chunks(file)


WRITERS: dict[str, tuple[Callable[[Session, ReportFilter], Iterator[bytes]], str]] = {
    "xlsx": (xlsx_chunks, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "csv": (csv_chunks, "text/csv; charset=utf-8"),
}


@dataclass(frozen=True)
class ExportFile:
    """An export ready to send: `chunks` yields its bytes once (read them while the session is open)."""

    chunks: Iterator[bytes]
    filename: str
    ascii_filename: str
    mimetype: str
    count: int

    @property
    def content_disposition(self) -> str:
        """An attachment named in Chinese (RFC 5987 `filename*`), with an ASCII name for older clients."""
        return f"attachment; filename=\"{self.ascii_filename}\"; filename*=UTF-8''{quote(self.filename)}"


def export_reports(session: Session, filters: ReportFilter, fmt: str) -> ExportFile:
    """The matching reports in `fmt` ('xlsx' or 'csv'), newest activity first; the file name says the period.

    xlsx is written here (to a temporary file); CSV rows are read only as `chunks` is consumed."""
    if fmt not in WRITERS:
        raise InvalidInput(texts.BAD_FORMAT, "format")
    writer, mimetype = WRITERS[fmt]
    count = session.scalar(filters.apply(select(func.count()).select_from(ActivityReport))) or 0
    period = texts.export_period(filters.date_from, filters.date_to)
    return ExportFile(writer(session, filters), f"{texts.EXPORT_NAME}_{period.label}.{fmt}",
                      f"qijin-reports_{period.ascii}.{fmt}", mimetype, count)
