"""The wire protocol against WeChat's official vectors (wechat-platform.md §3.12)."""
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings as hsettings, strategies as st
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from service.core.config import Settings
from service.wechat.protocol import (InvalidSignature, MalformedMessage, decode_body, decode_request, message_xml,
                                     query_fields, read_reply, sign, to_inbound, wechat_request)

V2 = dict(token="pamtest", key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", appid="wxb11529c136998cb6",
          encrypt="jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==")
V3_ENCRYPT = ("rTNFcsut4LfGuAFKEUVVpwcaCOTJzOd9twZdIW910jb3k+iicx2uvhttIZ3Qg9Qgty3BEF2xbOrz6boTfb30dMomcgrkTqdFPwnhqbk+"
              "kIQ7rZiwny9D7NUrTgA5kpX3KsZvrXzUZyP2x9YOlxbgm572lmxKvM7HAQQhIQ/p6HBmoY30bGXFK0BtIu1pW9TjhOYrLQoU18nWYjWqDA1"
              "ynkmOytpv7QRI1P1+0NoxL0q2zO1DgeSvnE8CZGo/o5Ap/WHK5W2RAsinpzN4/LjPnmB6U01I5XCoJoC0GK/yMZycd2Oh8Nq6+wBkC1U85o"
              "y0ktOY4nLvsQMLrourmMGdZHuTbqpeJ8Ao/5PRYJ+WBvRUwPfGKBL2+2IKZF49vAJqkcGWSHGE76ZN2erXeuNazf/o9o3lIE3q739o4c8t9Q"
              "GPe31GT2Go/rOz1BsrASwvauNulCh+++yz+CQzBIuikA==")
V3 = dict(msg_signature="4f3ad57b6989f09f4eb392acce4f9e93942ed890", timestamp="1458300676", nonce="260774613")
V3_NOW = float(V3["timestamp"])  # the vector's time: its timestamp is within the replay window then, not today

SAFE = Settings(wechat_token=V2["token"], wechat_aes_key=V2["key"], wechat_appid=V2["appid"])


def test_v1_official_plaintext_signature():
    assert sign("AAAAA", "1714037059", "486452656") == "899cf89e464efb63f54ddac96b0a0a235f53aa78"


def test_v2_official_ciphertext_decrypts_to_the_official_plaintext():
    from wechatpy.crypto import PrpCrypto
    import base64

    key = base64.b64decode(V2["key"] + "=")
    assert PrpCrypto(key).decrypt(V2["encrypt"], V2["appid"]) == "我是中文abcd123"


def test_v2_encrypting_with_the_official_random_gives_the_official_ciphertext():
    from wechatpy.crypto import PrpCrypto
    import base64

    class FixedRandom(PrpCrypto):
        def get_random_string(self):
            return "aaaabbbbccccdddd"

    key = base64.b64decode(V2["key"] + "=")
    assert FixedRandom(key).encrypt("我是中文abcd123", V2["appid"]).decode() == V2["encrypt"]


def _v3_args(**overrides):
    args = {"signature": sign(V2["token"], V3["timestamp"], V3["nonce"]), "timestamp": V3["timestamp"],
            "nonce": V3["nonce"], "encrypt_type": "aes", "msg_signature": V3["msg_signature"]}
    args.update(overrides)
    return args


def test_v3_official_safe_mode_message_decrypts_and_parses():
    body = f"<xml><Encrypt><![CDATA[{V3_ENCRYPT}]]></Encrypt></xml>".encode()
    data, envelope = decode_request(SAFE, _v3_args(), body, V3_NOW)
    assert envelope.encrypted
    inbound = to_inbound(data)
    assert (inbound.openid, inbound.kind, inbound.content, inbound.msg_id) == ("asdasdasdsadasd", "text", "hello", 12345)


def test_v3_wrong_msg_signature_is_refused():
    body = f"<xml><Encrypt><![CDATA[{V3_ENCRYPT}]]></Encrypt></xml>".encode()
    with pytest.raises(InvalidSignature):
        decode_request(SAFE, _v3_args(msg_signature="0" * 40), body, V3_NOW)


def test_v3_wrong_appid_is_refused():
    body = f"<xml><Encrypt><![CDATA[{V3_ENCRYPT}]]></Encrypt></xml>".encode()
    with pytest.raises(InvalidSignature):
        decode_request(SAFE.with_(wechat_appid="wx0000000000000000"), _v3_args(), body, V3_NOW)


