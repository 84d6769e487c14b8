"""What the console's 设置与状态 page reads about background work: the last run of each scheduler job and of the
`sync-menu` command, one row per name, overwritten on every run."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class JobRun(Base):
    """The latest run of one job (a scheduler job id, or `sync-menu`): when, whether it worked, and why not."""

    __tablename__ = "job_run"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[Optional[datetime]]
    finished_at: Mapped[Optional[datetime]]
    ok: Mapped[bool] = mapped_column(default=True)
    detail: Mapped[str] = mapped_column(String(255), default="")
    last_ok_at: Mapped[Optional[datetime]]  # the last run that worked (the latest may have failed)
