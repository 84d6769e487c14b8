"""Property-based: whatever a signed request carries, /wechat never answers 5xx."""
import string

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from service.wechat.protocol import message_xml, wechat_request

MSG_TYPES = st.sampled_from(["text", "image", "voice", "video", "location", "link", "event", "unknown", "", "TEXT"])
EVENTS = st.sampled_from(["subscribe", "unsubscribe", "CLICK", "SCAN", "LOCATION", "pic_weixin", "location_select"])
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


@hsettings(max_examples=150, deadline=None, suppress_health_check=HEALTH)
@given(msg_type=MSG_TYPES | TEXT, event=EVENTS | TEXT, sender=st.sampled_from(["o_fuzz", ""]) | TEXT, content=TEXT, key=TEXT, msg_id=st.one_of(st.integers(), st.text(max_size=5)),
       create_time=st.one_of(st.integers(min_value=-10, max_value=2**40), TEXT))
def test_signed_messages_with_arbitrary_fields_never_5xx(client, settings, msg_type, event, sender, content, key, msg_id,
                                                         create_time):
    fields = {"ToUserName": "gh", "FromUserName": sender, "CreateTime": create_time, "MsgType": msg_type,
              "Content": content, "Event": event, "EventKey": key, "MsgId": msg_id, "Location_X": content,
              "Recognition": content}
    args, body = wechat_request(settings, message_xml(fields))
    response = client.post("/wechat", query_string=args, data=body, content_type="text/xml")
    assert response.status_code < 500
    assert response.status_code in (200, 400)


@hsettings(max_examples=150, deadline=None, suppress_health_check=HEALTH)
@given(body=st.binary(max_size=2000) | st.text(alphabet=string.printable + "<>/![]CDATA中文", max_size=500).map(str.encode))
def test_signed_arbitrary_bodies_never_5xx(client, settings, body):
    args, _ = wechat_request(settings, "<xml/>")
    response = client.post("/wechat", query_string=args, data=body, content_type="text/xml")
    assert response.status_code in (200, 400)


@hsettings(max_examples=60, deadline=None, suppress_health_check=HEALTH)
@given(args=st.dictionaries(st.sampled_from(["signature", "timestamp", "nonce", "encrypt_type", "msg_signature", "echostr"]),
                            TEXT, max_size=6), body=st.binary(max_size=300))
def test_unsigned_or_garbled_query_strings_never_5xx(client, args, body):
    assert client.post("/wechat", query_string=args, data=body).status_code < 500
    assert client.get("/wechat", query_string=args).status_code < 500
