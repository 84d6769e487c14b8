"""API bearer tokens expire and can be revoked (command line and console); a dead token gets the API's 401."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from models.admin import AdminUser, ApiToken
from models.audit import AuditLog
from service.console import accounts as admin_accounts
from service.core import clock
from tests.console import Console

NOW = datetime(2026, 4, 10, 9, 30, tzinfo=clock.TZ)


def _me(client, secret: str):
    return client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})


def _assert_unauthorized(response) -> None:
    assert response.status_code == 401
    assert response.json["error"] == "unauthorized" and set(response.json) == {"error", "message", "field"}


def _issue(app, *args: str) -> str:
    issued = app.test_cli_runner().invoke(args=["create-api-token", *args])
    assert issued.exit_code == 0, issued.output
    return issued.output.strip()


def test_a_token_expires_after_its_days(app, client, admin_console, session):
    clock.set_now(lambda: NOW)
    default, short = _issue(app, "admin"), _issue(app, "admin", "--days", "30", "--name", "报表")
    tokens = {t.name: t for t in session.scalars(select(ApiToken))}
    assert clock.local(tokens[""].expires_at) == NOW + timedelta(days=admin_accounts.TOKEN_DAYS)
    assert clock.local(tokens["报表"].expires_at) == NOW + timedelta(days=30)
    clock.set_now(lambda: NOW + timedelta(days=30) - timedelta(seconds=1))
    assert _me(client, short).status_code == 200
    clock.set_now(lambda: NOW + timedelta(days=30))
    _assert_unauthorized(_me(client, short))
    assert _me(client, default).status_code == 200
    clock.set_now(lambda: NOW + timedelta(days=366))
    _assert_unauthorized(_me(client, default))
    refused = app.test_cli_runner().invoke(args=["create-api-token", "admin", "--days", "0"])
    assert refused.exit_code == 1 and "有效期" in refused.output


def test_revoke_api_token_command(app, client, admin_console, session):
    secret, other = _issue(app, "admin"), _issue(app, "admin")
    assert _me(client, secret).status_code == 200
    by_prefix = app.test_cli_runner().invoke(args=["revoke-api-token", secret[:10]])
    assert by_prefix.exit_code == 0 and "admin" in by_prefix.output, by_prefix.output
    _assert_unauthorized(_me(client, secret))
    assert _me(client, other).status_code == 200  # only that one
    again = app.test_cli_runner().invoke(args=["revoke-api-token", secret])  # the whole token names it too
    assert again.exit_code == 1 and "已经吊销" in again.output
    unknown = app.test_cli_runner().invoke(args=["revoke-api-token", "qj_nothing"])
    assert unknown.exit_code == 1 and "没有这个令牌" in unknown.output
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "api_token.revoke"))
    assert entry.detail == {"user": "admin", "prefix": secret[:10], "name": ""}


def test_console_lists_and_revokes_an_administrators_tokens(app, client, admin_console, session):
    clock.set_now(lambda: NOW)
    secret = _issue(app, "admin", "--name", "数据大屏")
    assert _me(client, secret).status_code == 200  # sets last used
    admin_id = session.scalar(select(ApiToken)).user_id
    page = admin_console.get(f"/admin/accounts/{admin_id}/tokens")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for shown in (secret[:10], "数据大屏", "2026-04-10 09:30", "2027-04-10 09:30", "有效"):
        assert shown in html, shown
    assert secret not in html
    token_id = session.scalar(select(ApiToken)).id
    path = f"/admin/accounts/{admin_id}/tokens/{token_id}/revoke"
    assert admin_console.client.post(path).status_code == 400  # no CSRF token
    assert _me(client, secret).status_code == 200
    revoked = admin_console.post(path, follow_redirects=True)
    assert revoked.status_code == 200 and "令牌已吊销" in revoked.get_data(as_text=True)
    assert "已吊销" in admin_console.get(f"/admin/accounts/{admin_id}/tokens").get_data(as_text=True)
    _assert_unauthorized(_me(client, secret))
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "api_token.revoke"))
    assert entry.actor == "admin" and entry.target_type == "api_token" and entry.target_id == str(token_id)
    assert admin_console.post(f"/admin/accounts/{admin_id + 99}/tokens/{token_id}/revoke").status_code == 404


def test_reviewers_cannot_see_token_pages(app, reviewer_console, session):
    user_id = session.scalar(select(AdminUser.id))
    assert reviewer_console.get(f"/admin/accounts/{user_id}/tokens").status_code == 403
