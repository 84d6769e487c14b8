"""A fake of the WeChat Official Account API that we own: a real HTTP server on 127.0.0.1 for tests and benchmarks.

It speaks the same wire format as https://api.weixin.qq.com/cgi-bin/ for the endpoints the service uses (token,
stable_token, custom/template/mass messages, menu, media, user info, tags), checks access tokens the way WeChat does
(unknown → 40001, expired → 42001, missing → 41001), records every call, and takes faults from a queue
(`inject("message/custom/send", errcode=45015)`, `inject("token", http_status=500)`, `inject(..., latency=2)`).

Run it alone for benchmarks: `python -m tests.fake_wechat_api --port 8901 --latency 0.05`. Out-of-process users
drive it through `/_fake/stats`, `/_fake/reset` and `/_fake/inject` (JSON bodies with the `inject()` arguments).
"""
from __future__ import annotations

import argparse
import json
import secrets
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40007: "invalid media_id",
    40008: "invalid message type",
    40013: "invalid appid",
    40014: "invalid access_token",
    40016: "invalid button size",
    40017: "invalid button type",
    40018: "invalid button name size",
    40019: "invalid button key size",
    40020: "invalid button url size",
    40023: "invalid sub button size",
    40025: "invalid sub button name size",
    40026: "invalid sub button key size",
    40027: "invalid sub button url size",
    40037: "invalid template_id",
    40125: "invalid appsecret",
    40130: "invalid openid list size, at least two openid",
    41001: "access_token missing",
    42001: "access_token expired",
    43004: "require subscribe",
    44002: "empty post data",
    45002: "content size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit, mustslower retry next minute",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit",
    45065: "clientmsgid exist",
    46003: "menu no exist",
    47001: "data format error",
}

MENU_TYPES = {"click", "view", "miniprogram", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
              "pic_photo_or_album", "pic_weixin", "location_select", "media_id", "view_limited", "article_id",
              "article_view_limited"}
CUSTOM_MSG_TYPES = {"text", "image", "voice", "video", "music", "news", "mpnews", "mpnewsarticle", "msgmenu",
                    "wxcard", "miniprogrampage"}
# 1x1 white JPEG, handy default for registered media.
TINY_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d1a1f1e1d1a"
    "1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ffc4001f0000010501010101"
    "010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d01020300041105122131410613516107"
    "227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a"
    "636465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7"
    "c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008010100003f00fbfcffd9")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # accept bursts of concurrent connections without resets


@dataclass
class Call:
    """One request the fake received."""

    method: str
    path: str  # relative to /cgi-bin/, e.g. "message/custom/send"
    query: dict[str, str]
    json: Any
    body: bytes
    time: float
    access_token: str | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    errcode: int | None = None
    http_status: int | None = None
    latency: float | None = None
    errmsg: str | None = None
    times: int | None = 1  # None: until reset


@dataclass
class _Token:
    value: str
    expires_at: float
    stable: bool = False
    superseded: bool = False  # a newer token was issued: after the grace period WeChat says 40001 "not latest"


class ApiError(Exception):
    def __init__(self, errcode: int, errmsg: str | None = None, **extra: Any):
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "error")
        self.extra = extra


def _error_body(errcode: int, errmsg: str | None = None, **extra: Any) -> dict[str, Any]:
    msg = errmsg or ERRMSG.get(errcode, "error")
    return {"errcode": errcode, "errmsg": f"{msg} rid: {secrets.token_hex(4)}-{secrets.token_hex(4)}", **extra}


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


