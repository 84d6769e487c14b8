"""The shape every chat route sees: a normalised inbound message and the context it is handled in."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Optional

from sqlalchemy.orm import Session

from service.config import Settings


@dataclass
class Inbound:
    """One message or event from a user, independent of the XML library.

    `kind` is the MsgType lower-cased ('text', 'image', 'location', 'voice', 'event', ...); for events `event`
    is the lower-cased Event ('subscribe', 'click', 'pic_weixin', ...). Voice messages with speech recognition
    carry the recognised words in `content`, so routes treat them as text.
    """

    openid: str
    kind: str
    content: str = ""
    event: Optional[str] = None
    event_key: str = ""
    media_id: str = ""
    pic_url: str = ""
    latitude: Optional[float] = None
    longitude: Optional[float] = None
    label: str = ""
    msg_id: Optional[int] = None
    create_time: int = 0
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.content.strip()

    @property
    def is_location(self) -> bool:
        return self.latitude is not None and self.longitude is not None


@dataclass
class ChatContext:
    session: Session
    settings: Settings
    now: datetime
    inbound: Inbound

    @property
    def openid(self) -> str:
        return self.inbound.openid
