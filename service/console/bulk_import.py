"""Bulk import of units and staff from an .xlsx or .csv file: read, check every row, plan, then apply.

A file holds units (columns 单位名称, 七进类别, 联系人, 联系电话, 延伸拓展单位, 教育基地) and/or staff (姓名, 所属单位,
电话). An .xlsx may carry both on separate sheets (the template does); a .csv is one table, told apart by its header.
CSV may be UTF-8 (with or without BOM) or GBK/GB18030, as Excel in China saves it.

`plan_import` is the dry run: every row is checked with the same rules as the console forms (`units.normalise_phone`,
the seven categories, names non-empty) and compared with the database — a unit is matched by its name, a staff
member by name within their unit. Rows are numbered as the spreadsheet shows them (the header is row 1).
`apply_import` re-plans the same bytes and, only when no row has an error, writes everything in the caller's
transaction with one audit entry of counts. A blank optional cell leaves the stored value as it is, so importing the
same file twice changes nothing the second time. New staff get a binding code each (returned once, never stored).
"""
from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Optional

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.staff import Staff
from models.unit import CATEGORIES, Unit
from service.console import audit
from service.core.clock import local
from service.core.errors import InvalidInput
from service.reporting import texts, units

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
MAX_COLUMNS = 30
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

UNIT_SHEET, STAFF_SHEET = "单位", "人员"
# column header → field, per table; the first `required` headers must be present
UNIT_COLUMNS = {"单位名称": "name", "七进类别": "category", "联系人": "contact", "联系电话": "phone",
                "延伸拓展单位": "is_extension", "教育基地": "is_education_base"}
STAFF_COLUMNS = {"姓名": "name", "所属单位": "unit", "电话": "phone"}
UNIT_REQUIRED = ("单位名称", "七进类别")
STAFF_REQUIRED = ("姓名", "所属单位")
UNIT_EXAMPLE = ["团结社区", "社区", "李梅", "0991-2345678", "否", "否"]
STAFF_EXAMPLE = ["张三", "团结社区", "13812345678"]
YES, NO = ("是", "1", "y", "yes", "true", "√"), ("否", "0", "n", "no", "false", "×")

# messages (Chinese, shown to administrators)
NO_FILE = "请选择要导入的文件（.xlsx 或 .csv）"
TOO_BIG = "文件不能超过 2 MB"
BAD_TYPE = "只能导入 .xlsx 或 .csv 文件；.xls 等旧格式请在 Excel 中另存为 .xlsx"
BAD_XLSX = "无法读取这个 .xlsx 文件，请确认它是 Excel 工作簿（可用模板重新填写）"
BAD_CSV = "无法识别这个 .csv 文件的编码，请另存为“CSV UTF-8”或用模板填写"
TOO_MANY = f"一次最多导入 {MAX_ROWS} 行，请把文件拆开分批导入"
NO_TABLE = "没有找到可导入的表格：表头应含“单位名称、七进类别”（单位）或“姓名、所属单位”（人员），请使用模板"
EMPTY = "文件里没有要导入的数据行"
HAS_ERRORS = "文件中有错误，请改正后重新上传；没有导入任何内容"
DUPLICATE_UNIT = "文件中有同名单位（第 {row} 行），每个单位只写一行"
DUPLICATE_STAFF = "文件中同一单位有同名人员（第 {row} 行）"
UNKNOWN_UNIT = "单位“{name}”不存在，请先在“单位”表中填写它或在控制台中创建"
INACTIVE_UNIT = "单位“{name}”已停用，不能导入人员"
BAD_FLAG = "{column}只能填“是”或“否”（可留空）"
MISSING_COLUMNS = "缺少表头：{columns}"


