"""Declarative base shared by every model, with a naming convention so migrations get stable constraint names."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Optional

from sqlalchemy import DateTime, MetaData
from sqlalchemy.types import TypeDecorator
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


_clock: Optional[Callable[[], datetime]] = None


def utcnow() -> datetime:
    """Timezone-aware 'now' for column defaults; display code converts to Asia/Shanghai.

    Follows `service.core.clock` when it is pinned (tests), so a row's `created_at` agrees with the app's 'now'.
    """
    return (_clock() if _clock is not None else datetime.now(timezone.utc)).astimezone(timezone.utc)


def set_clock(fn: Optional[Callable[[], datetime]]) -> None:
    """Called by service.core.clock.set_now only."""
    global _clock
    _clock = fn


class UTCDateTime(TypeDecorator):
    """An aware datetime stored as UTC on every backend.

    SQLite has no time zone: SQLAlchemy drops tzinfo and stores the wall time, so an Asia/Shanghai `now` would be
    read back 8 hours off (as naive UTC). Converting to UTC on the way in and tagging UTC on the way out makes
    SQLite and PostgreSQL agree; bound parameters in comparisons go through the same conversion.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(timezone.utc)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}

    def __repr__(self) -> str:
        pk = ", ".join(f"{c.name}={getattr(self, c.key, None)!r}" for c in self.__table__.primary_key.columns)
        return f"<{type(self).__name__} {pk}>"


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
