"""Shared key/value rows for API credentials (the access_token) and the lease rows that serialise refreshing them."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class StoredToken(Base):
    """One cached credential, read by every process; `expires_at` None means it does not expire."""

    __tablename__ = "stored_token"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)  # WeChat asks for room for >= 512 chars
    expires_at: Mapped[Optional[datetime]]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TokenLock(Base):
    """A lease: the row's existence is the lock; an expired lease may be taken over (its holder crashed)."""

    __tablename__ = "token_lock"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
