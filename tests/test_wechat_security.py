"""/wechat against forged requests: replayed signatures, stale timestamps, plaintext in safe mode, huge XML."""
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from models.follower import Follower
from models.inbound import InboundMessage
from service.core.config import Settings, SettingsError
from service.wechat.protocol import (MAX_ELEMENTS, MalformedMessage, decode_body, message_xml, read_reply, sign,
                                     wechat_request)
from tests.wechat_xml import WeChatUser

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
MENU = "请回复数字或文字选择"


def count(session, model=InboundMessage):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def post(client, args, body):
    return client.post("/wechat", query_string=args, data=body, content_type="text/xml")


def signed(settings, timestamp, nonce="1234567"):
    return {"signature": sign(settings.wechat_token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}


# ---- the timestamp window -------------------------------------------------------------------------------------

@pytest.mark.parametrize("timestamp", ["978307200", "3976214400", "abc", "", "+1", "１７００", "-5", "1e9",
                                       "now-301", "now+301", "0000000000000"])
def test_a_timestamp_outside_the_window_is_refused_and_stores_nothing(client, settings, session, timestamp):
    """2001, 2096, words and anything more than five minutes off: 403, whatever the signature."""
    now = int(time.time())
    if timestamp.startswith("now"):
        timestamp = str(now + int(timestamp[3:]))
    user = WeChatUser(client, settings, "o_stale")
    body = message_xml(user.fields("text", Content="帮助"))
    assert post(client, signed(settings, timestamp), body).status_code == 403
    assert client.get("/wechat", query_string={**signed(settings, timestamp), "echostr": "e"}).status_code == 403
    assert count(session) == 0 and count(session, Follower) == 0


def test_a_timestamp_within_the_window_is_accepted_and_the_window_is_configurable(app, client, settings, session):
    now = int(time.time())
    user = WeChatUser(client, settings, "o_window")
    for offset, nonce in ((-290, "1"), (290, "2")):
        response = post(client, signed(settings, str(now + offset), nonce),
                        message_xml(user.fields("text", Content="帮助")))
        assert response.status_code == 200 and MENU in response.get_data(as_text=True)
    assert client.get("/wechat", query_string={**signed(settings, str(now - 290)), "echostr": "e"}).data == b"e"
    app.extensions["qijin"].settings = settings.with_(wechat_replay_window_seconds=60)
    assert post(client, signed(settings, str(now - 90), "3"),
                message_xml(user.fields("text", Content="帮助"))).status_code == 403
    assert count(session) == 2


def test_the_window_setting_comes_from_the_environment():
    assert Settings().wechat_replay_window_seconds == 300
    assert Settings.from_env({"WECHAT_REPLAY_WINDOW_SECONDS": "120"}).wechat_replay_window_seconds == 120
    for bad in ("0", "-5", "five"):
        with pytest.raises(SettingsError, match="WECHAT_REPLAY_WINDOW_SECONDS must be a positive whole number"):
            Settings.from_env({"WECHAT_REPLAY_WINDOW_SECONDS": bad})


# ---- a signature replayed with another message ----------------------------------------------------------------

@pytest.mark.parametrize("first, forged", [("帮助", "帮助"), ("帮助", "通知"), ("通知", "帮助"), ("通知", "订阅")])
def test_a_signature_replayed_with_another_message_is_refused_but_wechats_retry_is_answered(
        client, settings, session, first, forged):
    """In plaintext mode the signature covers (token, timestamp, nonce), not the body: whoever reads one query
    string could post any message as any user within the window. The nonce is remembered with the message, so
    WeChat's retry (same query, same body) replays the reply while another body under it gets 403 and stores
    nothing, on the read-only fast path (帮助) and on the general path (通知, 订阅) alike."""
    victim, attacker = WeChatUser(client, settings, "o_victim"), WeChatUser(client, settings, "o_attacker")
    args, body = wechat_request(settings, message_xml(victim.fields("text", Content=first)))
    answer = post(client, args, body)
    assert answer.status_code == 200
    retry = post(client, args, body)
    assert retry.status_code == 200
    assert read_reply(settings, retry.get_data(as_text=True))["Content"] == \
        read_reply(settings, answer.get_data(as_text=True))["Content"]

    forged_body = message_xml(attacker.fields("text", Content=forged)).encode()
    response = post(client, args, forged_body)
    assert response.status_code == 403 and b"CDATA" not in response.data
    same_user = post(client, args, message_xml(victim.fields("text", Content=forged)))  # or as the victim
    assert same_user.status_code == 403
    assert list(session.scalars(select(InboundMessage.openid))) == ["o_victim"]
    assert session.get(Follower, "o_attacker") is None

    # the refusal left the database and the kept connection usable: the next real message is answered
    assert MENU in attacker.send_text("帮助")
    assert count(session) == 2


def test_an_event_replayed_under_another_messages_nonce_is_refused(client, settings, session):
    user = WeChatUser(client, settings, "o_events")
    args, body = wechat_request(settings, message_xml(user.fields("text", Content="帮助")))
    assert post(client, args, body).status_code == 200
    forged = message_xml(user.fields("event", Event="unsubscribe"))
    assert post(client, args, forged).status_code == 403
    assert count(session) == 1 and session.get(Follower, "o_events").subscribed


def test_safe_mode_replayed_nonce_with_another_encrypted_message_is_refused(app, client, settings, session):
    """Encrypted bodies carry their own msg_signature, but a nonce is a nonce: one message per (timestamp, nonce)."""
    safe = settings.with_(wechat_aes_key=AES_KEY)
    app.extensions["qijin"].settings = safe
    user = WeChatUser(client, safe, "o_safe")
    timestamp, nonce = str(int(time.time())), "42424242"
    args, body = wechat_request(safe, message_xml(user.fields("text", Content="帮助")), timestamp=timestamp, nonce=nonce)
    assert post(client, args, body).status_code == 200
    args2, body2 = wechat_request(safe, message_xml(user.fields("text", Content="通知")), timestamp=timestamp,
                                  nonce=nonce)
    assert post(client, args2, body2).status_code == 403
    assert count(session) == 1


# ---- encryption modes -----------------------------------------------------------------------------------------

def test_with_a_key_set_safe_mode_refuses_plaintext_messages(app, client, settings, session):
    """WECHAT_AES_KEY set means safe mode: a plaintext body, without encrypt_type or with encrypt_type=raw, is 403
    (it used to be answered in plaintext: safe mode was only as strong as plaintext mode)."""
    safe = settings.with_(wechat_aes_key=AES_KEY)
    assert safe.encrypt_mode == "safe"
    app.extensions["qijin"].settings = safe
    user = WeChatUser(client, safe, "o_plain_in_safe", encrypted=False)
    for extra in ({}, {"encrypt_type": "raw"}, {"encrypt_type": "RAW"}):
        args, body = wechat_request(safe, message_xml(user.fields("text", Content="帮助")), encrypted=False)
        response = post(client, {**args, **extra}, body)
        assert response.status_code == 403 and b"CDATA" not in response.data
    assert count(session) == 0
    encrypted = WeChatUser(client, safe, "o_encrypted")
    assert MENU in encrypted.send_text("帮助")
    assert "Encrypt" in decode_body(encrypted.last_response.data)


def test_compatible_mode_answers_each_message_in_its_own_form(app, client, settings, session):
    compatible = settings.with_(wechat_aes_key=AES_KEY, wechat_encrypt_mode="compatible")
    app.extensions["qijin"].settings = compatible
    plain, encrypted = WeChatUser(client, compatible, "o_plain", False), WeChatUser(client, compatible, "o_aes", True)
    assert MENU in plain.send_text("帮助")
    assert "Encrypt" not in decode_body(plain.last_response.data)
    assert MENU in encrypted.send_text("帮助")
    assert "Encrypt" in decode_body(encrypted.last_response.data)
    assert count(session) == 2


def test_plain_mode_refuses_encrypted_messages(app, client, settings, session):
    keyed = settings.with_(wechat_aes_key=AES_KEY)
    app.extensions["qijin"].settings = keyed.with_(wechat_encrypt_mode="plain")
    assert WeChatUser(client, keyed, "o_aes", True).post(
        WeChatUser(None, keyed, "o_aes").fields("text", Content="帮助")).status_code == 403
    assert MENU in WeChatUser(client, keyed, "o_plain", False).send_text("帮助")
    assert count(session) == 1


def test_the_encrypt_mode_setting():
    assert Settings().encrypt_mode == "plain" and not Settings().safe_mode
    assert Settings(wechat_aes_key=AES_KEY).encrypt_mode == "safe"
    env = {"WECHAT_AES_KEY": AES_KEY}
    assert Settings.from_env({**env, "WECHAT_ENCRYPT_MODE": "Compatible"}).encrypt_mode == "compatible"
    assert Settings.from_env({**env, "WECHAT_ENCRYPT_MODE": "plain"}).safe_mode is False
    with pytest.raises(SettingsError, match="WECHAT_ENCRYPT_MODE must be plain, compatible or safe"):
        Settings.from_env({**env, "WECHAT_ENCRYPT_MODE": "aes"})
    for mode in ("safe", "compatible"):
        with pytest.raises(SettingsError, match=f"WECHAT_ENCRYPT_MODE={mode} needs WECHAT_AES_KEY"):
            Settings.from_env({"WECHAT_ENCRYPT_MODE": mode})


# ---- huge XML -------------------------------------------------------------------------------------------------

def test_a_megabyte_of_repeated_tags_is_refused_quickly(client, settings, session):
    """250,000 `<Z/>` (1 MB, under the body limit) used to take about a minute of a worker's CPU to parse."""
    fields = WeChatUser(None, settings, "o_big").fields("text", Content="帮助")
    xml = message_xml(fields).replace("</xml>", "<Z/>" * 250_000 + "</xml>")
    assert len(xml) < 1024 * 1024
    args, body = wechat_request(settings, xml)
    started = time.perf_counter()
    response = post(client, args, body)
    elapsed = time.perf_counter() - started
    assert response.status_code == 400 and elapsed < 2.0, elapsed
    assert count(session) == 0


def test_parsing_is_linear_and_capped():
    many = "<xml>" + "<item>x</item>" * (MAX_ELEMENTS - 1) + "</xml>"
    started = time.perf_counter()
    assert len(decode_body(many.encode())["item"]) == MAX_ELEMENTS - 1
    assert time.perf_counter() - started < 1.0
    with pytest.raises(MalformedMessage, match="more than 1000 XML elements"):
        decode_body(("<xml>" + "<item>x</item>" * MAX_ELEMENTS + "</xml>").encode())
    nested = "<xml>" + "<a>" * MAX_ELEMENTS + "</a>" * MAX_ELEMENTS + "</xml>"
    with pytest.raises(MalformedMessage):
        decode_body(nested.encode())


def test_read_reply_still_reads_a_normal_reply(settings):
    reply = read_reply(settings, "<xml><ToUserName><![CDATA[o]]></ToUserName><Content><![CDATA[好]]></Content></xml>")
    assert reply == {"ToUserName": "o", "Content": "好"}


# ---- access logs ----------------------------------------------------------------------------------------------

def test_access_logs_show_the_path_and_msgid_of_wechat_requests_never_the_query(app, client, settings):
    """The query string's signature, timestamp and nonce are what a replay needs: gunicorn's access-log format
    (gunicorn.conf.py) and the development server's request log print /wechat's path and MsgId instead."""
    import runpy
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import Logger

    from handlers.wechat import RequestLogWithoutWeChatQuery

    seen, inner = [], app.wsgi_app
    app.wsgi_app = lambda environ, start_response: seen.append(environ) or inner(environ, start_response)
    user = WeChatUser(client, settings, "o_logged")
    fields = user.fields("text", Content="帮助")
    assert user.post(fields).status_code == 200
    (environ,) = seen  # as the server's access log gets it, after the response
    assert environ["QUERY_STRING"] and "signature=" in environ["QUERY_STRING"]

    fmt = runpy.run_path(str(Path(__file__).parents[1] / "gunicorn.conf.py"))["access_log_format"]
    config = Config()
    config.set("access_log_format", fmt)
    logger = Logger(config)
    atoms = logger.atoms_wrapper_class(logger.atoms(SimpleNamespace(status="200 OK", sent=10, headers=[]),
                                                    [], environ, timedelta(milliseconds=3)))
    line = fmt % atoms
    assert '"POST /wechat HTTP/1.1" 200' in line and f"MsgId={fields['MsgId']}" in line
    assert "signature" not in line and environ["QUERY_STRING"] not in line

    handler = RequestLogWithoutWeChatQuery.__new__(RequestLogWithoutWeChatQuery)
    handler.command, handler.request_version, handler.environ = "POST", "HTTP/1.1", environ
    handler.path = f"/wechat?{environ['QUERY_STRING']}"
    logged: list[str] = []
    handler.log = lambda _type, message, *args: logged.append(message % args)
    handler.log_request(200, 10)
    assert logged == [f'"POST /wechat MsgId={fields["MsgId"]} HTTP/1.1" 200 10']
    handler.path = "/simulator?x=1"  # other paths are logged as they were
    handler.log_request(200, 10)
    assert logged[-1] == '"POST /simulator?x=1 HTTP/1.1" 200 10'
