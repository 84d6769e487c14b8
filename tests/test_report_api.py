"""/api/v1: create units and staff, issue binding codes, read and review reports; JSON 4xx for bad input."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from models.report import ReportResultNotice
from service.console import accounts as admin_accounts
from service.core.db import session_scope
from tests.factories import make_report, make_staff


@pytest.fixture
def tokens(session_factory):
    with session_scope(session_factory) as s:
        admin_accounts.create_admin(s, "admin", "a-long-password")
        admin_accounts.create_admin(s, "reviewer", "a-long-password", role="reviewer")
        return {name: {"Authorization": f"Bearer {admin_accounts.create_api_token(s, name)}"}
                for name in ("admin", "reviewer")}


def test_admin_sets_up_a_unit_and_a_staff_member_who_binds(client, wechat, tokens):
    unit = client.post("/api/v1/units", headers=tokens["admin"],
                       json={"name": "某宗教活动场所", "category": "宗教活动场所", "is_extension": True})
    assert unit.status_code == 201 and unit.json["is_extension"] is True
    staff = client.post("/api/v1/staff", headers=tokens["admin"], json={"unit_id": unit.json["id"], "name": "马师傅"})
    assert staff.status_code == 201
    code = client.post(f"/api/v1/staff/{staff.json['id']}/binding-code", headers=tokens["admin"])
    assert code.status_code == 201 and len(code.json["code"]) == 8
    assert "马师傅（某宗教活动场所）" in wechat.send_text(f"绑定 {code.json['code']}")


@pytest.mark.parametrize("path,body,status,field", [
    ("/api/v1/units", {"name": "x", "category": "医院"}, 422, "category"),
    ("/api/v1/units", {"category": "社区"}, 422, "name"),
    ("/api/v1/units", {"name": "x", "category": "社区", "is_extension": "yes"}, 422, "is_extension"),
    ("/api/v1/staff", {"unit_id": "1", "name": "x"}, 422, "unit_id"),
    ("/api/v1/staff", {"unit_id": 999, "name": "x"}, 422, "unit_id"),  # unknown unit in the body: 422 naming it
    ("/api/v1/staff/999/binding-code", None, 404, "staff_id"),
])
def test_bad_admin_requests(client, tokens, path, body, status, field):
    response = client.post(path, headers=tokens["admin"], json=body)
    assert response.status_code == status and response.json["field"] == field
    assert response.json["error"] == {404: "not_found", 422: "invalid_input"}[status]


def test_reviewer_may_not_manage_units(client, tokens):
    assert client.post("/api/v1/units", headers=tokens["reviewer"], json={"name": "x", "category": "社区"}).status_code == 403


def test_review_through_the_api(client, tokens, session_factory):
    with session_scope(session_factory) as s:
        staff = make_staff(s, openid="o1")
        first, second = make_report(s, staff).id, make_report(s, staff).id
    assert client.get(f"/api/v1/reports/{first}", headers=tokens["reviewer"]).json["status"] == "待审核"
    bad = client.post(f"/api/v1/reports/{first}/review", headers=tokens["reviewer"], json={"action": "reject"})
    assert bad.status_code == 422 and bad.json["field"] == "reason"
    assert client.post(f"/api/v1/reports/{first}/review", headers=tokens["reviewer"],
                       json={"action": "maybe"}).status_code == 422
    ok = client.post(f"/api/v1/reports/{first}/review", headers=tokens["reviewer"],
                     json={"action": "reject", "reason": "缺少照片"})
    assert ok.status_code == 200 and ok.json["status"] == "已退回" and ok.json["reviewed_by"] == "reviewer"
    again = client.post(f"/api/v1/reports/{first}/review", headers=tokens["admin"], json={"action": "approve"})
    assert again.status_code == 409
    assert client.post(f"/api/v1/reports/{second}/review", headers=tokens["admin"],
                       json={"action": "approve"}).json["status"] == "已通过"
    assert client.post("/api/v1/reports/999/review", headers=tokens["admin"],
                       json={"action": "approve"}).status_code == 404
    with session_scope(session_factory) as s:
        assert [n.report_id for n in s.scalars(select(ReportResultNotice).order_by(ReportResultNotice.id))] == [
            first, second]
