"""The SQL evaluation of compliance and the SQL statistics against plain Python references, over small random
districts (many seeds, on SQLite and PostgreSQL), and the evaluation cache: reused while nothing changed, never
stale after an approval or a change to a unit."""
from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import delete, select

from models.report import ACTIVITY_TYPES, STATUS_APPROVED, STATUS_PENDING, STATUS_REJECTED, STATUSES, ActivityReport
from models.staff import Staff
from models.unit import CATEGORIES, Unit
from service.core import clock
from service.core.clock import TZ, local
from service.reporting import compliance, reports, statistics, units as unit_service
from service.reporting.compliance import (ALL_UNITS, LAGGING, MET, QUARTER, RUNNING, YEAR, YEAR_SCHEDULE, Rule,
                                          expected_by, periods, rule_status)
from service.reporting.query import ReportFilter
from tests.factories import make_reviewed_report, make_staff, make_unit

SEEDS = range(40)
FIRST_DAY, LAST_DAY = date(2024, 10, 1), date(2027, 3, 31)
# A rule that counts reports still waiting for review and one type for every unit: the evaluation's other paths.
EXTRA_RULES = (Rule("any_volunteering", "志愿服务（含待审核）", "测试", ALL_UNITS, "志愿服务", 2, YEAR,
                    approved_only=False, schedule=YEAR_SCHEDULE),
               Rule("school_quarter", "学校每季度宣传教育", "测试", "学校", "宣传教育", 1, QUARTER))
SEVERITY = {MET: 0, RUNNING: 1, LAGGING: 2}


# ---- the references: the old per-unit walk over every report row -------------------------------------------

def reference_units(session, period_start: date, period_end: date, today: date, rule_set) -> list[dict]:
    """Each active unit, each rule that applies to it, each natural period overlapping the range that began by
    `today` and not before the unit was registered: the reports counted one by one."""
    rows = [(r.unit_id, r.activity_type, r.activity_date, r.status) for r in session.scalars(select(ActivityReport))]
    out = []
    for unit in session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.category, Unit.name)):
        results = []
        for rule in rule_set:
            if rule.scope not in (ALL_UNITS, unit.category):
                continue
            for period in periods(rule.period, period_start, period_end):
                if period.start > today or period.start < local(unit.created_at).date():
                    continue
                count = sum(1 for unit_id, kind, day, status in rows
                            if unit_id == unit.id and period.start <= day <= period.end
                            and rule.activity_type in (None, kind)
                            and (status == STATUS_APPROVED or not rule.approved_only))
                results.append({"rule_id": rule.id, "period": period.label, "count": count,
                                "expected_now": expected_by(rule, period, today),
                                "status": rule_status(rule, period, count, today)})
        status = max((r["status"] for r in results), key=SEVERITY.__getitem__, default=RUNNING)
        out.append({"unit_id": unit.id, "name": unit.name, "status": status, "results": results})
    return out


def evaluated_units(report) -> list[dict]:
    return [{"unit_id": u.unit_id, "name": u.name, "status": u.status,
             "results": [{k: r[k] for k in ("rule_id", "period", "count", "expected_now", "status")}
                         for r in u.to_dict()["results"]]} for u in report.units]


def reference_statistics(session, filters: ReportFilter) -> dict:
    rows = [r for r in session.scalars(select(ActivityReport))
            if (filters.status is None or r.status == filters.status)
            and (filters.date_from is None or r.activity_date >= filters.date_from)
            and (filters.date_to is None or r.activity_date <= filters.date_to)]

    def by(key) -> list[tuple]:
        counts, people = Counter(), Counter()
        for r in rows:
            counts[key(r)] += 1
            people[key(r)] += r.participants
        return sorted((k, counts[k], people[k]) for k in counts)

    return {"total": (len(rows), sum(r.participants for r in rows)),
            "by_category": by(lambda r: r.category), "by_unit": by(lambda r: r.unit_id),
            "by_activity_type": by(lambda r: r.activity_type),
            "by_month": by(lambda r: f"{r.activity_date.year:04d}-{r.activity_date.month:02d}")}


