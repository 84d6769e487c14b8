"""Drive the /admin console like a person with the Flask test client (A's AuthActions shape): CSRF token, sign-in."""
from __future__ import annotations

import re
from typing import Any

import pytest

from models.admin import ROLE_ADMIN, ROLE_REVIEWER
from service.console import accounts as admin_accounts

PASSWORD = "correct-horse-9"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    match = _TOKEN.search(html)
    assert match, "page has no CSRF token"
    return match.group(1)


class Console:
    def __init__(self, client):
        self.client = client
        self.token = ""

    def get(self, path: str, **kwargs):
        response = self.client.get(path, **kwargs)
        match = _TOKEN.search(response.get_data(as_text=True)) if response.mimetype == "text/html" else None
        if match:
            self.token = match.group(1)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs):
        if not self.token:
            self.get("/admin/login")
        payload = {"csrf_token": self.token, **(data or {})}
        return self.client.post(path, data=payload, **kwargs)

    def login(self, username: str, password: str = PASSWORD):
        self.get("/admin/login")
        response = self.post("/admin/login", {"username": username, "password": password})
        self.token = ""  # the session (and its CSRF secret) is new after sign-in
        if response.status_code == 302:
            self.get("/admin/password")
        return response


def make_console_user(session_factory, username: str, role: str = ROLE_ADMIN, password: str = PASSWORD):
    with session_factory() as s:
        user = admin_accounts.create_admin(s, username, password, role)
        s.commit()
        return user.id


@pytest.fixture
def console(client) -> Console:
    return Console(client)


def signed_in(app, session_factory, username: str, role: str) -> Console:
    make_console_user(session_factory, username, role)
    c = Console(app.test_client())
    assert c.login(username).status_code == 302
    return c


@pytest.fixture
def admin_console(app, session_factory) -> Console:
    return signed_in(app, session_factory, "admin", ROLE_ADMIN)


@pytest.fixture
def reviewer_console(app, session_factory) -> Console:
    return signed_in(app, session_factory, "reviewer", ROLE_REVIEWER)
