"""Residents' messages to staff (留言): a thread per message, its timeline of entries, and who asked what the bot could
not answer.

A thread lives apart from the message log (`inbound_message`), so the log's retention purge never removes a resident's
request or the answer they were given.
"""
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Optional

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.media import ReceivedPhoto


class ThreadStatus(StrEnum):
    """待处理 → 处理中 (assigned or noted) → 已回复 (a reply went out) → 已办结 (closed; the resident may rate it)."""

    OPEN = "open"
    IN_PROGRESS = "progress"
    REPLIED = "replied"
    CLOSED = "closed"


class ThreadCategory(StrEnum):
    """What the resident says the message is; COMPLAINT (反映问题, incl. discrimination such as 拒租拒住) is sensitive."""

    CONSULT = "consult"  # 政策咨询
    SUGGEST = "suggest"  # 意见建议
    HELP = "help"  # 求助
    COMPLAINT = "complaint"  # 反映问题


class EntryKind(StrEnum):
    RESIDENT = "resident"  # the resident's words (first message, 追加)
    REPLY = "reply"  # staff's answer, delivered to the resident
    NOTE = "note"  # staff-only note, never shown to the resident
    EVENT = "event"  # assigned / closed / rated …: a line in the timeline


class ReplyDelivery(StrEnum):
    """Where a staff reply is on its way to the resident; each reply goes out exactly once."""

    PENDING = "pending"  # not tried yet
    SENDING = "sending"  # claimed by a sender; outcome not yet known
    WAITING = "waiting"  # window closed: goes out with the resident's next message (passive reply)
    SENT = "sent"  # WeChat accepted it (customer-service or template message)
    PASSIVE = "passive"  # delivered as the passive reply to the resident's next message
    FAILED = "failed"  # WeChat refused it for good; visible on the thread
    UNKNOWN = "unknown"  # the call went out and its answer was lost: never re-sent without a person deciding


class ResidentThread(Base):
    """One 留言: receipt LY+date+sequence, the resident (openid), category, status, handler, SLA and rating."""

    __tablename__ = "resident_thread"
    __table_args__ = (
        Index("ix_resident_thread_status_created", "status", "created_at"),
        Index("ix_resident_thread_openid_created", "openid", "created_at"),
        Index("ix_resident_thread_created", "created_at"),  # the inbox's default order, newest first (and dates)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt: Mapped[str] = mapped_column(String(16), unique=True)
    openid: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(16), default=ThreadCategory.CONSULT.value)
    status: Mapped[str] = mapped_column(String(16), default=ThreadStatus.OPEN.value)
    subject: Mapped[str] = mapped_column(String(200), default="")  # the first words, for lists
    phone: Mapped[str] = mapped_column(String(32), default="")
    source: Mapped[str] = mapped_column(String(16), default="wechat")  # wechat | api | unanswered
    assigned_to: Mapped[Optional[int]] = mapped_column(ForeignKey("admin_user.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    due_at: Mapped[Optional[datetime]] = mapped_column(index=True)  # MESSAGE_SLA_HOURS working hours after creation
    first_response_at: Mapped[Optional[datetime]]
    closed_at: Mapped[Optional[datetime]]
    closed_by: Mapped[Optional[int]] = mapped_column(ForeignKey("admin_user.id", ondelete="SET NULL"))
    rating: Mapped[Optional[int]]  # 1 满意 / 2 基本满意 / 3 不满意
    rating_comment: Mapped[str] = mapped_column(String(500), default="")
    rating_asked_at: Mapped[Optional[datetime]]
    rated_at: Mapped[Optional[datetime]]

    entries: Mapped[list["ThreadEntry"]] = relationship(
        back_populates="thread", cascade="all, delete-orphan", order_by="ThreadEntry.id")


class ThreadEntry(Base):
    """A line of a thread's timeline; replies carry their own delivery state."""

    __tablename__ = "thread_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("resident_thread.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[Optional[int]] = mapped_column(ForeignKey("admin_user.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text, default="")
    photos: Mapped[list[Any]] = mapped_column(JSON, default=list)  # media ids / stored paths, at most 3
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # replies only
    delivery: Mapped[Optional[str]] = mapped_column(String(16), index=True)
    channel: Mapped[Optional[str]] = mapped_column(String(16))  # cs | passive | template
    delivered_at: Mapped[Optional[datetime]]
    delivery_error: Mapped[str] = mapped_column(String(255), default="")
    # a template reply's msgid, matched by WeChat's TEMPLATESENDJOBFINISH event (refused later = failed)
    platform_id: Mapped[Optional[str]] = mapped_column(String(64), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    # when the scheduler looks at it next: the retry time while pending, the end of the sender's lease while sending
    next_attempt_at: Mapped[Optional[datetime]]

    thread: Mapped[ResidentThread] = relationship(back_populates="entries")
    photo_files: Mapped[list["ThreadPhoto"]] = relationship(cascade="all, delete-orphan", order_by="ThreadPhoto.id")


class ThreadPhoto(ReceivedPhoto, Base):
    """A photo a resident sent with their words; downloaded by the media job like report photos (MediaId expires
    in 3 days), under media_dir/messages/."""

    __tablename__ = "thread_photo"
    MEDIA_FOLDER = "messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("thread_entry.id", ondelete="CASCADE"), index=True)


class ThreadReceiptCounter(Base):
    """Last LY receipt sequence handed out on a day; incremented in place so concurrent messages never share one."""

    __tablename__ = "thread_receipt_counter"

    day: Mapped[date] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class UnansweredAsker(Base):
    """Who asked an unanswered question, so staff can answer the people who asked it (same reply path as a thread)."""

    __tablename__ = "unanswered_asker"
    __table_args__ = (Index("ix_unanswered_asker_question_openid", "question_id", "openid", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("unanswered_question.id", ondelete="CASCADE"))
    openid: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")  # their own words
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_thread_id: Mapped[Optional[int]] = mapped_column(ForeignKey("resident_thread.id", ondelete="SET NULL"))