def sql_statistics(stats: dict) -> dict:
    return {"total": (stats["total"]["count"], stats["total"]["participants"]),
            **{name: [(row[key], row["count"], row["participants"]) for row in stats[name]]
               for name, key in (("by_category", "category"), ("by_unit", "unit_id"),
                                 ("by_activity_type", "activity_type"), ("by_month", "month"))}}


# ---- random districts ------------------------------------------------------------------------------------------

def random_day(rng: random.Random, first: date = FIRST_DAY, last: date = LAST_DAY) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def random_district(session, rng: random.Random) -> None:
    """A few units (机关 and 学校 often, some registered late, some inactive), each with a staff member, and
    reports of every status clustered on quarter and year boundaries as often as inside them."""
    session.execute(delete(ActivityReport))
    session.execute(delete(Staff))
    session.execute(delete(Unit))
    staff = []
    starts = [q.start for q in periods(QUARTER, date(2024, 6, 1), date(2026, 12, 31))]
    for n in range(rng.randint(0, 7)):
        category = rng.choice(("机关", "机关", "学校", *CATEGORIES))
        # Often on the first or second day of a quarter, early in the morning (still the day before in UTC).
        day = (rng.choice(starts) + timedelta(days=rng.randrange(2)) if rng.random() < 0.4
               else random_day(rng, date(2024, 6, 1), date(2026, 12, 31)))
        registered = datetime.combine(day, time(rng.choice((0, 9, 23)), 30), tzinfo=TZ)
        unit = Unit(name=f"单位{n}{rng.choice('甲乙丙丁')}", category=category, active=rng.random() > 0.15,
                    created_at=registered)
        session.add(unit)
        session.flush()
        staff.append(Staff(unit_id=unit.id, name=f"联络员{n}", phone=""))
    session.add_all(staff)
    session.flush()
    edges = [d for q in periods(QUARTER, FIRST_DAY, LAST_DAY) for d in (q.start, q.end)]
    for n in range(rng.randint(0, 60) if staff else 0):
        member = rng.choice(staff)
        day = rng.choice(edges) if rng.random() < 0.3 else random_day(rng)
        kind = rng.choice(("专题学习", "研究部署", "志愿服务", "宣传教育", *ACTIVITY_TYPES))
        session.add(ActivityReport(
            receipt_no=f"QJ{n:012d}", unit_id=member.unit_id, staff_id=member.id, openid="", title="活动",
            category=rng.choice(CATEGORIES), activity_type=kind, activity_date=day, place="会议室",
            participants=rng.randint(1, 80), content="内容", status=rng.choice(STATUSES)))
    session.flush()


def random_range(rng: random.Random) -> tuple[date, date]:
    year = rng.choice((2025, 2026))
    quarter = next(periods(QUARTER, random_day(rng, date(year, 1, 1), date(year, 12, 31)), date(year, 12, 31)))
    start = random_day(rng, date(2024, 12, 1), date(2026, 12, 31))
    return rng.choice([(date(year, 1, 1), date(year, 12, 31)), (quarter.start, quarter.end),
                       (start, start + timedelta(days=rng.randrange(500))), (date(2025, 1, 1), date(2026, 12, 31))])


@pytest.mark.parametrize("seed", SEEDS)
def test_sql_evaluation_matches_the_per_unit_walk(session, seed):
    rng = random.Random(seed)
    random_district(session, rng)
    for _ in range(4):
        start, end = random_range(rng)
        today = random_day(rng, start - timedelta(days=30), end + timedelta(days=200))
        rule_set = rng.choice((compliance.rules(rng.choice((1, 2, 3))), compliance.RULES + EXTRA_RULES,
                               compliance.RULES[-1:], EXTRA_RULES[-1:]))  # quarter rules alone: one quarter
        report = compliance.evaluate(session, start, end, today, rule_set)
        assert evaluated_units(report) == reference_units(session, start, end, today, rule_set), (
            f"seed {seed}: {start}..{end} on {today}")
        summary = Counter(u.status for u in report.units)
        assert report.to_dict()["summary"] == {s: summary.get(s, 0) for s in (MET, RUNNING, LAGGING)}


