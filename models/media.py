"""What every photo received from WeChat keeps: its MediaId expires 3 days after sending, so a background job
downloads it (service/reporting/media.py) and records where it went or why it could not."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import utcnow


class ReceivedPhoto:
    """Columns of a received photo. `download_status` goes pending → done, or → failed once WeChat no longer keeps
    the media (3 days after receipt, or 40007); `last_error` is the latest failure; `local_path` is relative to
    settings.media_dir, under the model's MEDIA_FOLDER."""

    MEDIA_FOLDER = "photos"

    openid: Mapped[str] = mapped_column(String(64), index=True)
    media_id: Mapped[str] = mapped_column(String(128), index=True)
    pic_url: Mapped[str] = mapped_column(String(512), default="")
    local_path: Mapped[str] = mapped_column(String(256), default="")
    download_status: Mapped[str] = mapped_column(String(8), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_tried_at: Mapped[Optional[datetime]]
    last_error: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
