"""The single time seam: every 'now' and 'today' in Asia/Shanghai comes from here so tests can pin it."""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from models.base import set_clock

TZ = ZoneInfo("Asia/Shanghai")

_override: Callable[[], datetime] | None = None


def now() -> datetime:
    """Aware datetime in Asia/Shanghai."""
    if _override is not None:
        return _override().astimezone(TZ)
    return datetime.now(TZ)


def today() -> date:
    return now().date()


def local(dt: datetime) -> datetime:
    """Convert a stored (possibly naive UTC, as SQLite returns) datetime to Asia/Shanghai."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(TZ)


def set_now(fn: Callable[[], datetime] | None) -> None:
    """Pin the clock (tests) or restore the real one with None."""
    global _override
    _override = fn
    set_clock(fn)  # column defaults such as created_at follow the same clock
