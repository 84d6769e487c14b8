"""Console pages: each renders for the right role, escapes user text, and keeps typed values on a server error."""
from __future__ import annotations

from sqlalchemy import select

from models.admin import AdminUser
from models.audit import AuditLog
from service import audit
from tests.console import admin_console, reviewer_console  # noqa: F401

XSS = "<script>alert(1)</script>"


def text(response) -> str:
    return response.get_data(as_text=True)


def test_audit_page_lists_and_filters_entries(admin_console, session_factory):
    with session_factory() as s:
        audit.record(s, "li", "report.approve", ("activity_report", 7), {"note": "好"})
        audit.record(s, "wang", "unit.create", ("unit", 3))
        s.commit()
    page = text(admin_console.get("/admin/audit"))
    assert "通过报告" in page and "新建单位" in page and "报告 #7" in page
    filtered = text(admin_console.get("/admin/audit?action=report.approve"))
    assert "报告 #7" in filtered and "单位 #3" not in filtered
    by_actor = text(admin_console.get("/admin/audit?actor=wang&date_from=bad-date"))
    assert "单位 #3" in by_actor and "报告 #7" not in by_actor


def test_audit_page_escapes_user_text(admin_console, session_factory):
    with session_factory() as s:
        audit.record(s, XSS, "report.reject", None, {"reason": XSS})
        s.commit()
    page = text(admin_console.get("/admin/audit"))
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_accounts_page_is_for_administrators_only(admin_console, reviewer_console):
    assert admin_console.get("/admin/accounts").status_code == 200
    assert reviewer_console.get("/admin/accounts").status_code == 403
    assert reviewer_console.post("/admin/accounts", {"username": "x", "password": "12345678",
                                                     "role": "admin"}).status_code == 403


def test_create_account_validates_and_keeps_what_was_typed(admin_console, session):
    response = admin_console.post("/admin/accounts", {"username": "liu", "display_name": "刘 " + XSS,
                                                      "role": "reviewer", "password": "short"})
    page = text(response)
    assert response.status_code == 422
    assert 'id="e-password"' in page and "密码至少 8 位" in page
    assert 'value="liu"' in page and "刘 &lt;script&gt;" in page and XSS not in page
    assert session.scalar(select(AdminUser).where(AdminUser.username == "liu")) is None
    duplicate = admin_console.post("/admin/accounts", {"username": "admin", "role": "reviewer",
                                                       "password": "long-enough-1"})
    assert duplicate.status_code == 422 and "用户名已存在" in text(duplicate)


def test_create_and_deactivate_an_account_is_audited(admin_console, app, session):
    created = admin_console.post("/admin/accounts", {"username": "liu", "display_name": XSS,
                                                     "role": "reviewer", "password": "long-enough-1"})
    assert created.status_code == 302
    listing = text(admin_console.get("/admin/accounts"))
    assert "liu" in listing and XSS not in listing and "&lt;script&gt;" in listing
    liu = session.scalar(select(AdminUser).where(AdminUser.username == "liu"))
    assert liu.role == "reviewer"
    assert admin_console.post(f"/admin/accounts/{liu.id}/active", {"active": "0"}).status_code == 302
    session.expire_all()
    assert session.get(AdminUser, liu.id).active is False
    actions = set(session.scalars(select(AuditLog.action)))
    assert {"admin.create", "admin.deactivate"} <= actions


def test_cannot_deactivate_yourself(admin_console, session):
    me = session.scalar(select(AdminUser).where(AdminUser.username == "admin"))
    response = admin_console.post(f"/admin/accounts/{me.id}/active", {"active": "0"}, follow_redirects=True)
    assert "不能停用自己的账号" in text(response)
    session.expire_all()
    assert session.get(AdminUser, me.id).active is True


def test_unknown_account_and_page_are_reported(admin_console):
    response = admin_console.post("/admin/accounts/999/active", {"active": "0"}, follow_redirects=True)
    assert "没有这个账号" in text(response)
    assert admin_console.get("/admin/nope").status_code == 404
