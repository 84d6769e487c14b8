"""督查考核 rules against hand-computed expectations over a small district spanning quarters and years."""
from __future__ import annotations

from datetime import date

import pytest

from models.report import STATUS_APPROVED, STATUS_PENDING, STATUS_REJECTED
from service.reporting import compliance
from service.reporting.compliance import LAGGING, MET, RUNNING, Period, evaluate, expected_by, lagging_units, periods
from service.core.errors import InvalidInput
from tests.factories import make_reviewed_report, make_staff, make_unit

YEAR_2026 = (date(2026, 1, 1), date(2026, 12, 31))
RULE = {r.id: r for r in compliance.RULES}


@pytest.fixture
def district(session):
    """A: 机关 on track; B: 机关 behind; C: 社区; D: inactive 企业; E: 学校 (education base)."""
    a = make_unit(session, name="区委统战部", category="机关", is_extension=True)
    b = make_unit(session, name="区教育局", category="机关")
    c = make_unit(session, name="团结社区", category="社区", is_extension=True)
    d = make_unit(session, name="停用企业", category="企业", is_extension=True)
    e = make_unit(session, name="实验学校", category="学校", is_extension=True, is_education_base=True)
    sa, sb, sc, sd, se = (make_staff(session, u) for u in (a, b, c, d, e))
    d.active = False
    for staff, kind, day, status in [
        (sa, "专题学习", date(2026, 2, 10), STATUS_APPROVED),
        (sa, "研究部署", date(2026, 3, 5), STATUS_APPROVED),
        (sa, "宣传教育", date(2026, 5, 20), STATUS_APPROVED),
        (sb, "专题学习", date(2026, 4, 1), STATUS_APPROVED),
        (sb, "研究部署", date(2026, 2, 1), STATUS_PENDING),  # not reviewed: does not count
        (sb, "研究部署", date(2026, 5, 1), STATUS_REJECTED),  # rejected: does not count
        (sc, "文体活动", date(2025, 12, 31), STATUS_APPROVED),  # last year's Q4
        (sc, "文体活动", date(2026, 1, 15), STATUS_APPROVED),
        (sc, "文体活动", date(2026, 6, 30), STATUS_APPROVED),  # last day of Q2
        (sd, "文体活动", date(2026, 1, 5), STATUS_APPROVED),
        (se, "志愿服务", date(2026, 1, 20), STATUS_APPROVED),
        (se, "志愿服务", date(2026, 4, 20), STATUS_APPROVED),
        (se, "志愿服务", date(2026, 7, 10), STATUS_APPROVED),
    ]:
        make_reviewed_report(session, staff, status, activity_type=kind, date=day.isoformat())
    session.flush()
    return {"A": a, "B": b, "C": c, "D": d, "E": e}


def _by_name(report):
    return {u.name: u for u in report.units}


def _missed(unit):
    return sorted((r.rule.id, r.period.label, r.status) for r in unit.missed)


def test_periods_overlapping_a_range_cross_years():
    assert [p.label for p in periods("quarter", date(2025, 11, 15), date(2026, 2, 1))] == [
        "2025年第4季度", "2026年第1季度"]
    assert [p.label for p in periods("year", date(2025, 11, 15), date(2026, 2, 1))] == ["2025年", "2026年"]
    q2 = next(periods("quarter", date(2026, 5, 1), date(2026, 5, 1)))
    assert (q2.start, q2.end) == (date(2026, 4, 1), date(2026, 6, 30))


def test_year_schedule_half_by_june_all_by_september():
    year = Period("year", *YEAR_2026)
    study, deploy = RULE["organ_study"], RULE["organ_deploy"]
    assert expected_by(study, year, date(2026, 9, 30)) == 0
    assert expected_by(study, year, date(2026, 10, 1)) == 1
    assert expected_by(deploy, year, date(2026, 6, 30)) == 0
    assert expected_by(deploy, year, date(2026, 7, 1)) == 1
    assert expected_by(deploy, year, date(2026, 10, 1)) == 2
    quarter = Period("quarter", date(2026, 7, 1), date(2026, 9, 30))
    assert expected_by(RULE["quarterly_activity"], quarter, date(2026, 9, 30)) == 0
    assert expected_by(RULE["quarterly_activity"], quarter, date(2026, 10, 1)) == 1


def test_rules_cite_their_clauses():
    assert {r.id: r.clause for r in compliance.RULES} == {
        "organ_study": "三、(一)1", "organ_deploy": "三、(一)1", "quarterly_activity": "四、(二)"}
    assert {t.id: (t.clause, t.target) for t in compliance.DISTRICT_TARGETS} == {
        "extension_units": ("一、", 8), "education_bases": ("一、", 1)}


