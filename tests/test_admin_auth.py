"""Console sign-in: passwords, lockout, CSRF, roles, session cookies, sign-out, password change."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from models.admin import ROLE_ADMIN, ROLE_REVIEWER, AdminUser
from models.audit import AuditLog
from service.console import accounts as admin_accounts
from service.core import clock
from service.core.config import Settings
from tests.console import PASSWORD, Console, make_console_user

PUBLIC = {"admin.login"}
NOON = datetime(2026, 5, 6, 12, 0, tzinfo=clock.TZ)


def test_login_ok_lands_on_console_and_is_audited(console, session_factory, session):
    make_console_user(session_factory, "zhang")
    response = console.login("zhang")
    assert response.status_code == 302 and response.headers["Location"].startswith("/admin")
    page = console.get("/admin/", follow_redirects=True)
    assert page.status_code == 200 and "zhang" in page.get_data(as_text=True)
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "auth.login"))
    assert entry.actor == "zhang"
    stored = session.scalar(select(AdminUser).where(AdminUser.username == "zhang")).password_hash
    assert stored.startswith("scrypt:") and PASSWORD not in stored


def test_login_wrong_password_keeps_username_and_says_why(console, session_factory):
    make_console_user(session_factory, "zhang")
    response = console.login("zhang", "wrong-password")
    html = response.get_data(as_text=True)
    assert response.status_code == 401
    assert "用户名或密码不正确" in html and 'value="zhang"' in html
    assert console.get("/admin/audit").status_code == 302  # still signed out


def test_unknown_user_and_empty_form_fail_the_same_way(console):
    assert "用户名或密码不正确" in console.login("nobody", "whatever1").get_data(as_text=True)
    assert "请输入用户名和密码" in console.login("", "").get_data(as_text=True)


def test_lockout_after_five_failures_for_fifteen_minutes(console, session_factory):
    clock.set_now(lambda: NOON)
    make_console_user(session_factory, "zhang")
    for _ in range(5):
        assert console.login("zhang", "bad-password").status_code == 401
    locked = console.login("zhang", PASSWORD)
    assert locked.status_code == 401 and "锁定 15 分钟" in locked.get_data(as_text=True)
    clock.set_now(lambda: NOON + timedelta(minutes=14))
    assert console.login("zhang", PASSWORD).status_code == 401
    clock.set_now(lambda: NOON + timedelta(minutes=15, seconds=1))
    assert console.login("zhang", PASSWORD).status_code == 302


def test_post_without_csrf_token_is_refused(console, session_factory):
    make_console_user(session_factory, "zhang")
    console.get("/admin/login")
    response = console.client.post("/admin/login", data={"username": "zhang", "password": PASSWORD})
    assert response.status_code == 400 and "表单已过期" in response.get_data(as_text=True)
    forged = console.client.post("/admin/login", data={"username": "zhang", "password": PASSWORD,
                                                        "csrf_token": "forged"})
    assert forged.status_code == 400


def test_wechat_and_api_stay_csrf_exempt(client):
    assert client.get("/api/v1/me").status_code == 401
    response = client.post("/wechat?signature=x&timestamp=1&nonce=1", data="<xml></xml>")
    assert response.status_code == 403  # signature check, not CSRF


def test_only_the_console_pays_for_csrf(app, wechat, console, monkeypatch):
    """/wechat messages and API calls never read a CSRF token; console forms always do."""
    from flask_wtf.csrf import CSRFProtect

    calls: list[str] = []
    real = CSRFProtect.protect
    monkeypatch.setattr(CSRFProtect, "protect", lambda self, *a, **kw: (calls.append("x"), real(self, *a, **kw))[1])
    assert wechat.send_text("帮助")
    assert app.test_client().post("/api/v1/units", json={}).status_code == 401
    assert calls == []
    console.get("/admin/login")
    console.post("/admin/login", {"username": "nobody", "password": "x"})
    assert calls == ["x"]


def test_console_session_lasts_eight_hours(app, console, session_factory):
    from datetime import timezone
    from email.utils import parsedate_to_datetime

    make_console_user(session_factory, "zhang")
    console.get("/admin/login")
    response = console.login("zhang", PASSWORD)
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    left = expires - datetime.now(timezone.utc)
    assert timedelta(hours=7, minutes=55) < left <= timedelta(hours=8)


def test_signed_out_user_is_sent_to_login_with_next(console):
    response = console.get("/admin/audit")
    assert response.status_code == 302
    assert "/admin/login?next=/admin/audit" in response.headers["Location"]


def test_login_follows_only_local_next(console, session_factory):
    make_console_user(session_factory, "zhang")
    console.get("/admin/login")
    ok = console.post("/admin/login", {"username": "zhang", "password": PASSWORD, "next": "/admin/audit"})
    assert ok.headers["Location"] == "/admin/audit"
    other = Console(console.client.application.test_client())
    other.get("/admin/login")
    evil = other.post("/admin/login", {"username": "zhang", "password": PASSWORD, "next": "https://evil.example/"})
    assert evil.headers["Location"] == "/admin/"


def test_reviewer_gets_403_on_every_administrators_page(reviewer_console, app):
    admin_only = [rule.rule for rule in app.url_map.iter_rules()
                  if rule.endpoint.startswith("admin.") and rule.endpoint not in PUBLIC
                  and "GET" in rule.methods and not rule.arguments
                  and ROLE_REVIEWER not in app.view_functions[rule.endpoint].allowed_roles]
    assert "/admin/audit" in admin_only
    for path in admin_only:
        response = reviewer_console.get(path)
        assert response.status_code == 403, path
        assert "没有权限" in response.get_data(as_text=True)


def test_every_console_view_checks_a_role(app):
    for endpoint, view in app.view_functions.items():
        if endpoint.startswith("admin.") and endpoint not in PUBLIC:
            assert getattr(view, "allowed_roles", None), f"{endpoint} has no role check"
            assert ROLE_ADMIN in view.allowed_roles


def test_session_cookie_is_httponly_and_samesite(console, session_factory):
    make_console_user(session_factory, "zhang")
    console.get("/admin/login")
    response = console.post("/admin/login", {"username": "zhang", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_is_secure_in_production(settings, session_factory):
    from service import create_app

    app = create_app(Settings(**{**settings.__dict__, "production": True}))
    make_console_user(session_factory, "zhang")
    c = Console(app.test_client())
    response = c.login("zhang")
    assert response.status_code == 302 and "Secure" in response.headers["Set-Cookie"]
    app.extensions["qijin"].engine.dispose()


def test_logout_ends_the_session(admin_console):
    response = admin_console.post("/admin/logout")
    assert response.status_code == 302
    assert admin_console.get("/admin/audit").status_code == 302


def _copy_of_session(console: Console, app) -> Console:
    """Another browser holding a copy of `console`'s session cookie (as a thief would)."""
    thief = Console(app.test_client())
    thief.client.set_cookie("session", console.client.get_cookie("session").value, domain="localhost")
    return thief


