"""督查考核: the policy's measurable requirements as data, evaluated against approved reports per unit and district.

Status of one rule for one natural period (a calendar year or a quarter):
- 达标   the period holds at least `min_count` counted reports;
- 滞后   the period ended unmet, or it is still running but behind its schedule (see `Rule.schedule`);
- 进行中 unmet, still running and not behind schedule.

A rule's schedule is a tuple of (month, share) checkpoints: once that month is over, the period must hold at least
floor(min_count × share) reports. The year rules use ((6, 0.5), (9, 1.0)): half the minimum (rounded down) by the
end of June, all of it by the end of September, so Q4 is left for catching up rather than for starting. With the
机关 minimums that means: 专题学习 (1/year) lags from 1 Oct if none was held; 研究部署 (2/year) lags from 1 Jul with
none, and from 1 Oct with fewer than 2. Quarter rules have no schedule: a quarter lags only once it has ended.

A unit's status is the worst of its rules over every natural period that overlaps the requested range and has
started by `today` (periods are counted in full, not clipped to the range): 滞后 > 进行中 > 达标. Only active units
are evaluated; a rule scoped to a category applies to units whose own category is that one.
"""
from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterator, Optional

from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.orm import Session

from models.report import STATUS_APPROVED, ActivityReport
from models.unit import Unit
from service.core.clock import local
from service.core.errors import InvalidInput
from service.core.paging import DEFAULT_PER_PAGE, Page, check_page
from service.core.params import YEARS
from service.reporting import texts

MET, RUNNING, LAGGING = texts.MET, texts.RUNNING, texts.LAGGING
_SEVERITY = {MET: 0, RUNNING: 1, LAGGING: 2}
STATUSES = (LAGGING, RUNNING, MET)  # the order the console lists them in: the worst first

YEAR, QUARTER = "year", "quarter"
ALL_UNITS = "*"
YEAR_SCHEDULE: tuple[tuple[int, float], ...] = ((6, 0.5), (9, 1.0))
DEFAULT_QUARTER_MIN = 1


@dataclass(frozen=True)
class Rule:
    """One measurable requirement of the policy and the clause it comes from."""

    id: str
    description: str
    clause: str
    scope: str  # a unit category (e.g. 机关) or ALL_UNITS
    activity_type: Optional[str]  # None: any activity type counts
    min_count: int
    period: str  # YEAR or QUARTER
    approved_only: bool = True
    schedule: tuple[tuple[int, float], ...] = ()

    def applies_to(self, category: str) -> bool:
        """Whether a unit of `category` answers for this rule."""
        return self.scope == ALL_UNITS or category == self.scope


@dataclass(frozen=True)
class DistrictTarget:
    """A district-wide count of flagged units (延伸拓展单位, 教育基地) the policy sets as a target."""

    id: str
    description: str
    clause: str
    unit_flag: str  # boolean attribute of Unit
    target: int


def rules(quarter_min: int = DEFAULT_QUARTER_MIN) -> tuple[Rule, ...]:
    """The unit rules; the quarterly minimum is configurable (Settings.compliance_quarter_min)."""
    if quarter_min < 1:
        raise InvalidInput("每季度最少活动数必须为正整数", "quarter_min")
    return (
        Rule("organ_study", texts.RULE_ORGAN_STUDY, "三、(一)1", "机关", "专题学习", 1, YEAR, schedule=YEAR_SCHEDULE),
        Rule("organ_deploy", texts.RULE_ORGAN_DEPLOY, "三、(一)1", "机关", "研究部署", 2, YEAR, schedule=YEAR_SCHEDULE),
        Rule("quarterly_activity", texts.rule_quarterly(quarter_min), "四、(二)", ALL_UNITS, None, quarter_min, QUARTER),
    )


RULES: tuple[Rule, ...] = rules()

DISTRICT_TARGETS: tuple[DistrictTarget, ...] = (
    DistrictTarget("extension_units", texts.TARGET_EXTENSION, "一、", "is_extension", 8),
    DistrictTarget("education_bases", texts.TARGET_EDUCATION_BASE, "一、", "is_education_base", 1),
)


