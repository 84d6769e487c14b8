"""/wechat against hostile requests: huge XML."""
import time

import pytest
from sqlalchemy import func, select

from models.inbound import InboundMessage
from service.wechat.protocol import (MAX_ELEMENTS, MalformedMessage, decode_body, message_xml, read_reply,
                                     wechat_request)
from tests.wechat_xml import WeChatUser


def count(session, model=InboundMessage):
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def post(client, args, body):
    return client.post("/wechat", query_string=args, data=body, content_type="text/xml")


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
