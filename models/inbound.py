"""The log of every accepted inbound message; its unique dedupe key makes WeChat's retries exactly-once."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class InboundMessage(Base):
    __tablename__ = "inbound_message"
    # A resident's recent messages on the console's thread page (newest first); measured not to slow the gateway.
    __table_args__ = (Index("ix_inbound_message_openid_id", "openid", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), unique=True)
    openid: Mapped[str] = mapped_column(String(64))
    msg_type: Mapped[str] = mapped_column(String(32))
    event: Mapped[Optional[str]] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(255), default="")
    msg_id: Mapped[Optional[int]] = mapped_column(BigInteger)
    content: Mapped[str] = mapped_column(Text, default="")
    media_id: Mapped[str] = mapped_column(String(255), default="")
    raw_xml: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default="processing")  # processing | done | failed
    reply: Mapped[Optional[str]] = mapped_column(Text)
    handled_at: Mapped[Optional[datetime]]
    # "timestamp:nonce" of the signed request that brought it: unique, so a signature replayed with another
    # message is refused (service/wechat/inbox.py); None for messages stored before it was kept
    replay_key: Mapped[Optional[str]] = mapped_column(String(64), unique=True, index=True)
