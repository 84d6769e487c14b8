"""The fake WeChat API behaves like the real one on the wire: tokens, faults, limits, media, call log."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def http():
    with requests.Session() as s:
        yield s


def _token(fake, http, **extra) -> str:
    res = http.get(fake.base_url + "token", params={"grant_type": "client_credential", "appid": "wxa",
                                                    "secret": "s", **extra}, timeout=5).json()
    return res["access_token"]


def _custom(fake, http, token, openid="o-1", content="hi"):
    return http.post(fake.base_url + "message/custom/send", params={"access_token": token},
                     json={"touser": openid, "msgtype": "text", "text": {"content": content}}, timeout=5)


def test_token_check_is_realistic(fake_wechat, http):
    assert _custom(fake_wechat, http, None).json()["errcode"] == 41001
    assert _custom(fake_wechat, http, "made-up").json()["errcode"] == 40001
    token = _token(fake_wechat, http)
    assert _custom(fake_wechat, http, token).json() == {"errcode": 0, "errmsg": "ok"}
    fake_wechat.expire_tokens()
    assert _custom(fake_wechat, http, token).json()["errcode"] == 42001

    fake_wechat.token_grace = 0
    old = _token(fake_wechat, http)
    new = _token(fake_wechat, http)
    assert _custom(fake_wechat, http, old).json()["errcode"] == 40001  # "not latest"
    assert _custom(fake_wechat, http, new).json()["errcode"] == 0


def test_token_request_validation_and_expires_in(fake_wechat, http):
    fake_wechat.expires_in = 90
    res = http.get(fake_wechat.base_url + "token", params={"grant_type": "client_credential", "appid": "wxa",
                                                           "secret": "s"}, timeout=5).json()
    assert res["expires_in"] == 90
    assert http.get(fake_wechat.base_url + "token", params={"grant_type": "x", "appid": "a", "secret": "s"},
                    timeout=5).json()["errcode"] == 40002
    fake_wechat.credentials = {"wxa": "right"}
    assert http.get(fake_wechat.base_url + "token", params={"grant_type": "client_credential", "appid": "wxb",
                                                            "secret": "right"}, timeout=5).json()["errcode"] == 40013
    assert http.get(fake_wechat.base_url + "token", params={"grant_type": "client_credential", "appid": "wxa",
                                                            "secret": "wrong"}, timeout=5).json()["errcode"] == 40125


def test_stable_token_is_stable_until_force_refresh(fake_wechat, http):
    body = {"grant_type": "client_credential", "appid": "wxa", "secret": "s"}
    first = http.post(fake_wechat.base_url + "stable_token", json=body, timeout=5).json()["access_token"]
    second = http.post(fake_wechat.base_url + "stable_token", json=body, timeout=5).json()["access_token"]
    forced = http.post(fake_wechat.base_url + "stable_token", json={**body, "force_refresh": True},
                       timeout=5).json()["access_token"]
    assert first == second != forced
    assert _custom(fake_wechat, http, forced).json()["errcode"] == 0


def test_fault_queue_times_wildcard_and_status(fake_wechat, http):
    token = _token(fake_wechat, http)
    fake_wechat.inject("message/custom/send", errcode=45009, times=2)
    fake_wechat.inject("message/custom/send", http_status=500)
    codes = [_custom(fake_wechat, http, token) for _ in range(4)]
    assert [r.json()["errcode"] for r in codes[:2]] == [45009, 45009]
    assert codes[2].status_code == 500
    assert codes[3].json()["errcode"] == 0

    fake_wechat.inject("*", errcode=-1, times=None)
    assert _custom(fake_wechat, http, token).json()["errcode"] == -1
    assert http.get(fake_wechat.base_url + "menu/get", params={"access_token": token}, timeout=5).json()[
        "errcode"] == -1
    fake_wechat.reset()
    assert _custom(fake_wechat, http, _token(fake_wechat, http)).json()["errcode"] == 0


def test_latency_fault_and_global_latency(fake_wechat, http):
    token = _token(fake_wechat, http)
    fake_wechat.inject("message/custom/send", latency=0.3)
    started = time.monotonic()
    assert _custom(fake_wechat, http, token).json()["errcode"] == 0
    assert time.monotonic() - started >= 0.3
    fake_wechat.latency = 0.2
    started = time.monotonic()
    _custom(fake_wechat, http, token)
    assert 0.2 <= time.monotonic() - started < 0.3


def test_per_openid_errors_and_text_size(fake_wechat, http):
    token = _token(fake_wechat, http)
    fake_wechat.fail_openid("o-gone", 43004)
    assert _custom(fake_wechat, http, token, openid="o-gone").json()["errcode"] == 43004
    assert _custom(fake_wechat, http, token, content="字" * 683).json()["errcode"] == 45002  # 2049 bytes
    assert _custom(fake_wechat, http, token, content="字" * 682).json()["errcode"] == 0


def test_mass_send_limits_and_clientmsgid(fake_wechat, http):
    token = _token(fake_wechat, http)
    url = fake_wechat.base_url + "message/mass/send"

    def send(users, clientmsgid=None):
        body = {"touser": users, "msgtype": "text", "text": {"content": "群发"}}
        if clientmsgid:
            body["clientmsgid"] = clientmsgid
        return http.post(url, params={"access_token": token}, json=body, timeout=5).json()

    assert send(["o-1"])["errcode"] == 40130
    assert send([f"o-{i}" for i in range(10001)])["errcode"] == 40130
    ok = send([f"o-{i}" for i in range(10000)], "job-1")
    assert ok["errcode"] == 0 and ok["msg_id"]
    dup = send(["o-1", "o-2"], "job-1")
    assert dup["errcode"] == 45065 and dup["msg_id"] == ok["msg_id"]
    all_res = http.post(fake_wechat.base_url + "message/mass/sendall", params={"access_token": token},
                        json={"filter": {"is_to_all": True}, "msgtype": "text", "text": {"content": "全体"}},
                        timeout=5).json()
    assert all_res["errcode"] == 0


def test_menu_limits(fake_wechat, http):
    token = _token(fake_wechat, http)

    def create(buttons):
        return http.post(fake_wechat.base_url + "menu/create", params={"access_token": token},
                         json={"button": buttons}, timeout=5).json()["errcode"]

    click = {"type": "click", "name": "上报", "key": "K"}
    assert create([click] * 4) == 40016
    assert create([{"type": "click", "name": "五个汉字呀", "key": "K"}]) == 0  # 15 bytes fit in 16
    assert create([{"type": "click", "name": "六个汉字呀啊", "key": "K"}]) == 40018  # 18 bytes do not
    assert create([{"name": "菜单", "sub_button": [click] * 6}]) == 40023
    assert create([{"name": "菜单", "sub_button": [{**click, "name": "字" * 21}]}]) == 40025
    assert create([{"type": "bogus", "name": "x", "key": "K"}]) == 40017
    assert create([{"type": "click", "name": "x", "key": "k" * 129}]) == 40019
    assert create([{"type": "view", "name": "x", "url": ""}]) == 40020
    assert create([click, {"name": "更多", "sub_button": [click] * 5}]) == 0
    got = http.get(fake_wechat.base_url + "menu/get", params={"access_token": token}, timeout=5).json()
    assert got["menu"]["button"][0] == click
    http.get(fake_wechat.base_url + "menu/delete", params={"access_token": token}, timeout=5)
    assert http.get(fake_wechat.base_url + "menu/get", params={"access_token": token},
                    timeout=5).json()["errcode"] == 46003


def test_media_and_user_info(fake_wechat, http):
    token = _token(fake_wechat, http)
    media_id = fake_wechat.register_media()
    res = http.get(fake_wechat.base_url + "media/get", params={"access_token": token, "media_id": media_id},
                   timeout=5)
    assert res.headers["Content-Type"] == "image/jpeg" and res.content.startswith(b"\xff\xd8")
    res = http.get(fake_wechat.base_url + "media/get", params={"access_token": token, "media_id": "x"}, timeout=5)
    assert res.json()["errcode"] == 40007
    fake_wechat.users["o-9"] = {"subscribe": 0}
    info = http.get(fake_wechat.base_url + "user/info", params={"access_token": token, "openid": "o-9"},
                    timeout=5).json()
    assert info == {"openid": "o-9", "subscribe": 0}


def test_call_log_records_everything(fake_wechat, http):
    token = _token(fake_wechat, http)
    _custom(fake_wechat, http, token, content="记录")
    calls = fake_wechat.calls
    assert [c.path for c in calls] == ["token", "message/custom/send"]
    sent = fake_wechat.calls_to("message/custom/send")[0]
    assert sent.method == "POST" and sent.access_token == token
    assert sent.json["text"]["content"] == "记录" and json.loads(sent.body) == sent.json
    assert sent.query == {"access_token": token} and sent.time <= time.time()
    assert fake_wechat.counts["message/custom/send"] == 1


def test_concurrent_calls_overlap_their_latency(fake_wechat):
    """64 clients with 50 ms latency: far more than 1/latency requests per second (the server is threaded)."""
    token = _token(fake_wechat, requests)
    fake_wechat.latency = 0.05

    def worker(i: int) -> int:
        with requests.Session() as s:
            return sum(_custom(fake_wechat, s, token, openid=f"o-{i}").json()["errcode"] == 0 for _ in range(5))

    started = time.monotonic()
    with ThreadPoolExecutor(64) as pool:
        ok = sum(pool.map(worker, range(64)))
    elapsed = time.monotonic() - started
    assert ok == 320
    assert 320 / elapsed > 200  # serial handling would manage 20/s


def test_standalone_server_and_control_endpoints():
    proc = subprocess.Popen([sys.executable, "-m", "tests.fake_wechat_api", "--port", "0", "--latency", "0.01"],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        base = line.split(" at ", 1)[1].split()[0]
        root = base.replace("/cgi-bin/", "/")
        with requests.Session() as http:
            token = http.get(base + "token", params={"grant_type": "client_credential", "appid": "a", "secret": "s"},
                             timeout=5).json()["access_token"]
            http.post(root + "_fake/inject", json={"path": "message/custom/send", "errcode": 45047}, timeout=5)
            body = {"touser": "o", "msgtype": "text", "text": {"content": "x"}}
            first = http.post(base + "message/custom/send", params={"access_token": token}, json=body, timeout=5)
            assert first.json()["errcode"] == 45047
            stats = http.get(root + "_fake/stats", timeout=5).json()
            assert stats["counts"] == {"token": 1, "message/custom/send": 1}
    finally:
        proc.terminate()
        proc.wait(timeout=10)