def test_a_copied_session_cookie_stops_working_after_logout(admin_console, app):
    thief = _copy_of_session(admin_console, app)
    assert thief.get("/admin/audit").status_code == 200  # the copy works while the session lives
    assert admin_console.post("/admin/logout").status_code == 302
    assert thief.get("/admin/audit").status_code == 302  # revoked on the server, not just cleared in one browser
    assert Console(app.test_client()).login("admin").status_code == 302  # signing in again works


def test_a_copied_session_cookie_stops_working_after_a_password_change(admin_console, app):
    thief = _copy_of_session(admin_console, app)
    assert admin_console.post("/admin/password", {"old_password": PASSWORD, "new_password": "new-pass-123",
                                                  "confirm_password": "new-pass-123"}).status_code == 302
    assert thief.get("/admin/audit").status_code == 302
    assert admin_console.get("/admin/audit").status_code == 200


def test_password_change_validates_and_signs_out_other_sessions(admin_console, app, session):
    other = Console(app.test_client())
    other.login("admin")
    mismatch = admin_console.post("/admin/password", {"old_password": PASSWORD, "new_password": "new-pass-123",
                                                      "confirm_password": "different-1"})
    assert mismatch.status_code == 422 and "两次输入的新密码不一致" in mismatch.get_data(as_text=True)
    wrong = admin_console.post("/admin/password", {"old_password": "nope-nope", "new_password": "new-pass-123",
                                                   "confirm_password": "new-pass-123"})
    assert "原密码不正确" in wrong.get_data(as_text=True)
    ok = admin_console.post("/admin/password", {"old_password": PASSWORD, "new_password": "new-pass-123",
                                                "confirm_password": "new-pass-123"})
    assert ok.status_code == 302
    assert admin_console.get("/admin/audit").status_code == 200  # this session continues
    assert other.get("/admin/audit").status_code == 302  # the other one is signed out
    assert Console(app.test_client()).login("admin", "new-pass-123").status_code == 302
    assert session.scalar(select(AuditLog).where(AuditLog.action == "auth.password_change")) is not None


