"""Keep credentials out of stored and logged errors.

A failed WeChat call's exception text carries its URL, and the token URL carries `secret=<AppSecret>` (every other
URL `access_token=<token>`). `redact` is the one function that masks such values; every error text that is stored
(delivery reasons, photo download errors) or shown goes through it (`describe`), and `install_log_redaction` runs
it over every log record, tracebacks included.
"""
from __future__ import annotations

import logging
import re

MASK = "***"
# Names whose values are credentials: secret, appsecret, access_token, refresh_token, password, ... in a query
# string or form (`name=value`), a JSON body (`"name": "value"`) or a repr (`'name': 'value'`).
_NAME = r"(?:[A-Za-z_]*_)?(?:secret|appsecret|token|password|passwd|key)"
_QUERY = re.compile(rf"(?i)\b({_NAME})(=)([^&\s'\"<>()\[\],;]+)")
_QUOTED = re.compile(rf"(?i)([\"']{_NAME}[\"']\s*:\s*[\"'])([^\"']+)([\"'])")


def redact(text: object) -> str:
    """`text` with every credential value replaced by ***."""
    value = str(text)
    value = _QUERY.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", value)
    return _QUOTED.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", value)


def describe(exc: BaseException, limit: int = 255) -> str:
    """An exception as one stored line, 'Type: message', redacted and cut to `limit` characters."""
    return redact(f"{type(exc).__name__}: {exc}")[:limit]


_installed = False


def install_log_redaction() -> None:
    """Redact every log record of this process when it is made (message, arguments and traceback), whatever
    handler later writes it. Idempotent."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = logging.getLogRecordFactory()
    formatter = logging.Formatter()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string is logging's to report, unchanged
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = redact(formatter.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
