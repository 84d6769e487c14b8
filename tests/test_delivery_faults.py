"""Fault drills on delivery against the fake WeChat API: credentials kept out of stored and logged errors, a slow
WeChat (read timeouts → unknown, never a second message), Redis stopped mid-run, token refresh storms."""
from __future__ import annotations

import logging
from collections import Counter
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from models.admin import ROLE_ADMIN, AdminUser
from models.announcement import Delivery, DeliveryStatus
from service.console.accounts import create_api_token
from service.core import clock
from service.core.clock import TZ
from service.core.redact import install_log_redaction, redact
from service.notices import announcements, delivery as notify
from tests.notice_helpers import add_followers, announce, cfg, fake, run, successful_calls  # noqa: F401

NOW = datetime(2025, 3, 3, 10, 0, tzinfo=TZ)


def rows(session, ann_id):
    session.expire_all()
    return {d.openid: d for d in session.scalars(select(Delivery).where(Delivery.announcement_id == ann_id))}


# ---- finding 6: the AppSecret never reaches a stored reason, the API or the log --------------------------------------

def test_redact_masks_secrets_and_tokens_in_urls_and_bodies():
    text = ("HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /cgi-bin/token?"
            "grant_type=client_credential&appid=wx1&secret=S3cr3t (Caused by ...) "
            "/cgi-bin/message/custom/send?access_token=TOK_123 {\"secret\": \"S3cr3t\", 'access_token': 'TOK_123'}")
    cleaned = redact(text)
    assert "S3cr3t" not in cleaned and "TOK_123" not in cleaned
    assert "appid=wx1" in cleaned and "grant_type=client_credential" in cleaned and "secret=***" in cleaned


def test_connection_error_reason_does_not_carry_the_appsecret(session, session_factory, app, cfg, fake, caplog):
    clock.set_now(lambda: NOW)
    install_log_redaction()
    secret = "Very-Secret-AppSecret-42"
    down = cfg.with_(wechat_secret=secret, wechat_api_base="http://127.0.0.1:9/cgi-bin/", api_timeout=0.5,
                     notify_backoff_seconds=60)
    add_followers(session, ["o-1"], NOW)
    ann = announce(session)
    with caplog.at_level(logging.DEBUG):
        run(session_factory, down)
    row = rows(session, ann.id)["o-1"]
    assert row.status == DeliveryStatus.PENDING and "token" in row.reason  # the reason still says what failed
    assert secret not in row.reason
    assert secret not in caplog.text

    session.add(AdminUser(username="api-admin", password_hash="!", role=ROLE_ADMIN))
    bearer = create_api_token(session, "api-admin")
    session.commit()
    answer = app.test_client().get(f"/api/v1/announcements/{ann.id}/deliveries",
                                   headers={"Authorization": f"Bearer {bearer}"})
    assert answer.status_code == 200 and answer.get_json()["items"][0]["reason"]
    assert secret not in answer.get_data(as_text=True)


# ---- finding 3: a slow WeChat never gets the same customer-service or template message twice -------------------------

def test_slow_wechat_marks_rows_unknown_without_duplicates_until_an_administrator_resends(
        session, session_factory, app, cfg, fake):
    """The drill: WeChat answers after the client's timeout. Each recipient gets exactly one call, every row is
    `unknown` (not `sent`, not retried); later ticks send nothing; the audited resend sends each exactly once more."""
    clock.set_now(lambda: NOW)
    recent = [f"o-cs-{i:03d}" for i in range(100)]
    old = [f"o-tpl-{i:03d}" for i in range(100)]
    add_followers(session, recent, NOW, timedelta(hours=1))
    add_followers(session, old, NOW, timedelta(days=3))
    slow = cfg.with_(api_timeout=1.0, notify_concurrency=50)  # WeChat answers 3 s late, well past the timeout
    fake.inject("message/custom/send", latency=3.0, times=100)
    fake.inject("message/template/send", latency=3.0, times=100)
    ann = announce(session)

    run(session_factory, slow)
    got = rows(session, ann.id)
    assert len(got) == 200 and {d.status for d in got.values()} == {DeliveryStatus.UNKNOWN}
    assert all("超时" in d.reason for d in got.values())
    assert successful_calls(fake) == {o: 1 for o in recent + old}  # WeChat did deliver each one, once

    clock.set_now(lambda: NOW + timedelta(hours=1))  # later ticks: nothing is sent again by itself
    run(session_factory, slow)
    assert successful_calls(fake) == {o: 1 for o in recent + old}
    session.refresh(ann)
    assert ann.status == "部分失败"

    session.add(AdminUser(username="api-admin", password_hash="!", role=ROLE_ADMIN))
    bearer = create_api_token(session, "api-admin")
    session.commit()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {bearer}"}
    refused = api.post(f"/api/v1/announcements/{ann.id}/resend-unknown", json={}, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["field"] == "confirm"
    assert "两次" in refused.get_json()["message"]
    answer = api.post(f"/api/v1/announcements/{ann.id}/resend-unknown", json={"confirm": True}, headers=headers)
    assert answer.status_code == 200 and answer.get_json()["resent"] == 200
    assert answer.get_json()["announcement"]["status"] == "发送中"
    from models.audit import AuditLog
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "announcement.resend_unknown")).one()
    assert (entry.actor, entry.target_id, entry.detail["count"]) == ("api-admin", str(ann.id), 200)

    run(session_factory, cfg.with_(api_timeout=10.0, notify_concurrency=32))  # WeChat answers promptly again
    assert {d.status for d in rows(session, ann.id).values()} == {DeliveryStatus.SENT}
    assert successful_calls(fake) == {o: 2 for o in recent + old}  # the deliberate resend, once each
    session.refresh(ann)
    assert ann.status == "已发送"
    again = api.post(f"/api/v1/announcements/{ann.id}/resend-unknown", json={"confirm": True}, headers=headers)
    assert again.status_code == 409