def test_first_admin_comes_from_settings(session, settings):
    line = admin_accounts.ensure_first_admin(session, settings.with_(admin_username="boss", admin_password="boss-pass-1"))
    assert "boss" in line
    user = session.scalar(select(AdminUser))
    assert user.username == "boss" and user.role == ROLE_ADMIN and user.must_change_password


def test_a_weak_admin_password_is_refused_in_one_line(session, settings):
    import pytest
    from service.core.config import SettingsError

    for weak in ("123456", "12345678", "password"):
        with pytest.raises(SettingsError, match="ADMIN_PASSWORD is too weak"):
            admin_accounts.ensure_first_admin(session, settings.with_(admin_username="boss", admin_password=weak))
    assert session.scalar(select(AdminUser)) is None


def _change(c: Console, old: str, new: str):
    return c.post("/admin/password", {"old_password": old, "new_password": new, "confirm_password": new})


def test_the_first_administrator_sets_a_password_before_anything_else(app, session, session_factory, settings):
    with session_factory() as s:
        admin_accounts.ensure_first_admin(s, settings.with_(admin_username="boss", admin_password="boss-pass-1"))
        s.commit()
    c = Console(app.test_client())
    assert c.login("boss", "boss-pass-1").status_code == 302
    for path in ("/admin/", "/admin/units", "/admin/accounts", "/admin/reports"):
        response = c.get(path)
        assert response.status_code == 302 and response.headers["Location"].endswith("/admin/password"), path
    page = c.get("/admin/password").get_data(as_text=True)
    assert "首次登录请先设置您自己的密码" in page and admin_accounts.PASSWORD_RULE in page
    weak = _change(c, "boss-pass-1", "abcdefgh")
    assert weak.status_code == 422 and "新密码" + admin_accounts.PASSWORD_RULE in weak.get_data(as_text=True)
    assert _change(c, "boss-pass-1", "boss-pass-1").status_code == 422  # the same password again is no change
    assert c.get("/admin/units").status_code == 302
    assert _change(c, "boss-pass-1", "my-own-pass-2").status_code == 302
    assert c.get("/admin/units").status_code == 200
    session.expire_all()
    assert session.scalar(select(AdminUser)).must_change_password is False


