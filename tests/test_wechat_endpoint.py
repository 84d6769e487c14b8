"""/wechat end to end: verification, the three modes, every message type, exactly-once retries, bad input."""
import json
import os
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from models.follower import Follower
from models.inbound import InboundMessage
from service.core import clock, fastsql
from service.chat import conversation
from service.chat.contract import Flow, handled
from service.wechat import router
from service.chat import texts as common_texts
from service.reporting import texts as report_texts
from service.wechat.protocol import (decode_body, dedupe_key, message_xml, read_reply, sign, to_inbound,
                                     wechat_request)
from tests.factories import make_staff, make_unit
from tests.wechat_xml import WeChatUser

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SAMPLES = json.loads((Path(__file__).parent / "data" / "peer-messages.json").read_text("utf-8"))


def count(session, model=InboundMessage):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


# ---- GET verification -----------------------------------------------------------------------------------------

def test_get_echoes_echostr_when_signed(client, settings):
    clock.set_now(lambda: datetime.fromtimestamp(1714037059, clock.TZ))  # the official vector's time
    args = {"signature": sign(settings.wechat_token, "1714037059", "486452656"), "timestamp": "1714037059",
            "nonce": "486452656", "echostr": "4623872348"}
    response = client.get("/wechat", query_string=args)
    assert response.status_code == 200 and response.get_data(as_text=True) == "4623872348"


@pytest.mark.parametrize("change", [{"signature": "0" * 40}, {"signature": None}, {"timestamp": None},
                                    {"nonce": None}, {"echostr": None}])
def test_get_without_a_valid_signature_or_echostr_is_403(client, settings, change):
    args = {"signature": sign(settings.wechat_token, "1", "2"), "timestamp": "1", "nonce": "2", "echostr": "x"}
    args.update(change)
    response = client.get("/wechat", query_string={k: v for k, v in args.items() if v is not None})
    assert response.status_code == 403


# ---- POST in the three modes ----------------------------------------------------------------------------------

def test_plaintext_mode_replies_with_the_menu_and_stores_the_message(wechat, session):
    reply = wechat.send_text("帮助")
    assert "请回复数字或文字选择" in reply
    row = session.scalars(select(InboundMessage)).one()
    assert (row.openid, row.msg_type, row.content, row.status) == (wechat.openid, "text", "帮助", "done")
    assert row.reply == reply and "<Content><![CDATA[帮助]]></Content>" in row.raw_xml
    follower = session.get(Follower, wechat.openid)
    assert follower.subscribed and follower.last_message_at is not None


def test_the_menu_fast_path_updates_a_known_follower_and_yields_to_an_open_conversation(wechat, session,
                                                                                       monkeypatch):
    """`帮助` is read-only, so the gateway answers it with one write (service/gateway.py) — unless a conversation
    of the user is open: that conversation sees every text first, until its draft expires."""
    echo = Flow("echo", lambda ctx, draft: handled(f"流程收到：{ctx.inbound.content}"), timedelta(minutes=10))
    monkeypatch.setitem(router.FLOWS, "echo", echo)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=clock.TZ)
    clock.set_now(lambda: start)
    assert "请回复数字或文字选择" in wechat.send_text("帮助")
    first = session.get(Follower, wechat.openid)
    assert first.first_seen_at == first.last_message_at == start
    session.expire_all()

    clock.set_now(lambda: start + timedelta(minutes=5))
    conversation.save(session, conversation.Draft(wechat.openid, "echo"), clock.now(), timedelta(minutes=10))
    session.commit()
    assert wechat.send_text("帮助") == "流程收到：帮助"
    clock.set_now(lambda: start + timedelta(minutes=16))  # the draft has expired
    assert "请回复数字或文字选择" in wechat.send_text("帮助")

    rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    assert [(r.content, r.status) for r in rows] == [("帮助", "done")] * 3
    assert rows[1].reply == "流程收到：帮助" and "请回复数字或文字选择" in rows[2].reply
    follower = session.get(Follower, wechat.openid)
    assert follower.first_seen_at == start and follower.last_message_at == start + timedelta(minutes=16)


def _kept_wire(engine):
    """The connection this thread keeps for the fast path (opened if it has none)."""
    return fastsql.kept_write(engine, lambda connection: connection)


def _driver(connection):
    return connection.connection.driver_connection


