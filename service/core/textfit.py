"""Fit Chinese text into WeChat's passive-reply limit, which counts UTF-8 bytes (2048), not characters."""
from __future__ import annotations

REPLY_LIMIT = 2048


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def unix_newlines(text: str) -> str:
    """Every line ending (\\r\\n from browsers and Windows, a lone \\r) as \\n, as WeChat shows text."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def fit_utf8(text: str, limit: int = REPLY_LIMIT, ellipsis: str = "…") -> str:
    """Cut `text` so its UTF-8 encoding fits `limit` bytes, ending with `ellipsis` when something was cut."""
    if utf8_len(text) <= limit:
        return text
    budget = limit - utf8_len(ellipsis)
    cut = text.encode("utf-8")[:max(budget, 0)].decode("utf-8", "ignore")
    return cut + ellipsis


def split_utf8(text: str, limit: int) -> list[str]:
    """Split into pages of at most `limit` bytes, preferring line breaks, never splitting a character."""
    pages: list[str] = []
    rest = text
    while utf8_len(rest) > limit:
        head = rest.encode("utf-8")[:limit].decode("utf-8", "ignore")
        cut = head.rfind("\n")
        if cut < len(head) // 2:  # no good line break: cut at the byte budget
            cut = len(head)
        pages.append(rest[:cut].rstrip("\n"))
        rest = rest[cut:].lstrip("\n")
    if rest or not pages:
        pages.append(rest)
    return pages