def test_an_account_made_by_another_administrator_must_change_its_password(admin_console, app, session):
    page = admin_console.get("/admin/accounts").get_data(as_text=True)
    assert admin_accounts.PASSWORD_RULE in page
    weak = admin_console.post("/admin/accounts", {"username": "liu", "role": "reviewer", "password": "12345678"})
    assert weak.status_code == 422 and "密码" + admin_accounts.PASSWORD_RULE in weak.get_data(as_text=True)
    made = admin_console.post("/admin/accounts", {"username": "liu", "role": "reviewer", "password": "given-pass-1"})
    assert made.status_code == 302
    liu = Console(app.test_client())
    liu.get("/admin/login")
    assert liu.post("/admin/login", {"username": "liu", "password": "given-pass-1"}).status_code == 302
    assert liu.get("/admin/reports").headers["Location"].endswith("/admin/password")
    liu.get("/admin/password")
    assert _change(liu, "given-pass-1", "liu-own-pass-3").status_code == 302
    assert liu.get("/admin/reports").status_code == 200


def test_security_headers_on_console_pages(console):
    response = console.get("/admin/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


def _attempt(session_factory, username: str, password: str, now: datetime) -> str:
    """One sign-in in its own session, as one request: 'ok', 'wrong' (the password was checked) or 'locked'."""
    from service.core.errors import InvalidInput

    with session_factory() as s:
        try:
            user = admin_accounts.authenticate(s, username, password, now)
        except InvalidInput:
            return "locked"
        s.commit()
        return "ok" if user is not None else "wrong"


def test_parallel_wrong_passwords_check_at_most_five_before_the_lock(session_factory, session):
    """40 simultaneous guesses (threads, each its own connection to the file database or PostgreSQL): the attempt
    count is claimed atomically, so exactly five passwords are judged and the others meet the lock."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from werkzeug.security import generate_password_hash

    with session_factory() as s:  # a cheap hash keeps 40 parallel scrypt runs small in memory; same code path
        s.add(AdminUser(username="zhang", password_hash=generate_password_hash(PASSWORD, "scrypt:1024:8:1")))
        s.commit()
    start = threading.Barrier(40)

    def guess(i: int) -> str:
        start.wait()
        return _attempt(session_factory, "zhang", f"guess-{i:02d}", NOON)

    with ThreadPoolExecutor(40) as pool:
        outcomes = list(pool.map(guess, range(40)))
    assert outcomes.count("wrong") == admin_accounts.MAX_FAILURES, outcomes
    assert outcomes.count("locked") == 40 - admin_accounts.MAX_FAILURES
    user = session.scalar(select(AdminUser).where(AdminUser.username == "zhang"))
    assert clock.local(user.locked_until) == NOON + admin_accounts.LOCKOUT
    assert _attempt(session_factory, "zhang", PASSWORD, NOON + timedelta(minutes=1)) == "locked"
    assert _attempt(session_factory, "zhang", PASSWORD, NOON + timedelta(minutes=16)) == "ok"


def test_every_sign_in_path_computes_exactly_one_password_hash(session_factory, monkeypatch):
    """Unknown, inactive, locked, wrong and right: one scrypt each, so timing tells none of them apart."""
    import hashlib

    make_console_user(session_factory, "zhang")
    make_console_user(session_factory, "li")
    with session_factory() as s:
        s.scalar(select(AdminUser).where(AdminUser.username == "li")).active = False
        s.commit()
    assert admin_accounts.UNKNOWN_USER_HASH.split("$")[0] == admin_accounts.hash_password("x").split("$")[0]
    calls: list[int] = []
    real = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **kw: (calls.append(1), real(*a, **kw))[1])

    def hashes(username: str, password: str) -> tuple[str, int]:
        calls.clear()
        return _attempt(session_factory, username, password, NOON), len(calls)

    assert hashes("nobody", "whatever-1") == ("wrong", 1)
    assert hashes("li", PASSWORD) == ("wrong", 1)
    assert hashes("zhang", PASSWORD) == ("ok", 1)
    for _ in range(admin_accounts.MAX_FAILURES):
        assert hashes("zhang", "bad-password") == ("wrong", 1)
    assert hashes("zhang", PASSWORD) == ("locked", 1)
