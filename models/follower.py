"""One row per openid that ever wrote to the account: subscription state and interaction times."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Follower(Base):
    __tablename__ = "follower"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscribed: Mapped[bool] = mapped_column(default=True)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_interaction_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Only messages the user typed/sent open WeChat's 48 h customer-service window (menu clicks do not).
    last_message_at: Mapped[Optional[datetime]]
    subscribed_at: Mapped[Optional[datetime]]
    unsubscribed_at: Mapped[Optional[datetime]]
    scene: Mapped[str] = mapped_column(String(128), default="")
    # Remaining pages of a long answer, served one by one on "更多".
    more_pages: Mapped[list[Any]] = mapped_column(JSON, default=list)
