"""Domain errors that handlers translate into 4xx answers (HTTP) or Chinese replies (chat)."""
from __future__ import annotations

from typing import Any, Iterable


class DomainError(Exception):
    """`status` is the HTTP status and `code` the short machine string the JSON API answers with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(DomainError):
    """A value the user or client sent is not acceptable; `field` names it."""

    status = 422
    code = "invalid_input"


def refuse_nul(fields: Iterable[tuple[str, Any]]) -> None:
    """Raise InvalidInput naming the first field whose value holds a NUL character anywhere inside (nested lists
    and objects, keys included): PostgreSQL text cannot store one, so it is refused where input arrives."""
    def has_nul(value: Any) -> bool:
        if isinstance(value, str):
            return "\x00" in value
        if isinstance(value, dict):
            return any(has_nul(k) or has_nul(v) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return any(has_nul(v) for v in value)
        return False

    for name, value in fields:
        if has_nul(name) or has_nul(value):
            field = name.replace("\x00", "")
            raise InvalidInput(f"{field} 含有不允许的空字符（\\0）", field)


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class WeChatError(DomainError):
    """An outbound call to the WeChat API did not succeed."""

    status = 502
    code = "wechat_error"


class WeChatAPIError(WeChatError):
    """WeChat answered with a non-zero errcode (e.g. 45015 out of the 48 h window, 45009 daily quota)."""

    # Codes worth retrying later (busy, rate limits, a rejected access_token: WeChat did not act on the call);
    # anything else is final for that request.
    RETRYABLE = frozenset({-1, 45009, 45011, 45066, 40001, 40014, 42001})

    def __init__(self, errcode: int, errmsg: str = "", payload: dict[str, Any] | None = None):
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.payload = payload or {}  # the whole JSON answer (45065 carries the existing msg_id)

    @property
    def retryable(self) -> bool:
        return self.errcode in self.RETRYABLE


class WeChatUnavailable(WeChatError):
    """WeChat could not be reached or answered badly: network error, timeout, HTTP 5xx, lock wait exhausted.
    Raised as such only when the request cannot have been acted on; see `WeChatOutcomeUnknown`."""

    status = 503
    code = "wechat_unavailable"
    retryable = True

    def __init__(self, message: str, http_status: int | None = None):
        super().__init__(message)
        self.http_status = http_status


class WeChatOutcomeUnknown(WeChatUnavailable):
    """The request went out and no usable answer came back (read timeout, connection dropped after sending, a
    gateway error): WeChat may have acted on it. Only a call WeChat de-duplicates (mass send's clientmsgid) may be
    repeated; a customer-service or template message must not be sent again without a person deciding to."""


class WeChatNotConfigured(WeChatUnavailable):
    """WECHAT_SECRET (or the appid) is not set, so no outbound call can be made."""
