"""WeChat's wire protocol: signatures, safe-mode AES, XML parsing into `Inbound`, and rendering replies.

Official reference: https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Message_encryption_and_decryption_instructions.html
It also builds requests the way WeChat sends them, for the tests and the local simulator.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any, Mapping
from urllib.parse import unquote_plus
from xml.parsers import expat

from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from service.chat.contract import Inbound
from service.core import clock
from service.core.config import Settings

CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class InvalidSignature(Exception):
    """The request was not signed with our token: answer 403, store nothing."""


class MalformedMessage(Exception):
    """The body is not a WeChat message we can read: answer 400."""


@dataclass(frozen=True)
class Envelope:
    """How the request came in, so the reply goes back the same way."""

    encrypted: bool
    timestamp: str
    nonce: str
    aes_key: str = ""  # the EncodingAESKey that decrypted the message: the reply is encrypted with it
    body_text: str = ""  # the body as decoded for parsing (control characters stripped), for the message log

    @property
    def replay_key(self) -> str:
        """The signed (timestamp, nonce) pair, stored with the message under a unique index (inbox.py): WeChat's
        retry of a message carries it again with the same message, anyone replaying it with another is refused.
        Timestamp first, so that new keys go to the end of the index."""
        return bounded(f"{self.timestamp}:{self.nonce}", 64)


def sign(*parts: str) -> str:
    """sha1 over the sorted concatenation: `signature` (token, timestamp, nonce) or `msg_signature` (+ Encrypt)."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _same(expected: str, given: str) -> bool:
    """Constant-time comparison that also copes with non-ASCII garbage in the query string."""
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8", "surrogatepass"))


def query_fields(query: str) -> dict[str, str]:
    """A query string's fields, each name's first value, as werkzeug's `request.args.get` reads them (escapes
    that are not UTF-8 aside: those become U+FFFD here, and no signature matches them either way).

    WeChat's are a handful of plain tokens (signature, timestamp, nonce, openid, encrypt_type, msg_signature);
    splitting them here costs a fraction of building werkzeug's MultiDict, on every message.
    """
    fields: dict[str, str] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        if "%" in pair or "+" in pair:
            name, value = unquote_plus(name, errors="replace"), unquote_plus(value, errors="replace")
        fields.setdefault(name, value)
    return fields


def check_signature(settings: Settings, args: Mapping[str, str], now: float | None = None) -> None:
    """The origin `signature` over (token, timestamp, nonce), and a timestamp within the replay window of `now`
    (epoch seconds; the app's clock by default): a signature copied from a log stops working once it is older
    than WECHAT_REPLAY_WINDOW_SECONDS, and within that the nonce is remembered (inbox.py)."""
    signature, timestamp, nonce = args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", "")
    if not (signature and timestamp and nonce) or not _same(sign(settings.wechat_token, timestamp, nonce), signature):
        raise InvalidSignature("bad or missing signature")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise InvalidSignature("timestamp is not a number of seconds")
    if abs((clock.now().timestamp() if now is None else now) - int(timestamp)) > settings.wechat_replay_window_seconds:
        raise InvalidSignature("timestamp outside the replay window")


def _crypto(settings: Settings, aes_key: str = "") -> WeChatCrypto:
    return WeChatCrypto(settings.wechat_token, aes_key or settings.wechat_aes_key, settings.wechat_appid)


def _decrypt(settings: Settings, encrypted: str, msg_signature: str, envelope: Envelope) -> tuple[str, str]:
    """The plaintext XML and the key that decrypted it: the current EncodingAESKey, else the previous one.

    While an administrator changes the key in WeChat's console, messages encrypted with the old one may still
    arrive (wechat-platform.md, key rotation): WECHAT_AES_KEY_PREVIOUS keeps them readable, and each is answered
    with the key it came with. A message neither key decrypts is refused as the current key refuses it.
    """
    wrapped = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    first: Exception | None = None
    for key in (settings.wechat_aes_key, settings.wechat_aes_key_previous):
        if not key:
            continue
        try:
            return _crypto(settings, key).decrypt_message(wrapped, msg_signature, envelope.timestamp,
                                                          envelope.nonce), key
        except Exception as exc:  # a wrong key shows as a foreign appid, bad padding or garbage
            first = first or exc
    if isinstance(first, (InvalidAppIdException, InvalidSignatureException)):
        raise InvalidSignature(f"decryption refused: {type(first).__name__}") from first
    raise MalformedMessage(f"cannot decrypt: {first}") from first