def test_round_trip_in_safe_mode():
    xml = message_xml({"ToUserName": "gh", "FromUserName": "o1", "CreateTime": 1, "MsgType": "text",
                       "Content": "你好 ]]> <b>", "MsgId": 7})
    args, body = wechat_request(SAFE, xml)
    assert args["encrypt_type"] == "aes" and b"Content" not in body
    data, _ = decode_request(SAFE, args, body)
    assert data["Content"] == "你好 ]]> <b>"


@pytest.mark.parametrize("body", [b"", b"   ", b"<xml>", b"not xml", "<xml>\udcff</xml>".encode("utf-8", "surrogatepass")])
def test_unreadable_bodies_are_malformed(body):
    with pytest.raises(MalformedMessage):
        decode_body(body)


def test_entities_and_dtds_are_refused():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
              b"<xml><Content>&lol2;</Content></xml>")
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>'
    parameter = (b'<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>'
                 b"<xml><Content>x</Content></xml>")
    external_dtd = b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml><Content>x</Content></xml>'
    harmless_looking = b"<!DOCTYPE xml><xml><Content>x</Content></xml>"
    undeclared = b"<xml><Content>&e;</Content></xml>"
    for body in (laughs, xxe, parameter, external_dtd, harmless_looking, undeclared):
        with pytest.raises(MalformedMessage):
            decode_body(body)


def test_nested_and_repeated_fields_are_read_like_wechat_writes_them():
    data = decode_body(b"<xml><SendPicsInfo><Count>2</Count><PicList><item><PicMd5Sum><![CDATA[a]]></PicMd5Sum></item>"
                       b"<item><PicMd5Sum><![CDATA[b]]></PicMd5Sum></item></PicList></SendPicsInfo>"
                       b"<Content><![CDATA[ x &amp; y ]]></Content><Empty/><Amp>1 &amp; 2</Amp></xml>")
    assert data == {"SendPicsInfo": {"Count": "2", "PicList": {"item": [{"PicMd5Sum": "a"}, {"PicMd5Sum": "b"}]}},
                    "Content": "x &amp; y", "Empty": "", "Amp": "1 & 2"}


def test_control_characters_are_stripped_before_parsing():
    data = decode_body("<xml><Content><![CDATA[a\x1db\x00c]]></Content></xml>".encode())
    assert data["Content"] == "abc"


def test_reply_reader_understands_success_and_plain_xml():
    assert read_reply(SAFE, "success") is None
    assert read_reply(SAFE, "<xml><Content><![CDATA[x]]></Content></xml>")["Content"] == "x"


_query_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


@hsettings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(_query_text, _query_text), max_size=6), raw=st.booleans())
def test_query_fields_read_what_werkzeug_reads(pairs, raw):
    """The endpoint splits the query string itself (cheaper than request.args): same first value per name, for
    percent-encoded strings and for plain tokens sent as they are."""
    if raw:
        pairs = [(n, v) for n, v in pairs if not set(n + v) & set("&=%+#") and (n + v).isascii()]
        query = "&".join(f"{n}={v}" for n, v in pairs)
    else:
        query = urlencode(pairs)
    environ = EnvironBuilder(query_string=query).get_environ()
    args = Request(environ).args
    assert query_fields(environ["QUERY_STRING"]) == {name: args.get(name) for name in args}


OTHER_KEY = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"  # 43 characters, not the official one


def test_key_rotation_decrypts_the_official_v3_message_with_the_previous_key():
    """After the EncodingAESKey changed in WeChat's console, a message still encrypted with the old key is read
    with WECHAT_AES_KEY_PREVIOUS; the envelope keeps that key for the reply."""
    body = f"<xml><Encrypt><![CDATA[{V3_ENCRYPT}]]></Encrypt></xml>".encode()
    rotated = SAFE.with_(wechat_aes_key=OTHER_KEY, wechat_aes_key_previous=V2["key"])
    data, envelope = decode_request(rotated, _v3_args(), body, V3_NOW)
    assert data["Content"] == "hello" and envelope.aes_key == V2["key"]
    with pytest.raises((InvalidSignature, MalformedMessage)):  # without the previous key: refused, as before
        decode_request(SAFE.with_(wechat_aes_key=OTHER_KEY), _v3_args(), body, V3_NOW)
    data, envelope = decode_request(SAFE.with_(wechat_aes_key_previous=OTHER_KEY), _v3_args(), body, V3_NOW)
    assert data["Content"] == "hello" and envelope.aes_key == V2["key"]  # the current key first
