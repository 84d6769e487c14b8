"""Report filters shared by the list, statistics and exports: parsed from strings once, with the bad field named.

A `ReportFilter` narrows `ActivityReport` by status, 七进 category, unit, activity type, activity date range
(`date_from`/`date_to` inclusive, or `month=YYYY-MM`) and a free-text `q` over receipt number, title, place and
content. `list_reports` pages the result, newest activity first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Mapping, Optional

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from models.report import ACTIVITY_TYPES, STATUSES, ActivityReport
from models.unit import CATEGORIES, Unit
from service.core import params
from service.core.db import MAX_ROW_ID
from service.core.errors import InvalidInput
from service.core.params import month_range
from service.reporting import texts

MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 20


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
            conditions.append(params.contains_any((ActivityReport.receipt_no, ActivityReport.title,
                                                   ActivityReport.place, ActivityReport.content), self.q))
        return stmt.where(*conditions) if conditions else stmt

    def to_dict(self) -> dict[str, Any]:
        return {key: (value.isoformat() if isinstance(value, date) else value)
                for key, value in self.__dict__.items() if value not in (None, "")}


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


@dataclass
class Page:
    items: list[ActivityReport]
    total: int
    page: int
    per_page: int
    filters: ReportFilter = field(default_factory=ReportFilter)

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page) if self.total else 0


def ordered(filters: ReportFilter) -> Select:
    return filters.apply(select(ActivityReport)).order_by(ActivityReport.activity_date.desc(),
                                                         ActivityReport.id.desc())


def list_reports(session: Session, filters: ReportFilter, page: int = 1,
                 per_page: int = DEFAULT_PER_PAGE) -> Page:
    if page < 1:
        raise InvalidInput(texts.bad_int("page"), "page")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput(texts.bad_per_page(MAX_PER_PAGE), "per_page")
    total = session.scalar(filters.apply(select(func.count()).select_from(ActivityReport))) or 0
    items = session.scalars(ordered(filters).options(selectinload(ActivityReport.photos))
                            .limit(per_page).offset((page - 1) * per_page)).unique().all()
    return Page(list(items), total, page, per_page, filters)


def all_reports(session: Session, filters: ReportFilter) -> list[ActivityReport]:
    """Every matching report (for exports), photos loaded."""
    return list(session.scalars(ordered(filters).options(selectinload(ActivityReport.photos))).unique())