def neutral(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, made inert with a leading apostrophe (for echoing back)."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


@dataclass(frozen=True)
class RowError:
    sheet: str
    row: int  # as the spreadsheet numbers it (header = 1); 0 for the file itself
    column: str
    message: str


@dataclass
class Change:
    """One row's effect: `action` is create, update or same; `changes` maps a column to (old, new) for updates."""

    kind: str  # unit | staff
    row: int
    action: str
    name: str
    unit: str = ""  # staff: the unit's name
    values: dict[str, Any] = field(default_factory=dict)  # the checked values, by field
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    target_id: Optional[int] = None


@dataclass
class Plan:
    units: list[Change] = field(default_factory=list)
    staff: list[Change] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def count(self, kind: str, action: str) -> int:
        return sum(1 for c in (self.units if kind == "unit" else self.staff) if c.action == action)

    @property
    def counts(self) -> dict[str, int]:
        return {f"{kind}_{action}": self.count(kind, action)
                for kind in ("unit", "staff") for action in ("create", "update", "same")}

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.units or self.staff)

    @property
    def has_changes(self) -> bool:
        return any(c.action != "same" for c in (*self.units, *self.staff))


@dataclass(frozen=True)
class IssuedCode:
    name: str
    unit: str
    code: str
    expires_at: datetime


@dataclass
class Result:
    plan: Plan
    codes: list[IssuedCode]


# --- reading -------------------------------------------------------------------------------------------------

@dataclass
class Table:
    sheet: str
    rows: list[tuple[int, list[str]]]  # (row number, cells as text), the header first


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a phone typed into a number cell
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d")
    return unicodedata.normalize("NFKC", str(value)).strip()


def read_tables(filename: str, data: bytes) -> list[Table]:
    """The file's tables, at most MAX_ROWS data rows in all; InvalidInput (field `file`) when it cannot be read."""
    name = (filename or "").strip().lower()
    if not data:
        raise InvalidInput(NO_FILE, "file")
    if len(data) > MAX_BYTES:
        raise InvalidInput(TOO_BIG, "file")
    if name.endswith(".xlsx"):
        tables = _read_xlsx(data)
    elif name.endswith(".csv"):
        tables = [Table("CSV", list(_limited(enumerate(csv.reader(io.StringIO(_decode(data))), start=1))))]
    else:
        raise InvalidInput(BAD_TYPE, "file")
    if sum(max(len(t.rows) - 1, 0) for t in tables) > MAX_ROWS:
        raise InvalidInput(TOO_MANY, "file")
    return tables


def _decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(BAD_CSV, "file")


def _limited(rows: Iterable[tuple[int, Iterable[Any]]]) -> Iterator[tuple[int, list[str]]]:
    """Non-blank rows as text, stopping one past the limit (so a huge sheet is never read whole)."""
    kept = 0
    for number, cells in rows:
        texts_ = [_cell(v) for v in list(cells)[:MAX_COLUMNS]]
        if not any(texts_):
            continue
        yield number, texts_
        kept += 1
        if kept > MAX_ROWS + 1:
            return


def _read_xlsx(data: bytes) -> list[Table]:
    try:
        # data_only: a formula cell is read as the value Excel last computed (never as its formula)
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise InvalidInput(BAD_XLSX, "file") from None
    try:
        return [Table(sheet.title, list(_limited(enumerate(sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True),
                                                            start=1))))
                for sheet in book.worksheets]
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise InvalidInput(BAD_XLSX, "file") from None
    finally:
        book.close()


# --- checking and planning -----------------------------------------------------------------------------------

def _header(cells: list[str]) -> list[str]:
    return [c.replace("*", "").replace(" ", "").strip() for c in cells]


def _kind(header: list[str]) -> str:
    if all(h in header for h in UNIT_REQUIRED):
        return "unit"
    if all(h in header for h in STAFF_REQUIRED):
        return "staff"
    return ""


def _records(table: Table, columns: dict[str, str]) -> Iterator[tuple[int, dict[str, str]]]:
    header = _header(table.rows[0][1])
    where = {columns[h]: i for i, h in enumerate(header) if h in columns}
    for number, cells in table.rows[1:]:
        yield number, {f: (cells[i] if i < len(cells) else "") for f, i in where.items()}


def _rows(table: Table, columns: dict[str, str]) -> Iterator[tuple[int, dict[str, str], list[RowError], Callable]]:
    """Each data row with its error list and `fail(field, message)`, which adds an error naming row and column."""
    header_of = {f: h for h, f in columns.items()}
    for number, record in _records(table, columns):
        errors: list[RowError] = []

        def fail(name: str, message: str, number: int = number, errors: list[RowError] = errors) -> None:
            errors.append(RowError(table.sheet, number, header_of[name], message))

        yield number, record, errors, fail


