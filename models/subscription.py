"""Notice topics a follower subscribed to, and the followers who said 退订 to every notice."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow

# Topic code → name users see; the 1-based position is the number they reply with after 订阅.
TOPICS: dict[str, str] = {"notice": "通知公告", "event": "活动预告", "policy": "政策更新"}


class Subscription(Base):
    """One follower subscribed to one topic."""

    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("openid", "topic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    topic: Mapped[str] = mapped_column(String(16), index=True)  # a key of TOPICS
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NoticeOptOut(Base):
    """A follower who sent 退订: no announcement of any kind reaches them until they subscribe again."""

    __tablename__ = "notice_opt_out"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(default=utcnow)
