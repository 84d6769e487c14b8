"""Grassroots staff who report for a unit, the one-time codes that bind their WeChat openid, and failed bind tries."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TimestampMixin, utcnow
from models.unit import Unit


class Staff(TimestampMixin, Base):
    """A unit's liaison; `openid` is set once they bind their WeChat account (one openid ↔ one staff member)."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str] = mapped_column(String(32), default="")
    openid: Mapped[Optional[str]] = mapped_column(String(64), unique=True)
    bound_at: Mapped[Optional[datetime]]
    active: Mapped[bool] = mapped_column(default=True)

    unit: Mapped[Unit] = relationship(lazy="joined")


class BindingCode(Base):
    """A one-time code an administrator hands to a staff member; only its SHA-256 is stored.

    Usable while `used_at` is None, `revoked` is false and `expires_at` lies ahead. Issuing a new code for the
    same staff member revokes the older unused ones.
    """

    __tablename__ = "binding_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[Optional[datetime]]
    used_by_openid: Mapped[Optional[str]] = mapped_column(String(64))
    revoked: Mapped[bool] = mapped_column(default=False)


class BindingAttempt(Base):
    """One failed `绑定 CODE` (wrong, used, revoked or expired code); counted per openid to lock out guessing."""

    __tablename__ = "binding_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    reason: Mapped[str] = mapped_column(String(16))  # wrong / used / expired / revoked