class _Forbidden(Exception):
    """A DTD, an entity declaration or an external reference: never in a WeChat message (XXE, billion laughs)."""


def _refuse(*_args: Any) -> None:
    raise _Forbidden


# The most elements a message may have: WeChat's largest (a pic_photo_or_album event of 9 pictures) has about 40.
MAX_ELEMENTS = 1000


class _TooLarge(Exception):
    """More than MAX_ELEMENTS elements."""


def _parse_fields(text: str) -> Any:
    """XML → the root's value: a dict of its children (repeated tags as lists) or a leaf's stripped text.

    Straight from expat events, without building an element tree (this runs for every message), and refusing
    any DOCTYPE, entity declaration or external entity, as defusedxml does with forbid_dtd/entities/external.
    Linear in the body, and at most MAX_ELEMENTS elements: a megabyte of `<Z/>` is refused at the 1,001st.
    """
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.UnparsedEntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse
    # one frame per open element: [its children by tag, or None while it has none; its text pieces]
    stack: list[list[Any]] = [[None, []]]
    budget = [MAX_ELEMENTS]

    def start(_tag: str, _attrs: Any) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooLarge
        stack.append([None, []])

    def characters(data: str) -> None:
        stack[-1][1].append(data)

    def end(tag: str) -> None:
        children, pieces = stack.pop()
        value = children if children is not None else "".join(pieces).strip()
        parent = stack[-1]
        if parent[0] is None:
            parent[0] = {}
        fields = parent[0]
        if tag in fields:  # repeated tags (PicList/item) become a list (only they do: values are dicts or text)
            existing = fields[tag]
            if isinstance(existing, list):
                existing.append(value)
            else:
                fields[tag] = [existing, value]
        else:
            fields[tag] = value

    parser.StartElementHandler, parser.CharacterDataHandler, parser.EndElementHandler = start, characters, end
    try:
        parser.Parse(text, True)
    except _Forbidden:
        raise MalformedMessage("forbidden XML construct: DTD or entity") from None
    except _TooLarge:
        raise MalformedMessage(f"more than {MAX_ELEMENTS} XML elements") from None
    except expat.ExpatError as exc:
        raise MalformedMessage(f"not XML: {exc}") from exc
    (root,) = stack[0][0].values()
    return root


def decode_body(body: bytes) -> dict[str, Any]:
    """Bytes → flat-ish dict of the <xml> root, with control characters stripped first."""
    return _fields(_body_text(body))


def _body_text(body: bytes) -> str:
    if not body or not body.strip():
        raise MalformedMessage("empty body")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage("body is not UTF-8") from exc
    return CONTROL_CHARS.sub("", text)


def _fields(text: str) -> dict[str, Any]:
    data = _parse_fields(text)
    if not isinstance(data, dict):
        raise MalformedMessage("root element has no fields")
    return data


