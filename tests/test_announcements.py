"""The announcements JSON API: create, validate (422 naming the field), edit, cancel, per-recipient results."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from models.admin import ROLE_REVIEWER
from models.announcement import Announcement
from models.staff import Staff
from models.subscription import Subscription
from models.unit import Unit
from service.console import accounts as admin_accounts
from service.notices import announcements, delivery as notify
from service.core import clock
from service.core.clock import TZ
from tests.factories import make_staff, make_unit
from tests.notice_helpers import add_followers, record_outcomes, sender_factory, successful_calls

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=TZ)


@pytest.fixture(autouse=True)
def pinned_clock():
    clock.set_now(lambda: NOW)


@pytest.fixture
def auth(session):
    admin_accounts.create_admin(session, "admin", "Passw0rd!x")
    session.commit()
    return {"Authorization": "Bearer " + admin_accounts.create_api_token(session, "admin")}


@pytest.fixture
def api(client, auth, session):
    session.commit()

    def call(method, path, **kw):
        return getattr(client, method)(f"/api/v1{path}", headers=auth, **kw)
    return call


BASE = {"title": "春季活动通知", "body": "请各单位按时开展活动。", "audience": {"type": "all"}}


def test_create_show_list_and_schedule(api, session):
    res = api("post", "/announcements", json={**BASE, "send_at": "2025-03-05T09:00:00"})
    assert res.status_code == 201, res.json
    data = res.json
    assert data["status"] == "已排期"
    assert data["next_run_at"] == "2025-03-05T09:00:00+08:00"
    assert api("get", f"/announcements/{data['id']}").json["title"] == "春季活动通知"
    assert [a["id"] for a in api("get", "/announcements").json["items"]] == [data["id"]]
    draft = api("post", "/announcements", json={**BASE, "draft": True}).json
    assert draft["status"] == "草稿" and draft["next_run_at"] is None


def test_line_endings_are_normalised_on_input(api, session):
    res = api("post", "/announcements", json={**BASE, "body": "第一行\r\n第二行\n第三行\r第四行\r\n", "draft": True})
    assert res.status_code == 201 and res.json["body"] == "第一行\n第二行\n第三行\n第四行"
    assert session.get(Announcement, res.json["id"]).body == "第一行\n第二行\n第三行\n第四行"
    edited = api("patch", f"/announcements/{res.json['id']}", json={"body": "甲\r\n乙"})
    assert edited.json["body"] == "甲\n乙"
    session.expire_all()
    assert "\r" not in announcements.message_text(*session.query(Announcement.title, Announcement.body).one())


@pytest.mark.parametrize("change, field", [
    ({"body": "   "}, "body"),
    ({"body": "长" * 700}, "body"),
    ({"title": ""}, "title"),
    ({"title": "标" * 21}, "title"),
    ({"send_at": "2025-03-01T09:00:00"}, "send_at"),
    ({"send_at": "next tuesday"}, "send_at"),
    ({"recurrence": "每两周 9:00"}, "recurrence"),
    ({"audience": {"type": "topic", "topic": "体育新闻"}}, "audience.topic"),
    ({"audience": {"type": "units", "unit_ids": [999]}}, "audience.unit_ids"),
    ({"audience": {"type": "categories", "categories": ["医院"]}}, "audience.categories"),
    ({"audience": {"type": "openids", "openids": []}}, "audience.openids"),
    ({"audience": {"type": "everyone"}}, "audience"),
])
def test_bad_input_is_422_naming_the_field_and_stores_nothing(api, session, change, field):
    res = api("post", "/announcements", json={**BASE, **change})
    assert res.status_code == 422
    assert res.json["field"] == field and res.json["message"]
    assert session.query(Announcement).count() == 0


def test_non_json_body_and_reviewer_are_refused(api, client, session):
    assert api("post", "/announcements", data="x", content_type="text/plain").status_code == 422
    admin_accounts.create_admin(session, "rev", "Passw0rd!x", role=ROLE_REVIEWER)
    session.commit()
    token = admin_accounts.create_api_token(session, "rev")
    session.commit()
    res = client.post("/api/v1/announcements", json=BASE, headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 403
    assert client.get("/api/v1/announcements").status_code == 401


def test_edit_while_scheduled_then_not_after_cancel(api):
    ann = api("post", "/announcements", json={**BASE, "send_at": "2025-03-05T09:00"}).json
    res = api("patch", f"/announcements/{ann['id']}", json={"title": "改后的标题", "recurrence": "每月1日 9:00"})
    assert res.status_code == 200
    assert res.json["title"] == "改后的标题"
    assert res.json["next_run_at"] == "2025-04-01T09:00:00+08:00"
    assert api("patch", f"/announcements/{ann['id']}", json={"body": ""}).json["field"] == "body"
    assert api("post", f"/announcements/{ann['id']}/cancel").json["status"] == "已取消"
    assert api("patch", f"/announcements/{ann['id']}", json={"title": "再改"}).status_code == 409
    assert api("post", f"/announcements/{ann['id']}/cancel").status_code == 409
    assert api("get", "/announcements/9999").status_code == 404


def test_audiences_resolve_topic_units_and_categories(session):
    a = Unit(name="一中", category="学校")
    b = Unit(name="城关社区", category="社区")
    session.add_all([a, b])
    session.flush()
    session.add_all([Staff(unit_id=a.id, name="张三", openid="o-zhang"), Staff(unit_id=b.id, name="李四", openid="o-li"),
                     Staff(unit_id=b.id, name="王五"), Subscription(openid="o-sub", topic="event")])
    session.flush()
    resolve = announcements.resolve_audience
    clean = lambda v: announcements.clean_audience(session, v)  # noqa: E731
    assert resolve(session, clean({"type": "units", "unit_ids": [b.id]})) == ["o-li"]
    assert resolve(session, clean({"type": "categories", "categories": ["学校", "社区"]})) == ["o-li", "o-zhang"]
    assert resolve(session, clean({"type": "topic", "topic": "活动预告"})) == ["o-sub"]


def test_scheduled_announcement_is_sent_at_its_time_with_per_recipient_results(api, session, session_factory,
                                                                               settings, fake_wechat):
    record_outcomes(fake_wechat)
    add_followers(session, ["o-1", "o-2"], NOW)
    make_staff(session, make_unit(session, name="团结社区"), name="王芳", openid="o-1", now=NOW)
    session.commit()
    ann = api("post", "/announcements", json={**BASE, "send_at": "2025-03-03T12:00"}).json
    factory = sender_factory(settings, session_factory)
    notify.run_once(session_factory, settings, factory)
    assert fake_wechat.calls_to("message/custom/send") == []  # not yet
    clock.set_now(lambda: NOW + timedelta(hours=2, seconds=1))
    notify.run_once(session_factory, settings, factory)
    assert successful_calls(fake_wechat) == {"o-1": 1, "o-2": 1}
    shown = api("get", f"/announcements/{ann['id']}").json
    assert shown["status"] == "已发送"
    assert shown["deliveries"]["by_status"] == {"sent": 2}
    items = api("get", f"/announcements/{ann['id']}/deliveries").json["items"]
    assert [(i["openid"], i["status"], i["channel"], i["attempts"]) for i in items] == [
        ("o-1", "sent", "cs", 1), ("o-2", "sent", "cs", 1)]
    assert [(i["name"], i["unit"], i["recipient"]) for i in items] == [  # names, not only openids
        ("王芳", "团结社区", "王芳（团结社区）"), (None, None, "o-2")]
    assert api("patch", f"/announcements/{ann['id']}", json={"title": "晚了"}).status_code == 409


def test_listing_pages_are_checked_and_capped(api):
    for _ in range(3):
        assert api("post", "/announcements", json={**BASE, "draft": True}).status_code == 201
    assert len(api("get", "/announcements?limit=2").json["items"]) == 2
    assert len(api("get", "/announcements?limit=2&offset=2").json["items"]) == 1
    assert len(api("get", "/announcements?limit=100000").json["items"]) == 3  # capped, not refused
    for bad in ("limit=abc", "limit=-1", "offset=1.5"):
        res = api("get", f"/announcements?{bad}")
        assert res.status_code == 422 and res.json["field"] == bad.split("=")[0], bad
