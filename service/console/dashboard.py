"""The administrators' dashboard, assembled from statistics, compliance, the unanswered-question inbox and the
residents' messages (open and overdue threads, first-response time, the month's satisfaction).

Everything the page shows is computed here (zero-filled categories and months, charts as SVG), so the view only
renders and a test can check the figures without a browser.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Optional

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
LAGGING_SHOWN = 10  # the furthest behind; the compliance page lists them all
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
    lagging: list[compliance.UnitCompliance]  # the LAGGING_SHOWN furthest behind
    lagging_total: int
    unanswered: list[UnansweredQuestion]
    messages: message_staff.MonthFigures


def _by_status(groups: dict[tuple, statistics.Tally], position: int, labels: list[str],
               month: Optional[str] = None) -> dict[str, list[int]]:
    """For each status, the report counts per label (the key at `position` of the (status, category, month)
    groups), zero-filled; with `month`, that month's only."""
    counts: Counter[tuple[str, str]] = Counter()
    for key, tally in groups.items():
        if month is None or key[2] == month:
            counts[key[0], key[position]] += tally.count
    return {status: [counts[status, label] for label in labels] for status in STATUSES}


def week_start(now: datetime) -> datetime:
    """Monday 00:00 of `now`'s week in Asia/Shanghai."""
    local = clock.local(now)
    return datetime.combine(local.date() - timedelta(days=local.weekday()), time.min, tzinfo=clock.TZ)


def build(session: Session, now: datetime, quarter_min: int = compliance.DEFAULT_QUARTER_MIN,
          cache: Optional[compliance.EvaluationCache] = None) -> Dashboard:
    """The year's reports counted in one GROUP BY (status, category, month) and compliance evaluated once."""
    today = clock.local(now).date()
    year_start, year_end = compliance.year_to_date(today)
    months = [f"{today.year:04d}-{m:02d}" for m in range(1, 13)]
    groups = statistics.grouped(session, ReportFilter(date_from=year_start, date_to=year_end),
                                "status", "category", "month")
    month_cat = _by_status(groups, 1, list(CATEGORIES), month=statistics.month_key(today))
    year_cat = _by_status(groups, 1, list(CATEGORIES))
    year_month = _by_status(groups, 2, months)
    standing = compliance.evaluate(session, year_start, year_end, today, compliance.rules(quarter_min), cache=cache)
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
        district=[target_row(p) for p in standing.district],
        lagging=standing.most_behind(LAGGING_SHOWN),
        lagging_total=len(standing.by_status(compliance.LAGGING)),
        unanswered=policy_faq.list_unanswered(session, UNANSWERED_SHOWN, since=week_start(now)),
        messages=message_staff.month_figures(session, now),
    )
