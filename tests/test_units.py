"""Units and staff management, binding codes and their abuse lock, receipts and review."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from models.report import ActivityReport, ReportResultNotice
from models.staff import BindingAttempt, BindingCode
from service.core import clock
from service.core.db import session_scope
from service.reporting import reports, units
from service.reporting.query import ReportFilter, list_reports
from tests.factories import make_report, make_staff, make_unit

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=clock.TZ)


def test_create_and_update_unit(session):
    unit = make_unit(session, "第一中学", "学校", contact="李老师", phone="0991-1234567", is_education_base=True)
    assert (unit.category, unit.is_education_base, unit.is_extension, unit.active) == ("学校", True, False, True)
    units.update_unit(session, unit.id, is_extension=True, name="第一中学（东校区）")
    assert unit.is_extension and unit.name == "第一中学（东校区）"
    units.deactivate_unit(session, unit.id)
    assert units.list_units(session) == [] and units.list_units(session, include_inactive=True) == [unit]


@pytest.mark.parametrize("name,category,message", [("", "社区", "不能为空"), ("某医院", "医院", "七进类别只能是"),
                                                   ("天山区某社区", "社区", "已存在")])
def test_unit_validation(session, name, category, message):
    make_unit(session)
    with pytest.raises(units.UnitError, match=message):
        units.create_unit(session, name, category)


@pytest.mark.parametrize("typed,stored", [
    ("13812345678", "13812345678"), ("+86 138 1234 5678", "13812345678"), ("86-138-1234-5678", "13812345678"),
    ("0851-86812345", "0851-86812345"), ("(010) 62345678", "010-62345678"), ("021 6234 5678", "021-62345678"),
    ("0991-1234567", "0991-1234567"), ("0851-86812345转8001", "0851-86812345转8001"),
    ("0851-86812345-8001", "0851-86812345转8001"), ("+86 10 62345678", "010-62345678"), ("", ""),
])
def test_phone_numbers_are_normalised(typed, stored):
    assert units.normalise_phone(typed) == stored


@pytest.mark.parametrize("typed", ["abc", "139", "12345678901", "0851-123", "010-02345678", "13812345678转1",
                                   "1012345678", "0851-86812345-1234567"])
def test_bad_phone_numbers_are_refused_naming_the_field(session, typed):
    with pytest.raises(units.UnitError, match="联系电话应为手机号") as refused:
        units.create_unit(session, "电话测试", "企业", phone=typed)
    assert refused.value.field == "phone"
    staff = make_staff(session)
    with pytest.raises(units.UnitError, match="电话应为手机号"):
        units.update_staff(session, staff.id, phone=typed)


def test_update_unit_rejects_unknown_fields_and_missing_unit(session):
    unit = make_unit(session)
    with pytest.raises(units.UnitError):
        units.update_unit(session, unit.id, colour="red")
    with pytest.raises(units.NotFound):
        units.update_unit(session, 999, name="x")


def test_staff_crud(session):
    staff = make_staff(session)
    other = make_unit(session, "某公司", "企业")
    units.update_staff(session, staff.id, unit_id=other.id, phone="13900000000")
    assert staff.unit_id == other.id and staff.phone == "13900000000"
    with pytest.raises(units.UnitError):
        units.create_staff(session, other.id, "  ")
    with pytest.raises(units.NotFound):
        units.create_staff(session, 999, "王五")


def test_bind_with_code(session):
    staff = make_staff(session)
    code = units.issue_binding_code(session, staff.id, NOW)
    assert len(code) == 8 and session.scalar(select(BindingCode.code_hash)) != code  # only the hash is stored
    result = units.bind(session, "openid-1", code.lower(), NOW + timedelta(days=6))
    assert result.ok and staff.openid == "openid-1"
    assert units.staff_for_openid(session, "openid-1") is staff
    assert units.bind(session, "openid-2", code, NOW).reason == "used"


def test_expired_and_revoked_codes(session):
    staff = make_staff(session)
    old = units.issue_binding_code(session, staff.id, NOW)
    new = units.issue_binding_code(session, staff.id, NOW)
    assert units.bind(session, "o1", old, NOW).reason == "revoked"
    assert units.bind(session, "o1", new, NOW + timedelta(days=7)).reason == "expired"
    assert session.scalar(select(func.count()).select_from(BindingAttempt)) == 2


def test_binding_lock_after_five_failures(session):
    staff = make_staff(session)
    code = units.issue_binding_code(session, staff.id, NOW)
    for i in range(5):
        assert units.bind(session, "guesser", f"WRONG{i}", NOW + timedelta(minutes=i)).reason == "wrong"
    assert units.bind(session, "guesser", code, NOW + timedelta(minutes=10)).reason == "locked"
    assert units.bind(session, "someone-else", "WRONGX", NOW + timedelta(minutes=10)).reason == "wrong"
    assert units.bind(session, "guesser", code, NOW + timedelta(minutes=59)).reason == "locked"
    assert units.bind(session, "guesser", code, NOW + timedelta(minutes=64)).ok


def test_one_openid_one_staff(session):
    first = make_staff(session, openid="o1", now=NOW)
    second = make_staff(session, first.unit, name="李四")
    result = units.bind(session, "o1", units.issue_binding_code(session, second.id, NOW), NOW)
    assert result.reason == "other_staff" and result.bound_to is first and second.openid is None


def test_rebinding_a_staff_member_moves_the_openid(session):
    staff = make_staff(session, openid="old-phone", now=NOW)
    assert units.bind(session, "new-phone", units.issue_binding_code(session, staff.id, NOW), NOW).ok
    assert units.staff_for_openid(session, "old-phone") is None and staff.openid == "new-phone"


def test_deactivated_staff_cannot_report_or_bind(session):
    staff = make_staff(session, openid="o1", now=NOW)
    code = units.issue_binding_code(session, staff.id, NOW)
    units.deactivate_staff(session, staff.id)
    assert units.staff_for_openid(session, "o1") is None
    assert units.bind(session, "o1", code, NOW).reason == "revoked"
    with pytest.raises(units.UnitError):
        units.issue_binding_code(session, staff.id, NOW)


def test_staff_of_inactive_unit_cannot_report(session):
    staff = make_staff(session, openid="o1", now=NOW)
    units.deactivate_unit(session, staff.unit_id)
    assert units.staff_for_openid(session, "o1") is None


def test_two_users_racing_for_one_code(session_factory, settings):
    with session_scope(session_factory) as s:
        code = units.issue_binding_code(s, make_staff(s).id, NOW)
    results: list[str] = []
    barrier = threading.Barrier(2)

    def attempt(openid: str) -> None:
        barrier.wait()
        try:
            with session_scope(session_factory) as s:
                results.append("ok" if units.bind(s, openid, code, NOW).ok else "refused")
        except Exception as exc:  # noqa: BLE001 - a serialisation failure also counts as refused
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt, args=(f"racer-{i}",)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results.count("ok") == 1


# --- reports -------------------------------------------------------------------------------------------------

def test_receipts_are_sequential_per_day(session):
    clock.set_now(lambda: NOW)
    staff = make_staff(session, openid="o1", now=NOW)
    first, second = make_report(session, staff), make_report(session, staff)
    assert (first.receipt_no, second.receipt_no) == ("QJ202611270001", "QJ202611270002")
    clock.set_now(lambda: NOW + timedelta(days=1))
    assert make_report(session, staff).receipt_no == "QJ202611280001"


def test_receipts_unique_under_concurrency(session_factory):
    clock.set_now(lambda: NOW)
    with session_scope(session_factory) as s:
        staff_id = make_staff(s, openid="o1", now=NOW).id
    receipts: list[str] = []
    barrier = threading.Barrier(6)

    def submit() -> None:
        barrier.wait()
        with session_scope(session_factory) as s:
            receipts.append(make_report(s, units.get_staff(s, staff_id)).receipt_no)

    threads = [threading.Thread(target=submit) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(receipts) == [f"QJ20261127{i:04d}" for i in range(1, 7)]


def test_submit_refuses_incomplete_data(session):
    staff = make_staff(session, openid="o1")
    with pytest.raises(reports.ReportError):
        make_report(session, staff, title="")
    with pytest.raises(reports.ReportError):
        make_report(session, staff, category="医院")
    assert session.scalar(select(func.count()).select_from(ActivityReport)) == 0


def test_review_approve_and_reject(session):
    staff = make_staff(session, openid="o1")
    approved, rejected = make_report(session, staff), make_report(session, staff, title="升旗仪式")
    reports.review(session, approved.id, True, "admin", NOW)
    with pytest.raises(reports.ReportError, match="原因"):
        reports.review(session, rejected.id, False, "admin", NOW)
    reports.review(session, rejected.id, False, "admin", NOW, reason="照片不清晰。")
    assert (approved.status, rejected.status, rejected.review_reason) == ("已通过", "已退回", "照片不清晰。")
    with pytest.raises(reports.AlreadyReviewed, match="已审核"):
        reports.review(session, approved.id, False, "admin2", NOW, reason="改主意")
    notices = reports.pending_notices(session)
    assert [n.openid for n in notices] == ["o1", "o1"]
    assert "审核通过" in notices[0].text and "原因：照片不清晰。请修改后重新上报。" in notices[1].text
    with pytest.raises(reports.ReportNotFound):
        reports.review(session, 999, True, "admin", NOW)
    assert session.scalar(select(func.count()).select_from(ReportResultNotice)) == 2


def test_administrator_fixes_and_resubmits_a_rejected_report(session):
    from service.console import backoffice
    from service.core.errors import InvalidInput

    staff = make_staff(session, openid="o1")
    report = make_report(session, staff, title="升旗仪式")
    form = {"category": "学校", "activity_type": "宣传教育", "title": "升旗仪式暨民族团结宣讲",
            "activity_date": "2026-11-20", "place": "第一中学操场", "participants": 800,
            "content": "全校师生参加升旗仪式，民族团结宣讲员讲述各民族团结奋斗的故事。"}
    with pytest.raises(reports.ReportError, match="正在等待审核"):
        backoffice.resubmit_report(session, report.id, form, "admin", NOW)
    reports.review(session, report.id, False, "reviewer", NOW, reason="主题不完整")
    with pytest.raises(InvalidInput) as bad:
        backoffice.resubmit_report(session, report.id, form | {"title": ""}, "admin", NOW)
    assert bad.value.field == "title" and report.status == "已退回"
    later = NOW + timedelta(hours=2)
    fixed = backoffice.resubmit_report(session, report.id, form, "admin", later)
    assert (fixed.receipt_no, fixed.status, fixed.title, fixed.participants) == (
        report.receipt_no, "待审核", "升旗仪式暨民族团结宣讲", 800)
    assert fixed.reviewed_by == "" and fixed.submitted_at == later
    [revision] = fixed.revisions
    assert (revision.review_reason, revision.reviewed_by, revision.resubmitted_by) == ("主题不完整", "reviewer", "admin")
    assert revision.fields["title"] == "升旗仪式"
    reports.review(session, fixed.id, False, "reviewer", later, reason="照片不清晰")
    again = backoffice.resubmit_report(session, fixed.id, form, "admin", later)
    assert [r.number for r in again.revisions] == [1, 2] and again.revisions[1].review_reason == "照片不清晰"
    history = reports.report_dict(again)["revisions"]
    assert [(r["number"], r["review_reason"]) for r in history] == [(1, "主题不完整"), (2, "照片不清晰")]
    assert history[0]["fields"]["title"] == "升旗仪式" and history[0]["reviewed_at"].startswith("2026-11-27")


def test_list_reports_filters(session):
    staff = make_staff(session, openid="o1")
    school = make_staff(session, make_unit(session, "第一中学", "学校"), name="王老师", openid="o2")
    a = make_report(session, staff)
    b = make_report(session, school, category="学校", activity_type="宣传教育", date="2026-01-05")
    reports.review(session, a.id, True, "admin", NOW)
    assert list_reports(session, ReportFilter(status="已通过")).items == [a]
    assert list_reports(session, ReportFilter(category="学校")).items == [b]
    assert list_reports(session, ReportFilter(unit_id=school.unit_id)).items == [b]
    assert list_reports(session, ReportFilter(activity_type="宣传教育")).items == [b]
    assert list_reports(session, ReportFilter(date_to=b.activity_date)).items == [b]
    assert set(list_reports(session, ReportFilter()).items) == {a, b}


def test_an_incomplete_report_names_the_missing_fields_in_chinese(session):
    staff = make_staff(session)
    with pytest.raises(reports.ReportError) as refused:
        make_report(session, staff, place="", content=None)
    assert "活动地点、活动内容" in refused.value.message and "place" not in refused.value.message
    assert refused.value.field == "place"
