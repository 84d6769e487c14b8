"""Report filters shared by the list, statistics and exports: parsed from strings once, with the bad field named.

A `ReportFilter` narrows `ActivityReport` by status, 七进 category, unit, activity type, activity date range
(`date_from`/`date_to` inclusive, or `month=YYYY-MM`) and a free-text `q` over receipt number, title, place and
content. `list_reports` pages the result, newest activity first.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Mapping, Optional

from sqlalchemy import Boolean, ColumnElement, Select, String, and_, bindparam, func, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.visitors import InternalTraversal

from models.report import ACTIVITY_TYPES, SEARCH_COLUMNS, STATUSES, ActivityReport, search_grams
from models.unit import CATEGORIES, Unit
from service.core import params
from service.core.db import MAX_ROW_ID
from service.core.errors import InvalidInput
from service.core.paging import DEFAULT_PER_PAGE, Page, check_page, paginate
from service.core.params import month_range
from service.reporting import texts


@dataclass(frozen=True)
class ReportFilter:
    status: Optional[str] = None
    category: Optional[str] = None
    unit_id: Optional[int] = None
    activity_type: Optional[str] = None
    date_from: Optional[date] = None
    date_to: Optional[date] = None
    q: str = ""

    def apply(self, stmt: Select) -> Select:
        conditions = []
        for column, value in ((ActivityReport.status, self.status), (ActivityReport.category, self.category),
                              (ActivityReport.unit_id, self.unit_id),
                              (ActivityReport.activity_type, self.activity_type)):
            if value is not None:
                conditions.append(column == value)
        if self.date_from is not None:
            conditions.append(ActivityReport.activity_date >= self.date_from)
        if self.date_to is not None:
            conditions.append(ActivityReport.activity_date <= self.date_to)
        if self.q:
            conditions.append(text_match(self.q))
        return stmt.where(*conditions) if conditions else stmt

    def to_dict(self) -> dict[str, Any]:
        return {key: (value.isoformat() if isinstance(value, date) else value)
                for key, value in self.__dict__.items() if value not in (None, "")}


class BigramMatch(ColumnElement[bool]):
    """True where a report's text holds every character bigram of `query`: the indexed (GIN) expression on
    PostgreSQL, a no-op elsewhere. It only narrows; the LIKE beside it decides."""

    type = Boolean()
    inherit_cache = True
    _traverse_internals = [("query", InternalTraversal.dp_clauseelement)]

    def __init__(self, query: str) -> None:
        self.query = bindparam(None, query, type_=String())


@compiles(BigramMatch)
def _no_index(element: BigramMatch, compiler: Any, **kw: Any) -> str:
    return compiler.process(true(), **kw)


@compiles(BigramMatch, "postgresql")
def _bigram_index(element: BigramMatch, compiler: Any, **kw: Any) -> str:
    return compiler.process(search_grams().op("@>")(func.qj_text_bigrams(element.query)), **kw)


def text_match(q: str) -> ColumnElement[bool]:
    """`q` anywhere in the receipt number, title, place or content; on PostgreSQL the bigram index narrows first."""
    found = params.contains_any([getattr(ActivityReport, name) for name in SEARCH_COLUMNS], q)
    return and_(BigramMatch(q), found) if len(q) >= 2 else found


def parse_date(value: Any, name: str) -> Optional[date]:
    return params.parse_date(value, name, texts.FIELD_LABELS)


def parse_int(value: Any, name: str, minimum: int = 1, maximum: int = MAX_ROW_ID) -> Optional[int]:
    return params.parse_int(value, name, minimum, maximum, texts.FIELD_LABELS)


def choice(value: Any, options: tuple[str, ...], name: str) -> Optional[str]:
    return params.choice(value, options, name, texts.FIELD_LABELS)


def parse_filters(session: Session, args: Mapping[str, Any]) -> ReportFilter:
    """Validate query arguments; an unknown unit, category, status or a bad date is a 422 naming the field."""
    unit_id = parse_int(args.get("unit_id"), "unit_id")
    if unit_id is not None and session.get(Unit, unit_id) is None:
        raise InvalidInput(texts.UNKNOWN_UNIT, "unit_id")
    date_from, date_to = parse_date(args.get("date_from"), "date_from"), parse_date(args.get("date_to"), "date_to")
    if args.get("month"):
        date_from, date_to = month_range(str(args["month"]))
    if date_from and date_to and date_to < date_from:
        raise InvalidInput(texts.DATE_ORDER, "date_to")
    return ReportFilter(status=choice(args.get("status"), STATUSES, "status"),
                        category=choice(args.get("category"), CATEGORIES, "category"),
                        unit_id=unit_id,
                        activity_type=choice(args.get("activity_type"), ACTIVITY_TYPES, "activity_type"),
                        date_from=date_from, date_to=date_to, q=str(args.get("q") or "").strip()[:100])


class Unindexed(ColumnElement[Any]):
    """A column the PostgreSQL planner cannot read from its index (`column + 0`), elsewhere the column itself.

    A text search is ordered by it: walking the activity-date index and computing each row's bigrams until a page is
    full looks cheap to the planner but takes seconds when its guess of the matches is too high; the bigram index
    followed by a sort is never slow.
    """

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(Unindexed)
def _column(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column, **kw)


@compiles(Unindexed, "postgresql")
def _column_plus_zero(element: Unindexed, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.column, **kw)} + 0)"


def ordered(filters: ReportFilter) -> Select:
    """Newest activity first."""
    day = Unindexed(ActivityReport.activity_date) if len(filters.q) >= 2 else ActivityReport.activity_date
    return filters.apply(select(ActivityReport)).order_by(day.desc(), ActivityReport.id.desc())


# The page's rows are read first and their units, staff and photos by id afterwards (a query each), so a search
# matching many reports never joins them all to units and staff before the page is cut.
PAGE_LOADS = (selectinload(ActivityReport.unit), selectinload(ActivityReport.staff), selectinload(ActivityReport.photos),
              selectinload(ActivityReport.revisions))  # the API shows each report's revisions


def list_reports(session: Session, filters: ReportFilter, page: int = 1,
                 per_page: int = DEFAULT_PER_PAGE) -> Page[ActivityReport]:
    """One page, newest activity first, with each report's unit, staff and photos loaded in the same few queries."""
    check_page(page, per_page)
    return paginate(session, ordered(filters).options(*PAGE_LOADS), page, per_page,
                    total=count_reports(session, filters))


def count_reports(session: Session, filters: ReportFilter) -> int:
    return session.scalar(filters.apply(select(func.count()).select_from(ActivityReport))) or 0
