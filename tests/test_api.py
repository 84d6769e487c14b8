"""The /api/v1 JSON API end to end: bearer auth, roles, units/staff CRUD, report list/review, statistics,
compliance and exports, with 4xx JSON naming the bad field."""
from __future__ import annotations

import csv
import io
from datetime import datetime
from urllib.parse import unquote

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models.admin import ROLE_ADMIN, ROLE_REVIEWER, AdminUser
from models.report import STATUS_PENDING, ActivityReport, ReportPhoto, ReportResultNotice
from models.staff import BindingCode
from models.unit import Unit
from service.console.accounts import create_api_token
from service.core import clock
from service.core.clock import TZ
from tests.factories import make_reviewed_report, make_staff, make_unit

NOW = datetime(2026, 4, 10, 9, 30, tzinfo=TZ)


@pytest.fixture
def tokens(session):
    clock.set_now(lambda: NOW)
    # rows without a real password hash: scrypt is slow and these tests only use bearer tokens
    session.add_all([AdminUser(username="admin", password_hash="!", role=ROLE_ADMIN),
                     AdminUser(username="reviewer", password_hash="!", role=ROLE_REVIEWER)])
    result = {name: create_api_token(session, name) for name in ("admin", "reviewer")}
    session.commit()
    return result


@pytest.fixture
def api(client, tokens):
    class Api:
        def __init__(self, who: str = "admin"):
            self.headers = {"Authorization": f"Bearer {tokens[who]}"}

        def __getattr__(self, method):
            def call(path, **kwargs):
                return getattr(client, method)("/api/v1" + path, headers=self.headers, **kwargs)
            return call

    return Api


@pytest.fixture
def data(session, tokens):
    organ = make_unit(session, name="区委统战部", category="机关")
    community = make_unit(session, name="团结社区", category="社区", is_extension=True)
    clerk = make_staff(session, organ, name="王芳")
    resident = make_staff(session, community, name="马强")
    r1 = make_reviewed_report(session, clerk, activity_type="专题学习", date="2026-03-02", participants=30,
                              title="专题学习会", category="机关")
    r2 = make_reviewed_report(session, resident, STATUS_PENDING, activity_type="文体活动", date="2026-03-18",
                              participants=120, title="邻里运动会")
    session.add(ReportPhoto(report_id=r2.id, openid="o-test", media_id="media-1"))
    for day in range(1, 6):
        make_reviewed_report(session, resident, date=f"2026-02-0{day}", title=f"二月活动{day}", participants=10)
    session.commit()
    return {"organ": organ.id, "community": community.id, "clerk": clerk.id, "resident": resident.id,
            "r1": r1.id, "r2": r2.id}


