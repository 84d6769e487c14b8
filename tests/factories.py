"""Plain functions that create rows for tests through the service layer (so the rules apply)."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from models.report import STATUS_APPROVED, STATUS_PENDING, ActivityReport
from models.staff import Staff
from models.unit import Unit
from service.core import clock
from service.reporting import reports, units


# Fixture units were registered long before the periods the tests judge (compliance skips earlier periods).
REGISTERED = datetime(2020, 1, 1, tzinfo=clock.TZ)


def make_unit(session: Session, name: str = "天山区某社区", category: str = "社区",
              registered: datetime = REGISTERED, **overrides: Any) -> Unit:
    unit = units.create_unit(session, name, category, **overrides)
    unit.created_at = registered
    session.flush()
    return unit


def make_staff(session: Session, unit: Unit | None = None, name: str = "张三", phone: str = "13800000000",
               openid: str | None = None, now: datetime | None = None) -> Staff:
    """A staff member; with `openid` also bound through a real binding code."""
    unit = unit or make_unit(session)
    staff = units.create_staff(session, unit.id, name, phone)
    if openid:
        now = now or clock.now()
        result = units.bind(session, openid, units.issue_binding_code(session, staff.id, now), now)
        assert result.ok, result.reason
    return staff


def report_data(**overrides: Any) -> dict[str, Any]:
    """A complete draft as report_flow leaves it at the summary."""
    data: dict[str, Any] = {"default_category": "社区", "category": "社区", "activity_type": "研究部署",
                            "title": "民族团结知识讲座", "date": clock.today().isoformat(), "place": "社区党群服务中心",
                            "participants": 35, "content": "邀请宣讲员开展民族团结进步专题讲座，居民积极互动。",
                            "photos": [], "photos_done": True}
    data.update(overrides)
    return data


def make_report(session: Session, staff: Staff, openid: str | None = None, **overrides: Any) -> ActivityReport:
    return reports.submit(session, staff, openid or staff.openid or "o-test", report_data(**overrides), clock.now())


def make_reviewed_report(session: Session, staff: Staff, status: str = STATUS_APPROVED, reason: str = "",
                         **overrides: Any) -> ActivityReport:
    """A submitted report taken through review to `status` (待审核 leaves it as submitted)."""
    report = make_report(session, staff, **overrides)
    if status != STATUS_PENDING:
        approve = status == STATUS_APPROVED
        reports.review(session, report.id, approve, "tester", clock.now(), reason or ("" if approve else "退回"))
    return report
