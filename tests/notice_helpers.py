"""Helpers shared by the notice tests: followers with a chosen last-message time, counting calls per recipient."""
from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Iterable, Optional

import pytest

from models.follower import Follower
from service.core import clock
from service.notices import announcements, delivery as notify

MESSAGE_PATHS = ("message/custom/send", "message/template/send", "message/mass/send")


def add_followers(session, openids: Iterable[str], now: datetime, messaged_ago: Optional[timedelta] = timedelta(hours=1),
                  subscribed: bool = True) -> None:
    last = (now - messaged_ago).astimezone(timezone.utc) if messaged_ago is not None else None
    session.add_all(Follower(openid=o, subscribed=subscribed, last_message_at=last, more_pages=[]) for o in openids)
    session.flush()


def sender_factory(settings, session_factory):
    return notify.sender_factory(settings, session_factory)


def record_outcomes(fake) -> None:
    """Wrap the fake's dispatcher so every Call carries `ok`: HTTP 200 with errcode 0 (or no errcode)."""
    if getattr(fake, "_records_outcomes", False):
        return
    fake._records_outcomes = True
    original = fake.handle

    def handle(call):
        status, content_type, body, headers = original(call)
        errcode = None
        if content_type.startswith("application/json"):
            try:
                errcode = json.loads(body).get("errcode")
            except ValueError:
                errcode = None
        call.ok = status == 200 and not errcode
        call.errcode = errcode
        return status, content_type, body, headers

    fake.handle = handle


def successful_calls(fake) -> Counter:
    """Recipient → number of message calls the fake answered with errcode 0 (faulted calls are excluded)."""
    counts: Counter = Counter()
    for call in fake.calls:
        if call.path not in MESSAGE_PATHS or not getattr(call, "ok", True):
            continue
        body = call.json or {}
        users = body.get("touser")
        for openid in users if isinstance(users, list) else [users]:
            counts[openid] += 1
    return counts


@pytest.fixture
def cfg(settings):
    """Settings for delivery tests: a template configured, no backoff, 8 calls in flight."""
    return settings.with_(wechat_template_id="TPL-1", notify_backoff_seconds=0.0, notify_concurrency=8)


@pytest.fixture
def fake(fake_wechat):
    """The fake WeChat API, every call marked with whether it succeeded (for `successful_calls`)."""
    record_outcomes(fake_wechat)
    return fake_wechat


def announce(session, audience="all", **extra):
    data = {"title": "春季活动通知", "body": "请各单位按时开展活动。", "audience": audience, **extra}
    ann = announcements.create(session, data, clock.now())
    session.commit()
    return ann


def run(session_factory, cfg, **kw):
    return notify.run_once(session_factory, cfg, sender_factory(cfg, session_factory), **kw)
