"""The one outbound WeChat API client: wechatpy's `WeChatClient` aimed at WECHAT_API_BASE, with timeouts, a shared
token cache and exactly one retry after a token error.

wechatpy 1.8.18 hard-codes https://api.weixin.qq.com/cgi-bin/token (and some sub-APIs' bases), sends requests with
no timeout unless given one, and on 40001/40014/42001 refetches and retries without bound (wechatpy#629 hit
RecursionError, burning the 2000/day token quota). Here every URL under https://api.weixin.qq.com/ is rebased onto
WECHAT_API_BASE, every request carries `timeout=settings.api_timeout`, a token error triggers one refresh (under the
store's lock, so concurrent workers fetch once) and one retry, then the error is raised. wechatpy's exceptions become
`service.core.errors.WeChatAPIError` (errcode answers), `WeChatUnavailable` (WeChat not reached: connection
refused, DNS, connect timeout, 503) or `WeChatOutcomeUnknown` (sent, but no answer: read timeout, connection
dropped, 502/504). Nothing here resends a request whose answer was lost; only the token error retry repeats a call,
and a 40001 answer means WeChat refused it.
Official reference: https://developers.weixin.qq.com/doc/offiaccount/Getting_Started/Overview.html
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterable

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError
from urllib3.util.retry import Retry
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from service.core.config import Settings
from service.core.errors import WeChatAPIError, WeChatNotConfigured, WeChatOutcomeUnknown, WeChatUnavailable
from service.core.redact import redact
from service.wechat_api.token_store import LockTimeout, TokenStore, TokenStoreUnavailable

log = logging.getLogger(__name__)

WECHAT_ORIGIN = "https://api.weixin.qq.com/"
TOKEN_ERRORS = frozenset({40001, 40014, 42001})  # invalid credential / invalid token / expired token
DUPLICATE_CLIENTMSGID = 45065
MENU_MISSING = 46003
POOL_SIZE = 64
# Never resent below us: a POST whose answer timed out may have been carried out by WeChat. Callers decide.
# (requests' own default, spelled out so a later "let's add retries" sees why not.)
NO_RETRY = Retry(total=0, read=False)
# HTTP statuses that say the request was turned away before WeChat acted on it; other 5xx (502 bad gateway,
# 504 gateway timeout, 500) may come after the backend carried it out.
TURNED_AWAY = frozenset({429, 503})


REFRESH_INTERVAL = 60  # seconds: at most one refresh of a rejected token per minute, shared by every process
REFRESHED = ":refreshed"  # store key suffix marking that a rejected token was refreshed within REFRESH_INTERVAL
_throttle_logged: dict[str, float] = {}


def _log_throttled(key: str) -> None:
    """Say (once per interval and process) that a rejected token is not refreshed again yet."""
    now = time.monotonic()
    if now - _throttle_logged.get(key, -REFRESH_INTERVAL) >= REFRESH_INTERVAL:
        _throttle_logged[key] = now
        log.warning("WeChat rejected the access_token again within %ss of the last refresh: not refreshing until "
                    "then (calls fail with the token error and are retried later)", REFRESH_INTERVAL)


def _store_unreachable(exc: TokenStoreUnavailable) -> WeChatUnavailable:
    return WeChatUnavailable(redact(f"the access_token store is unreachable: {exc}"))


def not_sent(exc: requests.RequestException) -> bool:
    """Whether a failed request never reached WeChat: no connection could be made (refused, DNS, connect
    timeout, TLS handshake) or the request could not even be built. A read timeout or a connection dropped after
    the request was written is not such a failure: WeChat may have carried it out."""
    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError,
                        requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None  # urllib3's MaxRetryError
        return isinstance(reason, ConnectTimeoutError)  # NewConnectionError and NameResolutionError included
    return False


def token_ttl(expires_in: int) -> int:
    """Seconds to trust a token: WeChat rotates ~5 min early and old tokens live 5 min after a refetch."""
    return max(1, expires_in - min(300, expires_in // 10))


class ApiClient(WeChatClient):
    """wechatpy's client with every call (token included) sent to `api_base`, a timeout, and a bounded retry."""

    def __init__(self, appid: str, secret: str, store: TokenStore, api_base: str, timeout: float):
        super().__init__(appid, secret, session=store, timeout=timeout, auto_retry=False)
        # Senders share one client across threads; keep that many keep-alive connections instead of urllib3's 10.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE, max_retries=NO_RETRY)
        self._http.mount("http://", adapter)
        self._http.mount("https://", adapter)
        self.API_BASE_URL = api_base if api_base.endswith("/") else api_base + "/"
        self._root = self.API_BASE_URL[: -len("cgi-bin/")] if self.API_BASE_URL.endswith("/cgi-bin/") \
            else self.API_BASE_URL
        self.store = store

    # ------------------------------------------------------------------ configuration
    @property
    def configured(self) -> bool:
        return bool(self.appid and self.secret)

    def _require_config(self) -> None:
        if not self.configured:
            raise WeChatNotConfigured("WECHAT_APPID/WECHAT_SECRET are not set: outbound WeChat calls "
                                      "(customer-service and template messages, menus, media) are disabled")

    def rebase(self, url: str) -> str:
        """Map a hard-coded https://api.weixin.qq.com/... URL onto WECHAT_API_BASE's host."""
        if url.startswith(WECHAT_ORIGIN):
            return self._root + url[len(WECHAT_ORIGIN):]
        return url

    # ------------------------------------------------------------------ token
    @property
    def access_token(self) -> str:
        try:
            token = self.store.get(self.access_token_key)
        except TokenStoreUnavailable as exc:  # before any call: nothing was sent, so it is worth retrying
            raise _store_unreachable(exc) from exc
        if token:
            return token
        return self.fetch_access_token()["access_token"]

    def fetch_access_token(self, stale: str | None = None, force: bool = False) -> dict[str, Any]:
        """Get a token, fetching one from `token` only if the shared store has no usable one.

        Runs under the store's lock and re-reads the store once the lock is held, so when N processes find the
        token missing (or all got 40001 with the same `stale` token) only the first fetches; the others reuse it.
        A refresh because WeChat rejected `stale` happens at most once per REFRESH_INTERVAL across all processes
        (the time is kept in the store): when WeChat rejects a token we have just fetched, fetching again burns the
        2000/day quota without helping. Then the stored token is returned unchanged (`throttled`).
        https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html
        """
        self._require_config()
        key = self.access_token_key
        try:
            with self.store.lock(key + ":refresh"):
                current = self.store.get(key)
                if current and current != stale and not force:
                    return {"access_token": current, "fetched": False}
                if current and stale and not force and self.store.get(key + REFRESHED):
                    _log_throttled(key)
                    return {"access_token": current, "fetched": False, "throttled": True}
                result = self._request_token()
                expires_in = int(result.get("expires_in") or 7200)
                self.store.set(key, result["access_token"], token_ttl(expires_in))
                if stale:
                    self.store.set(key + REFRESHED, str(int(time.time())), REFRESH_INTERVAL)
                self.expires_at = int(time.time()) + expires_in
                log.info("fetched a new WeChat access_token (expires_in=%s%s)", expires_in,
                         ", the previous one was rejected" if stale else "")
                return {**result, "fetched": True}
        except LockTimeout as exc:
            raise WeChatUnavailable("timed out waiting for another process to refresh the access_token") from exc
        except TokenStoreUnavailable as exc:
            raise _store_unreachable(exc) from exc

    def _request_token(self) -> dict[str, Any]:
        params = {"grant_type": "client_credential", "appid": self.appid, "secret": self.secret}
        try:
            res = self._http.get(self.API_BASE_URL + "token", params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise WeChatUnavailable(redact(f"could not reach the WeChat token endpoint: {exc}")) from exc
        if res.status_code >= 400:
            raise WeChatUnavailable(f"the WeChat token endpoint answered HTTP {res.status_code}", res.status_code)
        try:
            result = res.json()
        except ValueError as exc:
            raise WeChatUnavailable("the WeChat token endpoint answered something that is not JSON") from exc
        errcode = int(result.get("errcode") or 0)
        if errcode:
            raise WeChatAPIError(errcode, str(result.get("errmsg", "")), result)
        if not result.get("access_token"):
            raise WeChatUnavailable("the WeChat token endpoint answered without an access_token")
        return result

    # ------------------------------------------------------------------ every request
    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        self._require_config()
        if url_or_endpoint.startswith(("http://", "https://")):
            url = self.rebase(url_or_endpoint)
        else:
            url = self.rebase(kwargs.pop("api_base_url", self.API_BASE_URL)) + url_or_endpoint
        kwargs["timeout"] = kwargs.get("timeout") or self.timeout
        params = kwargs.get("params")
        if params is None:
            params = kwargs["params"] = {}
        caller_token = isinstance(params, dict) and "access_token" in params
        for attempt in (1, 2):
            token = None
            if isinstance(params, dict) and not caller_token:
                token = params["access_token"] = self.access_token
            self._rewind_files(kwargs)
            try:
                return super()._request(method, url, **dict(kwargs))
            except WeChatClientException as exc:
                if exc.errcode in TOKEN_ERRORS and attempt == 1 and not caller_token:
                    log.info("WeChat said %s for %s; refreshing the token and retrying once", exc.errcode, url)
                    if not self.fetch_access_token(stale=token).get("throttled"):
                        continue
                raise self._domain_error(exc, url) from exc
            except requests.RequestException as exc:
                kind = WeChatUnavailable if not_sent(exc) else WeChatOutcomeUnknown
                raise kind(redact(f"WeChat API call failed ({url.split('?')[0]}): {exc}")) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _rewind_files(kwargs: dict[str, Any]) -> None:
        for value in (kwargs.get("files") or {}).values():
            fileobj = value[1] if isinstance(value, tuple) else value
            if hasattr(fileobj, "seek"):
                fileobj.seek(0)

    @staticmethod
    def _domain_error(exc: WeChatClientException, url: str) -> Exception:
        if exc.errcode is None:
            status = exc.response.status_code if exc.response is not None else None
            kind = WeChatOutcomeUnknown if status is not None and status >= 500 and status not in TURNED_AWAY \
                else WeChatUnavailable
            return kind(f"WeChat API answered HTTP {status} ({url.split('?')[0]})", status)
        payload: dict[str, Any] = {}
        if exc.response is not None:
            try:
                payload = exc.response.json()
            except ValueError:
                payload = {}
        log.warning("WeChat API error %s on %s: %s", exc.errcode, url.split("?")[0], exc.errmsg)
        return WeChatAPIError(int(exc.errcode), str(exc.errmsg), payload)

    # ------------------------------------------------------------------ what the service uses
    def send_text(self, openid: str, text: str) -> dict[str, Any]:
        """Customer-service text message (5 per 48 h after the user writes; 45015/45047 beyond that).
        https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Service_Center_messages.html
        """
        return self.message.send_text(openid, text)

    def send_template(self, openid: str, template_id: str, data: dict[str, Any],
                      url: str | None = None) -> dict[str, Any]:
        """Template message; `data` maps keyword → {"value": ...}.
        https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Template_Message_Interface.html
        """
        return self.message.send_template(openid, template_id, data, url=url)

    def mass_send_text(self, openids: Iterable[str], text: str, clientmsgid: str) -> dict[str, Any]:
        """Mass-send text to 2–10,000 openids. A repeated `clientmsgid` (45065) means the job already exists:
        its answer is returned with `duplicate=True` so retries are idempotent.
        https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Batch_Sends_and_Originality_Checks.html
        """
        users = list(openids)
        if not 2 <= len(users) <= 10000:
            raise ValueError(f"mass send takes 2 to 10,000 openids, got {len(users)}")
        try:
            return {**self.message.send_mass_text(users, text, client_msg_id=clientmsgid), "duplicate": False}
        except WeChatAPIError as exc:
            if exc.errcode == DUPLICATE_CLIENTMSGID:
                return {**exc.payload, "duplicate": True}
            raise

    def create_menu(self, menu: dict[str, Any]) -> dict[str, Any]:
        """Replace the custom menu (≤3 top buttons, ≤5 sub buttons; 40018 etc. on bad names).
        https://developers.weixin.qq.com/doc/offiaccount/Custom_Menus/Creating_Custom-Defined_Menu.html
        """
        return self.menu.create(menu)

    def get_menu(self) -> dict[str, Any] | None:
        """The current menu, or None when none exists (46003).
        https://developers.weixin.qq.com/doc/offiaccount/Custom_Menus/Querying_Custom_Menus.html
        """
        try:
            return self.get("menu/get")
        except WeChatAPIError as exc:
            if exc.errcode == MENU_MISSING:
                return None
            raise

    def download_media(self, media_id: str) -> bytes:
        """Bytes of a temporary media file (user photos expire after 3 days, so fetch them promptly).
        https://developers.weixin.qq.com/doc/offiaccount/Asset_Management/Get_temporary_materials.html
        """
        result = self.media.download(media_id)
        if isinstance(result, requests.Response):
            return result.content
        raise WeChatAPIError(-2, f"media/get answered JSON instead of a file for {media_id}", result)


def make_client(settings: Settings, token_store: TokenStore) -> ApiClient:
    """The client every part of the service uses; it degrades to WeChatNotConfigured without WECHAT_SECRET."""
    return ApiClient(settings.wechat_appid, settings.wechat_secret, token_store,
                     api_base=settings.wechat_api_base, timeout=settings.api_timeout)
