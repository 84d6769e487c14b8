"""Every console and API list is paged in SQL, keeps its filters from page to page, and runs the same number of
queries whatever the number of rows (no query per row)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from models.announcement import Announcement, AnnouncementStatus, Delivery
from models.audit import AuditLog
from models.policy import UnansweredQuestion
from models.report import ActivityReport as Report
from service.console.accounts import create_api_token
from service.core import clock
from tests.factories import make_staff, make_unit
from tests.query_count import app_engine, counting

NOW = datetime(2026, 4, 10, 9, 30, tzinfo=clock.TZ)


@pytest.fixture(autouse=True)
def _now():
    clock.set_now(lambda: NOW)


def fetch(app, client, path: str) -> tuple[int, str]:
    """(statements run, page text) of one request."""
    with counting(app_engine(app)) as counter:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return counter.count, response.get_data(as_text=True)


def add_sent_announcements(session, start: int, stop: int, deliveries: int) -> None:
    """Sent announcements 通知<start>… each with `deliveries` sent customer-service deliveries."""
    for i in range(start, stop):
        ann = Announcement(title=f"通知{i}", body="正文", audience={"type": "all"}, status=AnnouncementStatus.SENT.value)
        session.add(ann)
        session.flush()
        session.add_all([Delivery(announcement_id=ann.id, openid=f"o-{i}-{n}", status="sent", channel="cs",
                                  created_at=NOW) for n in range(deliveries)])
    session.commit()


def same_queries_for_more_rows(app, client, path: str, add_rows, sizes=(10, 40)) -> list[str]:
    """Add rows up to each size in turn and check the page's query count stays the same; the pages' texts."""
    counts, pages, made = [], [], 0
    for size in sizes:
        add_rows(made, size)
        made = size
        count, page = fetch(app, client, path)
        counts.append(count)
        pages.append(page)
    assert counts[0] == counts[1], f"{path}: {counts} queries for {sizes} rows"
    return pages


def test_units_page_is_paged_with_staff_counts_from_one_query(app, admin_console, session):
    def add_units(start, stop):
        for i in range(start, stop):
            unit = make_unit(session, f"第{i:03d}社区", "社区" if i % 2 else "学校")
            make_staff(session, unit, name=f"甲{i}", openid=f"o-{i}")
            make_staff(session, unit, name=f"乙{i}")
        session.commit()

    _, page = same_queries_for_more_rows(app, admin_console, "/admin/units?per_page=100", add_units)
    assert page.count("<tr>") - 1 == 40 and "1（1）" not in page and "2（1）" in page
    first = fetch(app, admin_console, "/admin/units?category=社区")[1]
    assert "第 1 / 1 页" not in first and "共 20 条" in first and "第000社区" not in first  # 000 is a school
    narrowed = fetch(app, admin_console, "/admin/units?q=02")[1]
    assert "第010社区" not in narrowed and "第002社区" in narrowed and "第025社区" in narrowed
    schools = fetch(app, admin_console, "/admin/units?category=学校&per_page=5")[1]
    assert "第 1 / 4 页" in schools
    assert re.search(r'href="/admin/units\?page=2&amp;category=%E5%AD%A6%E6%A0%A1"', schools)  # the filter goes along


def test_announcement_list_and_its_deliveries_are_paged(app, admin_console, session):
    def add_announcements(start, stop):
        add_sent_announcements(session, start, stop, deliveries=3)

    _, page = same_queries_for_more_rows(app, admin_console, "/admin/announcements?per_page=100", add_announcements)
    assert page.count("3 / 0 / 0") == 40

    ann = session.query(Announcement).filter_by(title="通知0").one()

    def add_deliveries(start, stop):
        session.add_all([Delivery(announcement_id=ann.id, openid=f"o-x-{n}", status="failed" if n % 2 else "sent",
                                  channel="cs", created_at=NOW + timedelta(seconds=n)) for n in range(start, stop)])
        session.commit()

    path = f"/admin/announcements/{ann.id}?per_page=100"
    same_queries_for_more_rows(app, admin_console, path, add_deliveries)
    failed = fetch(app, admin_console, f"/admin/announcements/{ann.id}?status=failed&per_page=5")[1]
    assert "第 1 / 4 页" in failed and failed.count('class="recipient"') == 5
    assert f"/admin/announcements/{ann.id}?page=2&amp;status=failed#deliveries" in failed


def test_audit_and_unanswered_pages_are_paged(app, admin_console, session):
    def add_entries(start, stop):
        session.add_all([AuditLog(actor="admin", action="unit.create", target_type="unit", target_id=str(i),
                                  detail={"name": f"单位{i}"}, at=NOW - timedelta(minutes=i))
                         for i in range(start, stop)])
        session.commit()

    same_queries_for_more_rows(app, admin_console, "/admin/audit?per_page=100", add_entries)

    def add_questions(start, stop):
        session.add_all([UnansweredQuestion(normalized=f"问题{i}", example=f"问题{i}？", count=100 - i,
                                            first_asked_at=NOW, last_asked_at=NOW) for i in range(start, stop)])
        session.commit()

    _, page = same_queries_for_more_rows(app, admin_console, "/admin/policy/unanswered?per_page=100", add_questions)
    assert page.count(">做成问答<") == 40
    second = fetch(app, admin_console, "/admin/policy/unanswered?page=2")[1]  # 20 a page, most asked first
    assert "问题20？" in second and "问题19？" not in second


@pytest.mark.parametrize("page", ["0", "-1", "二", "²", "9" * 12])
def test_a_bad_page_number_is_refused_naming_it(admin_console, page):
    response = admin_console.get(f"/admin/units?page={page}")
    assert response.status_code == 422 and "页码必须是正整数" in response.get_data(as_text=True)


def test_api_lists_of_units_and_staff_are_paged(app, client, session):
    from models.admin import ROLE_ADMIN, AdminUser

    session.add(AdminUser(username="admin", password_hash="!", role=ROLE_ADMIN))
    headers = {"Authorization": f"Bearer {create_api_token(session, 'admin')}"}
    for i in range(25):
        make_staff(session, make_unit(session, f"单位{i:02d}", "机关" if i < 5 else "企业"), name=f"人员{i}")
    session.commit()
    units = client.get("/api/v1/units", headers=headers).json
    assert (units["total"], units["pages"], len(units["items"])) == (25, 2, 20)
    organs = client.get("/api/v1/units?category=机关&per_page=2&page=3", headers=headers).json
    assert (organs["total"], [u["name"] for u in organs["items"]]) == (5, ["单位04"])
    staff = client.get("/api/v1/staff?per_page=10&page=3", headers=headers).json
    assert (staff["total"], len(staff["items"])) == (25, 5)
    refused = client.get("/api/v1/staff?per_page=500", headers=headers)
    assert refused.status_code == 422 and refused.json["field"] == "per_page"
    assert client.get("/api/v1/units?category=进网络", headers=headers).json["field"] == "category"


def test_api_announcement_list_counts_deliveries_in_one_query(app, client, session):
    from models.admin import ROLE_ADMIN, AdminUser

    session.add(AdminUser(username="admin", password_hash="!", role=ROLE_ADMIN))
    headers = {"Authorization": f"Bearer {create_api_token(session, 'admin')}"}
    session.commit()

    def add_announcements(start, stop):
        add_sent_announcements(session, start, stop, deliveries=2)

    counts = []
    for start, stop in ((0, 5), (5, 30)):
        add_announcements(start, stop)
        with counting(app_engine(app)) as counter:
            items = client.get("/api/v1/announcements?limit=100", headers=headers).json["items"]
        counts.append(counter.count)
        assert len(items) == stop and all(item["deliveries"]["by_status"] == {"sent": 2} for item in items)
    assert counts[1] <= counts[0], counts  # the first request also records the token's use


def test_api_report_list_loads_units_staff_photos_and_revisions_per_page_not_per_report(app, client, session):
    from models.admin import ROLE_ADMIN, AdminUser
    from tests.factories import make_report

    session.add(AdminUser(username="admin", password_hash="!", role=ROLE_ADMIN))
    headers = {"Authorization": f"Bearer {create_api_token(session, 'admin')}"}
    staff = make_staff(session, make_unit(session, "单位甲", "社区"))
    session.commit()
    counts = []
    for stop in (3, 30):
        while session.query(Report).count() < stop:
            make_report(session, staff)
        session.commit()
        client.get("/api/v1/reports", headers=headers)  # the token's first use is recorded once
        with counting(app_engine(app)) as counter:
            body = client.get("/api/v1/reports?per_page=100", headers=headers).json
        counts.append(counter.count)
        assert body["total"] == stop and all(item["revisions"] == [] for item in body["items"])
    assert counts[0] == counts[1], counts