def test_slow_mass_send_is_retried_under_its_clientmsgid_and_sent_once(session, session_factory, cfg, fake):
    clock.set_now(lambda: NOW)
    openids = [f"o-{i:02d}" for i in range(5)]
    add_followers(session, openids, NOW, timedelta(days=4))
    fake.inject("message/mass/send", latency=3.0)
    ann = announce(session)
    run(session_factory, cfg.with_(api_timeout=1.0, wechat_mass_send_all=True))
    assert {d.status for d in rows(session, ann.id).values()} == {DeliveryStatus.SENT}
    mass = fake.calls_to("message/mass/send")
    assert len(mass) == 2 and mass[0].json["clientmsgid"] == mass[1].json["clientmsgid"]
    deadline = time.monotonic() + 10  # the slow first call is still being answered when the retry has succeeded
    while not all(hasattr(c, "errcode") for c in mass) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(c.errcode or 0 for c in mass) == [0, 45065]  # WeChat carried out one of the two
    assert successful_calls(fake) == {o: 1 for o in openids}


def test_console_resend_button_warns_and_is_audited(session, session_factory, cfg, fake, admin_console):
    clock.set_now(lambda: NOW)
    add_followers(session, ["o-1", "o-2"], NOW)
    ann = announce(session)
    notify.materialize_due(session_factory, cfg, NOW)
    with session_factory() as s:  # a sender died mid-call: its row becomes unknown
        notify._claim_user_rows(s, 1, NOW, 30, "dead-worker")
        s.commit()
    clock.set_now(lambda: NOW + timedelta(minutes=5))
    run(session_factory, cfg)
    assert sorted(d.status for d in rows(session, ann.id).values()) == [DeliveryStatus.SENT, DeliveryStatus.UNKNOWN]

    page = admin_console.get(f"/admin/announcements/{ann.id}").get_data(as_text=True)
    assert 'id="resend-unknown"' in page and "收到两次" in page
    answer = admin_console.post(f"/admin/announcements/{ann.id}/resend-unknown")
    assert answer.status_code == 302
    from models.audit import AuditLog
    assert session.scalars(select(AuditLog.actor).where(AuditLog.action == "announcement.resend_unknown")).all() \
        == ["admin"]
    run(session_factory, cfg)
    assert {d.status for d in rows(session, ann.id).values()} == {DeliveryStatus.SENT}
    assert successful_calls(fake) == {"o-1": 1, "o-2": 1}  # the dead worker's call never reached the fake
    page = admin_console.get(f"/admin/announcements/{ann.id}").get_data(as_text=True)
    assert 'id="resend-unknown"' not in page


# ---- finding 4: Redis stopped mid-run loses nothing ------------------------------------------------------------------

class PrivateRedis:
    """A redis-server of this test's own on a free port (never the shared one), started and stopped by pid."""

    def __init__(self, tmp_path):
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.dir = tmp_path
        self.proc = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        import subprocess

        import redis

        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", str(self.dir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
                return self
            except redis.exceptions.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    yield server
    server.stop()


def test_redis_stopped_before_and_during_a_broadcast_loses_nothing(session, session_factory, cfg, fake,
                                                                   private_redis, caplog):
    """The drill: REDIS_URL set; Redis down from the start (first announcement), then up, then stopped mid-run
    while WeChat also rotates the token. The database store takes over: every recipient gets exactly one message,
    no row fails, and the switch is logged once."""
    clock.set_now(lambda: NOW)
    openids = [f"o-{i:03d}" for i in range(200)]
    add_followers(session, openids, NOW)
    redis_cfg = cfg.with_(redis_url=private_redis.url, notify_concurrency=16)

    caplog.set_level(logging.WARNING, logger="service.wechat_api.token_store")
    first = announce(session)  # Redis is not running at all
    stats = run(session_factory, redis_cfg)
    assert stats.failed == 0
    assert {d.status for d in rows(session, first.id).values()} == {DeliveryStatus.SENT}
    assert successful_calls(fake) == {o: 1 for o in openids}
    fallbacks = [r for r in caplog.records if "using the database token store" in r.getMessage()]
    assert len(fallbacks) == 1  # logged once, not per message

    private_redis.start()
    fake.latency = 0.01
    second = announce(session, title="第二条")

    def stop_redis_midway() -> None:
        deadline = time.monotonic() + 30
        while len(fake.calls_to("message/custom/send")) < 260 and time.monotonic() < deadline:
            time.sleep(0.01)
        private_redis.stop()
        fake.expire_tokens()  # the next calls need a fresh token, and its lock, while Redis is gone

    import threading
    stopper = threading.Thread(target=stop_redis_midway)
    stopper.start()
    run(session_factory, redis_cfg.with_(notify_backoff_seconds=0.0))
    stopper.join()
    clock.set_now(lambda: NOW + timedelta(minutes=5))  # anything left waiting for its backoff goes now
    run(session_factory, redis_cfg)
    got = rows(session, second.id)
    assert {d.status for d in got.values()} == {DeliveryStatus.SENT}
    calls = Counter()
    for call in fake.calls_to("message/custom/send"):
        if getattr(call, "ok", False) and call.json["text"]["content"].startswith("【第二条】"):
            calls[call.json["touser"]] += 1
    assert calls == {o: 1 for o in openids}
    fallbacks = [r for r in caplog.records if "using the database token store" in r.getMessage()]
    assert len(fallbacks) == 2  # once per outage (each run's store notices it once)


