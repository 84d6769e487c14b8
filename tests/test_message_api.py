"""/api/v1/messages: the inbox's filters and paging, one thread's timeline, take one down, reply, assign, close;
roles (管理员 everything, others their assigned threads, 接待员 tokens nothing else); errors in the API's shape;
every change audited with "via": "api"."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from models.audit import AuditLog
from models.message import ResidentThread, ThreadEntry
from service.console import accounts as admin_accounts
from service.core import clock
from service.core.db import session_scope
from tests.test_message_console import follow, make_thread


@pytest.fixture
def tokens(session_factory):
    with session_scope(session_factory) as s:
        ids = {}
        for name, role in (("admin", "admin"), ("reviewer", "reviewer"), ("jiedai", "reception")):
            ids[name] = admin_accounts.create_admin(s, name, "a-long-password", role=role).id
        s.flush()
        headers = {name: {"Authorization": f"Bearer {admin_accounts.create_api_token(s, name)}"} for name in ids}
    return headers, ids


def test_list_filters_and_pages(client, tokens, session_factory):
    headers, _ = tokens
    for n in range(3):
        make_thread(session_factory, openid=f"o-{n}", text=f"咨询 {n}", category="consult")
    make_thread(session_factory, text="拒租", category="complaint")
    page = client.get("/api/v1/messages?per_page=2&page=2", headers=headers["admin"])
    assert page.status_code == 200
    assert page.json["total"] == 4 and page.json["pages"] == 2 and len(page.json["items"]) == 2
    assert page.json["counts"]["open"] == 4
    complaints = client.get("/api/v1/messages?category=complaint", headers=headers["admin"]).json
    assert [t["subject"] for t in complaints["items"]] == ["拒租"]
    assert complaints["items"][0]["sensitive"] is True and complaints["items"][0]["category_label"] == "反映问题"
    assert complaints["filters"] == {"category": "complaint"}


@pytest.mark.parametrize("query,field", [
    ("status=bogus", "status"), ("category=医院", "category"), ("date_from=2026-02-30", "date_from"),
    ("date_from=2026-03-02&date_to=2026-03-01", "date_to"), ("assigned_to=x", "assigned_to"),
    ("overdue=maybe", "overdue"), ("page=0", "page"), ("per_page=1000", "per_page"),
])
def test_bad_filters_name_the_field(client, tokens, query, field):
    headers, _ = tokens
    response = client.get(f"/api/v1/messages?{query}", headers=headers["admin"])
    assert response.status_code == 422
    assert response.json["error"] == "invalid_input" and response.json["field"] == field


def test_create_reply_assign_close_through_the_api(client, tokens, session_factory, fake_wechat):
    headers, ids = tokens
    bad = client.post("/api/v1/messages", headers=headers["admin"], json={"openid": "o-tel", "text": "",
                                                                          "category": "help"})
    assert bad.status_code == 422 and bad.json["field"] == "text"
    assert client.post("/api/v1/messages", headers=headers["admin"],
                       json={"openid": "o-tel", "text": "x", "category": "其他"}).json["field"] == "category"
    assert client.post("/api/v1/messages", headers=headers["jiedai"],
                       json={"openid": "o-tel", "text": "x", "category": "help"}).status_code == 403
    created = client.post("/api/v1/messages", headers=headers["admin"],
                          json={"openid": "o-tel", "text": "电话反映：孩子入学被拒", "category": "求助"})
    assert created.status_code == 201
    thread = created.json
    assert thread["receipt"].startswith("LY") and thread["category"] == "help" and thread["source"] == "api"
    assert thread["entries"][0]["body"] == "电话反映：孩子入学被拒"
    tid = thread["id"]

    assert client.post(f"/api/v1/messages/{tid}/assign", headers=headers["admin"],
                       json={"user_id": 424242}).json["field"] == "user_id"
    assert client.post(f"/api/v1/messages/{tid}/assign", headers=headers["admin"],
                       json={"user_id": True}).json["field"] == "user_id"
    assigned = client.post(f"/api/v1/messages/{tid}/assign", headers=headers["admin"],
                           json={"user_id": ids["jiedai"]})
    assert assigned.status_code == 200 and assigned.json["assigned_name"] == "jiedai"
    assert assigned.json["status"] == "progress"

    # the handler (接待员) replies; the resident wrote a minute ago, so it goes out as a customer-service message
    follow(session_factory, "o-tel", clock.now() - timedelta(minutes=1))
    assert client.post(f"/api/v1/messages/{tid}/reply", headers=headers["jiedai"],
                       json={"text": ["not", "text"]}).json["field"] == "text"
    replied = client.post(f"/api/v1/messages/{tid}/reply", headers=headers["jiedai"], json={"text": "已协调学校。"})
    assert replied.status_code == 201 and replied.json["kind"] == "reply" and replied.json["author"] == "jiedai"
    assert replied.json["delivery"] == "sent"
    assert [c.json["touser"] for c in fake_wechat.calls_to("message/custom/send")] == ["o-tel"]

    closed = client.post(f"/api/v1/messages/{tid}/close", headers=headers["jiedai"])
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    again = client.post(f"/api/v1/messages/{tid}/close", headers=headers["jiedai"])
    assert again.status_code == 409 and again.json["error"] == "conflict"

    with session_factory() as s:
        entries = s.scalars(select(AuditLog).where(AuditLog.target_type == "resident_thread").order_by(AuditLog.id))
        assert [(a.action, a.actor, a.detail.get("via")) for a in entries] == [
            ("message.create", "admin", "api"), ("message.assign", "admin", "api"),
            ("message.reply", "jiedai", "api"), ("message.close", "jiedai", "api")]


def test_roles_scope_what_a_token_sees(client, tokens, session_factory):
    headers, ids = tokens
    mine = make_thread(session_factory, text="分给审核员的", assigned_to=ids["reviewer"])
    other = make_thread(session_factory, text="未分派的")
    listed = client.get("/api/v1/messages", headers=headers["reviewer"]).json
    assert [t["id"] for t in listed["items"]] == [mine] and listed["total"] == 1
    assert client.get(f"/api/v1/messages/{mine}", headers=headers["reviewer"]).status_code == 200
    hidden = client.get(f"/api/v1/messages/{other}", headers=headers["reviewer"])
    assert hidden.status_code == 403 and hidden.json["error"] == "forbidden"
    assert client.post(f"/api/v1/messages/{other}/reply", headers=headers["reviewer"],
                       json={"text": "x"}).status_code == 403
    assert client.get("/api/v1/messages/999999", headers=headers["admin"]).status_code == 404
    # 接待员 tokens reach the messages and nothing else
    for path in ("/api/v1/reports", "/api/v1/units", "/api/v1/statistics", "/api/v1/announcements"):
        response = client.get(path, headers=headers["jiedai"])
        assert response.status_code == 403 and response.json["error"] == "forbidden", path
    assert client.get("/api/v1/messages", headers=headers["jiedai"]).status_code == 200
    assert client.post(f"/api/v1/messages/{mine}/assign", headers=headers["reviewer"],
                       json={"user_id": ids["reviewer"]}).status_code == 403
    with session_factory() as s:
        assert s.scalar(select(ThreadEntry).where(ThreadEntry.kind == "reply")) is None
        assert s.get(ResidentThread, other).status == "open"


def test_thread_json_has_timeline_and_notes(client, tokens, session_factory):
    headers, _ = tokens
    earlier = make_thread(session_factory, openid="o-x", text="早先的")
    tid = make_thread(session_factory, openid="o-x", text="<b>粗体</b>")
    body = client.get(f"/api/v1/messages/{tid}", headers=headers["admin"]).json
    assert body["subject"] == "<b>粗体</b>"  # JSON carries the text as typed; pages escape it
    assert [t["id"] for t in body["other_threads"]] == [earlier]
    assert body["overdue"] is False and body["status_label"] == "待处理"
    assert isinstance(body["recent_messages"], list)
