"""The scheduler's jobs called directly: compliance reminders to lagging units' staff, the quarter-end warning,
report results through the notice service, the weekly digest and housekeeping."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from models.announcement import Announcement
from models.inbound import InboundMessage
from models.report import ActivityReport, ReportResultNotice
from models.staff import Staff
from models.unit import Unit
from scheduler import jobs
from service.core import clock
from service.core.clock import TZ
from service.reporting import reports
from tests.factories import REGISTERED
from tests.notice_helpers import add_followers, record_outcomes, successful_calls

NOW = datetime(2025, 12, 1, 9, 0, tzinfo=TZ)


@pytest.fixture
def rt(settings, session_factory, fake_wechat):
    record_outcomes(fake_wechat)
    clock.set_now(lambda: NOW)
    return jobs.configure(settings.with_(notify_backoff_seconds=0.0, admin_openids=("o-admin",)), session_factory)


def staffed_unit(session, name, category, openid, now=NOW):
    unit = Unit(name=name, category=category, created_at=REGISTERED)
    session.add(unit)
    session.flush()
    staff = Staff(unit_id=unit.id, name=f"{name}联络员", openid=openid)
    session.add(staff)
    add_followers(session, [openid], now, timedelta(hours=3))
    session.flush()
    return unit, staff


def test_monthly_reminder_reaches_the_staff_of_lagging_units_once(rt, session, fake_wechat):
    lagging, _ = staffed_unit(session, "城关社区", "社区", "o-lagging")
    session.commit()
    created = jobs.monthly_compliance_reminders()
    assert len(created) == 1
    assert jobs.monthly_compliance_reminders() == []  # same month: no second reminder (two schedulers, re-runs)
    jobs.deliver_announcements()
    assert successful_calls(fake_wechat) == {"o-lagging": 1}
    text = fake_wechat.calls_to("message/custom/send")[0].json["text"]["content"]
    assert "城关社区" in text and "滞后" in text
    ann = session.scalars(select(Announcement).where(Announcement.kind == "system")).one()
    assert ann.dedupe_key == f"reminder:2025-12:unit{lagging.id}"


def test_monthly_reminder_says_which_quarter_each_missed_item_is_for(rt, session, fake_wechat):
    """The same quarterly rule missed in three quarters must not read as one line repeated three times."""
    staffed_unit(session, "城关社区", "社区", "o-lagging")
    session.commit()
    jobs.monthly_compliance_reminders()
    jobs.deliver_announcements()
    text = fake_wechat.calls_to("message/custom/send")[0].json["text"]["content"]
    assert all(f"2025年第{q}季度" in text for q in (1, 2, 3)), text


def test_quarter_end_warning_names_the_quarter_end(rt, session, fake_wechat):
    warned_at = datetime(2025, 12, 20, 9, 0, tzinfo=TZ)
    clock.set_now(lambda: warned_at)
    staffed_unit(session, "第一中学", "学校", "o-school", warned_at)
    session.commit()
    assert len(jobs.quarter_end_warning()) == 1
    jobs.deliver_announcements()
    text = fake_wechat.calls_to("message/custom/send")[0].json["text"]["content"]
    assert "2025-12-31" in text and "第一中学" in text


def test_report_results_go_out_through_the_notice_service(rt, session, fake_wechat):
    unit, staff = staffed_unit(session, "城关社区", "社区", "o-reporter")
    report = ActivityReport(receipt_no="QJ202512010001", unit_id=unit.id, staff_id=staff.id, openid="o-reporter",
                            category="社区", activity_type="宣讲", title="民族团结宣讲", activity_date=date(2025, 11, 30),
                            place="社区活动中心", participants=30, content="宣讲政策")
    session.add(report)
    session.flush()
    reports.review(session, report.id, False, "admin", NOW, reason="缺少照片")
    session.commit()
    jobs.deliver_announcements()
    assert successful_calls(fake_wechat) == {"o-reporter": 1}
    assert "缺少照片" in fake_wechat.calls_to("message/custom/send")[0].json["text"]["content"]
    jobs.deliver_announcements()  # nothing is sent twice; the notice row records the outcome
    session.expire_all()
    notice = session.scalars(select(ReportResultNotice)).one()
    assert notice.status == "sent" and notice.sent_at is not None
    assert successful_calls(fake_wechat) == {"o-reporter": 1}


def test_a_paper_report_of_an_unbound_staff_member_does_not_stop_deliveries(rt, session, fake_wechat):
    """A report entered through the API for staff with no WeChat binding has no openid: reviewing it must not
    leave a notice the scheduler cannot address, which used to make every deliver_announcements run raise
    (so no announcement or other result notice went out any more)."""
    from service.console import backoffice

    unit, staff = staffed_unit(session, "城关社区", "社区", "o-reporter")
    paper_staff = Staff(unit_id=unit.id, name="纸质上报人")
    session.add(paper_staff)
    session.flush()
    paper = backoffice.create_report(session, {
        "unit_id": unit.id, "staff_id": paper_staff.id, "category": "社区", "activity_type": "研究部署",
        "title": "补录活动", "date": "2025-11-20", "place": "社区", "participants": 10,
        "content": "补录一次线下活动的内容记录。"}, NOW)
    online = ActivityReport(receipt_no="QJ202512010009", unit_id=unit.id, staff_id=staff.id, openid="o-reporter",
                            category="社区", activity_type="宣讲", title="民族团结宣讲", activity_date=date(2025, 11, 30),
                            place="社区活动中心", participants=30, content="宣讲政策")
    session.add(online)
    session.flush()
    reports.review(session, paper.id, True, "admin", NOW)
    reports.review(session, online.id, True, "admin", NOW)
    stale = ReportResultNotice(report_id=paper.id, openid="", text="已审核通过")  # left by an earlier version
    session.add(stale)
    session.commit()
    jobs.deliver_announcements()
    assert successful_calls(fake_wechat) == {"o-reporter": 1}
    session.expire_all()
    assert {n.openid: n.status for n in session.scalars(select(ReportResultNotice))} == {
        "o-reporter": "sent", "": "failed"}


def test_weekly_digest_to_administrators(rt, session, fake_wechat):
    add_followers(session, ["o-admin"], NOW, timedelta(hours=1))
    session.commit()
    assert jobs.weekly_digest() is not None
    assert jobs.weekly_digest() is None  # once per ISO week
    jobs.deliver_announcements()
    assert "过去一周" in fake_wechat.calls_to("message/custom/send")[0].json["text"]["content"]


def test_trim_message_log_keeps_the_retention_window(rt, session):
    for days, key in ((200, "old"), (10, "new")):
        session.add(InboundMessage(dedupe_key=key, openid="o-1", msg_type="text", content="hi", raw_xml="<xml/>",
                                   received_at=NOW - timedelta(days=days)))
    session.commit()
    assert jobs.trim_message_log() == 1
    assert [m.dedupe_key for m in session.scalars(select(InboundMessage))] == ["new"]
    assert jobs.purge_conversation_drafts() == 0


def test_reminders_apply_the_configured_quarterly_minimum(rt, session, fake_wechat, settings, session_factory):
    unit, staff = staffed_unit(session, "团结社区", "社区", "o-one-a-quarter")
    for i, day in enumerate((date(2025, 2, 10), date(2025, 5, 10), date(2025, 8, 10)), 1):
        session.add(ActivityReport(receipt_no=f"QJ2025120100{i:02d}", unit_id=unit.id, staff_id=staff.id,
                                   openid="o-one-a-quarter", category="社区", activity_type="宣传教育", title="宣讲",
                                   activity_date=day, place="社区", participants=20, content="宣讲政策",
                                   status="已通过"))
    session.commit()
    assert jobs.monthly_compliance_reminders() == []  # one approved activity a quarter meets the default rule
    jobs.configure(rt.settings.with_(compliance_quarter_min=2), session_factory)
    assert len(jobs.monthly_compliance_reminders()) == 1  # two a quarter, as configured, it does not


def test_simulator_photos_are_stored_from_the_simulator_not_fetched_from_wechat(rt, session, fake_wechat):
    """A photo sent from /simulator has a `sim_…` media id WeChat never issued: the media job must take the
    picture the simulator kept, or the console would show it as "downloading" until it fails."""
    from models.report import ReportPhoto
    from service.wechat import simulator
    from tests.factories import make_report, make_staff

    picture = simulator.store_picture(rt.settings, b"\xff\xd8\xff\xe0jpeg")
    report = make_report(session, make_staff(session))
    session.add(ReportPhoto(report_id=report.id, openid="o-test", media_id=picture.media_id))
    session.commit()
    jobs.download_report_media()
    photo = session.scalars(select(ReportPhoto)).one()
    session.refresh(photo)
    assert photo.download_status == "done", photo.last_error
    assert (Path(rt.settings.media_dir) / photo.local_path).read_bytes() == b"\xff\xd8\xff\xe0jpeg"
    assert fake_wechat.calls_to("media/get") == []


def test_a_reminder_round_skips_the_units_already_reminded_and_commits_the_rest_at_once(rt, session):
    """Reminders of 1,500 units are one transaction; a unit reminded already (a re-run, or a second scheduler that
    got there first) is skipped, the others are created."""
    units = [staffed_unit(session, f"第{i}社区", "社区", f"o-staff-{i}")[0] for i in range(3)]
    session.commit()
    first = jobs.queue_system_message(rt.session_factory, f"reminder:2025-12:unit{units[0].id}", "提醒", "正文",
                                      {"type": "units", "unit_ids": [units[0].id]}, NOW)
    created = jobs.monthly_compliance_reminders()
    assert len(created) == 2 and first not in created
    keys = set(session.scalars(select(Announcement.dedupe_key).where(Announcement.kind == "system")))
    assert keys == {f"reminder:2025-12:unit{u.id}" for u in units}
    assert jobs.monthly_compliance_reminders() == []
