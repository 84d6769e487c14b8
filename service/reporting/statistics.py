"""Counts and participant sums of activity reports by 七进 category, unit, activity type and month.

Takes the same `ReportFilter` as the list and the exports, so a dashboard figure and an export always agree.
Everything is counted by SQL GROUP BYs over plain columns (an index covers them: `ix_activity_report_tally`); only
the groups come back. A month is grouped as its days and the days added up here: grouping by a date costs the
database a fraction of grouping by EXTRACT(year), EXTRACT(month), and a year holds at most 366 of them.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.report import ActivityReport
from models.unit import Unit
from service.reporting.query import ReportFilter


def month_key(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass(frozen=True)
class Dimension:
    column: Any  # what SQL groups by
    key: Callable[[Any], Any]  # the group's key from the column's value (months from days)


DIMENSIONS: dict[str, Dimension] = {
    "status": Dimension(ActivityReport.status, str),
    "category": Dimension(ActivityReport.category, str),
    "activity_type": Dimension(ActivityReport.activity_type, str),
    "unit_id": Dimension(ActivityReport.unit_id, int),
    "month": Dimension(ActivityReport.activity_date, month_key),
}


@dataclass
class Tally:
    count: int = 0
    participants: int = 0

    def add(self, count: int, participants: int) -> None:
        self.count += count
        self.participants += participants


def grouped(session: Session, filters: ReportFilter, *names: str) -> dict[tuple, Tally]:
    """The filtered reports' count and participants per combination of the named DIMENSIONS, in one GROUP BY;
    combinations without reports are absent."""
    columns = [DIMENSIONS[name].column for name in names]
    keys = [DIMENSIONS[name].key for name in names]
    stmt = filters.apply(select(*columns, func.count(), func.coalesce(func.sum(ActivityReport.participants), 0))
                         .select_from(ActivityReport)).group_by(*columns)
    out: dict[tuple, Tally] = defaultdict(Tally)
    for *values, count, participants in session.execute(stmt):
        out[tuple(key(value) for key, value in zip(keys, values))].add(count, int(participants))
    return dict(out)


def rollup(groups: dict[tuple, Tally], position: int) -> dict[Any, Tally]:
    """The tallies of `groups` added up by the key at `position` (the other dimensions summed away)."""
    out: dict[Any, Tally] = defaultdict(Tally)
    for key, tally in groups.items():
        out[key[position]].add(tally.count, tally.participants)
    return dict(out)


def _rows(tallies: dict[Any, Tally], name: str) -> list[dict[str, Any]]:
    return [{name: key, "count": t.count, "participants": t.participants} for key, t in sorted(tallies.items())]


def summarize(session: Session, filters: ReportFilter) -> dict[str, Any]:
    """{'total': {count, participants}, 'by_category': [...], 'by_unit': [...], 'by_activity_type': [...],
    'by_month': [{month: 'YYYY-MM', count, participants}], 'filters': {...}}; groups without reports are absent.

    Three GROUP BYs: (category, activity type) gives both of those and the total, then units, then days."""
    kinds = grouped(session, filters, "category", "activity_type")
    units = rollup(grouped(session, filters, "unit_id"), 0)
    names = {unit_id: name
             for unit_id, name in session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(list(units))))}
    total = Tally()
    for tally in kinds.values():
        total.add(tally.count, tally.participants)
    return {
        "filters": filters.to_dict(),
        "total": {"count": total.count, "participants": total.participants},
        "by_category": _rows(rollup(kinds, 0), "category"),
        "by_unit": [{"unit_id": unit_id, "unit": names[unit_id], "count": t.count, "participants": t.participants}
                    for unit_id, t in sorted(units.items())],
        "by_activity_type": _rows(rollup(kinds, 1), "activity_type"),
        "by_month": _rows(rollup(grouped(session, filters, "month"), 0), "month"),
    }
