"""Audit trail of what console users did (approvals, sends, edits, sign-ins), shown to administrators."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)  # console username (kept even if the user goes)
    action: Mapped[str] = mapped_column(String(64), index=True)  # e.g. "report.approve", "announcement.schedule"
    target_type: Mapped[str] = mapped_column(String(32), default="", index=True)
    target_id: Mapped[Optional[str]] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
