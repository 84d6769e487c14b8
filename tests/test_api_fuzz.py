"""Property-based: no query parameter, JSON field or path id of /api/v1 can make it answer 5xx; every error has the
API's one shape. Runs on the suite's database (SQLite, or PostgreSQL with TEST_DATABASE_URL), where integer range
and NUL bytes differ."""
from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from tests.test_api import api, assert_api_error, data, tokens  # noqa: F401  (fixtures)

FILTERS = ("status", "category", "unit_id", "activity_type", "date_from", "date_to", "month", "q")
UNIT = ("name", "category", "contact", "phone", "is_extension", "is_education_base", "active")
REPORT = ("unit_id", "staff_id", "category", "activity_type", "title", "date", "activity_date", "place",
          "participants", "content")
ANNOUNCEMENT = ("title", "body", "audience", "send_at", "recurrence", "draft")
MESSAGE_FILTERS = ("status", "category", "assigned_to", "overdue", "date_from", "date_to", "q")

# (method, path with {id}, query parameters, JSON fields); every /api/v1 route is here (checked below).
ENDPOINTS: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]] = [
    ("GET", "/me", (), ()),
    ("GET", "/reports", FILTERS + ("page", "per_page"), ()),
    ("GET", "/reports/{id}", (), ()),
    ("POST", "/reports", (), REPORT),
    ("POST", "/reports/{id}/review", (), ("action", "reason")),
    ("GET", "/statistics", FILTERS, ()),
    ("GET", "/compliance", ("date_from", "date_to", "quarter_min", "category", "status", "page", "per_page"), ()),
    ("GET", "/exports/reports.csv", FILTERS, ()),
    ("GET", "/exports/reports.xlsx", FILTERS, ()),
    ("GET", "/units", ("include_inactive",), ()),
    ("POST", "/units", (), UNIT),
    ("GET", "/units/{id}", (), ()),
    ("PATCH", "/units/{id}", (), UNIT),
    ("DELETE", "/units/{id}", (), ()),
    ("GET", "/staff", ("unit_id", "include_inactive"), ()),
    ("POST", "/staff", (), ("unit_id", "name", "phone")),
    ("GET", "/staff/{id}", (), ()),
    ("PATCH", "/staff/{id}", (), ("unit_id", "name", "phone", "active")),
    ("DELETE", "/staff/{id}", (), ()),
    ("POST", "/staff/{id}/binding-code", (), ()),
    ("DELETE", "/staff/{id}/binding-code", (), ()),
    ("POST", "/announcements", (), ANNOUNCEMENT),
    ("GET", "/announcements", ("status", "limit", "offset"), ()),
    ("GET", "/announcements/{id}", (), ()),
    ("PATCH", "/announcements/{id}", (), ANNOUNCEMENT),
    ("PUT", "/announcements/{id}", (), ANNOUNCEMENT),
    ("POST", "/announcements/{id}/cancel", (), ()),
    ("POST", "/announcements/{id}/resend-unknown", (), ("confirm",)),
    ("GET", "/announcements/{id}/deliveries", ("status", "limit", "offset"), ()),
    ("GET", "/messages", MESSAGE_FILTERS + ("page", "per_page"), ()),
    ("POST", "/messages", (), ("openid", "text", "category", "phone")),
    ("GET", "/messages/{id}", (), ()),
    ("POST", "/messages/{id}/reply", (), ("text",)),
    ("POST", "/messages/{id}/assign", (), ("user_id",)),
    ("POST", "/messages/{id}/close", (), ()),
]

BIG = [2**31 - 1, 2**31, 2**40, 2**62, 2**63, 2**64, -(2**63) - 1, -1, 0]
ODD_TEXT = ["", " ", "\x00", "a\x00b", "9999-12", "0000-01", "2026-13", "2026-02-30", "9999-12-31", "0001-01-01",
            "１２", "1_0", "1e3", "nan", "-0", "now", "学校", "待审核", "滞后", "approve", "每周一 9:00", "%", "_\\",
            "all", "topic", "units", "categories", "openids", "活动预告"]
ids = st.one_of(st.integers(min_value=0, max_value=5), st.sampled_from([n for n in BIG if n >= 0]))
query_value = st.one_of(st.sampled_from(ODD_TEXT + [str(n) for n in BIG]), st.text(max_size=12),
                        st.integers().map(str))
scalar = st.one_of(st.none(), st.booleans(), st.integers(min_value=-5, max_value=5), st.sampled_from(BIG),
                   st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(ODD_TEXT),
                   st.text(max_size=12))
json_value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(st.sampled_from(["type", "topic", "unit_ids", "categories", "openids",
                                                             "x", "\x00"]), inner, max_size=3),
                          max_leaves=6)
# plausible values too, so that the checks behind the first one are reached
json_value = st.one_of(json_value, st.sampled_from([
    {"type": "all"}, {"type": "units", "unit_ids": [1, 2**40]}, {"type": "openids", "openids": ["\x00"]},
    {"type": "topic", "topic": "\x00"}, {"type": "categories", "categories": [{}]}, "2026-04-09", "机关", "研究部署",
    "进社区", "reject", 1, 2]))