def _category(text: str) -> str:
    text = text.strip()
    if text.startswith("进") and text[1:] in CATEGORIES:
        return text[1:]
    return text


def _flag(text: str) -> Optional[bool]:
    value = text.strip().lower()
    if not value:
        return None
    if value in YES:
        return True
    if value in NO:
        return False
    raise ValueError


def plan_import(session: Session, tables: list[Table]) -> Plan:
    """The dry run: what importing `tables` would create or change, and every row's errors. Writes nothing."""
    plan = Plan()
    found = [(t, _kind(_header(t.rows[0][1]))) for t in tables if t.rows]
    found = [(t, kind) for t, kind in found if kind]
    if not found:
        plan.errors.append(RowError("", 0, "", NO_TABLE))
        return plan
    file_units: dict[str, int] = {}
    for table, kind in found:
        if kind == "unit":
            _plan_units(session, table, plan, file_units)
    staff_seen: dict[tuple[str, str], int] = {}
    for table, kind in found:
        if kind == "staff":
            _plan_staff(session, table, plan, file_units, staff_seen)
    if not plan.units and not plan.staff and not plan.errors:
        plan.errors.append(RowError("", 0, "", EMPTY))
    return plan


def _plan_units(session: Session, table: Table, plan: Plan, seen: dict[str, int]) -> None:
    labels = texts.UNIT_LABELS
    column = {f: h for h, f in UNIT_COLUMNS.items()}
    existing = {u.name: u for u in session.scalars(select(Unit))}
    for number, record, errors, fail in _rows(table, UNIT_COLUMNS):
        name = record.get("name", "")
        if not name or len(name) > 100:
            fail("name", texts.UNIT_NAME)
        elif name in seen:
            fail("name", DUPLICATE_UNIT.format(row=seen[name]))
        category = _category(record.get("category", ""))
        if not category:
            fail("category", texts.choose("category", CATEGORIES, labels))
        elif category not in CATEGORIES:
            fail("category", texts.bad_choice("category", CATEGORIES, labels))
        contact = record.get("contact", "")
        if len(contact) > 50:
            fail("contact", texts.too_long("contact", 50, labels))
        phone = ""
        try:
            phone = units.normalise_phone(record.get("phone", ""), labels)
        except units.UnitError as exc:
            fail("phone", exc.message)
        flags: dict[str, Optional[bool]] = {}
        for flag in ("is_extension", "is_education_base"):
            try:
                flags[flag] = _flag(record.get(flag, ""))
            except ValueError:
                fail(flag, BAD_FLAG.format(column=column[flag]))
        if name and name not in seen:
            seen[name] = number
        if errors:
            plan.errors.extend(errors)
            continue
        values: dict[str, Any] = {"name": name, "category": category, "contact": contact, "phone": phone, **flags}
        unit = existing.get(name)
        if unit is None:
            plan.units.append(Change("unit", number, "create", name, values=values))
            continue
        changes = {}
        for key, value in values.items():
            if key == "name" or value in (None, ""):  # blank optional cell: keep what is stored
                continue
            if getattr(unit, key) != value:
                changes[column[key]] = (getattr(unit, key), value)
        plan.units.append(Change("unit", number, "update" if changes else "same", name, values=values,
                                 changes=changes, target_id=unit.id))


def _plan_staff(session: Session, table: Table, plan: Plan, file_units: dict[str, int],
                seen: dict[tuple[str, str], int]) -> None:
    labels = texts.STAFF_LABELS
    column = {f: h for h, f in STAFF_COLUMNS.items()}
    units_by_name = {u.name: u for u in session.scalars(select(Unit))}
    for number, record, errors, fail in _rows(table, STAFF_COLUMNS):
        name = record.get("name", "")
        unit_name = record.get("unit", "")
        if not name or len(name) > 50:
            fail("name", texts.STAFF_NAME)
        unit = units_by_name.get(unit_name)
        if not unit_name:
            fail("unit", texts.required("unit", {"unit": "所属单位"}))
        elif unit is None and unit_name not in file_units:
            fail("unit", UNKNOWN_UNIT.format(name=unit_name))
        elif unit is not None and not unit.active:
            fail("unit", INACTIVE_UNIT.format(name=unit_name))
        phone = ""
        try:
            phone = units.normalise_phone(record.get("phone", ""), labels)
        except units.UnitError as exc:
            fail("phone", exc.message)
        key = (unit_name, name)
        if name and unit_name and key in seen:
            fail("name", DUPLICATE_STAFF.format(row=seen[key]))
        elif name and unit_name:
            seen[key] = number
        if errors:
            plan.errors.extend(errors)
            continue
        values = {"name": name, "unit": unit_name, "phone": phone}
        person = None
        if unit is not None:
            person = session.scalar(select(Staff).where(Staff.unit_id == unit.id, Staff.name == name,
                                                        Staff.active.is_(True)).order_by(Staff.id).limit(1))
        if person is None:
            plan.staff.append(Change("staff", number, "create", name, unit_name, values=values))
            continue
        changes = {column["phone"]: (person.phone, phone)} if phone and person.phone != phone else {}
        plan.staff.append(Change("staff", number, "update" if changes else "same", name, unit_name, values=values,
                                 changes=changes, target_id=person.id))