@pytest.mark.parametrize("seed", SEEDS[:10])
def test_sql_statistics_match_counting_rows(session, seed):
    rng = random.Random(seed)
    random_district(session, rng)
    for _ in range(3):
        start, end = random_range(rng)
        flt = ReportFilter(status=rng.choice((None, *STATUSES)), date_from=rng.choice((None, start)),
                           date_to=rng.choice((None, end)))
        assert sql_statistics(statistics.summarize(session, flt)) == reference_statistics(session, flt), seed


# ---- the cache ---------------------------------------------------------------------------------------------------

def test_the_cache_reuses_an_unchanged_evaluation_and_never_serves_a_stale_one(session):
    clock.set_now(lambda: datetime(2026, 4, 10, 9, tzinfo=TZ))  # every review below happens at the same instant
    cache = compliance.EvaluationCache()
    organ = make_unit(session, name="区民宗局", category="机关")
    community = make_unit(session, name="团结社区", category="社区")
    clerk, liaison = make_staff(session, organ), make_staff(session, community, name="李四")
    waiting = make_reviewed_report(session, liaison, STATUS_PENDING, activity_type="文体活动", date="2026-02-10")
    make_reviewed_report(session, liaison, STATUS_REJECTED, activity_type="文体活动", date="2026-02-11")
    today = date(2026, 4, 10)

    def status() -> dict[str, str]:
        report = compliance.evaluate(session, date(2026, 1, 1), date(2026, 12, 31), today, cache=cache)
        return {u.name: u.status for u in report.units}

    first = compliance.evaluate(session, date(2026, 1, 1), date(2026, 12, 31), today, cache=cache)
    assert {u.name: u.status for u in first.units} == {"区民宗局": LAGGING, "团结社区": LAGGING}
    again = compliance.evaluate(session, date(2026, 1, 1), date(2026, 12, 31), today, cache=cache)
    assert again.units is first.units  # nothing changed: reused, not evaluated again
    # A report sent for review changes nothing the rules count; its approval does, at once.
    make_reviewed_report(session, clerk, STATUS_PENDING, activity_type="专题学习", date="2026-03-01")
    assert compliance.evaluate(session, date(2026, 1, 1), date(2026, 12, 31), today, cache=cache).units is first.units
    reports.review(session, waiting.id, True, "tester", clock.now())
    assert status() == {"区民宗局": LAGGING, "团结社区": RUNNING}
    # Another approval at the very same instant is seen too: the key counts approvals, it does not compare times.
    make_reviewed_report(session, clerk, STATUS_APPROVED, activity_type="专题学习", date="2026-03-02")
    assert status() == {"区民宗局": RUNNING, "团结社区": RUNNING}
    # Units: a deactivated one leaves, a renamed one is renamed, a new one comes in; and the day is part of the key.
    unit_service.deactivate_unit(session, community.id)
    assert status() == {"区民宗局": RUNNING}
    unit_service.update_unit(session, organ.id, name="区民族宗教事务局")
    session.flush()
    assert status() == {"区民族宗教事务局": RUNNING}
    make_unit(session, name="新学校", category="学校", registered=clock.now())  # answers from the next quarter
    assert status() == {"区民族宗教事务局": RUNNING, "新学校": RUNNING}
    today = date(2026, 10, 1)  # 研究部署 (2 a year) now lags with none
    assert status() == {"区民族宗教事务局": LAGGING, "新学校": LAGGING}
