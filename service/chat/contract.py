"""The contract between the router and the features: the normalised inbound message, the context a route sees,
what a conversation flow returns (`Turn`), how a flow is declared (`Flow`), and the events features handle.

A route (keyword, menu key, prefix command, event) returns its reply text, or None for nothing to say. A flow
returns a `Turn`, and never saves its own draft: the router's turn runner (chat/flows.py) does, after the handler.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
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


Route = Callable[[ChatContext], Optional[str]]


@dataclass(frozen=True)
class Turn:
    """What a conversation flow made of one message.

    `taken` False: not this flow's message; the router offers it to the next live flow, then to its tables.
    `reply` None with `taken`: handled, nothing to say (WeChat gets `success`).
    `save`: the draft's next (step, data), stored by the router with the version check; `end`: the conversation
    is over and the router deletes the draft (with the same check). Neither: the draft stays as it is.
    """

    taken: bool
    reply: Optional[str] = None
    save: Optional[tuple[str, dict[str, Any]]] = None
    end: bool = False


def not_mine(end: bool = False) -> Turn:
    """Pass the message on; with `end`, close this conversation first (the user moved on)."""
    return Turn(False, end=end)


def handled(reply: Optional[str], save: Optional[tuple[str, dict[str, Any]]] = None, end: bool = False) -> Turn:
    """The flow took the message; `reply` None means it has nothing to say."""
    return Turn(True, reply, save, end)


FlowHandler = Callable[[ChatContext, "Draft"], Turn]


@dataclass(frozen=True)
class Flow:
    """A multi-turn conversation: its name (the draft's `flow`), its handler and how long an idle draft lives."""

    name: str
    handle: FlowHandler
    ttl: timedelta
    finished_reply: str = ""  # to a message that raced a turn which ended the conversation (default: chat's)


# Events that features handle, registered with @handles_event (as wechatpy's and WeRoBot's handlers are): the
# router looks here after its own table, so it need not import the feature that owns an event.
EVENT_HANDLERS: dict[str, Route] = {}


def handles_event(event: str) -> Callable[[Route], Route]:
    """Register the decorated route for a lower-cased WeChat event name; one owner per event."""
    def register(route: Route) -> Route:
        owner = EVENT_HANDLERS.setdefault(event, route)
        if owner is not route:
            raise ValueError(f"event {event!r} already has a handler: {owner.__qualname__}")
        return route
    return register
