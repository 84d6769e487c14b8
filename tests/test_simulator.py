"""The /simulator page and its /simulator/send endpoint: real signed XML through /wechat, replies read back."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from models.follower import Follower
from models.inbound import InboundMessage
from service import create_app
from service.chat import menu
from service.wechat import router
from service.wechat.protocol import decode_body

HEADERS = {"X-Simulator": "1"}
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00"
       b"\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")


def send(client, **action):
    action.setdefault("openid", "o_sim_alice")
    return client.post("/simulator/send", json=action, headers=HEADERS)


def stored(session) -> list[InboundMessage]:
    session.expire_all()
    return list(session.scalars(select(InboundMessage).order_by(InboundMessage.id)))


def test_simulator_responses_forbid_framing_and_foreign_scripts(client):
    for response in (client.get("/simulator"), send(client, type="text", content="帮助"),
                     client.post("/simulator/send", json={})):
        policy = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy and "default-src 'self'" in policy
        assert response.headers.get("X-Frame-Options") == "DENY"
        assert response.headers.get("X-Content-Type-Options") == "nosniff"


def test_simulator_page_renders_the_custom_menu(client):
    response = client.get("/simulator")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for top in menu.CUSTOM_MENU["button"]:
        assert top["name"] in page
        for sub in top.get("sub_button", []):
            assert f'data-key="{sub["key"]}"' in page and sub["name"] in page
    assert "/static/simulator/simulator.js" in page
    assert client.get("/static/simulator/simulator.js").status_code == 200
    assert client.get("/static/simulator/simulator.css").status_code == 200


def test_simulator_text_goes_through_wechat_and_is_stored(client, session):
    response = send(client, type="text", content="帮助")
    assert response.status_code == 200
    result = response.get_json()
    assert result["status"] == 200
    assert result["reply"] == menu.main_menu_text(router.INTENTS)
    # the response is the XML /wechat rendered, addressed back to the simulated user
    reply_xml = decode_body(result["raw_response"].encode())
    assert reply_xml["ToUserName"] == "o_sim_alice" and reply_xml["Content"] == result["reply"]

    [row] = stored(session)
    assert row.openid == "o_sim_alice" and row.msg_type == "text" and row.content == "帮助"
    assert row.raw_xml == result["raw_request_xml"]  # the very bytes the simulator signed arrived at /wechat
    assert row.reply == result["reply"] and row.status == "done"
    assert session.get(Follower, "o_sim_alice") is not None


def test_simulator_menu_click_and_subscription(client, session):
    result = send(client, type="click", key="HELP").get_json()
    assert result["reply"] == menu.main_menu_text(router.INTENTS)
    assert "<Event><![CDATA[CLICK]]></Event>" in result["raw_request_xml"]

    welcome = send(client, type="subscribe", openid="o_sim_bob").get_json()
    assert menu.main_menu_text(router.INTENTS) in welcome["reply"]
    gone = send(client, type="unsubscribe", openid="o_sim_bob").get_json()
    assert gone["status"] == 200 and gone["reply"] is None and gone["raw_response"] == "success"

    rows = stored(session)
    assert [(r.openid, r.event, r.event_key) for r in rows] == [
        ("o_sim_alice", "click", "HELP"), ("o_sim_bob", "subscribe", ""), ("o_sim_bob", "unsubscribe", "")]
    assert session.get(Follower, "o_sim_bob").subscribed is False


def test_simulator_in_safe_mode_encrypts_the_request_and_reads_the_encrypted_reply(settings, session_factory, session):
    app = create_app(settings.with_(wechat_aes_key=AES_KEY))
    try:
        client = app.test_client()
        result = send(client, type="text", content="帮助").get_json()
        assert result["status"] == 200
        assert result["reply"] == menu.main_menu_text(router.INTENTS)
        outer = decode_body(result["raw_response"].encode())
        assert set(outer) >= {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}  # the wire reply was encrypted
        assert "帮助" not in result["raw_response"]
        [row] = stored(session)
        assert row.content == "帮助" and decode_body(row.raw_xml.encode())["Content"] == "帮助"
    finally:
        app.extensions["qijin"].engine.dispose()


def test_simulator_picture_is_stored_and_sent_as_an_image_message(client, session, settings):
    upload = client.post("/simulator/media", data={"picture": (io.BytesIO(PNG), "a.png")}, headers=HEADERS,
                         content_type="multipart/form-data")
    assert upload.status_code == 200
    media = upload.get_json()
    assert (Path(settings.media_dir) / "simulator" / f"{media['media_id']}.png").read_bytes() == PNG
    assert client.get(media["pic_url"].replace("http://localhost", "")).data == PNG

    result = send(client, type="pic_event", event="pic_photo_or_album", key="PHOTO", **media).get_json()
    first, second = result["exchanges"]
    assert "<PicMd5Sum><![CDATA[" + media["md5"] + "]]></PicMd5Sum>" in first["raw_request_xml"]
    assert first["reply"] is None  # no conversation wants the photo: the event gets `success`
    assert second["status"] == 200 and second["reply"]  # the image message gets the "not supported here" hint
    rows = stored(session)
    assert [(r.msg_type, r.event, r.media_id) for r in rows] == [
        ("event", "pic_photo_or_album", ""), ("image", None, media["media_id"])]


def test_simulator_location_select_sends_the_event_then_the_location(client, session):
    result = send(client, type="location_select", key="PLACE", lat="39.9", lon="116.4", label="社区活动中心").get_json()
    assert [e["status"] for e in result["exchanges"]] == [200, 200]
    rows = stored(session)
    assert [(r.msg_type, r.event) for r in rows] == [("event", "location_select"), ("location", None)]
    assert rows[1].content == "社区活动中心"
    assert "<SendLocationInfo><Location_X>39.9</Location_X>" in rows[0].raw_xml


@pytest.mark.parametrize("action, message", [
    ({"type": "text", "content": "  "}, "请输入"),
    ({"type": "text", "content": "hi", "openid": "bad openid!"}, "openid"),
    ({"type": "teleport"}, "不支持"),
    ({"type": "click", "key": ""}, "key"),
    ({"type": "location", "lat": "north", "lon": "1"}, "纬度"),
    ({"type": "location", "lat": "91", "lon": "1"}, "纬度"),
    ({"type": "image", "media_id": "../../etc/passwd"}, "图片"),
    ({"type": "pic_event", "event": "view", "key": "X", "media_id": "sim_" + "0" * 32}, "菜单事件"),
])
def test_simulator_rejects_bad_input_with_a_chinese_400(client, session, action, message):
    response = send(client, **action)
    assert response.status_code == 400 and message in response.get_json()["error"]
    assert stored(session) == []


def test_simulator_refuses_cross_site_and_non_json_posts(client, session):
    assert client.post("/simulator/send", json={"type": "text", "content": "帮助", "openid": "o_x"}).status_code == 403
    cross = client.post("/simulator/send", json={"type": "text", "content": "帮助", "openid": "o_x"},
                        headers={**HEADERS, "Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert client.post("/simulator/send", json={"type": "text", "content": "帮助", "openid": "o_x"},
                       headers={**HEADERS, "Sec-Fetch-Site": "cross-site"}).status_code == 403
    form = client.post("/simulator/send", data={"type": "text"}, headers=HEADERS)
    assert form.status_code == 415
    assert client.post("/simulator/media", data={"picture": (io.BytesIO(b"not an image"), "x.txt")},
                       headers=HEADERS, content_type="multipart/form-data").status_code == 400
    assert client.get("/simulator/media/sim_" + "0" * 32).status_code == 404
    assert stored(session) == []


def test_simulator_is_404_when_disabled(settings, session_factory):
    app = create_app(settings.with_(simulator_enabled=False))
    try:
        client = app.test_client()
        assert client.get("/simulator").status_code == 404
        assert send(client, type="text", content="帮助").status_code == 404
    finally:
        app.extensions["qijin"].engine.dispose()


def test_production_settings_disable_the_simulator():
    from service.core.config import Settings

    env = {"FLASK_ENV": "production", "SECRET_KEY": "s", "WECHAT_TOKEN": "t", "DATABASE_URL": "sqlite://"}
    assert Settings.from_env(env).simulator_enabled is False
    assert Settings.from_env({}, dev_server=True).simulator_enabled is True
