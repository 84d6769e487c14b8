"""The shape every chat route sees: a normalised inbound message and the context it is handled in."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Optional

from sqlalchemy.orm import Session

from service.core.config import Settings

if TYPE_CHECKING:
    from service.chat.conversation import Draft


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


class ChatContext:
    """What a route sees: the message, its time, the settings and a database session.

    The session may be opened on first use (`open_session`): the gateway's read-only fast path answers most
    keyword messages without one. `drafts` are the sender's live conversations as the gateway fetched them with
    the message's claim (None: not fetched); the router's first look uses them instead of querying again.
    """

    def __init__(self, session: Optional[Session], settings: Settings, now: datetime, inbound: Inbound,
                 drafts: Optional[list["Draft"]] = None, open_session: Optional[Callable[[], Session]] = None):
        self._session, self._open_session = session, open_session
        self.settings, self.now, self.inbound, self.drafts = settings, now, inbound, drafts

    @property
    def session(self) -> Session:
        if self._session is None:
            if self._open_session is None:
                raise RuntimeError("this chat context has no database session")
            self._session = self._open_session()
        return self._session

    def take_drafts(self) -> Optional[list["Draft"]]:
        """The prefetched drafts, once: whatever runs later must look again, a route may have changed them."""
        drafts, self.drafts = self.drafts, None
        return drafts

    @property
    def openid(self) -> str:
        return self.inbound.openid
