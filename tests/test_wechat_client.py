"""The outbound WeChat client against the fake API: base URL, shared token, bounded retry, domain errors."""
from __future__ import annotations

import io
import multiprocessing as mp
import uuid
from datetime import timedelta

import pytest
import redis
import requests

from service.core import clock
from service.core.config import Settings
from service.core.db import make_engine, make_session_factory
from service.core.errors import WeChatAPIError, WeChatNotConfigured, WeChatOutcomeUnknown, WeChatUnavailable
from service.wechat_api.token_store import RedisTokenStore, make_token_store
from service.wechat_api.client import make_client

REDIS_URL = "redis://127.0.0.1:6379/0"


def test_token_is_fetched_through_the_api_base_and_reused(fake_wechat, settings, wechat_client, token_store):
    wechat_client.send_text("o-user-1", "你好")
    wechat_client.send_text("o-user-2", "再见")
    # A second client (another worker) sharing the store reuses the token too.
    make_client(settings, token_store).send_text("o-user-3", "第三条")

    token_calls = fake_wechat.calls_to("token")
    assert len(token_calls) == 1
    assert token_calls[0].query == {"grant_type": "client_credential", "appid": settings.wechat_appid,
                                    "secret": settings.wechat_secret}
    sends = fake_wechat.calls_to("message/custom/send")
    assert [c.json["touser"] for c in sends] == ["o-user-1", "o-user-2", "o-user-3"]
    assert sends[0].json["text"]["content"] == "你好"
    assert {c.access_token for c in sends} == set(fake_wechat.issued_tokens())
    assert token_store.get(wechat_client.access_token_key) == sends[0].access_token


def test_hard_coded_wechatpy_urls_are_rebased_onto_the_api_base(fake_wechat, wechat_client):
    # wechatpy writes https://api.weixin.qq.com/customservice/... literally; it must reach the fake instead.
    with pytest.raises(WeChatUnavailable) as err:
        wechat_client.customservice.add_account("kf@test", "客服", "secret")
    assert err.value.http_status == 404
    assert [c.path for c in fake_wechat.calls] == ["token", "customservice/kfaccount/add"]


def test_invalid_token_once_refreshes_once_and_retries(fake_wechat, wechat_client):
    wechat_client.send_text("o-1", "warm up")
    fake_wechat.inject("message/custom/send", errcode=40001)

    assert wechat_client.send_text("o-1", "after 40001")["errcode"] == 0

    assert len(fake_wechat.calls_to("token")) == 2
    sends = fake_wechat.calls_to("message/custom/send")
    assert len(sends) == 3
    assert sends[1].access_token != sends[2].access_token  # the retry used the refreshed token


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_token_error_twice_raises_after_exactly_one_retry(fake_wechat, wechat_client, errcode):
    fake_wechat.inject("message/custom/send", errcode=errcode, times=2)

    with pytest.raises(WeChatAPIError) as err:
        wechat_client.send_text("o-1", "hello")

    assert err.value.errcode == errcode
    assert len(fake_wechat.calls_to("message/custom/send")) == 2
    assert len(fake_wechat.calls_to("token")) == 2


def test_token_superseded_by_another_fetcher_is_replaced(fake_wechat, wechat_client):
    """A rogue fetch (another tool using the same appid) makes our cached token 'not latest' (40001)."""
    wechat_client.send_text("o-1", "first")
    fake_wechat.token_grace = 0
    requests.get(fake_wechat.base_url + "token", params={"grant_type": "client_credential", "appid": "x",
                                                         "secret": "y"}, timeout=5)

    assert wechat_client.send_text("o-1", "second")["errcode"] == 0
    assert len(fake_wechat.calls_to("token")) == 3  # ours, the rogue one, our refresh


def test_expired_token_in_the_store_is_refetched(fake_wechat, wechat_client):
    fake_wechat.expires_in = 7200
    wechat_client.send_text("o-1", "now")
    real_now = clock.now()
    clock.set_now(lambda: real_now + timedelta(hours=2))

    wechat_client.send_text("o-1", "two hours later")
    wechat_client.send_text("o-1", "and again")

    assert len(fake_wechat.calls_to("token")) == 2


def test_token_expired_at_wechat_first_gets_42001_then_one_refresh(fake_wechat, wechat_client):
    wechat_client.send_text("o-1", "now")
    fake_wechat.expire_tokens()

    assert wechat_client.send_text("o-1", "later")["errcode"] == 0
    assert len(fake_wechat.calls_to("token")) == 2
    assert len(fake_wechat.calls_to("message/custom/send")) == 3


@pytest.mark.parametrize("errcode, retryable", [(45009, True), (-1, True), (45015, False), (45047, False),
                                                (43004, False)])