def test_the_fast_path_keeps_one_connection_per_thread_until_the_engine_is_disposed(app, wechat, session):
    """The fast path writes on a connection its thread keeps (service/fastsql.py), not one from the pool."""
    engine = app.extensions["qijin"].engine
    assert "请回复数字或文字选择" in wechat.send_text("帮助")
    kept = _driver(_kept_wire(engine))
    assert "请回复数字或文字选择" in wechat.send_text("菜单")
    wire = _kept_wire(engine)
    assert _driver(wire) is kept and fastsql.usable(wire)
    engine.dispose()
    assert not fastsql.usable(wire)
    assert "请回复数字或文字选择" in wechat.send_text("帮助")  # on a new one
    assert session.scalars(select(func.count()).select_from(InboundMessage)).one() == 3


def _open_connections(engine) -> int:
    """Connections to the test database: PostgreSQL's count, or this process's descriptors on the SQLite file."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").scalar_one() - 1
    database = os.path.realpath(engine.url.database)
    return sum(1 for fd in os.listdir("/proc/self/fd") if os.path.realpath(f"/proc/self/fd/{fd}") == database)


def test_threads_that_end_leave_no_fast_path_connection_behind(app, settings, session):
    """The development server runs each request in a new thread: a kept connection must not outlive its thread
    for long (the next thread to open one closes those of threads that ended)."""
    engine = app.extensions["qijin"].engine
    before = _open_connections(engine)

    def one(n: int) -> None:
        assert "请回复数字或文字选择" in WeChatUser(app.test_client(), settings, f"o_thread_{n}").send_text("帮助")

    for n in range(6):
        thread = threading.Thread(target=one, args=(n,))
        thread.start()
        thread.join()
    assert _open_connections(engine) <= before + 1  # the last thread's, until another thread opens one
    one(6)  # this thread's own kept connection replaces it
    assert _open_connections(engine) <= before + 1
    assert session.scalars(select(func.count()).select_from(InboundMessage)).one() == 7


def test_a_forked_worker_opens_its_own_fast_path_connection_and_leaves_the_parents_alone(app, wechat, session):
    """gunicorn --preload forks workers from a process that may have served: a child must not write on (or close)
    its parent's kept connection, whose socket it shares."""
    engine = app.extensions["qijin"].engine
    assert "请回复数字或文字选择" in wechat.send_text("帮助")
    parents = _driver(_kept_wire(engine))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, then leave without running the parent's clean-ups
        verdict = b"?"
        try:
            os.close(read)
            wire = _kept_wire(engine)
            ok = _driver(wire) is not parents and fastsql.usable(wire)
            ok = ok and "请回复数字或文字选择" in WeChatUser(app.test_client(), wechat.settings, "o_child").send_text("菜单")
            engine.dispose(close=False)  # as SQLAlchemy advises for a forked child
            verdict = b"1" if ok else b"0"
        finally:
            os.write(write, verdict)
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        assert pipe.read() == b"1"
    os.waitpid(pid, 0)
    assert "请回复数字或文字选择" in wechat.send_text("帮助")  # the parent's connection still works
    wire = _kept_wire(engine)
    assert _driver(wire) is parents and fastsql.usable(wire)
    assert session.scalars(select(func.count()).select_from(InboundMessage)).one() == 3


def test_a_lost_fast_path_connection_is_replaced_and_the_message_still_stored(app, wechat, session, caplog):
    """A database restart ends the kept connection under the worker: the next message is written again on a new
    one (the write is idempotent), answered and stored once."""
    engine = app.extensions["qijin"].engine
    assert "请回复数字或文字选择" in wechat.send_text("帮助")
    lost = _kept_wire(engine)
    lost_driver = _driver(lost)
    if engine.dialect.name == "postgresql":
        lost_pid = lost_driver.info.backend_pid
        with engine.connect() as other:  # as a restart would
            other.exec_driver_sql(f"SELECT pg_terminate_backend({lost_pid})")
        deadline = time.time() + 5
        while session.execute(text(f"SELECT 1 FROM pg_stat_activity WHERE pid = {lost_pid}"))\
                .first() and time.time() < deadline:
            session.rollback()
            time.sleep(0.05)
        session.rollback()
    else:
        lost_driver.close()
    assert "请回复数字或文字选择" in wechat.send_text("帮助")
    wire = _kept_wire(engine)
    assert wire is not lost and fastsql.usable(wire)
    rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    assert [(r.content, r.status) for r in rows] == [("帮助", "done")] * 2 and rows[0].dedupe_key != rows[1].dedupe_key
    if engine.dialect.name == "postgresql":  # psycopg only learns of the loss when it sends the statement
        assert "lost a kept postgresql connection" in caplog.text