# ---- periods ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Period:
    kind: str
    start: date
    end: date  # inclusive

    @property
    def label(self) -> str:
        if self.kind == YEAR:
            return texts.year_label(self.start.year)
        return texts.quarter_label(self.start.year, (self.start.month - 1) // 3 + 1)

    @property
    def key(self) -> str:
        """How a query string names it: '2026' or '2026-Q3' (`parse_period` reads it back)."""
        if self.kind == YEAR:
            return str(self.start.year)
        return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"


def _month_end(year: int, month: int) -> date:
    return (date(year + month // 12, month % 12 + 1, 1)) - timedelta(days=1)


def periods(kind: str, start: date, end: date) -> Iterator[Period]:
    """The natural periods of `kind` overlapping [start, end], in order."""
    if kind == YEAR:
        for year in range(start.year, end.year + 1):
            yield Period(YEAR, date(year, 1, 1), date(year, 12, 31))
        return
    year, quarter = start.year, (start.month - 1) // 3
    while date(year, quarter * 3 + 1, 1) <= end:
        yield Period(QUARTER, date(year, quarter * 3 + 1, 1), _month_end(year, quarter * 3 + 3))
        year, quarter = (year + 1, 0) if quarter == 3 else (year, quarter + 1)


_PERIOD_KEY = re.compile(r"(\d{4})(?:-?Q([1-4]))?")


def parse_period(value: Optional[str], today: date) -> Period:
    """A year ('2026') or a quarter ('2026-Q3', also '2026q3'); blank is the year of `today`."""
    text = (value or "").strip().upper()
    if not text:
        return next(periods(YEAR, today, today))
    match = _PERIOD_KEY.fullmatch(text)
    if match is None or int(match[1]) not in YEARS:
        raise InvalidInput(texts.BAD_PERIOD, "period")
    quarter = int(match[2] or 0)
    day = date(int(match[1]), (quarter - 1) * 3 + 1 if quarter else 1, 1)
    return next(periods(QUARTER if quarter else YEAR, day, day))


def period_choices(today: date, years: int = 2) -> list[Period]:
    """This year and the ones before it, each followed by its quarters that have begun, for the console's select."""
    choices = []
    for year in range(today.year, today.year - years, -1):
        choices.append(next(periods(YEAR, date(year, 1, 1), date(year, 1, 1))))
        choices.extend(q for q in periods(QUARTER, date(year, 1, 1), date(year, 12, 31)) if q.start <= today)
    return choices


def expected_by(rule: Rule, period: Period, today: date) -> int:
    """How many reports the schedule expects by `today` (the whole minimum once the period is over)."""
    if today > period.end:
        return rule.min_count
    expected = 0
    for month, share in rule.schedule:
        if today > _month_end(period.start.year, month):
            expected = max(expected, math.floor(rule.min_count * share))
    return expected


def rule_status(rule: Rule, period: Period, count: int, today: date) -> str:
    if count >= rule.min_count:
        return MET
    return LAGGING if count < expected_by(rule, period, today) else RUNNING


# ---- results -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    period: Period
    count: int
    expected_now: int
    status: str

    def to_dict(self) -> dict:
        return {"rule_id": self.rule.id, "description": self.rule.description, "clause": self.rule.clause,
                "period": self.period.label, "period_start": self.period.start.isoformat(),
                "period_end": self.period.end.isoformat(), "count": self.count, "required": self.rule.min_count,
                "expected_now": self.expected_now, "status": self.status}


@dataclass
class UnitCompliance:
    unit_id: int
    name: str
    category: str
    results: list[RuleResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        # With no period to judge yet (a unit registered during the current quarter) it is 进行中, not 达标.
        return max((r.status for r in self.results), key=_SEVERITY.__getitem__, default=RUNNING)

    @property
    def missed(self) -> list[RuleResult]:
        return [r for r in self.results if r.status != MET]

    @property
    def behind(self) -> tuple[int, int]:
        """How far behind: (requirements lagging, reports short of what they expect by now)."""
        lagging = [r for r in self.results if r.status == LAGGING]
        return len(lagging), sum(r.expected_now - r.count for r in lagging)

    def to_dict(self) -> dict:
        return {"unit_id": self.unit_id, "name": self.name, "category": self.category, "status": self.status,
                "missed": [r.to_dict() for r in self.missed], "results": [r.to_dict() for r in self.results]}


@dataclass(frozen=True)
class DistrictProgress:
    target: DistrictTarget
    count: int

    @property
    def met(self) -> bool:
        return self.count >= self.target.target

    def to_dict(self) -> dict:
        t = self.target
        return {"id": t.id, "description": t.description, "clause": t.clause, "count": self.count,
                "target": t.target, "met": self.met, "status": MET if self.met else RUNNING}


@dataclass
class ComplianceReport:
    period_start: date
    period_end: date
    today: date
    units: list[UnitCompliance]
    district: list[DistrictProgress]

    def by_status(self, status: str) -> list[UnitCompliance]:
        return [u for u in self.units if u.status == status]

    def most_behind(self, limit: int) -> list[UnitCompliance]:
        """The lagging units furthest behind (`UnitCompliance.behind`), at most `limit`; ties keep the list's order."""
        return sorted(self.by_status(LAGGING), key=lambda u: tuple(-n for n in u.behind))[:limit]

    def select(self, category: Optional[str] = None, status: Optional[str] = None, page: int = 1,
               per_page: int = DEFAULT_PER_PAGE) -> "Selection":
        """One page of the units of `category` (all when None) whose status is `status` (any when None), and how
        many units of that category have each status."""
        check_page(page, per_page)
        return self._selection(category, status, page, per_page)

    def _selection(self, category: Optional[str], status: Optional[str], page: int, per_page: int) -> "Selection":
        units = [u for u in self.units if category is None or u.category == category]
        counts = Counter(u.status for u in units)
        chosen = [u for u in units if status is None or u.status == status]
        start = (page - 1) * per_page
        return Selection({s: counts.get(s, 0) for s in (MET, RUNNING, LAGGING)},
                         Page(chosen[start:start + per_page], len(chosen), page, per_page))

    def to_dict(self, selection: Optional["Selection"] = None) -> dict:
        """Every unit, or with `selection` its page of units, its summary and the page's figures."""
        selection = selection or self._selection(None, None, 1, max(len(self.units), 1))
        page = selection.page
        out = {"period_start": self.period_start.isoformat(), "period_end": self.period_end.isoformat(),
               "today": self.today.isoformat(), "summary": selection.summary,
               "units": [u.to_dict() for u in page.items], "district": [d.to_dict() for d in self.district]}
        return out | {"total": page.total, "page": page.page, "per_page": page.per_page, "pages": page.pages}


@dataclass(frozen=True)
class Selection:
    summary: dict[str, int]  # status → units of the chosen category
    page: Page  # of UnitCompliance


# ---- evaluation --------------------------------------------------------------------------------------------------
# One GROUP BY per evaluation counts each unit's reports per quarter (a year is the sum of its quarters), one column
# per (activity type, approved only) the rules count; the rules are then judged on those few counts in Python. The
# cost grows with units × quarters, not with reports, and no report row leaves the database.

CounterKey = tuple[Optional[str], bool]  # (activity type or None for any, approved reports only)


def _counter(rule: Rule) -> CounterKey:
    return rule.activity_type, rule.approved_only


def _tallies(session: Session, counters: list[CounterKey], quarters: list[Period],
             unit_ids: Optional[list[int]]) -> dict[int, list[list[int]]]:
    """unit id → for each of `quarters`, how many reports each counter counts (units without reports are absent)."""
    approved = ActivityReport.status == STATUS_APPROVED
    everything_approved = all(approved_only for _, approved_only in counters)

    def counted(activity_type: Optional[str], approved_only: bool):
        conditions = [] if everything_approved or not approved_only else [approved]
        if activity_type is not None:
            conditions.append(ActivityReport.activity_type == activity_type)
        return func.sum(case((and_(*conditions), 1), else_=0)) if conditions else func.count()

    # The reports lie within the quarters, so the first quarter whose end is not before the date is the report's.
    ends = [(ActivityReport.activity_date <= q.end, i) for i, q in enumerate(quarters[:-1])]
    quarter = (case(*ends, else_=len(quarters) - 1) if ends else literal_column("0")).label("quarter")
    stmt = (select(ActivityReport.unit_id, quarter, *(counted(*c) for c in counters))
            .where(ActivityReport.activity_date.between(quarters[0].start, quarters[-1].end))
            .group_by(ActivityReport.unit_id, "quarter"))  # by its label: the CASE's dates are bound parameters
    if everything_approved:
        stmt = stmt.where(approved)
    if unit_ids is not None:
        stmt = stmt.where(ActivityReport.unit_id.in_(unit_ids))
    tallies: dict[int, list[list[int]]] = {}
    for unit_id, index, *counts in session.execute(stmt):
        per_quarter = tallies.setdefault(unit_id, [[0] * len(counters) for _ in quarters])
        per_quarter[index] = [int(n or 0) for n in counts]
    return tallies


def _fingerprint(session: Session, rule_set: tuple[Rule, ...], start: date, end: date) -> Optional[int]:
    """What the counts depend on besides the units: the number of approved reports dated within [start, end].

    An approved report never changes or goes away (only a 待审核 report is reviewed, only a 已退回 one is edited),
    so each approval raises this number, whichever order transactions commit in. None when a rule also counts
    reports not yet approved, which can change in place: such an evaluation is never cached.
    """
    if not all(rule.approved_only for rule in rule_set):
        return None
    return session.scalar(select(func.count()).select_from(ActivityReport).where(
        ActivityReport.status == STATUS_APPROVED, ActivityReport.activity_date.between(start, end)))


class EvaluationCache:
    """Evaluations this process made, reused while nothing they depend on changed: the day, the range, the rules,
    the active units (read on every call, compared in full) and the approved reports (`_fingerprint`).

    One per app (web worker); a hit reads the units, the district's counts and one COUNT instead of the GROUP BY
    and the judging.
    """

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._entries: OrderedDict[tuple, ComplianceReport] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Optional[ComplianceReport]:
        with self._lock:
            report = self._entries.get(key)
            if report is not None:
                self._entries.move_to_end(key)
            return report

    def put(self, key: tuple, report: ComplianceReport) -> None:
        with self._lock:
            self._entries[key] = report
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


def evaluate(session: Session, period_start: date, period_end: date, today: date,
             rule_set: Optional[tuple[Rule, ...]] = None, unit_ids: Optional[list[int]] = None,
             cache: Optional[EvaluationCache] = None) -> ComplianceReport:
    """Each active unit's status over the natural periods overlapping [period_start, period_end], and the district's
    progress towards its targets. Periods that have not started by `today`, or had started before the unit was
    registered, are left out. With `cache`, an unchanged evaluation of the same day is reused."""
    if period_end < period_start:
        raise InvalidInput("结束日期不能早于开始日期", "date_to")
    rule_set = RULES if rule_set is None else rule_set
    stmt = select(Unit.id, Unit.name, Unit.category, Unit.created_at).where(Unit.active.is_(True)).order_by(
        Unit.category, Unit.name)
    if unit_ids is not None:
        stmt = stmt.where(Unit.id.in_(unit_ids))
    units = [tuple(row) for row in session.execute(stmt)]
    district = district_progress(session)

    per_rule = [(rule, [p for p in periods(rule.period, period_start, period_end) if p.start <= today])
                for rule in rule_set]
    spans = [p for _, ps in per_rule for p in ps]
    quarters = list(periods(QUARTER, min(p.start for p in spans), max(p.end for p in spans))) if spans else []
    key = None
    if cache is not None and quarters:
        fingerprint = _fingerprint(session, rule_set, quarters[0].start, quarters[-1].end)
        if fingerprint is not None:
            key = (period_start, period_end, today, rule_set, tuple(unit_ids or ()), unit_ids is None, tuple(units),
                   fingerprint)
            cached = cache.get(key)
            if cached is not None:
                return ComplianceReport(period_start, period_end, today, cached.units, district)

    counters = sorted({_counter(rule) for rule in rule_set}, key=repr)
    column = {c: i for i, c in enumerate(counters)}
    # For each rule and period: which counter, and which quarters make up the period.
    plan = [(rule, [(period, column[_counter(rule)],
                     [i for i, q in enumerate(quarters) if period.start <= q.start <= period.end])
                    for period in rule_periods])
            for rule, rule_periods in per_rule]
    tallies = _tallies(session, counters, quarters, unit_ids) if quarters and units else {}
    report = ComplianceReport(period_start, period_end, today, [_judge(unit, plan, tallies, today) for unit in units],
                              district)
    if key is not None:
        cache.put(key, report)
    return report


def _judge(unit: tuple, plan: list, tallies: dict[int, list[list[int]]], today: date) -> UnitCompliance:
    """One unit's results: each rule that applies to it, over each planned period that began once it was registered
    (one added in November is not behind on that year's or that quarter's requirements; its first are the next
    quarter's)."""
    unit_id, name, category, created_at = unit
    outcome = UnitCompliance(unit_id, name, category)
    registered = local(created_at).date()
    counts = tallies.get(unit_id)
    for rule, rule_periods in plan:
        if not rule.applies_to(category):
            continue
        for period, counter, quarters in rule_periods:
            if period.start < registered:
                continue
            count = sum(counts[i][counter] for i in quarters) if counts else 0
            outcome.results.append(RuleResult(rule, period, count, expected_by(rule, period, today),
                                              rule_status(rule, period, count, today)))
    return outcome


def district_progress(session: Session) -> list[DistrictProgress]:
    """Every target's count of active flagged units, in one query."""
    counts = session.execute(select(*(func.count(case((getattr(Unit, t.unit_flag).is_(True), 1)))
                                      for t in DISTRICT_TARGETS)).where(Unit.active.is_(True))).one()
    return [DistrictProgress(target, count or 0) for target, count in zip(DISTRICT_TARGETS, counts)]


def lagging_units(session: Session, period_start: date, period_end: date, today: date,
                  rule_set: Optional[tuple[Rule, ...]] = None) -> list[UnitCompliance]:
    """Units whose status is 滞后 over the range, each with the rules it missed (for the scheduler's reminders)."""
    return evaluate(session, period_start, period_end, today, rule_set).by_status(LAGGING)


def year_to_date(today: date) -> tuple[date, date]:
    """The default range: the calendar year containing `today`."""
    return date(today.year, 1, 1), date(today.year, 12, 31)
