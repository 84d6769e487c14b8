"""Fault drills on delivery against the fake WeChat API: credentials kept out of stored and logged errors, a slow
WeChat (read timeouts → unknown, never a second message), Redis stopped mid-run, token refresh storms."""
from __future__ import annotations

import logging
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