def decode_request(settings: Settings, args: Mapping[str, str], body: bytes,
                   now: float | None = None) -> tuple[dict[str, Any], Envelope]:
    """Verify `signature` and its timestamp (always), then `msg_signature` and decrypt an encrypted message.

    The encryption mode decides which messages are accepted: safe mode only encrypted ones (a plaintext body,
    with `encrypt_type=raw` or none, would let whoever holds one signed query string write any message), plain
    mode only plaintext, compatible mode both, each answered in its own form (encode_reply).
    """
    check_signature(settings, args, now)
    aes = args.get("encrypt_type", "raw").lower() == "aes"
    mode = settings.encrypt_mode
    if mode != "compatible" and aes != (mode == "safe"):
        raise InvalidSignature(f"{'an encrypted' if aes else 'a plaintext'} message in {mode} mode")
    text = _body_text(body)
    envelope = Envelope(aes, args["timestamp"], args["nonce"], body_text=text)
    data = _fields(text)
    if envelope.encrypted:
        encrypted = data.get("Encrypt")
        if not encrypted or not isinstance(encrypted, str):
            raise MalformedMessage("encrypt_type=aes without an Encrypt field")
        msg_signature = args.get("msg_signature", "")
        if not msg_signature or not _same(
                sign(settings.wechat_token, envelope.timestamp, envelope.nonce, encrypted), msg_signature):
            raise InvalidSignature("bad or missing msg_signature")
        plain, key = _decrypt(settings, encrypted, msg_signature, envelope)
        envelope = replace(envelope, aes_key=key)
        data = decode_body(plain.encode("utf-8") if isinstance(plain, str) else plain)
    if not data.get("MsgType") or not isinstance(data["MsgType"], str):
        raise MalformedMessage("no MsgType")
    if len(str(data.get("FromUserName", ""))) > 64:
        raise MalformedMessage("FromUserName is not an openid")
    return data, envelope


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    """An integer that fits a BIGINT column, else None."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if -2**63 <= number < 2**63 else None


def to_inbound(data: dict[str, Any]) -> Inbound:
    """Normalise the parsed XML into `Inbound`, whatever the type; unknown types keep their raw fields."""
    kind = str(data.get("MsgType", "")).strip().lower()
    event = str(data.get("Event", "")).strip().lower() or None if kind == "event" else None
    event_key = data.get("EventKey", "")
    event_key = event_key if isinstance(event_key, str) else ""
    inbound = Inbound(
        openid=str(data.get("FromUserName", "")),
        kind=kind,
        event=event,
        event_key=event_key,
        content=str(data.get("Content") or data.get("Recognition") or "") if kind in ("text", "voice") else "",
        media_id=str(data.get("MediaId", "") or ""),
        pic_url=str(data.get("PicUrl", "") or ""),
        msg_id=_int(data.get("MsgId") or data.get("MsgID")),
        create_time=_int(data.get("CreateTime")) or 0,
        raw=data,
    )
    if kind == "location":
        inbound.latitude, inbound.longitude = _float(data.get("Location_X")), _float(data.get("Location_Y"))
        inbound.label = str(data.get("Label", "") or "")
    elif event == "location":
        inbound.latitude, inbound.longitude = _float(data.get("Latitude")), _float(data.get("Longitude"))
    elif event == "location_select" and isinstance(data.get("SendLocationInfo"), dict):
        info = data["SendLocationInfo"]
        inbound.latitude, inbound.longitude = _float(info.get("Location_X")), _float(info.get("Location_Y"))
        inbound.label = str(info.get("Label") or info.get("Poiname") or "")
    elif kind == "link":
        inbound.content = str(data.get("Title", "") or "")
    if event == "subscribe" and event_key.startswith("qrscene_"):
        inbound.event_key = event_key[len("qrscene_"):]
    return inbound


def dedupe_key(inbound: Inbound) -> str:
    """Messages: MsgId+FromUserName+CreateTime; events: FromUserName+CreateTime+Event+EventKey (hashed if long)."""
    return bounded(_raw_dedupe_key(inbound), 255)


def bounded(key: str, limit: int) -> str:
    """`key` if it fits a column of `limit` characters, else its start and a hash of the whole, `limit` long."""
    if len(key) <= limit:
        return key
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:min(64, limit // 2)]
    return key[:limit - len(digest) - 1] + "#" + digest


def _raw_dedupe_key(inbound: Inbound) -> str:
    msg_id = inbound.raw.get("MsgId") or inbound.raw.get("MsgID")
    if inbound.kind != "event" and isinstance(msg_id, str) and msg_id:
        return f"m:{msg_id}:{inbound.openid}:{inbound.raw.get('CreateTime', '')}"
    key = inbound.raw.get("EventKey", "")
    return f"e:{inbound.openid}:{inbound.raw.get('CreateTime', '')}:{inbound.event or inbound.kind}:{key}"


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_text_reply(inbound: Inbound, to_account: str, text: str, now: int | None = None) -> str:
    return (f"<xml><ToUserName>{_cdata(inbound.openid)}</ToUserName>"
            f"<FromUserName>{_cdata(to_account)}</FromUserName>"
            f"<CreateTime>{now or int(time.time())}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content>{_cdata(text)}</Content></xml>")


def encode_reply(settings: Settings, envelope: Envelope, inbound: Inbound, reply: str | None) -> str:
    """The one place replies become wire format: `success` for nothing, text XML, encrypted in safe mode."""
    if reply is None or reply == "":
        return "success"
    xml = render_text_reply(inbound, str(inbound.raw.get("ToUserName", "")), CONTROL_CHARS.sub("", reply))
    if envelope.encrypted:
        return _crypto(settings, envelope.aes_key).encrypt_message(xml, envelope.nonce, envelope.timestamp)
    return xml


def decrypt_reply(settings: Settings, body: str) -> dict[str, Any]:
    """Read an encrypted reply back (tests and simulator): check MsgSignature, decrypt, parse."""
    outer = decode_body(body.encode("utf-8"))
    plain = _crypto(settings).decrypt_message(body, outer.get("MsgSignature", ""), outer.get("TimeStamp", ""),
                                              outer.get("Nonce", ""))
    return decode_body(plain.encode("utf-8") if isinstance(plain, str) else plain)


# ---- the WeChat side, for tests and the simulator -------------------------------------------------------------

def message_xml(fields: Mapping[str, Any]) -> str:
    """Build inbound XML the way WeChat writes it (numbers bare, strings in CDATA, nested dicts as elements)."""
    def render(name: str, value: Any) -> str:
        if isinstance(value, Mapping):
            return f"<{name}>" + "".join(render(k, v) for k, v in value.items()) + f"</{name}>"
        if isinstance(value, list):
            return "".join(render(name, v) for v in value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return f"<{name}>{value}</{name}>"
        return f"<{name}>{_cdata(str(value))}</{name}>"

    return "<xml>" + "".join(render(k, v) for k, v in fields.items()) + "</xml>"


def wechat_request(settings: Settings, xml: str, encrypted: bool | None = None,
                   timestamp: str | None = None, nonce: str | None = None) -> tuple[dict[str, str], bytes]:
    """Query args and body of a POST as WeChat would send it (signed; encrypted in safe mode)."""
    encrypted = settings.safe_mode if encrypted is None else encrypted
    timestamp = timestamp or str(int(clock.now().timestamp()))
    nonce = nonce or str(secrets.randbelow(10**9))
    args = {"signature": sign(settings.wechat_token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
            "openid": ""}
    if not encrypted:
        return args, xml.encode("utf-8")
    wrapped = _crypto(settings).encrypt_message(xml, nonce, timestamp)
    outer = decode_body(wrapped.encode("utf-8"))
    args.update(encrypt_type="aes", msg_signature=outer["MsgSignature"])
    body = f"<xml><ToUserName><![CDATA[{settings.wechat_appid}]]></ToUserName><Encrypt><![CDATA[{outer['Encrypt']}]]></Encrypt></xml>"
    return args, body.encode("utf-8")


def read_reply(settings: Settings, body: str) -> dict[str, Any] | None:
    """Parse what /wechat answered (plain or encrypted); None for `success`/empty."""
    if body in ("", "success"):
        return None
    data = decode_body(body.encode("utf-8"))
    if "Encrypt" in data:
        return decrypt_reply(settings, body)
    return data
