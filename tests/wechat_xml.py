"""Drive /wechat the way WeChat does: real signed (and in safe mode AES-encrypted) XML, replies read back."""
from __future__ import annotations

import itertools
import time
from typing import Any

from service.core.config import Settings
from service.wechat.protocol import message_xml, read_reply, wechat_request

_msg_ids = itertools.count(int(time.time() * 1000) * 1000)


class WeChatUser:
    """One phone talking to the account (A's AuthActions shape): `send_text("帮助")` returns the reply text."""

    def __init__(self, client, settings: Settings, openid: str = "o_test_user", encrypted: bool | None = None):
        self.client, self.settings, self.openid, self.encrypted = client, settings, openid, encrypted
        self.last_response = None

    def fields(self, msg_type: str, **extra: Any) -> dict[str, Any]:
        fields: dict[str, Any] = {"ToUserName": "gh_qijin", "FromUserName": self.openid,
                                  "CreateTime": int(time.time()), "MsgType": msg_type}
        fields.update(extra)
        if msg_type != "event" and "MsgId" not in fields:
            fields["MsgId"] = next(_msg_ids)
        return fields

    def post(self, fields: dict[str, Any]):
        args, body = wechat_request(self.settings, message_xml(fields), self.encrypted)
        self.last_response = self.client.post("/wechat", query_string=args, data=body,
                                              content_type="text/xml")
        return self.last_response

    def reply(self, fields: dict[str, Any]) -> str | None:
        response = self.post(fields)
        assert response.status_code == 200, response.get_data(as_text=True)
        data = read_reply(self.settings, response.get_data(as_text=True))
        return None if data is None else data.get("Content")

    def send_text(self, text: str, **extra: Any) -> str | None:
        return self.reply(self.fields("text", Content=text, **extra))

    def send_event(self, event: str, key: str = "", **extra: Any) -> str | None:
        return self.reply(self.fields("event", Event=event, EventKey=key, **extra))

    def click(self, key: str) -> str | None:
        return self.send_event("CLICK", key)

    def send_image(self, media_id: str = "media-1", pic_url: str = "http://mmbiz.qpic.cn/x.jpg") -> str | None:
        return self.reply(self.fields("image", PicUrl=pic_url, MediaId=media_id))

    def send_location(self, lat: float = 39.9, lon: float = 116.4, label: str = "社区活动中心") -> str | None:
        return self.reply(self.fields("location", Location_X=lat, Location_Y=lon, Scale=15, Label=label))
