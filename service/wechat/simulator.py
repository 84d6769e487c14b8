"""The local simulator's engine: turn a browser action into the XML WeChat would POST, send it, read the answer.

Flask-free: the caller passes a `Transport` that delivers a signed request to /wechat (the handler uses the app's
own WSGI stack), so every simulated message takes the production path — signature, safe-mode AES, exactly-once
inbox, router, reply encoding. Pictures picked in the browser are stored under `settings.media_dir` so the image
message carries a MediaId and a PicUrl that resolve to a real file.
"""
from __future__ import annotations

import hashlib
import itertools
import re
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional

from service.chat.menu import CUSTOM_MENU, key_fits
from service.core.config import Settings
from service.reporting import media
from service.wechat import texts
from service.wechat.protocol import MalformedMessage, message_xml, read_reply, wechat_request

# (query args, body) -> (HTTP status, response text)
Transport = Callable[[Mapping[str, str], bytes], tuple[int, str]]

ACCOUNT = "gh_qijin_simulator"  # ToUserName of simulated messages (the official account's original id)
OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_TEXT = 2000
MAX_PICTURE = 2 * 1024 * 1024  # WeChat's limit for images
PIC_EVENTS = ("pic_sysphoto", "pic_photo_or_album", "pic_weixin")
IMAGE_TYPES = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"), (b"GIF89a", "gif"))

_msg_ids = itertools.count(int(time.time() * 1000) * 1000)


class SimulatorInputError(ValueError):
    """The browser sent something the simulator cannot turn into a WeChat message; `str(exc)` is Chinese."""


@dataclass(frozen=True)
class Exchange:
    """One POST to /wechat and what came back."""

    raw_request_xml: str
    status: int
    raw_response: str
    reply: Optional[str]  # the text the user would see; None when WeChat gets `success`
    reply_type: Optional[str] = None


@dataclass(frozen=True)
class Picture:
    media_id: str
    filename: str
    md5: str


# ---- pictures -------------------------------------------------------------------------------------------------

def store_picture(settings: Settings, data: bytes) -> Picture:
    """Keep an uploaded picture in the local uploads (reporting.media), under a `sim_…` media id (JPG/PNG/GIF up
    to 2 MB), so the photo job reads it from there instead of asking WeChat, which never issued that id."""
    if not data:
        raise SimulatorInputError(texts.NO_FILE)
    if len(data) > MAX_PICTURE:
        raise SimulatorInputError(texts.TOO_BIG)
    ext = next((e for magic, e in IMAGE_TYPES if data.startswith(magic)), None)
    if ext is None:
        raise SimulatorInputError(texts.NOT_IMAGE)
    media_id = "sim_" + secrets.token_hex(16)
    path = media.store_local_upload(settings.media_dir, media_id, ext, data)
    return Picture(media_id, path.name, hashlib.md5(data).hexdigest())


def picture_path(settings: Settings, media_id: str) -> Optional[Path]:
    """The stored file of a simulator media id, or None."""
    return media.local_upload(settings.media_dir, media_id)


# ---- actions → WeChat message fields ----------------------------------------------------------------------------

def _base(openid: str, msg_type: str, now: int) -> dict[str, Any]:
    return {"ToUserName": ACCOUNT, "FromUserName": openid, "CreateTime": now, "MsgType": msg_type}


def _message(openid: str, msg_type: str, now: int, **extra: Any) -> dict[str, Any]:
    return {**_base(openid, msg_type, now), **extra, "MsgId": next(_msg_ids)}


def _event(openid: str, event: str, now: int, key: str = "", **extra: Any) -> dict[str, Any]:
    return {**_base(openid, "event", now), "Event": event, "EventKey": key, **extra}


def _key(action: Mapping[str, Any]) -> str:
    key = str(action.get("key") or "").strip()
    if not key_fits(key):
        raise SimulatorInputError(texts.BAD_KEY)
    return key


def _location(action: Mapping[str, Any]) -> tuple[float, float, str]:
    try:
        lat, lon = float(action.get("lat")), float(action.get("lon"))
    except (TypeError, ValueError):
        raise SimulatorInputError(texts.BAD_LOCATION) from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise SimulatorInputError(texts.BAD_LOCATION)
    return lat, lon, str(action.get("label") or "")[:100]


def _picture(action: Mapping[str, Any]) -> tuple[str, str]:
    media_id = str(action.get("media_id") or "")
    if not media.LOCAL_UPLOAD_ID.match(media_id):
        raise SimulatorInputError(texts.BAD_MEDIA)
    return media_id, str(action.get("pic_url") or "")[:500]


def _text(openid: str, action: Mapping[str, Any], now: int) -> list[dict[str, Any]]:
    content = str(action.get("content") or "")
    if not content.strip():
        raise SimulatorInputError(texts.EMPTY_TEXT)
    if len(content) > MAX_TEXT:
        raise SimulatorInputError(texts.TEXT_TOO_LONG.format(limit=MAX_TEXT))
    return [_message(openid, "text", now, Content=content)]