def test_a_read_only_intent_that_reads_the_database_answers_on_the_fast_path(wechat, session):
    """绑定 (menu 7) reads who the user is bound as through the ORM session the fast path opens only on demand."""
    assert "绑定" in router.KEYWORDS and router.KEYWORDS["绑定"] in router.READ_ONLY_INTENTS
    assert wechat.send_text("绑定") == report_texts.BIND_HELP
    make_staff(session, make_unit(session, "团结社区"), name="李四", openid=wechat.openid)
    session.commit()
    assert wechat.send_text("7") == report_texts.ALREADY_BOUND.format(name="李四", unit="团结社区")
    rows = session.scalars(select(InboundMessage).order_by(InboundMessage.id)).all()
    assert [(r.content, r.status) for r in rows] == [("绑定", "done"), ("7", "done")]
    assert rows[1].reply.startswith("您已绑定为")


def test_safe_mode_decrypts_and_encrypts_the_reply(app, client, settings, session):
    safe = settings.with_(wechat_aes_key=AES_KEY)
    app.extensions["qijin"].settings = safe
    user = WeChatUser(client, safe)
    response = user.post(user.fields("text", Content="帮助"))
    body = response.get_data(as_text=True)
    outer = decode_body(body.encode())
    assert set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert outer["MsgSignature"] == sign(safe.wechat_token, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"])
    assert "请回复数字或文字选择" in read_reply(safe, body)["Content"]
    assert session.scalars(select(InboundMessage.content)).one() == "帮助"


def test_during_key_rotation_both_keys_are_answered_each_with_its_own(app, client, settings, session):
    """WECHAT_AES_KEY_PREVIOUS: messages still encrypted with the old EncodingAESKey are answered, encrypted
    with that old key; those with the new key, with the new key; a third key is refused (400: signed with our
    token, but unreadable) and stores nothing."""
    old, new, stranger = ("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG",
                          "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut")
    app.extensions["qijin"].settings = settings.with_(wechat_aes_key=new, wechat_aes_key_previous=old)
    for key, openid in ((old, "o_old_key"), (new, "o_new_key")):
        sender = settings.with_(wechat_aes_key=key)
        args, body = wechat_request(sender, message_xml(WeChatUser(None, sender, openid).fields("text",
                                                                                               Content="帮助")))
        response = client.post("/wechat", query_string=args, data=body, content_type="text/xml")
        assert response.status_code == 200
        reply = read_reply(sender, response.get_data(as_text=True))  # decrypts only with the sender's key
        assert "请回复数字或文字选择" in reply["Content"] and reply["ToUserName"] == openid
    sender = settings.with_(wechat_aes_key=stranger)
    args, body = wechat_request(sender, message_xml(WeChatUser(None, sender, "o_stranger").fields("text",
                                                                                                  Content="帮助")))
    assert client.post("/wechat", query_string=args, data=body, content_type="text/xml").status_code == 400
    assert sorted(session.scalars(select(InboundMessage.openid))) == ["o_new_key", "o_old_key"]


def test_compatible_mode_body_with_plaintext_and_encrypt_fields(app, client, settings):
    safe = settings.with_(wechat_aes_key=AES_KEY)
    app.extensions["qijin"].settings = safe
    fields = {"ToUserName": "gh", "FromUserName": "o_compat", "CreateTime": int(time.time()), "MsgType": "text",
              "Content": "帮助", "MsgId": 99}
    args, body = wechat_request(safe, message_xml(fields), encrypted=True)
    encrypt = decode_body(body)["Encrypt"]
    compat = message_xml({**fields, "Encrypt": encrypt})
    response = client.post("/wechat", query_string=args, data=compat.encode(), content_type="text/xml")
    assert response.status_code == 200
    assert "请回复数字或文字选择" in read_reply(safe, response.get_data(as_text=True))["Content"]


def test_official_v3_message_through_the_endpoint(app, client, settings, session):
    from tests.test_wechat_protocol import SAFE, V3_ENCRYPT, V3_NOW, _v3_args

    clock.set_now(lambda: datetime.fromtimestamp(V3_NOW, clock.TZ))  # when WeChat sent it
    app.extensions["qijin"].settings = settings.with_(wechat_token=SAFE.wechat_token, wechat_aes_key=SAFE.wechat_aes_key,
                                                      wechat_appid=SAFE.wechat_appid)
    body = f"<xml><Encrypt><![CDATA[{V3_ENCRYPT}]]></Encrypt></xml>"
    response = client.post("/wechat", query_string=_v3_args(), data=body, content_type="text/xml")
    assert response.status_code == 200
    reply = read_reply(SAFE, response.get_data(as_text=True))
    assert reply["ToUserName"] == "asdasdasdsadasd" and reply["MsgType"] == "text"
    row = session.scalars(select(InboundMessage)).one()
    assert row.content == "hello" and "Encrypt" not in row.raw_xml  # the decrypted XML is what we keep
    bad = client.post("/wechat", query_string=_v3_args(msg_signature="1" * 40), data=body, content_type="text/xml")
    assert bad.status_code == 403 and count(session) == 1


# ---- every message and event type -----------------------------------------------------------------------------

MESSAGES = [
    ("text", {"Content": "你好"}),
    ("image", {"PicUrl": "http://x/y.jpg", "MediaId": "m1"}),
    ("voice", {"MediaId": "v1", "Format": "amr", "Recognition": "帮助"}),
    ("voice", {"MediaId": "v2", "Format": "amr"}),
    ("video", {"MediaId": "v3", "ThumbMediaId": "t"}),
    ("shortvideo", {"MediaId": "v4", "ThumbMediaId": "t"}),
    ("location", {"Location_X": 23.13, "Location_Y": 113.26, "Scale": 20, "Label": "广州"}),
    ("link", {"Title": "标题", "Description": "d", "Url": "http://x"}),
]
EVENTS = [
    ("subscribe", ""), ("subscribe", "qrscene_123"), ("unsubscribe", ""), ("SCAN", "123"), ("LOCATION", ""),
    ("CLICK", "HELP"), ("CLICK", "NO_SUCH_KEY"), ("VIEW", "http://x"), ("scancode_push", "k"), ("scancode_waitmsg", "k"),
    ("pic_sysphoto", "PHOTO"), ("pic_photo_or_album", "PHOTO"), ("pic_weixin", "PHOTO"), ("location_select", "PLACE"),
    ("TEMPLATESENDJOBFINISH", ""), ("MASSSENDJOBFINISH", ""), ("subscribe_msg_popup_event", ""),
    ("subscribe_msg_change_event", ""), ("subscribe_msg_sent_event", ""), ("some_future_event", ""),
]


@pytest.mark.parametrize("msg_type,extra", MESSAGES)
def test_every_message_type_is_answered_and_stored(wechat, session, msg_type, extra):
    response = wechat.post(wechat.fields(msg_type, **extra))
    assert response.status_code == 200
    read_reply(wechat.settings, response.get_data(as_text=True))  # valid XML or success
    assert session.scalars(select(InboundMessage.msg_type)).one() == msg_type


def test_voice_recognition_is_routed_as_text(wechat):
    assert "请回复数字或文字选择" in wechat.reply(wechat.fields("voice", MediaId="v", Format="amr", Recognition="帮助！"))


@pytest.mark.parametrize("event,key", EVENTS)
def test_every_event_is_answered_and_stored(wechat, session, event, key):
    response = wechat.post(wechat.fields("event", Event=event, EventKey=key))
    assert response.status_code == 200
    read_reply(wechat.settings, response.get_data(as_text=True))
    assert session.scalars(select(InboundMessage.event)).one() == event.lower()


def test_subscribe_welcomes_and_unsubscribe_is_recorded(wechat, session):
    assert "欢迎关注" in wechat.send_event("subscribe", "qrscene_district")
    follower = session.get(Follower, wechat.openid)
    assert follower.subscribed and follower.scene == "district"
    assert wechat.send_event("unsubscribe") is None
    session.expire_all()
    assert not session.get(Follower, wechat.openid).subscribed


def test_a_message_after_a_missed_subscribe_event_marks_the_user_as_following_again(wechat, session):
    """Only followers can send messages: if the re-follow event was lost (our server down while WeChat retried),
    the next message must not leave the user recorded as unfollowed and skipped by every announcement."""
    wechat.send_event("unsubscribe")
    wechat.send_text("帮助")
    session.expire_all()
    assert session.get(Follower, wechat.openid).subscribed


def test_menu_clicks_do_not_open_the_customer_service_window(wechat, session):
    wechat.click("HELP")
    assert session.get(Follower, wechat.openid).last_message_at is None


@pytest.mark.parametrize("index", range(len(SAMPLES)))
def test_peer_sdk_conformance_sample(client, settings, session, index):
    sample = SAMPLES[index]
    args, body = wechat_request(settings, sample["xml"], encrypted=False)
    response = client.post("/wechat", query_string=args, data=body, content_type="text/xml")
    assert response.status_code == 200, (sample["source"], sample["file"])
    text = response.get_data(as_text=True)
    assert text == "success" or decode_body(text.encode())["MsgType"] == "text"
    assert count(session) == 1


def test_peer_samples_in_safe_mode_too(app, client, settings, session):
    safe = settings.with_(wechat_aes_key=AES_KEY)
    app.extensions["qijin"].settings = safe
    for sample in SAMPLES:
        args, body = wechat_request(safe, sample["xml"])
        response = client.post("/wechat", query_string=args, data=body, content_type="text/xml")
        assert response.status_code == 200, sample["file"]
        read_reply(safe, response.get_data(as_text=True))
    # samples from different SDK tests reuse dummy ids and times: duplicates by WeChat's key are stored once
    keys = {dedupe_key(to_inbound(decode_body(s["xml"].encode()))) for s in SAMPLES}
    assert count(session) == len(keys) > 50


# ---- exactly once ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("keyword, intent", [("通知", "notices"), ("帮助", "menu")])
def test_a_retry_replays_the_first_reply_without_a_second_side_effect(wechat, session, monkeypatch, keyword, intent):
    """The general path (`通知`) claims first, so the retry never reaches the route; the read-only fast path (`帮助`)
    may compute the reply again, but answers with the stored one and stores nothing more."""
    calls = []

    def counted(ctx):
        calls.append(ctx.openid)
        return f"第 {len(calls)} 次处理"

    monkeypatch.setitem(router.INTENTS, intent, counted)
    fields = wechat.fields("text", Content=keyword)
    first, second = wechat.reply(fields), wechat.reply(fields)
    assert first == second == "第 1 次处理"
    if intent not in router.READ_ONLY_INTENTS:
        assert calls == [wechat.openid]
    assert count(session) == 1
    follower = session.get(Follower, wechat.openid)
    assert follower.last_message_at is not None


@pytest.mark.parametrize("keyword, intent", [("通知", "notices"), ("帮助", "menu")])
def test_concurrent_retries_store_one_message_and_reply_identically(app, settings, session, monkeypatch, keyword,
                                                                    intent):
    """`通知` takes the full path (claim first: the route runs once); `帮助` is read-only and takes the fast path,
    where concurrent attempts may each compute the menu but only the first stored reply is ever answered."""
    calls = []

    def slow(ctx):
        calls.append(1)
        time.sleep(0.3)  # both attempts are in flight at once
        return f"处理结果 {len(calls)}"

    monkeypatch.setitem(router.INTENTS, intent, slow)
    assert (intent in router.READ_ONLY_INTENTS) == (intent == "menu")
    fields = WeChatUser(None, settings).fields("text", Content=keyword)
    xml = message_xml(fields)
    bodies, barrier = [], threading.Barrier(3)

    def attempt():
        args, body = wechat_request(settings, xml)
        client = app.test_client()
        barrier.wait()
        response = client.post("/wechat", query_string=args, data=body, content_type="text/xml")
        bodies.append((response.status_code, read_reply(settings, response.get_data(as_text=True))["Content"]))

    threads = [threading.Thread(target=attempt) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = session.scalars(select(InboundMessage)).one()
    assert stored.status == "done" and stored.reply.startswith("处理结果 ")
    assert bodies == [(200, stored.reply)] * 3
    if intent not in router.READ_ONLY_INTENTS:
        assert calls == [1] and stored.reply == "处理结果 1"
    follower = session.get(Follower, fields["FromUserName"])
    assert follower is not None and follower.last_message_at is not None


def test_events_are_deduplicated_by_user_time_event_and_key(wechat, session):
    fields = wechat.fields("event", Event="CLICK", EventKey="HELP")
    wechat.post(fields)
    wechat.post(fields)
    wechat.post({**fields, "EventKey": "POLICY"})
    assert count(session) == 2


# ---- long answers ---------------------------------------------------------------------------------------------

def test_long_replies_are_split_within_2048_bytes_and_continue_on_more(wechat, monkeypatch):
    long_text = "\n".join(f"第{i}段：" + "民族团结进步创建" * 12 for i in range(60))
    monkeypatch.setitem(router.INTENTS, "menu", lambda ctx: long_text)
    pages = [wechat.send_text("帮助")]
    while "回复“更多”继续" in pages[-1]:
        pages.append(wechat.send_text("更多"))
    assert all(len(p.encode("utf-8")) <= 2048 for p in pages)
    rebuilt = "\n".join(p.replace("\n" + common_texts.MORE_HINT, "") for p in pages)
    assert rebuilt.replace("\n", "") == long_text.replace("\n", "")
    assert wechat.send_text("更多") == common_texts.NO_MORE


# ---- bad input ------------------------------------------------------------------------------------------------

def test_bad_signature_is_403_and_nothing_is_stored(client, settings, session):
    args, body = wechat_request(settings, message_xml({"FromUserName": "o", "MsgType": "text", "Content": "x"}))
    for broken in ({**args, "signature": "f" * 40}, {k: v for k, v in args.items() if k != "nonce"}, {}):
        assert client.post("/wechat", query_string=broken, data=body, content_type="text/xml").status_code == 403
    assert count(session) == 0 and count(session, Follower) == 0


@pytest.mark.parametrize("body", [
    b"", b"<xml><FromUserName>o</FromUserName>", b"plain words", b"<xml><FromUserName>o</FromUserName></xml>",
    b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><MsgType>text</MsgType><Content>&e;</Content></xml>',
    b'<!DOCTYPE l [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><xml><MsgType>text</MsgType><Content>&b;</Content></xml>',
])
def test_malformed_bodies_are_400_and_logged(client, settings, session, caplog, body):
    args, _ = wechat_request(settings, "<xml/>")
    response = client.post("/wechat", query_string=args, data=body, content_type="text/xml")
    assert response.status_code == 400
    assert count(session) == 0
    assert "malformed /wechat POST" in caplog.text


def test_a_long_event_key_is_stored_under_a_dedupe_key_that_fits_its_column(wechat, session):
    """Keys over 255 characters are shortened with a hash, to 255 characters: PostgreSQL's VARCHAR(255) refused
    the 265 they used to be, and the request failed with a 500."""
    fields = wechat.fields("event", Event="CLICK", EventKey="k" * 300)
    for _attempt in (1, 2):  # WeChat's retry finds the same key
        assert wechat.post(fields).status_code == 200
    stored = session.scalars(select(InboundMessage.dedupe_key)).one()
    assert len(stored) == 255 and stored.startswith(f"e:{wechat.openid}:")


def test_bodies_over_one_mebibyte_are_413(client, settings):
    args, _ = wechat_request(settings, "<xml/>")
    body = message_xml({"FromUserName": "o", "MsgType": "text", "Content": "字" * 400_000}).encode()
    assert client.post("/wechat", query_string=args, data=body, content_type="text/xml").status_code == 413


def test_control_characters_in_user_text_do_not_break_parsing(wechat, session):
    xml = message_xml(wechat.fields("text", Content="帮\x1d助\x00"))
    args, body = wechat_request(wechat.settings, xml)
    response = wechat.client.post("/wechat", query_string=args, data=body, content_type="text/xml")
    assert response.status_code == 200
    assert session.scalars(select(InboundMessage.content)).one() == "帮助"


def test_a_bug_in_a_route_becomes_an_apology_not_a_500(wechat, session, monkeypatch, caplog):
    def broken(ctx):
        raise RuntimeError("boom")

    monkeypatch.setitem(router.INTENTS, "menu", broken)
    assert wechat.send_text("帮助") == common_texts.APOLOGY
    row = session.scalars(select(InboundMessage)).one()
    assert row.status == "failed" and row.reply == common_texts.APOLOGY
    assert "route failed for message" in caplog.text and row.dedupe_key in caplog.text


def test_health_reports_the_database(client):
    response = client.get("/healthz")
    # the test database is built from the models, not the migrations: reachable, but its schema has no revision
    assert response.get_json()["database"] == "ok" and response.get_json()["schema"] == "behind"
