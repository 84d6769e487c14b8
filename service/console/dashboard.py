"""The administrators' dashboard, assembled from statistics, compliance, the unanswered-question inbox and the
residents' messages (open and overdue threads, first-response time, the month's satisfaction).

Everything the page shows is computed here (zero-filled categories and months, charts as SVG), so the view only
renders and a test can check the figures without a browser.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from models.policy import UnansweredQuestion
from models.report import STATUS_APPROVED, STATUS_PENDING, STATUS_REJECTED, STATUSES
from models.unit import CATEGORIES
from service.console import charts
from service.core import clock
from service.messages import staff as message_staff
from service.policy import faq as policy_faq
from service.reporting import compliance, statistics
from service.reporting.query import ReportFilter

UNANSWERED_SHOWN = 10
# The console's status badges' colours: pending amber, approved green, returned red.
STATUS_COLORS = [{STATUS_PENDING: "#d97706", STATUS_APPROVED: "#16a34a", STATUS_REJECTED: "#b4232a"}[s] for s in STATUSES]


@dataclass(frozen=True)
class TargetRow:
    progress: compliance.DistrictProgress
    width: int  # bar width in percent, rounded down to a multiple of 10 (the stylesheet has a class per step)


def target_row(progress: compliance.DistrictProgress) -> TargetRow:
    target = max(progress.target.target, 1)
    return TargetRow(progress, min(100, progress.count * 100 // target // 10 * 10))


@dataclass(frozen=True)
class Dashboard:
    today: date
    month_total: int
    year_total: int
    pending: int
    month_by_category: str  # SVG
    year_by_category: str  # SVG
    year_by_month: str  # SVG
    district: list[TargetRow]
    lagging: list[compliance.UnitCompliance]
    unanswered: list[UnansweredQuestion]
    messages: message_staff.MonthFigures


def _by_status(session: Session, start: date, end: date, key: str, labels: list[str]) -> dict[str, list[int]]:
    """For each status, the report counts per label (categories or 'YYYY-MM' months), zero-filled."""
    out: dict[str, list[int]] = {}
    for status in STATUSES:
        summary: dict[str, Any] = statistics.summarize(session, ReportFilter(status=status, date_from=start,
                                                                            date_to=end))
        counts = {row[key]: row["count"] for row in summary[f"by_{key}"]}
        out[status] = [counts.get(label, 0) for label in labels]
    return out


def week_start(now: datetime) -> datetime:
    """Monday 00:00 of `now`'s week in Asia/Shanghai."""
    local = clock.local(now)
    return datetime.combine(local.date() - timedelta(days=local.weekday()), time.min, tzinfo=clock.TZ)


def build(session: Session, now: datetime, quarter_min: int = compliance.DEFAULT_QUARTER_MIN) -> Dashboard:
    today = clock.local(now).date()
    month_start = today.replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    year_start, year_end = compliance.year_to_date(today)
    months = [f"{today.year:04d}-{m:02d}" for m in range(1, 13)]
    month_cat = _by_status(session, month_start, month_end, "category", list(CATEGORIES))
    year_cat = _by_status(session, year_start, year_end, "category", list(CATEGORIES))
    year_month = _by_status(session, year_start, year_end, "month", months)
    labels = [f"进{c}" for c in CATEGORIES]
    return Dashboard(
        today=today,
        month_total=sum(map(sum, month_cat.values())),
        year_total=sum(map(sum, year_cat.values())),
        pending=sum(year_month[STATUS_PENDING]),
        month_by_category=charts.stacked_bar_chart(labels, list(month_cat.items()), colors=STATUS_COLORS,
                                                   title=f"{today.month}月各类别上报数"),
        year_by_category=charts.stacked_bar_chart(labels, list(year_cat.items()), colors=STATUS_COLORS,
                                                  title=f"{today.year}年各类别上报数"),
        # the console shows it across the page: drawn twice as wide, its text stays the size of the others'
        year_by_month=charts.stacked_bar_chart([f"{m}月" for m in range(1, 13)], list(year_month.items()),
                                               colors=STATUS_COLORS, width=720, title=f"{today.year}年每月上报数"),
        district=[target_row(p) for p in compliance.district_progress(session)],
        lagging=compliance.lagging_units(session, year_start, year_end, today, compliance.rules(quarter_min)),
        unanswered=policy_faq.list_unanswered(session, UNANSWERED_SHOWN, since=week_start(now)),
        messages=message_staff.month_figures(session, now),
    )
