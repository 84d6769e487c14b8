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
from openpyxl.utils import get_column_letter
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from models.report import ActivityReport, ReportPhoto
from models.staff import Staff
from models.unit import Unit
from service.core.clock import local
from service.core.errors import InvalidInput
from service.reporting import texts
from service.reporting.query import ReportFilter, count_reports, ordered

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000  # rows fetched from the database at a time
CHUNK = 256 * 1024  # bytes of a file sent at a time


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = "text"  # how a value is written: text, category, date, time, number
    width: int = 12


COLUMNS: tuple[Column, ...] = (
    Column(texts.RECEIPT_NO, width=17), Column(texts.UNIT, width=20), Column(texts.CATEGORY, "category", 14),
    Column(texts.ACTIVITY_TYPE), Column(texts.TITLE, width=24), Column(texts.ACTIVITY_DATE, "date"),
    Column(texts.PLACE, width=20), Column(texts.PARTICIPANTS, "number", 10), Column(texts.CONTENT, width=40),
    Column(texts.STAFF), Column(texts.PHOTOS, "number", 8), Column(texts.STATUS, width=8),
    Column(texts.REVIEW_REASON, width=20), Column(texts.REVIEWER), Column(texts.REVIEWED_AT, "time", 17),
    Column(texts.SUBMITTED_AT, "time", 17),
)
HEADERS = [c.header for c in COLUMNS]


def _statement(filters: ReportFilter) -> Select:
    """The export's rows as plain values in the order of COLUMNS: the unit and staff joined, photos counted."""
    photos = (select(func.count(ReportPhoto.id)).where(ReportPhoto.report_id == ActivityReport.id)
              .correlate(ActivityReport).scalar_subquery())
    report = ActivityReport
    return (ordered(filters).with_only_columns(
        report.receipt_no, Unit.name, report.category, report.activity_type, report.title, report.activity_date,
        report.place, report.participants, report.content, Staff.name, photos, report.status, report.review_reason,
        report.reviewed_by, report.reviewed_at, report.submitted_at, maintain_column_froms=False)
        .join(Unit, Unit.id == report.unit_id).join(Staff, Staff.id == report.staff_id))


def _safe(value: str) -> str:
    return "'" + value if value[:1] in FORMULA_STARTS else value


def _local(value: Optional[datetime]) -> Optional[datetime]:
    """A stored instant as the local wall-clock time a spreadsheet shows (it has no time zones), to the minute."""
    return local(value).replace(tzinfo=None, second=0, microsecond=0) if value else None


def _local_text(value: Optional[datetime]) -> str:
    return _local(value).isoformat(" ", "minutes") if value else ""  # type: ignore[union-attr]


def _same(value: Any) -> Any:
    return value


# Per format, how each kind of value is written: CSV has only text; xlsx keeps dates, times and numbers typed, and
# leaves an empty text cell out (openpyxl writes nothing for None).
WRITE_AS: dict[str, dict[str, Callable[[Any], Any]]] = {
    "csv": {"text": _safe, "category": texts.category_label, "date": date.isoformat, "time": _local_text,
            "number": _same},
    "xlsx": {"text": lambda v: _safe(v) or None, "category": texts.category_label, "date": _same, "time": _local,
             "number": _same},
}


def _rows(session: Session, filters: ReportFilter, fmt: str) -> Iterator[list[Any]]:
    """The rows as `fmt` writes them, fetched BATCH at a time (a server-side cursor on PostgreSQL)."""
    write = [WRITE_AS[fmt][column.kind] for column in COLUMNS]
    result = session.connection().execute(_statement(filters), execution_options={"yield_per": BATCH})
    for row in result:
        yield [convert(value) for convert, value in zip(write, row)]


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
    for number, row in enumerate(_rows(session, filters, "csv"), start=1):
        writer.writerow(row)
        if number % BATCH == 0:
            yield _drain(buffer)
    yield _drain(buffer)


def write_xlsx(session: Session, filters: ReportFilter, target: IO[bytes]) -> None:
    """The workbook into `target`, row by row (openpyxl's write-only mode keeps no rows in memory). Dates and
    times become date cells (openpyxl gives them a date format)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(texts.SHEET_TITLE)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.append(HEADERS)
    for row in _rows(session, filters, "xlsx"):
        sheet.append(row)
    workbook.save(target)


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
    count = count_reports(session, filters)
    period = texts.export_period(filters.date_from, filters.date_to)
    return ExportFile(writer(session, filters), f"{texts.EXPORT_NAME}_{period.label}.{fmt}",
                      f"qijin-reports_{period.ascii}.{fmt}", mimetype, count)
