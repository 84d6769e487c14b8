"""Counts and participant sums of activity reports by 七进 category, unit, activity type and month.

Takes the same `ReportFilter` as the list and the exports, so a dashboard figure and an export always agree.
Every group is one SQL GROUP BY; months come from EXTRACT, which both SQLite and PostgreSQL compile.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import extract, func, select
from sqlalchemy.orm import Session

from models.report import ActivityReport
from models.unit import Unit
from service.reporting.query import ReportFilter

_COUNT = func.count(ActivityReport.id).label("count")
_PARTICIPANTS = func.coalesce(func.sum(ActivityReport.participants), 0).label("participants")


def _rows(session: Session, filters: ReportFilter, *keys) -> list:
    stmt = filters.apply(select(*keys, _COUNT, _PARTICIPANTS).select_from(ActivityReport))
    if any(getattr(k, "table", None) is Unit.__table__ for k in keys):
        stmt = stmt.join(Unit, Unit.id == ActivityReport.unit_id)
    return list(session.execute(stmt.group_by(*keys).order_by(*keys)))


def summarize(session: Session, filters: ReportFilter) -> dict[str, Any]:
    """{'total': {count, participants}, 'by_category': [...], 'by_unit': [...], 'by_activity_type': [...],
    'by_month': [{month: 'YYYY-MM', count, participants}], 'filters': {...}}; groups without reports are absent."""
    total = session.execute(filters.apply(select(_COUNT, _PARTICIPANTS).select_from(ActivityReport))).one()
    year, month = extract("year", ActivityReport.activity_date), extract("month", ActivityReport.activity_date)
    return {
        "filters": filters.to_dict(),
        "total": {"count": total.count, "participants": int(total.participants)},
        "by_category": [{"category": r[0], "count": r.count, "participants": int(r.participants)}
                        for r in _rows(session, filters, ActivityReport.category)],
        "by_unit": [{"unit_id": r[0], "unit": r[1], "count": r.count, "participants": int(r.participants)}
                    for r in _rows(session, filters, Unit.id, Unit.name)],
        "by_activity_type": [{"activity_type": r[0], "count": r.count, "participants": int(r.participants)}
                             for r in _rows(session, filters, ActivityReport.activity_type)],
        "by_month": [{"month": f"{int(r[0]):04d}-{int(r[1]):02d}", "count": r.count,
                      "participants": int(r.participants)}
                     for r in _rows(session, filters, year, month)],
    }
