"""Query and form values parsed from strings once, the bad one named: dates, whole numbers, choices, months.

Shared by every feature's filters (reports, messages …); each passes its own Chinese field labels so a message
reads “活动日期从必须是…” rather than the machine name.
"""
from __future__ import annotations

import calendar
from datetime import date
from typing import Any, Mapping, Optional, Sequence

from sqlalchemy import ColumnElement, or_

from service.core.db import MAX_ROW_ID
from service.core.errors import InvalidInput

YEARS = range(2000, 2100)  # the dates a record or a filter can mean; 9999-12 is a typo, not a month to search
NO_LABELS: Mapping[str, str] = {}


def label(name: str, labels: Mapping[str, str] = NO_LABELS) -> str:
    """The Chinese name of field `name` (the machine name itself only for a field nobody labelled)."""
    return labels.get(name, name)


def bad_date(name: str, labels: Mapping[str, str] = NO_LABELS) -> str:
    return f"{label(name, labels)}必须是 YYYY-MM-DD 格式的日期，例如 2026-03-01"


def bad_int(name: str, minimum: int = 1, labels: Mapping[str, str] = NO_LABELS) -> str:
    what = "正整数" if minimum == 1 else f"不小于 {minimum} 的整数"
    return f"{label(name, labels)}必须是{what}"


def bad_range(name: str, low: int, high: int, labels: Mapping[str, str] = NO_LABELS) -> str:
    return f"{label(name, labels)}必须是 {low} 到 {high} 之间的整数"


def bad_year(name: str, years: range, labels: Mapping[str, str] = NO_LABELS) -> str:
    return f"{label(name, labels)}的年份必须在 {years.start} 到 {years.stop - 1} 之间"


def bad_month() -> str:
    return "月份必须是 YYYY-MM 格式，例如 2026-03"


def bad_choice(name: str, options: tuple[str, ...], labels: Mapping[str, str] = NO_LABELS) -> str:
    return f"{label(name, labels)}只能是：{'、'.join(options)}"


def required(name: str, labels: Mapping[str, str] = NO_LABELS) -> str:
    return f"请填写{label(name, labels)}"


def too_long(name: str, limit: int, labels: Mapping[str, str] = NO_LABELS) -> str:
    return f"{label(name, labels)}不能超过 {limit} 个字"


def bad_type(name: str, kind: str, labels: Mapping[str, str] = NO_LABELS) -> str:
    return f"{label(name, labels)}必须是{kind}"


def parse_text(value: Any, name: str, limit: int, required_: bool = False,
               labels: Mapping[str, str] = NO_LABELS) -> Optional[str]:
    """A text field of a form or JSON body, stripped: not text, missing when required, or longer than `limit` is
    refused naming the field; an absent optional one is None."""
    if value is not None and not isinstance(value, str):
        raise InvalidInput(bad_type(name, "文本", labels), name)
    if value is None or (required_ and not value.strip()):
        if required_:
            raise InvalidInput(required(name, labels), name)
        return None
    if len(value.strip()) > limit:
        raise InvalidInput(too_long(name, limit, labels), name)
    return value.strip()


def parse_date(value: Any, name: str, labels: Mapping[str, str] = NO_LABELS) -> Optional[date]:
    if value in (None, ""):
        return None
    try:
        day = date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput(bad_date(name, labels), name) from None
    if day.year not in YEARS:
        raise InvalidInput(bad_year(name, YEARS, labels), name)
    return day


def parse_int(value: Any, name: str, minimum: int = 1, maximum: int = MAX_ROW_ID,
              labels: Mapping[str, str] = NO_LABELS) -> Optional[int]:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except ValueError:
        raise InvalidInput(bad_int(name, minimum, labels), name) from None
    if number < minimum:
        raise InvalidInput(bad_int(name, minimum, labels), name)
    if number > maximum:
        raise InvalidInput(bad_range(name, minimum, maximum, labels), name)
    return number


def choice(value: Any, options: tuple[str, ...], name: str, labels: Mapping[str, str] = NO_LABELS,
           shown: Optional[tuple[str, ...]] = None) -> Optional[str]:
    """`value` if it is one of `options`; the message lists `shown` (e.g. the Chinese words) when given."""
    if value in (None, ""):
        return None
    if value not in options:
        raise InvalidInput(bad_choice(name, shown or options, labels), name)
    return str(value)


def month_range(value: str) -> tuple[date, date]:
    try:
        year, month = (int(part) for part in value.strip().split("-"))
        start = date(year, month, 1)
    except ValueError:
        raise InvalidInput(bad_month(), "month") from None
    if year not in YEARS:
        raise InvalidInput(bad_year("month", YEARS), "month")
    return start, date(year, month, calendar.monthrange(year, month)[1])


def contains_any(columns: Sequence[Any], text: str) -> ColumnElement[bool]:
    """A free-text filter: any of `columns` contains `text` (case-insensitive; % and _ taken literally).

    Text without letters that have a case (Chinese words, digits) is matched with LIKE: the same rows, and
    PostgreSQL's ILIKE lower-cases every multibyte row first (five times slower on 100,000 rows).
    """
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    cased = text.lower() != text.upper()
    return or_(*((column.ilike if cased else column.like)(pattern, escape="\\") for column in columns))