def test_error_codes_become_domain_errors(fake_wechat, wechat_client, errcode, retryable):
    fake_wechat.inject("message/custom/send", errcode=errcode)

    with pytest.raises(WeChatAPIError) as err:
        wechat_client.send_text("o-1", "hello")

    assert err.value.errcode == errcode
    assert err.value.retryable is retryable
    assert len(fake_wechat.calls_to("message/custom/send")) == 1  # no retry for these


def test_http_500_becomes_unavailable(fake_wechat, wechat_client):
    fake_wechat.inject("message/template/send", http_status=500)

    with pytest.raises(WeChatUnavailable) as err:
        wechat_client.send_template("o-1", "TPL", {"thing1": {"value": "活动"}})
    assert err.value.http_status == 500


def test_token_endpoint_failures_are_domain_errors_without_retry(fake_wechat, wechat_client):
    fake_wechat.inject("token", http_status=502)
    with pytest.raises(WeChatUnavailable):
        wechat_client.send_text("o-1", "hi")

    fake_wechat.credentials = {"wxb11529c136998cb6": "another-secret"}
    with pytest.raises(WeChatAPIError) as err:
        wechat_client.send_text("o-1", "hi")
    assert err.value.errcode == 40125
    assert len(fake_wechat.calls_to("token")) == 2
    assert fake_wechat.calls_to("message/custom/send") == []


def test_latency_beyond_the_timeout_is_an_unknown_outcome_never_repeated(fake_wechat, settings, token_store):
    client = make_client(settings.with_(api_timeout=0.2), token_store)
    client.send_text("o-1", "fast")
    fake_wechat.inject("message/custom/send", latency=0.6)

    with pytest.raises(WeChatOutcomeUnknown):  # WeChat may have carried it out
        client.send_text("o-1", "slow")
    assert len(fake_wechat.calls_to("message/custom/send")) == 2  # fast + slow: nothing resent below us

    for status, unknown in ((504, True), (502, True), (503, False)):
        fake_wechat.inject("message/template/send", http_status=status)
        with pytest.raises(WeChatUnavailable) as err:
            client.send_template("o-1", "TPL-1", {"thing1": {"value": "x"}})
        assert isinstance(err.value, WeChatOutcomeUnknown) is unknown, status
    refused = make_client(settings.with_(wechat_api_base="http://127.0.0.1:9/cgi-bin/"), token_store)
    with pytest.raises(WeChatUnavailable) as err:  # never reached WeChat: safe to retry
        refused.send_text("o-1", "refused")
    assert not isinstance(err.value, WeChatOutcomeUnknown)

    fake_wechat.latency = 0.6  # the token fetch has the same timeout
    token_store.delete(client.access_token_key)
    with pytest.raises(WeChatUnavailable):
        client.send_text("o-1", "slow token")


def test_missing_secret_degrades_with_a_clear_error(fake_wechat, settings, token_store):
    client = make_client(settings.with_(wechat_secret=""), token_store)

    assert client.configured is False
    with pytest.raises(WeChatNotConfigured, match="WECHAT_SECRET"):
        client.send_text("o-1", "hi")
    assert fake_wechat.calls == []


def test_template_mass_send_and_clientmsgid_dedupe(fake_wechat, wechat_client):
    sent = wechat_client.send_template("o-1", "TPL-1", {"thing1": {"value": "民族团结"}}, url="https://example.org")
    assert sent["msgid"]
    body = fake_wechat.calls_to("message/template/send")[0].json
    assert body == {"touser": "o-1", "template_id": "TPL-1", "url": "https://example.org",
                    "data": {"thing1": {"value": "民族团结"}}}

    first = wechat_client.mass_send_text(["o-1", "o-2"], "通知", clientmsgid="notice-7")
    again = wechat_client.mass_send_text(["o-1", "o-2"], "通知", clientmsgid="notice-7")
    assert first["duplicate"] is False and again["duplicate"] is True
    assert again["msg_id"] == first["msg_id"]
    assert fake_wechat.calls_to("message/mass/send")[0].json["clientmsgid"] == "notice-7"
    with pytest.raises(ValueError):
        wechat_client.mass_send_text(["o-1"], "too few", clientmsgid="notice-8")


def test_menu_create_get_and_limits(fake_wechat, wechat_client):
    assert wechat_client.get_menu() is None
    menu = {"button": [{"type": "click", "name": "活动上报", "key": "REPORT"},
                       {"name": "政策", "sub_button": [{"type": "click", "name": "政策问答", "key": "POLICY"},
                                                      {"type": "view", "name": "官网", "url": "https://example.org"}]}]}
    wechat_client.create_menu(menu)
    assert wechat_client.get_menu() == {"menu": menu}

    with pytest.raises(WeChatAPIError) as err:
        wechat_client.create_menu({"button": [{"type": "click", "name": "名字太长了超过", "key": "K"}]})
    assert err.value.errcode == 40018
    with pytest.raises(WeChatAPIError) as err:
        wechat_client.create_menu({"button": [{"type": "click", "name": f"B{i}", "key": "K"} for i in range(4)]})
    assert err.value.errcode == 40016