def _voice(openid: str, action: Mapping[str, Any], now: int) -> list[dict[str, Any]]:
    """A voice message with WeChat's speech recognition: the typed words stand for what was said."""
    [message] = _text(openid, action, now)
    return [_message(openid, "voice", now, MediaId=f"sim_voice_{message['MsgId']}", Format="amr",
                     Recognition=message["Content"])]


def _click(openid: str, action: Mapping[str, Any], now: int) -> list[dict[str, Any]]:
    return [_event(openid, "CLICK", now, _key(action))]


def _subscribe(openid: str, action: Mapping[str, Any], now: int) -> list[dict[str, Any]]:
    return [_event(openid, "subscribe", now)]


def _unsubscribe(openid: str, action: Mapping[str, Any], now: int) -> list[dict[str, Any]]:
    return [_event(openid, "unsubscribe", now)]


def _image(openid: str, action: Mapping[str, Any], now: int) -> list[dict[str, Any]]:
    media_id, pic_url = _picture(action)
    return [_message(openid, "image", now, PicUrl=pic_url, MediaId=media_id)]


def _location_message(openid: str, action: Mapping[str, Any], now: int) -> list[dict[str, Any]]:
    lat, lon, label = _location(action)
    return [_message(openid, "location", now, Location_X=lat, Location_Y=lon, Scale=15, Label=label)]


def _pic_event(openid: str, action: Mapping[str, Any], now: int) -> list[dict[str, Any]]:
    """A pic_* menu button: WeChat sends the event (with the picture's MD5), then the image message itself."""
    event = str(action.get("event") or "")
    if event not in PIC_EVENTS:
        raise SimulatorInputError(texts.BAD_EVENT.format(event=event))
    media_id, pic_url = _picture(action)
    md5 = re.sub(r"[^0-9a-f]", "", str(action.get("md5") or "").lower())[:32]
    info = {"Count": 1, "PicList": {"item": {"PicMd5Sum": md5}}}
    return [_event(openid, event, now, _key(action), SendPicsInfo=info),
            _message(openid, "image", now, PicUrl=pic_url, MediaId=media_id)]


def _location_select(openid: str, action: Mapping[str, Any], now: int) -> list[dict[str, Any]]:
    """The location_select menu button: the event with SendLocationInfo, then a location message."""
    lat, lon, label = _location(action)
    info = {"Location_X": lat, "Location_Y": lon, "Scale": 15, "Label": label, "Poiname": label}
    return [_event(openid, "location_select", now, _key(action), SendLocationInfo=info),
            _message(openid, "location", now, Location_X=lat, Location_Y=lon, Scale=15, Label=label)]


ACTIONS: dict[str, Callable[[str, Mapping[str, Any], int], list[dict[str, Any]]]] = {
    "text": _text,
    "voice": _voice,
    "click": _click,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "image": _image,
    "location": _location_message,
    "pic_event": _pic_event,
    "location_select": _location_select,
}


def messages_for(action: Mapping[str, Any], now: Optional[int] = None) -> list[dict[str, Any]]:
    """The message(s) WeChat would send for one browser action, in order."""
    if not isinstance(action, Mapping):
        raise SimulatorInputError(texts.BAD_JSON)
    openid = str(action.get("openid") or "")
    if not OPENID.match(openid):
        raise SimulatorInputError(texts.BAD_OPENID)
    kind = str(action.get("type") or "")
    build = ACTIONS.get(kind)
    if build is None:
        raise SimulatorInputError(texts.BAD_TYPE.format(kind=kind[:32]))
    return build(openid, action, int(now if now is not None else time.time()))


# ---- sending ----------------------------------------------------------------------------------------------------

def deliver(settings: Settings, transport: Transport, fields: Mapping[str, Any]) -> Exchange:
    """Sign (and in safe mode encrypt) one message, post it, and decrypt the reply."""
    xml = message_xml(fields)
    args, body = wechat_request(settings, xml)
    status, text = transport(args, body)
    reply, reply_type = None, None
    if status == 200:
        try:
            data = read_reply(settings, text)
        except MalformedMessage:
            data = {"MsgType": "unreadable", "Content": text}
        if data is not None:
            reply_type = str(data.get("MsgType") or "")
            reply = str(data.get("Content") or "") if reply_type == "text" else repr(data)
    return Exchange(raw_request_xml=xml, status=status, raw_response=text, reply=reply, reply_type=reply_type)


def simulate(settings: Settings, transport: Transport, action: Mapping[str, Any]) -> dict[str, Any]:
    """Run one browser action; the JSON answer carries every exchange plus the last one's fields at top level."""
    exchanges = [asdict(deliver(settings, transport, fields)) for fields in messages_for(action)]
    return {**exchanges[-1], "exchanges": exchanges}


def menu() -> dict[str, Any]:
    """The custom menu the page renders (the same data `menu/create` would push)."""
    return CUSTOM_MENU