def test_mid_year_status_per_unit(session, district):
    report = evaluate(session, *YEAR_2026, today=date(2026, 8, 15))
    units = _by_name(report)
    assert set(units) == {"区委统战部", "区教育局", "团结社区", "实验学校"}  # the inactive unit is left out
    # A: study 1/1; deploy 1/2 with 1 expected after June; Q1 2, Q2 1, Q3 running with 0; Q4 not started
    assert units["区委统战部"].status == RUNNING
    assert _missed(units["区委统战部"]) == [("organ_deploy", "2026年", RUNNING),
                                          ("quarterly_activity", "2026年第3季度", RUNNING)]
    assert [r.period.label for r in units["区委统战部"].results if r.rule.id == "quarterly_activity"] == [
        "2026年第1季度", "2026年第2季度", "2026年第3季度"]
    # B: deploy 0 approved (pending and rejected ignored) < 1 expected; Q1 ended with none
    assert units["区教育局"].status == LAGGING
    assert _missed(units["区教育局"]) == [("organ_deploy", "2026年", LAGGING),
                                        ("quarterly_activity", "2026年第1季度", LAGGING),
                                        ("quarterly_activity", "2026年第3季度", RUNNING)]
    # C: no 机关 rules; Q1 (Jan 15), Q2 (Jun 30) met, Dec 31 of 2025 not counted in 2026
    assert units["团结社区"].status == RUNNING
    assert [r.rule.id for r in units["团结社区"].results] == ["quarterly_activity"] * 3
    assert _missed(units["团结社区"]) == [("quarterly_activity", "2026年第3季度", RUNNING)]
    # E: every started quarter holds a report
    assert units["实验学校"].status == MET and units["实验学校"].missed == []
    assert report.to_dict()["summary"] == {MET: 1, RUNNING: 2, LAGGING: 1}


def test_after_the_third_quarter_year_rules_and_q3_lag(session, district):
    lagging = lagging_units(session, date(2026, 7, 1), date(2026, 9, 30), today=date(2026, 10, 10))
    got = {u.name: _missed(u) for u in lagging}
    assert got == {
        "区委统战部": [("organ_deploy", "2026年", LAGGING), ("quarterly_activity", "2026年第3季度", LAGGING)],
        "区教育局": [("organ_deploy", "2026年", LAGGING), ("quarterly_activity", "2026年第3季度", LAGGING)],
        "团结社区": [("quarterly_activity", "2026年第3季度", LAGGING)],
    }
    counts = {u.name: [(r.count, r.expected_now) for r in u.missed] for u in lagging}
    assert counts["区委统战部"] == [(1, 2), (0, 1)] and counts["区教育局"] == [(0, 2), (0, 1)]


def test_a_past_year_is_judged_in_full(session, district):
    report = evaluate(session, date(2025, 1, 1), date(2025, 12, 31), today=date(2026, 1, 5))
    units = _by_name(report)
    assert _missed(units["团结社区"]) == [("quarterly_activity", f"2025年第{q}季度", LAGGING) for q in (1, 2, 3)]
    assert units["区委统战部"].status == LAGGING
    assert {r.rule.id for r in units["区委统战部"].missed} == {"organ_study", "organ_deploy", "quarterly_activity"}


def test_quarter_minimum_is_configurable(session, district):
    report = evaluate(session, *YEAR_2026, today=date(2026, 8, 15), rule_set=compliance.rules(quarter_min=2))
    units = _by_name(report)
    quarters = {u: [(r.period.label, r.count, r.status) for r in units[u].results if r.rule.id == "quarterly_activity"]
                for u in ("区委统战部", "实验学校")}
    assert quarters["区委统战部"] == [("2026年第1季度", 2, MET), ("2026年第2季度", 1, LAGGING),
                                  ("2026年第3季度", 0, RUNNING)]
    assert units["实验学校"].status == LAGGING
    with pytest.raises(InvalidInput):
        compliance.rules(quarter_min=0)


def test_district_progress_counts_active_flagged_units(session, district):
    report = evaluate(session, *YEAR_2026, today=date(2026, 8, 15))
    assert [(d.target.id, d.count, d.target.target, d.met) for d in report.district] == [
        ("extension_units", 3, 8, False), ("education_bases", 1, 1, True)]


def test_no_units_and_a_future_range(session):
    report = evaluate(session, date(2027, 1, 1), date(2027, 12, 31), today=date(2026, 8, 15))
    assert report.units == []
    assert [d.count for d in report.district] == [0, 0]


def test_a_unit_answers_only_for_periods_that_began_after_it_was_registered(session):
    from datetime import datetime

    from service.core.clock import TZ

    make_unit(session, name="老社区", category="社区")
    make_unit(session, name="新社区", category="社区", registered=datetime(2026, 11, 5, 10, 0, tzinfo=TZ))
    report = evaluate(session, *YEAR_2026, date(2027, 1, 5))
    status = {u.name: u for u in report.units}
    assert status["老社区"].status == LAGGING and len(status["老社区"].missed) == 4  # Q1–Q4 2026, no report
    assert status["新社区"].status == RUNNING and status["新社区"].results == []  # Q4 began before it existed
    assert [u.name for u in lagging_units(session, *YEAR_2026, date(2027, 1, 5))] == ["老社区"]
    first = evaluate(session, date(2027, 1, 1), date(2027, 12, 31), date(2027, 4, 2))  # Q1 2027 is its first
    assert {u.name: u.status for u in first.units} == {"老社区": LAGGING, "新社区": LAGGING}