def test_media_download_and_upload(fake_wechat, wechat_client):
    photo = b"\xff\xd8\xff\xe0 a user photo \xff\xd9"
    media_id = fake_wechat.register_media(photo)
    assert wechat_client.download_media(media_id) == photo

    with pytest.raises(WeChatAPIError) as err:
        wechat_client.download_media("no-such-media")
    assert err.value.errcode == 40007

    uploaded = wechat_client.media.upload("image", ("poster.jpg", io.BytesIO(b"\xff\xd8poster"), "image/jpeg"))
    assert wechat_client.download_media(uploaded["media_id"]) == b"\xff\xd8poster"


def test_retry_rewinds_an_upload(fake_wechat, wechat_client):
    fake_wechat.inject("media/upload", errcode=40001)
    uploaded = wechat_client.media.upload("image", io.BytesIO(b"\xff\xd8twice"))
    assert wechat_client.download_media(uploaded["media_id"]) == b"\xff\xd8twice"


# ---------------------------------------------------------------- two OS processes, one token fetch

def _send_from_a_process(settings: Settings, prefix: str, barrier, openid: str, out) -> None:
    """Runs in a spawned process: its own engine, store and client, like a separate gunicorn worker."""
    engine = make_engine(settings.database_url)
    try:
        store = make_token_store(settings, make_session_factory(engine), prefix=prefix)
        client = make_client(settings, store)
        barrier.wait(timeout=60)
        client.send_text(openid, "并发")
        out.put(("ok", openid))
    except Exception as exc:  # reported to the parent, which fails the test with it
        out.put(("error", repr(exc)))
    finally:
        engine.dispose()


def _run_two_processes(settings: Settings, prefix: str) -> list[tuple[str, str]]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_send_from_a_process, args=(settings, prefix, barrier, f"o-proc-{i}", out))
             for i in range(2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=90) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return results


def _assert_one_fetch(fake_wechat, results) -> None:
    assert sorted(results) == [("ok", "o-proc-0"), ("ok", "o-proc-1")]
    assert len(fake_wechat.calls_to("token")) == 1
    sends = fake_wechat.calls_to("message/custom/send")
    assert len(sends) == 2
    assert sends[0].access_token == sends[1].access_token


def test_two_processes_share_one_token_fetch_through_the_database(fake_wechat, settings, session_factory):
    fake_wechat.inject("token", latency=0.5)  # the first fetch is slow, so the other process must wait for it
    _assert_one_fetch(fake_wechat, _run_two_processes(settings, prefix="unused:"))


def test_two_processes_share_one_token_fetch_through_redis(fake_wechat, settings):
    prefix = f"qijin-test-{uuid.uuid4().hex}:"
    fake_wechat.inject("token", latency=0.5)
    try:
        _assert_one_fetch(fake_wechat, _run_two_processes(settings.with_(redis_url=REDIS_URL), prefix))
    finally:
        conn = redis.Redis.from_url(REDIS_URL)
        for key in conn.scan_iter(prefix + "*"):
            conn.delete(key)


def test_redis_store_expiry_and_lock(fake_wechat, settings):
    store = make_token_store(settings.with_(redis_url=REDIS_URL), prefix=f"qijin-test-{uuid.uuid4().hex}:")
    assert isinstance(store, RedisTokenStore)
    client = make_client(settings, store)
    try:
        client.send_text("o-1", "a")
        client.send_text("o-1", "b")
        real_now = clock.now()
        clock.set_now(lambda: real_now + timedelta(hours=3))
        client.send_text("o-1", "c")
        assert len(fake_wechat.calls_to("token")) == 2
        with store.lock("k"):
            with pytest.raises(Exception, match="k"):
                with store.lock("k", wait=0.1):
                    pass
    finally:
        store.delete(client.access_token_key)


def test_sql_lock_excludes_and_an_expired_lease_is_taken_over(token_store):
    from service.wechat_api.token_store import LockTimeout

    with token_store.lock("refresh"):
        with pytest.raises(LockTimeout):
            with token_store.lock("refresh", wait=0.1):
                pass
    with token_store.lock("refresh", wait=0.1):  # released on exit
        pass
    token_store.lease = 0.05  # a holder that crashed holds a lease that runs out
    with token_store.lock("crashed"):
        token_store.lease = 30.0
        import time
        time.sleep(0.1)
        with token_store.lock("crashed", wait=1.0):
            pass


def test_one_client_shared_by_many_threads_fetches_once(fake_wechat, wechat_client):
    from concurrent.futures import ThreadPoolExecutor

    fake_wechat.inject("token", latency=0.3)
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: wechat_client.send_text(f"o-{i}", "线程"), range(48)))
    assert all(r["errcode"] == 0 for r in results)
    assert len(fake_wechat.calls_to("token")) == 1
    assert len(fake_wechat.calls_to("message/custom/send")) == 48
