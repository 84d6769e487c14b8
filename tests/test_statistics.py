"""Statistics by category, unit, activity type and month, under the same filters as the report list."""
from __future__ import annotations

from datetime import date

import pytest

from models.report import STATUS_APPROVED, STATUS_PENDING, STATUS_REJECTED
from service.core.errors import InvalidInput
from service.reporting.query import ReportFilter, parse_filters
from service.reporting.statistics import summarize
from tests.factories import make_reviewed_report, make_staff, make_unit


@pytest.fixture
def reports(session):
    organ = make_staff(session, make_unit(session, name="区民宗局", category="机关"))
    village = make_staff(session, make_unit(session, name="红柳村", category="乡镇"))
    for staff, status, kind, day, participants, category in [
        (organ, STATUS_APPROVED, "专题学习", "2026-01-05", 30, "机关"),
        (organ, STATUS_APPROVED, "研究部署", "2026-01-28", 12, "机关"),
        (organ, STATUS_PENDING, "专题学习", "2026-02-03", 25, "机关"),
        (village, STATUS_APPROVED, "文体活动", "2026-02-14", 200, "社区"),  # counts for 社区 though the unit is a 乡镇
        (village, STATUS_REJECTED, "文体活动", "2026-03-01", 80, "乡镇"),
        (village, STATUS_APPROVED, "走访慰问", "2025-12-30", 6, "乡镇"),
    ]:
        make_reviewed_report(session, staff, status, activity_type=kind, date=day, participants=participants,
                             category=category)
    return organ, village


def test_everything_in_range_grouped_four_ways(session, reports):
    stats = summarize(session, ReportFilter(date_from=date(2026, 1, 1), date_to=date(2026, 3, 31)))
    assert stats["total"] == {"count": 5, "participants": 347}
    assert {r["category"]: (r["count"], r["participants"]) for r in stats["by_category"]} == {
        "机关": (3, 67), "社区": (1, 200), "乡镇": (1, 80)}
    assert {(r["unit"], r["count"], r["participants"]) for r in stats["by_unit"]} == {
        ("区民宗局", 3, 67), ("红柳村", 2, 280)}
    assert {r["activity_type"]: (r["count"], r["participants"]) for r in stats["by_activity_type"]} == {
        "专题学习": (2, 55), "研究部署": (1, 12), "文体活动": (2, 280)}
    assert stats["by_month"] == [{"month": "2026-01", "count": 2, "participants": 42},
                                 {"month": "2026-02", "count": 2, "participants": 225},
                                 {"month": "2026-03", "count": 1, "participants": 80}]


def test_status_and_unit_filters(session, reports):
    organ, village = reports
    approved = summarize(session, ReportFilter(status=STATUS_APPROVED))
    assert approved["total"] == {"count": 4, "participants": 248}
    assert approved["by_month"][0] == {"month": "2025-12", "count": 1, "participants": 6}
    village_only = summarize(session, parse_filters(session, {"unit_id": str(village.unit_id), "month": "2026-02"}))
    assert village_only["total"] == {"count": 1, "participants": 200}
    assert village_only["filters"] == {"unit_id": village.unit_id, "date_from": "2026-02-01", "date_to": "2026-02-28"}


def test_empty_range_gives_zeroes(session, reports):
    stats = summarize(session, ReportFilter(date_from=date(2030, 1, 1)))
    assert stats["total"] == {"count": 0, "participants": 0}
    assert stats["by_category"] == stats["by_unit"] == stats["by_month"] == []


@pytest.mark.parametrize("args, field", [
    ({"unit_id": "999"}, "unit_id"), ({"unit_id": "x"}, "unit_id"), ({"category": "进网络"}, "category"),
    ({"status": "done"}, "status"), ({"date_from": "2026-13-01"}, "date_from"), ({"month": "2026/02"}, "month"),
    ({"date_from": "2026-03-01", "date_to": "2026-02-01"}, "date_to"), ({"activity_type": "开会"}, "activity_type"),
])
def test_bad_filters_name_the_field(session, reports, args, field):
    with pytest.raises(InvalidInput) as err:
        parse_filters(session, args)
    assert err.value.field == field
