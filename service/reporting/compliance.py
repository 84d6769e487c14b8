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
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Iterable, Iterator, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.report import STATUS_APPROVED, ActivityReport
from models.unit import Unit
from service.core.clock import local
from service.core.errors import InvalidInput
from service.reporting import texts

MET, RUNNING, LAGGING = texts.MET, texts.RUNNING, texts.LAGGING
_SEVERITY = {MET: 0, RUNNING: 1, LAGGING: 2}

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

    def applies_to(self, unit: Unit) -> bool:
        return self.scope == ALL_UNITS or unit.category == self.scope


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

    def to_dict(self) -> dict:
        counts = Counter(u.status for u in self.units)
        return {"period_start": self.period_start.isoformat(), "period_end": self.period_end.isoformat(),
                "today": self.today.isoformat(), "summary": {s: counts.get(s, 0) for s in (MET, RUNNING, LAGGING)},
                "units": [u.to_dict() for u in self.units], "district": [d.to_dict() for d in self.district]}


# ---- evaluation --------------------------------------------------------------------------------------------------

def _report_dates(session: Session, unit_ids: list[int], start: date, end: date,
                  approved_only: bool) -> list[tuple[int, str, date]]:
    stmt = select(ActivityReport.unit_id, ActivityReport.activity_type, ActivityReport.activity_date).where(
        ActivityReport.unit_id.in_(unit_ids), ActivityReport.activity_date.between(start, end))
    if approved_only:
        stmt = stmt.where(ActivityReport.status == STATUS_APPROVED)
    return [tuple(row) for row in session.execute(stmt)]


def _count(rows: Iterable[tuple[int, str, date]], unit_id: int, rule: Rule, period: Period) -> int:
    return sum(1 for uid, kind, day in rows
               if uid == unit_id and period.start <= day <= period.end
               and (rule.activity_type is None or kind == rule.activity_type))


def evaluate(session: Session, period_start: date, period_end: date, today: date,
             rule_set: Optional[tuple[Rule, ...]] = None, unit_ids: Optional[list[int]] = None) -> ComplianceReport:
    """Each active unit's status over the natural periods overlapping [period_start, period_end], and the district's
    progress towards its targets. Periods that have not started by `today`, or had started before the unit was
    registered, are left out."""
    if period_end < period_start:
        raise InvalidInput("结束日期不能早于开始日期", "date_to")
    rule_set = RULES if rule_set is None else rule_set
    stmt = select(Unit).where(Unit.active.is_(True)).order_by(Unit.category, Unit.name)
    if unit_ids is not None:
        stmt = stmt.where(Unit.id.in_(unit_ids))
    units = list(session.scalars(stmt))

    per_rule = [(rule, [p for p in periods(rule.period, period_start, period_end) if p.start <= today])
                for rule in rule_set]
    spans = [p for _, ps in per_rule for p in ps]
    rows: dict[bool, list] = {}
    if spans and units:
        lo, hi = min(p.start for p in spans), max(p.end for p in spans)
        for approved_only in {rule.approved_only for rule in rule_set}:
            rows[approved_only] = _report_dates(session, [u.id for u in units], lo, hi, approved_only)

    results = []
    for unit in units:
        outcome = UnitCompliance(unit.id, unit.name, unit.category)
        registered = local(unit.created_at).date()
        for rule, rule_periods in per_rule:
            if not rule.applies_to(unit):
                continue
            # A unit answers for the periods that began once it was registered: one added in November is not
            # behind on that year's or that quarter's requirements, its first are the next quarter's.
            for period in (p for p in rule_periods if p.start >= registered):
                count = _count(rows.get(rule.approved_only, ()), unit.id, rule, period)
                outcome.results.append(RuleResult(rule, period, count, expected_by(rule, period, today),
                                                  rule_status(rule, period, count, today)))
        results.append(outcome)
    return ComplianceReport(period_start, period_end, today, results, district_progress(session))


def district_progress(session: Session) -> list[DistrictProgress]:
    progress = []
    for target in DISTRICT_TARGETS:
        flag = getattr(Unit, target.unit_flag)
        count = session.scalar(select(func.count()).select_from(Unit).where(Unit.active.is_(True), flag.is_(True)))
        progress.append(DistrictProgress(target, count or 0))
    return progress


def lagging_units(session: Session, period_start: date, period_end: date, today: date,
                  rule_set: Optional[tuple[Rule, ...]] = None) -> list[UnitCompliance]:
    """Units whose status is 滞后 over the range, each with the rules it missed (for reminders and the dashboard)."""
    return evaluate(session, period_start, period_end, today, rule_set).by_status(LAGGING)


def year_to_date(today: date) -> tuple[date, date]:
    """The default range: the calendar year containing `today`."""
    return date(today.year, 1, 1), date(today.year, 12, 31)
