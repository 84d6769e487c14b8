"""Chinese phone numbers as people type them, in one stored form: a mobile (13812345678) or a landline with its
area code (0851-86812345, extension 转8001)."""
from __future__ import annotations

import re
import unicodedata

_EXTENSION = re.compile(r"\s*(?:转|分机|ext\.?|x|#)\s*(\d{1,6})$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s\-()（）]+")
_COUNTRY = re.compile(r"^(?:\+86|0086|86(?=\d{10,11}$))")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LOCAL = re.compile(r"[1-9]\d{6,7}")


def parse_phone(text: str) -> str | None:
    """A Chinese mobile (13812345678; +86/86 and spaces or dashes allowed) or landline with its area code
    (0851-86812345, (010) 12345678, extension as 转8001 / -8001), as stored: 13812345678, 0851-86812345转8001.

    Area codes are 010 and 020–029 (three digits) or 0xxx (four). Empty stays empty; None for anything else.
    """
    raw = unicodedata.normalize("NFKC", text or "").strip()
    if not raw:
        return ""
    extension = ""
    if match := _EXTENSION.search(raw):
        extension, raw = match[1], raw[:match.start()]
    groups = [g for g in _SEPARATORS.split(raw) if g]
    number = _phone_number("".join(groups), extension)
    if not number and not extension and len(groups) >= 3 and len(groups[-1]) <= 6:
        number = _phone_number("".join(groups[:-1]), groups[-1])  # 0851-86812345-8001: the last group
    return number or None


def _phone_number(digits: str, extension: str) -> str:
    international = bool(_COUNTRY.match(digits))
    digits = _COUNTRY.sub("", digits)
    if not digits.isdigit():
        return ""
    if _MOBILE.fullmatch(digits):
        return "" if extension else digits
    if international and not digits.startswith("0"):
        digits = "0" + digits  # +86 10 12345678: the trunk 0 is dropped after the country code
    size = 3 if digits.startswith(("010", "02")) else 4
    area, local = digits[:size], digits[size:]
    if not re.fullmatch(r"0(?:10|2\d|[3-9]\d\d)", area) or not _LOCAL.fullmatch(local):
        return ""
    return f"{area}-{local}" + (f"转{extension}" if extension else "")