@st.composite
def calls(draw) -> tuple[str, str, dict[str, str], Any]:
    method, path, params, fields = draw(st.sampled_from(ENDPOINTS))
    path = path.replace("{id}", str(draw(ids)))
    query = draw(st.dictionaries(st.sampled_from(params), query_value, max_size=4)) if params else {}
    body = draw(st.fixed_dictionaries({}, optional={name: json_value for name in fields})) if fields else None
    return method, path, query, body


def assert_shape(response) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.is_json and set(response.json) == {"error", "message", "field"}, response.json
        assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json["message"])


def test_every_api_route_is_exercised(app):
    import re

    rules = {(method, rule.rule.removeprefix("/api/v1")) for rule in app.url_map.iter_rules()
             if rule.rule.startswith("/api/v1") for method in rule.methods - {"HEAD", "OPTIONS"}}
    listed = {(m, re.sub(r"\{id\}", "<id>", p)) for m, p, _, _ in ENDPOINTS}
    normalised = {(m, re.sub(r"<[^>]+>", "<id>", p).replace("reports.<id>", "reports.csv")) for m, p in rules}
    assert normalised <= listed | {("GET", "/exports/reports.csv")}


@hsettings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(call=calls())
def test_no_input_makes_the_api_fail_with_5xx(api, data, call):  # noqa: F811
    method, path, query, body = call
    who = "admin" if len(path) % 2 else "reviewer"  # both roles
    kwargs: dict[str, Any] = {"query_string": query}
    if body is not None:
        kwargs["json"] = body
    assert_shape(getattr(api(who), method.lower())(path, **kwargs))


@hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_value, field=st.sampled_from(["action", "reason"]))
def test_review_rejects_any_json_value_cleanly(api, data, value, field):  # noqa: F811
    response = api("reviewer").post(f"/reports/{data['r2']}/review", json={"action": "reject", "reason": "x"}
                                    | {field: value})
    assert_shape(response)


# ---- the inputs that used to answer 500, one by one --------------------------------------------------------------

@pytest.mark.parametrize("path, query, field", [
    ("/reports", {"page": str(2**62)}, "page"),
    ("/reports", {"per_page": str(2**62)}, "per_page"),
    ("/reports", {"unit_id": str(2**40)}, "unit_id"),
    ("/staff", {"unit_id": str(2**40)}, "unit_id"),
    ("/reports", {"q": "a\x00b"}, "q"),
    ("/exports/reports.csv", {"q": "\x00"}, "q"),
    ("/statistics", {"month": "2026-03\x00"}, "month"),
    ("/announcements", {"offset": str(2**63)}, "offset"),
])
def test_odd_query_values_are_422_naming_the_parameter(api, data, path, query, field):  # noqa: F811
    assert_api_error(api().get(path, query_string=query), 422, "invalid_input", field)


@pytest.mark.parametrize("query, field", [({"month": "9999-12"}, "month"), ({"month": "0001-01"}, "month"),
                                          ({"date_from": "9999-12-31"}, "date_from"), ({"date_to": "1900-01-01"}, "date_to")])
def test_a_year_no_report_can_have_is_422_naming_the_parameter(api, data, query, field):  # noqa: F811
    for path in ("/reports", "/statistics", "/exports/reports.csv"):
        response = api().get(path, query_string=query)
        assert_api_error(response, 422, "invalid_input", field)
        assert "年份必须在 2000 到 2099 之间" in response.json["message"]


@pytest.mark.parametrize("method, path, body, field", [
    ("post", "/reports/{r2}/review", {"action": {}}, "action"),
    ("post", "/reports/{r2}/review", {"action": ["approve"]}, "action"),
    ("post", "/reports/{r2}/review", {"action": "reject", "reason": "原因\x00"}, "reason"),
    ("post", "/staff", {"unit_id": 2**64, "name": "赵敏"}, "unit_id"),
    ("post", "/units", {"name": "学校\x00", "category": "学校"}, "name"),
    ("post", "/announcements", {"title": "t", "body": "b", "audience": {"type": "openids", "openids": ["o\x00"]},
                                "send_at": "now"}, "audience"),
    ("post", "/announcements", {"title": "t", "body": "b", "audience": {"type": "topic", "topic": {}}},
     "audience.topic"),
    ("post", "/announcements", {"title": "t", "body": "b", "audience": {"type": "units", "unit_ids": [{}]}},
     "audience.unit_ids"),
    ("post", "/announcements", {"title": "t", "body": "b", "audience": {"type": "units", "unit_ids": [2**64]}},
     "audience.unit_ids"),
])
def test_odd_json_values_are_422_naming_the_field(api, data, method, path, body, field):  # noqa: F811
    response = getattr(api(), method)(path.format(r2=data["r2"]), json=body)
    assert_api_error(response, 422, "invalid_input", field)


def test_a_row_id_beyond_the_integer_column_is_404(api, data):  # noqa: F811
    assert_api_error(api().get(f"/units/{2**40}"), 404, "not_found")
    assert_api_error(api().get(f"/reports/{2**64}"), 404, "not_found")


def test_a_nul_in_the_sign_in_form_is_refused_naming_the_field(console):
    response = console.post("/admin/login", {"username": "admin\x00", "password": "whatever-1"})
    assert response.status_code == 422 and "username 含有不允许的空字符" in response.get_data(as_text=True)