# --- applying ------------------------------------------------------------------------------------------------

def apply_import(session: Session, filename: str, data: bytes, actor: Any, now: datetime,
                 issue_codes: bool = True) -> Result:
    """Write the planned changes in the caller's transaction, with one audit entry (`units.import`) of counts.

    Raises InvalidInput when the file has any error (nothing is written). The caller commits.
    """
    plan = plan_import(session, read_tables(filename, data))
    if not plan.ok:
        raise InvalidInput(HAS_ERRORS if plan.errors else EMPTY, "file")
    unit_ids: dict[str, int] = {}
    for change in plan.units:
        v = change.values
        if change.action == "create":
            unit = units.create_unit(session, v["name"], v["category"], v["contact"], v["phone"],
                                     bool(v["is_extension"]), bool(v["is_education_base"]))
        elif change.action == "update":
            updates = {k: v[k] for k in ("category", "contact", "phone", "is_extension", "is_education_base")
                       if v[k] not in (None, "")}
            unit = units.update_unit(session, change.target_id, **updates)
        else:
            unit = units.get_unit(session, change.target_id)
        unit_ids[unit.name] = unit.id
    codes: list[IssuedCode] = []
    for change in plan.staff:
        v = change.values
        if change.action == "create":
            unit_id = unit_ids.get(v["unit"]) or session.scalar(select(Unit.id).where(Unit.name == v["unit"]))
            person = units.create_staff(session, unit_id, v["name"], v["phone"])
            if issue_codes:
                code = units.issue_binding_code(session, person.id, now)
                codes.append(IssuedCode(person.name, v["unit"], code, now + units.CODE_TTL))
        elif change.action == "update":
            units.update_staff(session, change.target_id, phone=v["phone"])
    audit.record(session, actor, "units.import", None,
                 {"file": filename[:100], **plan.counts, "codes": len(codes)})
    session.flush()
    return Result(plan, codes)


# --- files offered for download ------------------------------------------------------------------------------

def _xlsx(sheets: list[tuple[str, list[str], list[list[Any]]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title)
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([neutral(v) for v in row])
        sheet.freeze_panes = "A2"
        for index in range(1, len(header) + 1):
            sheet.column_dimensions[get_column_letter(index)].width = 18
            for row_cells in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                row_cells[0].number_format = "@"  # text, so a phone keeps its leading 0
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def template_xlsx() -> bytes:
    """The import template: a 单位 sheet and a 人员 sheet, each a header row and an example row."""
    return _xlsx([(UNIT_SHEET, list(UNIT_COLUMNS), [UNIT_EXAMPLE]),
                  (STAFF_SHEET, list(STAFF_COLUMNS), [STAFF_EXAMPLE])])


CODE_HEADER = ["姓名", "所属单位", "绑定码", "有效期至"]


def codes_xlsx(rows: list[list[str]]) -> bytes:
    """The binding-code sheet as a workbook; `rows` are [name, unit, code, expiry] as shown on the page."""
    return _xlsx([("绑定码", CODE_HEADER, [row[:4] for row in rows])])


def code_rows(codes: list[IssuedCode]) -> list[list[str]]:
    return [[c.name, c.unit, c.code, local(c.expires_at).strftime("%Y-%m-%d %H:%M")] for c in codes]