def test_token_store_unreachable_everywhere_leaves_rows_pending_not_failed(session, session_factory, cfg, fake):
    """Infrastructure errors are retryable: with no reachable token store the rows wait, and go out later."""
    from service.wechat_api.client import make_client
    from service.wechat_api.token_store import RedisTokenStore

    clock.set_now(lambda: NOW)
    add_followers(session, ["o-1", "o-2"], NOW)
    ann = announce(session)
    dead = RedisTokenStore("redis://127.0.0.1:9/0")  # nothing listens on port 9
    notify.run_once(session_factory, cfg.with_(notify_backoff_seconds=60), lambda: make_client(cfg, dead))
    got = rows(session, ann.id)
    assert {(d.status, d.attempts) for d in got.values()} == {(DeliveryStatus.PENDING, 1)}
    assert all("unreachable" in d.reason for d in got.values())
    assert fake.calls == []
    clock.set_now(lambda: NOW + timedelta(minutes=2))
    run(session_factory, cfg)
    assert {d.status for d in rows(session, ann.id).values()} == {DeliveryStatus.SENT}
    assert successful_calls(fake) == {"o-1": 1, "o-2": 1}


def _sync_menu(settings, **env):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    environ = {**os.environ, "DATABASE_URL": settings.database_url, "WECHAT_API_BASE": settings.wechat_api_base,
               "WECHAT_APPID": settings.wechat_appid, "WECHAT_SECRET": settings.wechat_secret,
               "REDIS_URL": "redis://127.0.0.1:9/0", "SCHEDULER_IN_WEB": "0", "PYTHONPATH": str(root), **env}
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "sync-menu"], cwd=root, env=environ,
                          capture_output=True, text=True, timeout=120)


def test_sync_menu_with_redis_down_uses_the_database_and_says_so_in_one_line(session_factory, settings, fake):
    done = _sync_menu(settings)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "custom menu pushed"
    assert "Traceback" not in done.stderr
    assert [line for line in done.stderr.splitlines() if "Redis" in line and "database token store" in line]
    assert fake.menu is not None

    down = _sync_menu(settings, WECHAT_API_BASE="http://127.0.0.1:9/cgi-bin/")
    assert down.returncode == 1 and "Traceback" not in down.stderr
    errors = [line for line in down.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "WeChat API unavailable" in errors[0] and settings.wechat_secret not in down.stderr


# ---- finding 10: a token WeChat keeps rejecting is refreshed at most once a minute ---------------------------------

def test_token_rejected_on_every_send_is_refreshed_at_most_once_a_minute(session, session_factory, cfg, fake,
                                                                         caplog):
    clock.set_now(lambda: NOW)
    openids = [f"o-{i:02d}" for i in range(10)]
    add_followers(session, openids, NOW)
    fake.inject("message/custom/send", errcode=40001, times=None)
    ann = announce(session)
    with caplog.at_level(logging.INFO, logger="service.wechat_api.client"):
        run(session_factory, cfg.with_(notify_max_attempts=5))
    got = rows(session, ann.id)
    assert {(d.status, d.errcode, d.attempts) for d in got.values()} == {(DeliveryStatus.FAILED, 40001, 5)}
    # 50 tries; those rejected with the token before the refresh are retried once with the new one
    assert 51 <= len(fake.calls_to("message/custom/send")) <= 50 + cfg.notify_concurrency
    assert len(fake.calls_to("token")) == 2  # the first token, one refresh
    throttled = [r for r in caplog.records if "not refreshing" in r.getMessage()]
    assert len(throttled) == 1  # said once, not per call

    clock.set_now(lambda: NOW + timedelta(seconds=61))  # a minute later one more refresh is allowed
    announce(session, title="第二条", audience={"type": "openids", "openids": ["o-00"]})
    run(session_factory, cfg.with_(notify_max_attempts=1))
    assert len(fake.calls_to("token")) == 3