class FakeWeChatAPI:
    """The fake's state and HTTP server; every public method is thread-safe."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, record: bool = True):
        self.host = host
        self.port = port
        self.record = record
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._routes: dict[tuple[str, str], Callable[[Call], Any]] = {
            ("GET", "token"): self._token,
            ("POST", "stable_token"): self._stable_token,
            ("POST", "message/custom/send"): self._custom_send,
            ("POST", "message/template/send"): self._template_send,
            ("POST", "message/mass/send"): self._mass_send,
            ("POST", "message/mass/sendall"): self._mass_sendall,
            ("POST", "menu/create"): self._menu_create,
            ("GET", "menu/get"): self._menu_get,
            ("GET", "menu/delete"): self._menu_delete,
            ("GET", "media/get"): self._media_get,
            ("POST", "media/upload"): self._media_upload,
            ("GET", "user/info"): self._user_info,
            ("POST", "tags/create"): self._tags_create,
            ("GET", "tags/get"): self._tags_get,
            ("POST", "tags/members/batchtagging"): self._tags_batchtagging,
        }
        self.reset()

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "FakeWeChatAPI":
        handler = type("Handler", (_Handler,), {"fake": self})
        server = _Server((self.host, self.port), handler)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fake-wechat-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeWeChatAPI":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def base_url(self) -> str:
        """What WECHAT_API_BASE should be set to."""
        return f"{self.root_url}cgi-bin/"

    # ------------------------------------------------------------------ configuration
    def reset(self) -> None:
        """Forget calls, tokens, faults, menus, media and settings (back to a fresh account)."""
        with self._lock:
            self._calls: list[Call] = []
            self.counts: Counter[str] = Counter()
            self._faults: dict[str, deque[Fault]] = {}
            self._tokens: dict[str, _Token] = {}
            self._stable: _Token | None = None
            self._seq = 0
            self.latency = 0.0
            self.expires_in = 7200
            self.token_grace = 300.0  # an older token stays valid this long after a new one is issued
            self.credentials: dict[str, str] | None = None  # appid → secret; None accepts any
            self.cs_text_limit: int | None = 2048  # bytes of a customer-service text before 45002
            self.menu: dict[str, Any] | None = None
            self.media: dict[str, tuple[bytes, str]] = {}
            self.users: dict[str, dict[str, Any]] = {}
            self.openid_errors: dict[str, int] = {}
            self.tags: dict[int, str] = {}
            self.tag_members: dict[int, set[str]] = {}
            self._clientmsgids: dict[str, tuple[float, int]] = {}

    def inject(self, path: str, errcode: int | None = None, http_status: int | None = None, times: int | None = 1,
               latency: float | None = None, errmsg: str | None = None) -> None:
        """Queue a fault for `path` ("*" for any path): an errcode JSON answer, an HTTP status, and/or extra latency.

        `times=None` keeps the fault until reset(). A latency-only fault delays and then answers normally.
        """
        with self._lock:
            self._faults.setdefault(path, deque()).append(
                Fault(errcode=errcode, http_status=http_status, latency=latency, errmsg=errmsg, times=times))

    def register_media(self, data: bytes = TINY_JPEG, content_type: str = "image/jpeg",
                       media_id: str | None = None) -> str:
        with self._lock:
            media_id = media_id or f"fake-media-{self._next()}-{secrets.token_hex(6)}"
            self.media[media_id] = (data, content_type)
        return media_id

    def fail_openid(self, openid: str, errcode: int) -> None:
        """Make every custom/template send to `openid` answer `errcode` (e.g. 43004 unsubscribed, 45015 window)."""
        with self._lock:
            self.openid_errors[openid] = errcode

    def expire_tokens(self) -> None:
        """Expire every issued token now (next API call answers 42001)."""
        with self._lock:
            for token in self._tokens.values():
                token.expires_at = min(token.expires_at, time.time() - 1)

    # ------------------------------------------------------------------ inspection
    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def calls_to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.path == path]

    def issued_tokens(self) -> list[str]:
        with self._lock:
            return list(self._tokens)

    # ------------------------------------------------------------------ dispatch
    def _next(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for key in (path, "*"):
                queue = self._faults.get(key)
                if not queue:
                    continue
                fault = queue[0]
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        queue.popleft()
                return fault
        return None

    def handle(self, call: Call) -> tuple[int, str, bytes, dict[str, str]]:
        """Answer one call: (status, content type, body, extra headers)."""
        with self._lock:
            self.counts[call.path] += 1
            if self.record:
                self._calls.append(call)
            latency = self.latency
        fault = self._take_fault(call.path)
        if fault and fault.latency:
            latency += fault.latency
        if latency:
            time.sleep(latency)
        if fault and fault.http_status:
            return fault.http_status, "text/html", f"<html><body>{fault.http_status}</body></html>".encode(), {}
        if fault and fault.errcode is not None:
            return self._json(_error_body(fault.errcode, fault.errmsg))
        route = self._routes.get((call.method, call.path))
        if route is None:
            return 404, "text/html", b"<html><body>404 Not Found</body></html>", {}
        try:
            if call.path not in ("token", "stable_token"):
                self._check_token(call.access_token)
            result = route(call)
        except ApiError as exc:
            return self._json(_error_body(exc.errcode, exc.errmsg, **exc.extra))
        if isinstance(result, tuple):  # raw media answer
            data, content_type, headers = result
            return 200, content_type, data, headers
        return self._json(result)

    @staticmethod
    def _json(payload: dict[str, Any]) -> tuple[int, str, bytes, dict[str, str]]:
        return 200, "application/json; encoding=utf-8", json.dumps(payload, ensure_ascii=False).encode(), {}

    # ------------------------------------------------------------------ token
    def _check_token(self, value: str | None) -> None:
        if not value:
            raise ApiError(41001)
        with self._lock:
            token = self._tokens.get(value)
            if token is None:
                raise ApiError(40001)
            if token.expires_at <= time.time():
                raise ApiError(40001 if token.superseded else 42001)

    def _check_credentials(self, appid: str | None, secret: str | None) -> None:
        if not appid:
            raise ApiError(41002, "appid missing")
        if not secret:
            raise ApiError(41004, "appsecret missing")
        with self._lock:
            creds = self.credentials
        if creds is not None:
            if appid not in creds:
                raise ApiError(40013)
            if creds[appid] != secret:
                raise ApiError(40125)

    def _issue(self, stable: bool) -> _Token:
        now = time.time()
        with self._lock:
            for old in self._tokens.values():  # re-fetching shortens the life of the older tokens
                if old.stable == stable and not old.superseded:
                    old.superseded = True
                    old.expires_at = min(old.expires_at, now + self.token_grace)
            token = _Token(f"FAKE{'S' if stable else ''}_{self._next()}_{secrets.token_urlsafe(24)}",
                           now + self.expires_in, stable)
            self._tokens[token.value] = token
            return token

    def _token(self, call: Call) -> dict[str, Any]:
        """https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html"""
        if call.query.get("grant_type") != "client_credential":
            raise ApiError(40002)
        self._check_credentials(call.query.get("appid"), call.query.get("secret"))
        token = self._issue(stable=False)
        return {"access_token": token.value, "expires_in": self.expires_in}

    def _stable_token(self, call: Call) -> dict[str, Any]:
        """https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/getStableAccessToken.html"""
        body = call.json or {}
        if body.get("grant_type") != "client_credential":
            raise ApiError(40002)
        self._check_credentials(body.get("appid"), body.get("secret"))
        now = time.time()
        with self._lock:
            current = self._stable
            if current is None or body.get("force_refresh") or current.expires_at <= now:
                current = self._stable = self._issue(stable=True)
            return {"access_token": current.value, "expires_in": max(0, int(current.expires_at - now))}

    # ------------------------------------------------------------------ messages
    @staticmethod
    def _body(call: Call) -> dict[str, Any]:
        if not call.body:
            raise ApiError(44002)
        if not isinstance(call.json, dict):
            raise ApiError(47001)
        return call.json

    def _check_openid(self, openid: Any) -> None:
        if not isinstance(openid, str) or not openid:
            raise ApiError(40003)
        with self._lock:
            errcode = self.openid_errors.get(openid)
        if errcode is not None:
            raise ApiError(errcode)

    def _custom_send(self, call: Call) -> dict[str, Any]:
        """https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html"""
        body = self._body(call)
        self._check_openid(body.get("touser"))
        msgtype = body.get("msgtype")
        if msgtype not in CUSTOM_MSG_TYPES or not isinstance(body.get(msgtype), dict):
            raise ApiError(40008)
        if msgtype == "text":
            content = body["text"].get("content")
            if not isinstance(content, str) or not content:
                raise ApiError(44003, "empty content")
            if self.cs_text_limit is not None and _utf8_len(content) > self.cs_text_limit:
                raise ApiError(45002)
        return {"errcode": 0, "errmsg": "ok"}

    def _template_send(self, call: Call) -> dict[str, Any]:
        """https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html"""
        body = self._body(call)
        self._check_openid(body.get("touser"))
        if not body.get("template_id"):
            raise ApiError(40037)
        if not isinstance(body.get("data"), dict):
            raise ApiError(47001)
        return {"errcode": 0, "errmsg": "ok", "msgid": self._next()}

    def _mass_job(self, body: dict[str, Any]) -> dict[str, Any]:
        msgtype = body.get("msgtype")
        if msgtype not in {"text", "image", "voice", "mpvideo", "mpnews", "wxcard"} or msgtype not in body:
            raise ApiError(40008)
        clientmsgid = body.get("clientmsgid")
        now = time.time()
        with self._lock:
            if clientmsgid:
                if len(str(clientmsgid)) > 64:
                    raise ApiError(45067, "clientmsgid size out of limit")
                seen = self._clientmsgids.get(clientmsgid)
                if seen and now - seen[0] < 86400:
                    raise ApiError(45065, msg_id=seen[1])
            msg_id = 1000000000 + self._next()
            if clientmsgid:
                self._clientmsgids[clientmsgid] = (now, msg_id)
        return {"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id, "msg_data_id": msg_id * 10}

    def _mass_send(self, call: Call) -> dict[str, Any]:
        """https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Batch_Sends_and_Originality_Checks.html"""
        body = self._body(call)
        touser = body.get("touser")
        if not isinstance(touser, list) or not 2 <= len(touser) <= 10000:
            raise ApiError(40130)
        if not all(isinstance(o, str) and o for o in touser):
            raise ApiError(40003)
        return self._mass_job(body)

    def _mass_sendall(self, call: Call) -> dict[str, Any]:
        body = self._body(call)
        flt = body.get("filter")
        if not isinstance(flt, dict) or (not flt.get("is_to_all") and flt.get("tag_id") is None
                                         and flt.get("group_id") is None):
            raise ApiError(47001)
        return self._mass_job(body)

    # ------------------------------------------------------------------ menu
    def _menu_create(self, call: Call) -> dict[str, Any]:
        """https://developers.weixin.qq.com/doc/offiaccount/Custom_Menus/Creating_Custom-Defined_Menu.html"""
        body = self._body(call)
        buttons = body.get("button")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
            raise ApiError(40016)
        for button in buttons:
            if not isinstance(button, dict):
                raise ApiError(47001)
            name = button.get("name")
            if not isinstance(name, str) or not name or _utf8_len(name) > 16:
                raise ApiError(40018)
            subs = button.get("sub_button")
            if subs:
                if not isinstance(subs, list) or len(subs) > 5:
                    raise ApiError(40023)
                for sub in subs:
                    if not isinstance(sub, dict):
                        raise ApiError(47001)
                    sub_name = sub.get("name")
                    if not isinstance(sub_name, str) or not sub_name or _utf8_len(sub_name) > 60:
                        raise ApiError(40025)
                    self._check_button(sub, key_err=40026, url_err=40027)
            else:
                self._check_button(button, key_err=40019, url_err=40020)
        with self._lock:
            self.menu = {"button": buttons}
        return {"errcode": 0, "errmsg": "ok"}

    @staticmethod
    def _check_button(button: dict[str, Any], key_err: int, url_err: int) -> None:
        kind = button.get("type")
        if kind not in MENU_TYPES:
            raise ApiError(40017)
        if kind in {"view", "miniprogram"}:
            url = button.get("url")
            if not isinstance(url, str) or not url or _utf8_len(url) > 1024:
                raise ApiError(url_err)
        elif kind in {"media_id", "view_limited"}:
            if not button.get("media_id"):
                raise ApiError(40007)
        elif kind not in {"article_id", "article_view_limited"}:
            key = button.get("key")
            if not isinstance(key, str) or not key or _utf8_len(key) > 128:
                raise ApiError(key_err)

    def _menu_get(self, call: Call) -> dict[str, Any]:
        with self._lock:
            if self.menu is None:
                raise ApiError(46003)
            return {"menu": self.menu}

    def _menu_delete(self, call: Call) -> dict[str, Any]:
        with self._lock:
            self.menu = None
        return {"errcode": 0, "errmsg": "ok"}

    # ------------------------------------------------------------------ media
    def _media_get(self, call: Call) -> tuple[bytes, str, dict[str, str]]:
        """https://developers.weixin.qq.com/doc/offiaccount/Asset_Management/Get_temporary_materials.html"""
        media_id = call.query.get("media_id", "")
        with self._lock:
            found = self.media.get(media_id)
        if found is None:
            raise ApiError(40007)
        data, content_type = found
        ext = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "audio/amr": "amr"}.get(content_type, "bin")
        return data, content_type, {"Content-disposition": f'attachment; filename="{media_id}.{ext}"'}

    def _media_upload(self, call: Call) -> dict[str, Any]:
        """https://developers.weixin.qq.com/doc/offiaccount/Asset_Management/New_temporary_materials.html"""
        kind = call.query.get("type")
        if kind not in {"image", "voice", "video", "thumb"}:
            raise ApiError(40004, "invalid media type")
        content_type = call.headers.get("content-type", "")
        if "multipart/form-data" not in content_type:
            raise ApiError(41005, "media data missing")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + call.body)
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "media":
                data = part.get_payload(decode=True) or b""
                media_id = self.register_media(data, part.get_content_type())
                return {"type": kind, "media_id": media_id, "created_at": int(time.time())}
        raise ApiError(41005, "media data missing")

    # ------------------------------------------------------------------ users and tags
    def _user_info(self, call: Call) -> dict[str, Any]:
        """https://developers.weixin.qq.com/doc/offiaccount/User_Management/Get_users_basic_information_UnionID.html"""
        openid = call.query.get("openid")
        if not openid:
            raise ApiError(40003)
        with self._lock:
            known = self.users.get(openid)
        if known is not None:
            return {"openid": openid, **known}
        return {"subscribe": 1, "openid": openid, "language": "zh_CN", "subscribe_time": 1700000000,
                "remark": "", "groupid": 0, "tagid_list": [], "subscribe_scene": "ADD_SCENE_QR_CODE",
                "qr_scene": 0, "qr_scene_str": ""}

    def _tags_create(self, call: Call) -> dict[str, Any]:
        name = (self._body(call).get("tag") or {}).get("name")
        if not isinstance(name, str) or not name or _utf8_len(name) > 30:
            raise ApiError(45158, "tag name too long")
        with self._lock:
            if name in self.tags.values():
                raise ApiError(45157, "invalid tag name")
            tag_id = 100 + self._next()
            self.tags[tag_id] = name
        return {"tag": {"id": tag_id, "name": name}}

    def _tags_get(self, call: Call) -> dict[str, Any]:
        with self._lock:
            return {"tags": [{"id": i, "name": n, "count": len(self.tag_members.get(i, ()))}
                             for i, n in self.tags.items()]}

    def _tags_batchtagging(self, call: Call) -> dict[str, Any]:
        body = self._body(call)
        tag_id, openids = body.get("tagid"), body.get("openid_list")
        with self._lock:
            if tag_id not in self.tags:
                raise ApiError(45159, "invalid tag id")
            if not isinstance(openids, list) or not 1 <= len(openids) <= 50:
                raise ApiError(40032, "invalid openid list size")
            self.tag_members.setdefault(tag_id, set()).update(openids)
        return {"errcode": 0, "errmsg": "ok"}

    # ------------------------------------------------------------------ control endpoints (standalone use)
    def control(self, method: str, path: str, body: Any) -> dict[str, Any]:
        if path == "stats":
            with self._lock:
                return {"counts": dict(self.counts), "tokens": len(self._tokens)}
        if path == "reset" and method == "POST":
            self.reset()
            return {"ok": True}
        if path == "inject" and method == "POST" and isinstance(body, dict):
            self.inject(**body)
            return {"ok": True}
        if path == "config" and method == "POST" and isinstance(body, dict):
            with self._lock:
                for name in ("latency", "expires_in", "token_grace", "cs_text_limit", "record"):
                    if name in body:
                        setattr(self, name, body[name])
            return {"ok": True}
        raise KeyError(path)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeWeChatAPI
    protocol_version = "HTTP/1.1"  # keep-alive, as requests.Session expects
    disable_nagle_algorithm = True  # headers and body go out as two writes: without this, delayed ACKs add ~40 ms
    server_version = "FakeWeChat/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (silence per-request logging)
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parsed: Any = None
        if body and "multipart/" not in (self.headers.get("Content-Type") or ""):
            try:
                parsed = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                parsed = None
        path = parts.path
        if path.startswith("/_fake/"):
            try:
                payload = self.fake.control(method, path[len("/_fake/"):], parsed)
                self._send(200, "application/json", json.dumps(payload).encode(), {})
            except (KeyError, TypeError) as exc:
                self._send(400, "application/json", json.dumps({"error": str(exc)}).encode(), {})
            return
        rel = path[len("/cgi-bin/"):] if path.startswith("/cgi-bin/") else path.lstrip("/")
        call = Call(method=method, path=rel, query=query, json=parsed, body=body, time=time.time(),
                    access_token=query.get("access_token"),
                    headers={k.lower(): v for k, v in self.headers.items()})
        self._send(*self.fake.handle(call))

    def _send(self, status: int, content_type: str, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the fake WeChat API for benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8901)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    parser.add_argument("--expires-in", type=int, default=7200)
    parser.add_argument("--no-record", action="store_true", help="count calls but do not keep them (saves memory)")
    args = parser.parse_args(argv)
    fake = FakeWeChatAPI(args.host, args.port, record=not args.no_record)
    fake.latency = args.latency
    fake.expires_in = args.expires_in
    fake.start()
    print(f"fake WeChat API at {fake.base_url} (latency {args.latency}s)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
