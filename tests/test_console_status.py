"""The 设置与状态 checks against real outcomes: the fake WeChat API refusing or not answering, a scheduler that never
ran, approval notices stuck for want of an AppSecret."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from scheduler import build_scheduler, jobs
from service.chat.menu import CUSTOM_MENU
from service.console import status
from service.core import clock, runlog
from service.wechat_api.client import make_client
from tests.factories import make_reviewed_report, make_staff
from tests.notice_helpers import add_followers


def build(session, settings, session_factory, **kwargs):
    return status.build(session, settings, session_factory, clock.now(), **kwargs)


def test_a_configured_account_with_the_menu_pushed_is_green(session, settings, session_factory, fake_wechat):
    fake_wechat.menu = {"button": CUSTOM_MENU["button"]}
    runlog.record(session_factory, runlog.SYNC_MENU, True)
    result = build(session, settings.with_(wechat_template_id="tpl-1"), session_factory)
    assert {c.key: c.level for c in result.checks if c.key not in ("database", "scheduler", "encrypt")} == {
        "redis": "ok", "secret": "ok", "token": "ok", "template": "ok", "menu": "ok",
        "outbound": "ok"}
    assert fake_wechat.calls_to("token") and fake_wechat.calls_to("menu/get")
    assert result.check("encrypt").level == "warn" and "明文模式" in result.check("encrypt").summary


def test_a_database_that_was_never_upgraded_is_red_with_the_command(session):
    check = status.check_database(session)  # the test database is built from the models, without Alembic
    assert check.level == "bad" and "从未升级" in check.summary and "bootstrap" in check.fix


def test_a_wrong_appsecret_is_red_with_what_to_do(session, settings, session_factory, fake_wechat):
    fake_wechat.credentials = {settings.wechat_appid: "the-real-secret"}
    token = build(session, settings, session_factory).check("token")
    assert token.level == "bad" and "AppSecret 不正确" in token.summary and "40125" in token.summary
    assert "重置 AppSecret" in token.fix


def test_an_unreachable_wechat_api_is_red_within_the_short_timeout(session, settings, session_factory, fake_wechat):
    fake_wechat.inject("token", http_status=503, times=None)
    result = build(session, settings, session_factory)
    assert result.check("token").level == "bad" and "无法连接微信接口" in result.check("token").summary
    assert result.check("menu").level == "bad" and "从未运行过 sync-menu" in result.check("menu").summary


def test_a_slow_wechat_api_does_not_hang_the_page(session, settings, session_factory, fake_wechat):
    fake_wechat.inject("token", latency=5, times=None)
    client = make_client(settings.with_(api_timeout=0.5), status.make_token_store(settings, session_factory))
    started = clock.now()
    token = build(session, settings, session_factory, client=client).check("token")
    assert token.level == "bad" and clock.now() - started < timedelta(seconds=4)


def test_a_menu_that_differs_from_ours_is_red(session, settings, session_factory, fake_wechat):
    fake_wechat.menu = {"button": [{"type": "click", "name": "别的", "key": "X"}]}
    check = build(session, settings, session_factory).check("menu")
    assert check.level == "bad" and "不一致" in check.summary and "sync-menu" in check.fix


def test_without_an_appsecret_approval_notices_wait_and_the_page_says_so(session, settings, session_factory,
                                                                          fake_wechat):
    no_secret = settings.with_(wechat_secret="")
    add_followers(session, ["o-li"], clock.now())  # wrote an hour ago: a customer-service message would reach her
    staff = make_staff(session, name="李梅", openid="o-li")
    make_reviewed_report(session, staff)
    session.commit()
    jobs.configure(no_secret, session_factory)
    jobs.deliver_announcements()  # as the scheduler would: the notice is queued, but nothing can be sent
    result = build(session, no_secret, session_factory)
    assert result.check("secret").level == "bad" and "WECHAT_SECRET" in result.check("secret").fix
    outbound = result.check("outbound")
    assert outbound.level == "bad" and "未设置 AppSecret" in outbound.summary
    assert "1 条审核结果通知在等待发送" in outbound.summary
    assert fake_wechat.calls_to("message/custom/send") == []


def test_unreachable_redis_is_red(settings, session_factory):
    def refuse(url):
        raise ConnectionError("refused")

    check = status.check_redis(settings.with_(redis_url="redis://127.0.0.1:1/0"), refuse)
    assert check.level == "bad" and "REDIS_URL" in check.fix
    assert status.check_redis(settings).level == "ok"


def test_a_scheduler_that_never_started_then_runs_then_fails(session, settings, session_factory, engine):
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {status.JOB_TABLE}"))
    check, _ = status.check_scheduler(session, settings, clock.now())
    assert check.level == "bad" and "从未" in check.summary and "python -m scheduler" in check.fix
    session.rollback()
    build_scheduler(settings)  # creates the job store table, as a start would
    check, rows = status.check_scheduler(session, settings, clock.now())
    assert check.level == "bad" and "没有在运行" in check.summary
    runlog.record(session_factory, "deliver_announcements", True)
    runlog.record(session_factory, "weekly_digest", False, "RuntimeError: boom")
    session.expire_all()
    check, rows = status.check_scheduler(session, settings, clock.now())
    assert check.level == "bad" and "每周摘要" in check.summary
    digest = next(r for r in rows if r.id == "weekly_digest")
    assert digest.ok is False and digest.detail == "RuntimeError: boom"
    runlog.record(session_factory, "weekly_digest", True)
    session.expire_all()
    check, rows = status.check_scheduler(session, settings, clock.now())
    assert check.level == "ok"
    later = clock.now() + timedelta(minutes=10)
    assert status.check_scheduler(session, settings, later)[0].level == "bad"


@pytest.fixture(autouse=True)
def _drop_job_store(engine):
    yield
    with engine.begin() as conn:  # the job store is not one of the wiped tables: leave none behind
        conn.execute(text(f"DROP TABLE IF EXISTS {status.JOB_TABLE}"))
