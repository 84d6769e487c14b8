"""Announcements administrators schedule, one Delivery row per recipient and occurrence, and the per-user
customer-service quota WeChat grants after each message a user sends (5 messages within 48 h)."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TimestampMixin


class AnnouncementStatus(StrEnum):
    """Announcement.status: where the whole announcement is; stored and shown to administrators as it is."""

    DRAFT = "草稿"
    SCHEDULED = "已排期"
    SENDING = "发送中"  # its deliveries are being planned or sent
    SENT = "已发送"
    PARTIAL = "部分失败"  # finished, some deliveries failed
    CANCELLED = "已取消"


STATUSES = tuple(AnnouncementStatus)


class DeliveryStatus(StrEnum):
    """Delivery.status: where one recipient's message is (the console shows them translated)."""

    PENDING = "pending"  # waiting for its turn or for a retry's backoff
    IN_FLIGHT = "sending"  # claimed by a sender, under a lease; one whose lease ran out was interrupted by a crash
    SENT = "sent"  # WeChat accepted the call
    FAILED = "failed"  # refused for good, or out of retries
    SKIPPED = "skipped"  # nothing to send (unsubscribed, opted out, no channel reaches the user)
    UNKNOWN = "unknown"  # the call may have reached WeChat before it failed: never sent again by itself


FINAL_DELIVERY = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED, DeliveryStatus.UNKNOWN)

# Delivery.channel values.
CS, TEMPLATE, MASS = "cs", "template", "mass"


class Announcement(TimestampMixin, Base):
    """What to say, to whom and when. `kind` is 'announcement' (written by an administrator) or 'system'
    (reminders, digests, report results); `dedupe_key` makes system messages idempotent across scheduler runs."""

    __tablename__ = "announcement"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="announcement")
    dedupe_key: Mapped[Optional[str]] = mapped_column(String(128), unique=True)
    title: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    # audience: {"type": "all"|"topic"|"units"|"categories"|"openids", "topic": .., "unit_ids": [..], ...}
    audience: Mapped[dict[str, Any]] = mapped_column(JSON)
    send_at: Mapped[Optional[datetime]]  # first (or only) time; None while a draft has no time
    recurrence: Mapped[Optional[str]] = mapped_column(String(64))  # e.g. "每周一 9:00"; None = once
    next_run_at: Mapped[Optional[datetime]] = mapped_column(index=True)
    occurrence: Mapped[int] = mapped_column(Integer, default=0)  # occurrences materialised so far
    status: Mapped[str] = mapped_column(String(8), default=AnnouncementStatus.DRAFT.value, index=True)
    created_by: Mapped[Optional[int]] = mapped_column(ForeignKey("admin_user.id"))
    last_sent_at: Mapped[Optional[datetime]]
    cancelled_at: Mapped[Optional[datetime]]


class Delivery(Base):
    """One recipient of one occurrence of an announcement: the unique key is what makes sending exactly-once."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("announcement_id", "openid", "occurrence"),
        Index("ix_delivery_due", "status", "channel", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own: the unique key (announcement_id, openid, occurrence) starts with it
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcement.id", ondelete="CASCADE"))
    occurrence: Mapped[int] = mapped_column(Integer, default=1)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(8), default=DeliveryStatus.PENDING.value)
    channel: Mapped[Optional[str]] = mapped_column(String(8))
    batch: Mapped[Optional[str]] = mapped_column(String(64), index=True)  # mass-send chunk = its clientmsgid
    errcode: Mapped[Optional[int]]
    reason: Mapped[str] = mapped_column(String(255), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[Optional[datetime]]
    lease_until: Mapped[Optional[datetime]]
    claimed_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[Optional[datetime]]
    updated_at: Mapped[Optional[datetime]]


class ServiceWindow(Base):
    """Customer-service messages used in a follower's current window (opened by their last message, 48 h, 5 max).

    `window_start` is the Follower.last_message_at the count belongs to; a newer message starts a fresh window.
    """

    __tablename__ = "service_window"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    window_start: Mapped[datetime]
    used: Mapped[int] = mapped_column(Integer, default=0)