def assert_api_error(response, status: int, code: str, field: str | None = None) -> None:
    """Every /api/v1 error has exactly this shape: a short code, a Chinese message and the field (or null)."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json and set(response.json) == {"error", "message", "field"}, response.json
    assert response.json["error"] == code and response.json["field"] == field
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json["message"]), response.json["message"]


# ---- one error shape for every status --------------------------------------------------------------------------

def test_malformed_json_is_400(api, data):
    response = api().post("/units", data="{not json", content_type="application/json")
    assert_api_error(response, 400, "bad_request")


def test_unknown_path_and_record_are_404(api, data):
    assert_api_error(api().get("/no-such-thing"), 404, "not_found")
    assert_api_error(api().get("/reports/99999"), 404, "not_found")
    assert_api_error(api().post("/staff/99999/binding-code"), 404, "not_found", "staff_id")


def test_wrong_method_is_405_with_allow(api, data):
    response = api().delete("/me")
    assert_api_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["Allow"]


def test_oversized_body_is_413(api, data):
    response = api().post("/units", data=b"x" * (1024 * 1024 + 1), content_type="application/json")
    assert_api_error(response, 413, "payload_too_large")


def test_unexpected_error_is_500_json(api, data, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr("handlers.api.reports.reports.get_report", boom)
    response = api().get(f"/reports/{data['r1']}")
    assert_api_error(response, 500, "internal_error")
    assert "fire" not in response.get_data(as_text=True)


# ---- auth -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "Bearer", "Basic abc", "Bearer qj_not_a_token"])
def test_missing_or_bad_token_is_401_json(client, tokens, header):
    response = client.get("/api/v1/units", headers={"Authorization": header} if header else {})
    assert_api_error(response, 401, "unauthorized")


def test_reviewer_may_touch_reports_only(api, data):
    reviewer = api("reviewer")
    for path in ("/units", "/staff", "/statistics", "/compliance"):
        response = reviewer.get(path)
        assert_api_error(response, 403, "forbidden")
        assert response.json["message"] == "需要管理员权限"
    assert reviewer.post("/units", json={"name": "新单位", "category": "企业"}).status_code == 403
    assert reviewer.get("/reports").status_code == 200
    assert reviewer.post(f"/reports/{data['r2']}/review", json={"action": "approve"}).status_code == 200


# ---- units and staff --------------------------------------------------------------------------------------------

def test_unit_and_staff_crud(api, session, data):
    admin = api()
    created = admin.post("/units", json={"name": "石榴籽学校", "category": "学校", "is_education_base": True})
    assert created.status_code == 201
    unit_id = created.json["id"]
    assert admin.patch(f"/units/{unit_id}", json={"contact": "赵老师", "phone": "0931-1234567"}).json["contact"] == "赵老师"
    staff = admin.post("/staff", json={"unit_id": unit_id, "name": "赵敏", "phone": "13700000000"})
    assert staff.status_code == 201 and staff.json["unit"] == "石榴籽学校" and staff.json["bound"] is False
    detail = admin.get(f"/units/{unit_id}").json
    assert detail["is_education_base"] is True and [s["name"] for s in detail["staff"]] == ["赵敏"]
    assert admin.patch(f"/staff/{staff.json['id']}", json={"name": "赵敏敏"}).json["name"] == "赵敏敏"
    assert admin.delete(f"/units/{unit_id}").json["active"] is False
    names = {u["name"] for u in admin.get("/units").json["items"]}
    assert "石榴籽学校" not in names and {"区委统战部", "团结社区"} <= names
    assert "石榴籽学校" in {u["name"] for u in admin.get("/units?include_inactive=1").json["items"]}
    session.expire_all()
    assert session.get(Unit, unit_id).contact == "赵老师"


def test_duplicate_unit_name_is_409(api, data):
    response = api().post("/units", json={"name": "团结社区", "category": "社区"})
    assert_api_error(response, 409, "conflict", "name")


@pytest.mark.parametrize("path, body, field", [
    ("/units", {"name": "新单位", "category": "进网络"}, "category"),
    ("/units", {"category": "企业"}, "name"),
    ("/units", {"name": "新单位", "category": "企业", "is_extension": "yes"}, "is_extension"),
    ("/staff", {"unit_id": 9999, "name": "某人"}, "unit_id"),
    ("/staff", {"unit_id": "1", "name": "某人"}, "unit_id"),
])
def test_unknown_unit_or_category_is_422_naming_the_field(api, data, path, body, field):
    assert_api_error(api().post(path, json=body), 422, "invalid_input", field)


@pytest.mark.parametrize("path, body, field, expected", [
    ("/units", {"name": "新单位"}, "category", "请选择七进类别"),
    ("/units", {"name": "新单位", "category": ""}, "category", "请选择七进类别"),
    ("/units", {"name": "新单位", "category": "进网络"}, "category", "七进类别只能是"),
    ("/units", {"category": "企业"}, "name", "请填写单位名称"),
    ("/units", {"name": "新单位", "category": "企业", "contact": "王" * 51}, "contact", "联系人不能超过 50 个字"),
    ("/units", {"name": "新单位", "category": "企业", "is_extension": "yes"}, "is_extension", "延伸拓展单位必须是"),
    ("/units", {"name": "新单位", "category": "企业", "phone": "abc"}, "phone", "联系电话应为手机号"),
    ("/staff", {"unit_id": "organ"}, "name", "请填写姓名"),
    ("/staff", {"unit_id": "organ", "name": "某人", "phone": "139"}, "phone", "电话应为手机号"),
    ("/reports?date_from=2026-13-01", None, "date_from", "开始日期必须是 YYYY-MM-DD"),
    ("/reports?per_page=0", None, "per_page", "每页条数"),
    ("/reports?month=三月", None, "month", "月份必须是"),
])
def test_validation_messages_name_the_field_in_chinese(api, data, path, body, field, expected):
    if body and body.get("unit_id") == "organ":
        body = body | {"unit_id": data["organ"]}
    response = api().post(path, json=body) if body is not None else api().get(path)
    assert_api_error(response, 422, "invalid_input", field)
    assert expected in response.json["message"] and field not in response.json["message"], response.json


def test_phones_are_checked_and_stored_normalised(api, data):
    unit = api().post("/units", json={"name": "新单位", "category": "企业", "phone": "+86 0851-8681 2345"})
    assert unit.status_code == 201 and unit.json["phone"] == "0851-86812345"
    staff = api().post("/staff", json={"unit_id": unit.json["id"], "name": "某人", "phone": "+86 138-1234-5678"})
    assert staff.status_code == 201 and staff.json["phone"] == "13812345678"
    refused = api().patch(f"/staff/{staff.json['id']}", json={"phone": "abc"})
    assert_api_error(refused, 422, "invalid_input", "phone")
    assert api().get(f"/staff/{staff.json['id']}").json["phone"] == "13812345678"


def test_non_json_body_is_422(api, data):
    response = api().post("/units", data="name=x", content_type="application/x-www-form-urlencoded")
    assert_api_error(response, 422, "invalid_input", "body")
    assert_api_error(api().post("/units", json=["not", "an", "object"]), 422, "invalid_input", "body")


def test_binding_code_is_shown_once_and_stored_hashed(api, session, data):
    admin = api()
    issued = admin.post(f"/staff/{data['clerk']}/binding-code")
    assert issued.status_code == 201
    code = issued.json["code"]
    assert len(code) == 8 and issued.json["expires_at"].startswith("2026-04-17")
    rows = session.scalars(select(BindingCode).where(BindingCode.staff_id == data["clerk"])).all()
    assert len(rows) == 1 and code not in rows[0].code_hash and not rows[0].revoked
    assert admin.delete(f"/staff/{data['clerk']}/binding-code").json["revoked"] == 1
    assert admin.post("/staff/9999/binding-code").status_code == 404


def test_staff_with_reports_cannot_move_unit(api, session, data):
    response = api().patch(f"/staff/{data['resident']}", json={"unit_id": data["organ"]})
    assert response.status_code == 409 and response.json["field"] == "unit_id"
    fresh = api().post("/staff", json={"unit_id": data["organ"], "name": "新人"}).json
    assert api().patch(f"/staff/{fresh['id']}", json={"unit_id": data["community"]}).json["unit"] == "团结社区"


# ---- reports ----------------------------------------------------------------------------------------------------

def test_list_filters_and_pagination(api, data):
    admin = api()
    page1 = admin.get("/reports?per_page=3").json
    assert (page1["total"], page1["pages"], len(page1["items"])) == (7, 3, 3)
    assert page1["items"][0]["title"] == "邻里运动会"  # newest activity first
    page3 = admin.get("/reports?per_page=3&page=3").json
    assert [i["title"] for i in page3["items"]] == ["二月活动1"]
    march = admin.get("/reports?date_from=2026-03-01&date_to=2026-03-31").json
    assert {i["title"] for i in march["items"]} == {"专题学习会", "邻里运动会"}
    assert admin.get(f"/reports?unit_id={data['organ']}").json["total"] == 1
    assert admin.get("/reports?status=待审核").json["total"] == 1
    assert admin.get("/reports?category=机关").json["total"] == 1
    assert [i["title"] for i in admin.get("/reports?q=运动").json["items"]] == ["邻里运动会"]
    assert admin.get("/reports?q=100%").json["total"] == 0


@pytest.mark.parametrize("query, field", [("unit_id=9999", "unit_id"), ("category=进网络", "category"),
                                          ("per_page=1000", "per_page"), ("page=0", "page"),
                                          ("date_from=03/01/2026", "date_from")])
def test_bad_list_arguments_are_422(api, data, query, field):
    response = api().get(f"/reports?{query}")
    assert response.status_code == 422 and response.json["field"] == field


def test_detail_includes_photos(api, data):
    detail = api().get(f"/reports/{data['r2']}").json
    assert detail["content"] and len(detail["photos"]) == 1 and detail["photos"][0]["download_status"] == "pending"
    assert api().get("/reports/9999").status_code == 404


def test_review_approve_and_reject_queue_the_result(api, session, data):
    reviewer = api("reviewer")
    missing = reviewer.post(f"/reports/{data['r2']}/review", json={"action": "reject", "reason": "  "})
    assert missing.status_code == 422 and missing.json["field"] == "reason"
    assert reviewer.post(f"/reports/{data['r2']}/review", json={"action": "ok"}).json["field"] == "action"
    rejected = reviewer.post(f"/reports/{data['r2']}/review", json={"action": "reject", "reason": "缺少照片说明"})
    assert rejected.status_code == 200
    assert (rejected.json["status"], rejected.json["review_reason"], rejected.json["reviewed_by"]) == (
        "已退回", "缺少照片说明", "reviewer")
    again = api().post(f"/reports/{data['r2']}/review", json={"action": "approve"})
    assert again.status_code == 409
    notices = session.scalars(select(ReportResultNotice).where(ReportResultNotice.report_id == data["r2"])).all()
    assert len(notices) == 1 and "缺少照片说明" in notices[0].text and notices[0].status == "pending"


def test_admin_enters_a_report_for_a_staff_member_of_that_unit_only(api, session, data):
    body = {"unit_id": data["organ"], "staff_id": data["resident"], "category": "机关", "activity_type": "研究部署",
            "title": "部署会", "date": "2026-04-08", "place": "三楼会议室", "participants": 15, "content": "研究部署"}
    refused = api().post("/reports", json=body)
    assert refused.status_code == 403 and refused.json["field"] == "staff_id"
    assert api().post("/reports", json=body | {"staff_id": data["clerk"], "category": "进网络"}).json["field"] == "category"
    assert api().post("/reports", json=body | {"staff_id": data["clerk"], "participants": -1}).json["field"] == "participants"
    assert api().post("/reports", json=body | {"staff_id": data["clerk"], "date": "2026-05-01"}).json["field"] == "date"
    assert session.scalar(select(ActivityReport).where(ActivityReport.title == "部署会")) is None  # nothing half-written
    created = api().post("/reports", json=body | {"staff_id": data["clerk"]})
    assert created.status_code == 201
    assert created.json["status"] == "待审核" and created.json["receipt_no"].startswith("QJ20260410")
    assert api("reviewer").post("/reports", json=body | {"staff_id": data["clerk"]}).status_code == 403


def test_a_report_is_entered_with_the_field_names_it_is_read_back_with(api, data):
    body = {"unit_id": data["organ"], "staff_id": data["clerk"], "category": "机关", "activity_type": "研究部署",
            "title": "学习会", "activity_date": "2026-04-09", "place": "三楼会议室", "participants": 12,
            "content": "学习政策"}
    future = api().post("/reports", json=body | {"activity_date": "2026-05-01"})
    assert future.status_code == 422 and future.json["field"] == "activity_date"
    missing = api().post("/reports", json={k: v for k, v in body.items() if k != "activity_date"})
    assert missing.status_code == 422 and missing.json["field"] == "activity_date"
    created = api().post("/reports", json=body)
    assert created.status_code == 201
    read_back = api().get(f"/reports/{created.json['id']}").json
    assert {k: read_back[k] for k in body if k not in ("unit_id", "staff_id")} == {
        k: v for k, v in body.items() if k not in ("unit_id", "staff_id")}


# ---- statistics, compliance, exports ----------------------------------------------------------------------------

def test_statistics(api, data):
    stats = api().get("/statistics?status=已通过&date_from=2026-01-01").json
    assert stats["total"] == {"count": 6, "participants": 80}
    assert {m["month"]: m["count"] for m in stats["by_month"]} == {"2026-02": 5, "2026-03": 1}


def test_compliance_lists_lagging_units(api, data):
    # 2026-04-10: Q1 is over. 区委统战部 has one approved report in Q1; 团结社区 has five (February).
    report = api().get("/compliance").json
    assert report["today"] == "2026-04-10" and report["period_start"] == "2026-01-01"
    assert {u["name"]: u["status"] for u in report["units"]} == {"区委统战部": "进行中", "团结社区": "进行中"}
    strict = api().get("/compliance?quarter_min=2&status=滞后").json
    assert [u["name"] for u in strict["units"]] == ["区委统战部"]
    assert {(m["rule_id"], m["period"]): m["status"] for m in strict["units"][0]["missed"]} == {
        ("organ_deploy", "2026年"): "进行中", ("quarterly_activity", "2026年第1季度"): "滞后",
        ("quarterly_activity", "2026年第2季度"): "进行中"}
    assert {d["id"]: d["count"] for d in report["district"]} == {"extension_units": 1, "education_bases": 0}
    assert api().get("/compliance?date_from=2026-02-30").json["field"] == "date_from"
    unknown = api().get("/compliance?status=落后")
    assert unknown.status_code == 422 and unknown.json["field"] == "status"


def test_export_the_months_reports(api, data):
    xlsx = api("reviewer").get("/exports/reports.xlsx?month=2026-03")
    assert xlsx.status_code == 200 and xlsx.mimetype.endswith("spreadsheetml.sheet")
    disposition = xlsx.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="qijin-reports_2026-03.xlsx";')
    assert "七进活动上报_2026年3月.xlsx" in unquote(disposition)
    rows = list(load_workbook(io.BytesIO(xlsx.data)).active.iter_rows(values_only=True))
    assert len(rows) == 3 and {r[4] for r in rows[1:]} == {"专题学习会", "邻里运动会"}
    csv_file = api().get("/exports/reports.csv?month=2026-02&status=已通过")
    parsed = list(csv.reader(io.StringIO(csv_file.data.decode("utf-8-sig"))))
    assert csv_file.data.startswith(b"\xef\xbb\xbf") and len(parsed) == 6
    assert csv_file.headers["Content-Type"] == "text/csv; charset=utf-8"  # once, not "…; charset=utf-8" twice
    assert "Content-Length" not in csv_file.headers  # streamed: sent as it is read, its length unknown up front
    assert api().get("/exports/reports.pdf").status_code == 422


# ---- every change through the API is audited, with the token's owner as actor --------------------------------

def test_every_api_change_writes_an_audit_entry_by_the_tokens_owner(api, session, data):
    from models.audit import AuditLog

    admin, reviewer = api(), api("reviewer")

    def entries() -> list[tuple[str, str, str, str | None]]:
        session.expire_all()
        return [(e.actor, e.action, e.target_type, e.target_id)
                for e in session.scalars(select(AuditLog).order_by(AuditLog.id))]

    unit = admin.post("/units", json={"name": "石榴籽学校", "category": "学校"}).json["id"]
    admin.patch(f"/units/{unit}", json={"contact": "赵老师", "junk": "x" * 100})
    staff = admin.post("/staff", json={"unit_id": unit, "name": "赵敏"}).json["id"]
    admin.patch(f"/staff/{staff}", json={"name": "赵敏敏"})
    assert admin.post(f"/staff/{staff}/binding-code").status_code == 201
    admin.delete(f"/staff/{staff}/binding-code")
    admin.delete(f"/staff/{staff}")
    admin.delete(f"/units/{unit}")
    report = admin.post("/reports", json={
        "unit_id": data["organ"], "staff_id": data["clerk"], "category": "机关", "activity_type": "研究部署",
        "title": "部署会", "date": "2026-04-08", "place": "三楼会议室", "participants": 15, "content": "研究部署"}).json
    assert reviewer.post(f"/reports/{report['id']}/review", json={"action": "approve"}).status_code == 200
    assert reviewer.post(f"/reports/{data['r2']}/review", json={"action": "reject", "reason": "缺照片"}).status_code == 200
    ann = admin.post("/announcements", json={"title": "通知", "body": "周五开会", "audience": {"type": "all"},
                                             "send_at": "now", "draft": True}).json["id"]
    admin.patch(f"/announcements/{ann}", json={"body": "周六开会"})
    admin.post(f"/announcements/{ann}/cancel")
    assert entries() == [
        ("admin", "unit.create", "unit", str(unit)), ("admin", "unit.update", "unit", str(unit)),
        ("admin", "staff.create", "staff", str(staff)), ("admin", "staff.update", "staff", str(staff)),
        ("admin", "binding.issue", "staff", str(staff)), ("admin", "binding.revoke", "staff", str(staff)),
        ("admin", "staff.deactivate", "staff", str(staff)), ("admin", "unit.deactivate", "unit", str(unit)),
        ("admin", "report.create", "activity_report", str(report["id"])),
        ("reviewer", "report.approve", "activity_report", str(report["id"])),
        ("reviewer", "report.reject", "activity_report", str(data["r2"])),
        ("admin", "announcement.create", "announcement", str(ann)),
        ("admin", "announcement.edit", "announcement", str(ann)),
        ("admin", "announcement.cancel", "announcement", str(ann)),
    ]
    update = session.scalar(select(AuditLog).where(AuditLog.action == "unit.update"))
    assert update.detail == {"contact": "赵老师", "via": "api"}  # unknown keys are not kept
    code = session.scalar(select(AuditLog).where(AuditLog.action == "binding.issue"))
    assert code.detail == {"name": "赵敏敏", "via": "api"}  # never the code itself
    # a refused change writes nothing
    before = len(entries())
    assert admin.post("/units", json={"name": "", "category": "学校"}).status_code == 422
    assert reviewer.post(f"/reports/{data['r2']}/review", json={"action": "approve"}).status_code == 409
    assert len(entries()) == before
