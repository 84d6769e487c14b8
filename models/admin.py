"""Console users (管理员 / 审核员 / 接待员) and the bearer tokens that authenticate the JSON API."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow

ROLE_ADMIN = "admin"  # 管理员: everything
ROLE_REVIEWER = "reviewer"  # 审核员: reports only
ROLE_RECEPTION = "reception"  # 接待员: residents' messages (留言) only


class AdminUser(Base):
    __tablename__ = "admin_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=ROLE_ADMIN)
    active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    # Set for accounts whose password someone else chose (ADMIN_PASSWORD, another administrator): the console asks
    # for a new password before anything else.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    locked_until: Mapped[Optional[datetime]]
    last_login_at: Mapped[Optional[datetime]]
    # Kept in each console session; sign-out and a password change bump it, which ends every session issued before.
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the secret
    prefix: Mapped[str] = mapped_column(String(12))  # first characters, to tell tokens apart in listings
    name: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[Optional[datetime]]
    expires_at: Mapped[datetime]  # refused from then on
    revoked: Mapped[bool] = mapped_column(default=False)

    user: Mapped[AdminUser] = relationship(back_populates="tokens")
