"""Routing table for inbound messages: message type → event / menu key → the user's active conversation →
exact keyword → prefix command → free text. No if/elif chain: each layer is a table lookup.

A route takes a `ChatContext` and returns the reply text, or None for "nothing to say" (WeChat gets `success`).
A conversation flow returns a `Turn` instead, run by chat/flows.py (see service/chat/contract.py). Events a
feature owns are registered by that feature (`handles_event`); the feature chat modules imported below are the
ones wired in here.
"""
from __future__ import annotations

import logging
import unicodedata
from functools import partial
from typing import Callable, Optional

from sqlalchemy import update

from models.follower import Follower
from service.chat import conversation, flows, menu, texts
from service.chat.contract import EVENT_HANDLERS, ChatContext, Flow, Route, Turn
from service.core.textfit import REPLY_LIMIT, split_utf8, utf8_len
from service.messages import chat as messages_chat
from service.notices import chat as notices_chat, subscriptions
from service.policy import chat as policy_chat
from service.reporting import chat as report_chat

log = logging.getLogger(__name__)

PrefixRoute = Callable[[ChatContext, str], Optional[str]]


# ---- intents: what a keyword, a menu number or a CLICK key asks for ------------------------------------------

def show_menu(ctx: ChatContext) -> str:
    return menu.main_menu_text(INTENTS)


def greet(ctx: ChatContext) -> str:
    return f"{texts.GREETING}\n{show_menu(ctx)}"


def reply_with(text: str, ctx: ChatContext) -> str:
    return text


def next_page(ctx: ChatContext) -> str:
    follower = ctx.session.get(Follower, ctx.openid)
    pages = list(follower.more_pages or []) if follower else []
    if not pages:
        return texts.NO_MORE
    follower.more_pages = pages[1:]
    return pages[0] + (f"\n{texts.MORE_HINT}" if len(pages) > 1 else "")


def resume(ctx: ChatContext) -> str:
    """`继续`: an idle 留言 form, else an idle report (which says when there is nothing to resume)."""
    return messages_chat.resume(ctx) or report_chat.resume(ctx)


def cancel(ctx: ChatContext) -> str:
    conversation.clear(ctx.session, ctx.openid)
    return texts.CANCELLED


INTENTS: dict[str, Route] = {
    "menu": show_menu,
    "greet": greet,
    "thanks": partial(reply_with, texts.THANKS),
    "ack": partial(reply_with, texts.ACKNOWLEDGED),
    "more": next_page,
    "cancel": cancel,
    "policy": policy_chat.open_menu,
    "ask": policy_chat.ask_prompt,
    **{f"policy:{name}": partial(policy_chat.open_section, name=name) for name in policy_chat.SECTION_NAMES},
    "report": report_chat.start,
    "my_reports": report_chat.my_reports,
    "bind_help": report_chat.bind_help,
    "resume": resume,
    "message": messages_chat.start,
    "my_messages": messages_chat.my_messages,
    "subscribe": subscriptions.show_topics,
    "unsubscribe": subscriptions.unsubscribe,
    "notices": subscriptions.recent_notices,
}

# Intents that only read: with no conversation open, the gateway answers them on its read-only fast path, storing
# the message and its reply in one write (gateway.handle). A route that writes anything must not be listed.
READ_ONLY_INTENTS: frozenset[str] = frozenset({"menu", "greet", "thanks", "ack", "ask", "bind_help"})

# Exact keywords (after normalisation); the numbered menu options and their synonyms are added below.
KEYWORDS: dict[str, str] = {
    "帮助": "menu", "菜单": "menu", "?": "menu", "0": "menu", "help": "menu", "主菜单": "menu",
    "更多": "more", "取消": "cancel",
    **{name: f"policy:{name}" for name in policy_chat.SECTION_NAMES},
    "继续": "resume", "上报详情": "my_reports", "留言详情": "my_messages",
    "订阅": "subscribe", "退订": "unsubscribe", "通知": "notices",
    **dict.fromkeys(texts.GREETING_WORDS, "greet"), **dict.fromkeys(texts.THANKS_WORDS, "thanks"),
    **dict.fromkeys(texts.ACK_WORDS, "ack"),
}
for _option in menu.MAIN_MENU:
    KEYWORDS.setdefault(_option.number, _option.intent)
    for _word in _option.keywords:
        KEYWORDS.setdefault(_word, _option.intent)

# Commands followed by an argument, e.g. "绑定 123456"; longest prefix first.
PREFIXES: list[tuple[str, PrefixRoute]] = [
    ("上报详情", report_chat.detail),
    ("留言详情", messages_chat.detail),
    ("留言", messages_chat.quick),
    ("追加", messages_chat.append),
    ("绑定", report_chat.bind),
    ("上报", report_chat.quick_report),
    ("订阅", subscriptions.subscribe_command),
    ("修改", report_chat.reopen),
]

# Multi-turn conversations by flow name; each sees every message of its user first and may pass it on.
FLOWS: dict[str, Flow] = {flow.name: flow for flow in (
    policy_chat.POLICY_FLOW, report_chat.REPORT_FLOW, subscriptions.SUBSCRIBE_FLOW, *messages_chat.FLOWS)}

FALLBACK: Route = policy_chat.answer

# The features whose chat modules are wired in here; notices_chat contributes only events (handles_event).
FEATURES = (policy_chat, report_chat, subscriptions, notices_chat, messages_chat)


# ---- message and event routes ---------------------------------------------------------------------------------

TRAILING_PUNCTUATION = "。.!！,，~～ "


def normalise(text: str) -> str:
    """Full-width to half-width (？→?, １→1), trimmed, lower-case Latin, without trailing punctuation that
    speech recognition and phone keyboards add ("帮助！")."""
    text = unicodedata.normalize("NFKC", text).strip().lower()
    return text.rstrip(TRAILING_PUNCTUATION) or text


def _active_flow(ctx: ChatContext) -> Optional[Turn]:
    """Offer the message to each live conversation, newest first, until one takes it; None if none did."""
    drafts = ctx.take_drafts()
    if drafts is None:
        drafts = conversation.live_drafts(ctx.session, ctx.openid, ctx.now, for_update=True)
    for draft in drafts:
        flow = FLOWS.get(draft.flow)
        if flow is None:
            continue
        turn = flows.take_turn(ctx, flow, draft)
        if turn.taken:
            return turn
    return None


def route_text(ctx: ChatContext) -> Optional[str]:
    turn = _active_flow(ctx)
    if turn is not None:
        return turn.reply
    text = normalise(ctx.inbound.content)
    if not text:
        return texts.EMPTY_TEXT
    intent = KEYWORDS.get(text)
    if intent in INTENTS:
        return INTENTS[intent](ctx)
    for prefix, route in PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            return route(ctx, text[len(prefix):].strip())
    return FALLBACK(ctx)


def read_only_reply(ctx: ChatContext) -> Optional[str]:
    """The reply to a text that asks for a read-only intent and fits one page, or None: then dispatch() decides.

    The caller uses it only if no conversation of the user is open (a conversation sees every text first)."""
    if ctx.inbound.kind != "text":
        return None
    intent = KEYWORDS.get(normalise(ctx.inbound.content))
    if intent not in READ_ONLY_INTENTS:
        return None
    reply = INTENTS[intent](ctx)
    return reply if reply is not None and utf8_len(reply) <= REPLY_LIMIT else None


def route_voice(ctx: ChatContext) -> Optional[str]:
    """Voice with WeChat's speech recognition is handled as the recognised text."""
    if ctx.inbound.content.strip():
        return route_text(ctx)
    return texts.VOICE_UNRECOGNISED


def route_media(ctx: ChatContext) -> Optional[str]:
    """Pictures, locations and the like mean something only inside a conversation (e.g. a report's photo step)."""
    turn = _active_flow(ctx)
    if turn is not None:
        return turn.reply
    kept = report_chat.keep_photo(ctx)  # a liaison's photo outside a report waits for the next one
    if kept is not None:
        return kept
    return texts.UNSUPPORTED_MEDIA.format(kind=texts.MEDIA_NAMES.get(ctx.inbound.kind, "消息"))


def route_flow_event(ctx: ChatContext) -> Optional[str]:
    """pic_* / location_select / scancode events: offered to the active conversation, else nothing to say."""
    turn = _active_flow(ctx)
    return turn.reply if turn is not None else None


def route_click(ctx: ChatContext) -> Optional[str]:
    intent = menu.CLICK_KEYS.get(ctx.inbound.event_key)
    if intent in INTENTS:
        return INTENTS[intent](ctx)
    log.warning("unknown menu key %r from %s", ctx.inbound.event_key, ctx.openid)
    return show_menu(ctx)


def on_subscribe(ctx: ChatContext) -> str:
    return f"{texts.WELCOME}\n\n{show_menu(ctx)}"


def on_scan(ctx: ChatContext) -> str:
    return f"{texts.SCAN_WELCOME}\n\n{show_menu(ctx)}"


def nothing(ctx: ChatContext) -> None:
    return None


def route_unsupported(ctx: ChatContext) -> str:
    log.warning("unsupported message type %r from %s", ctx.inbound.kind, ctx.openid)
    return texts.UNSUPPORTED


MESSAGE_ROUTES: dict[str, Route] = {
    "text": route_text,
    "voice": route_voice,
    "image": route_media,
    "location": route_media,
    "video": route_media,
    "shortvideo": route_media,
    "link": route_media,
    "file": route_media,
}

EVENT_ROUTES: dict[str, Route] = {
    "subscribe": on_subscribe,
    "unsubscribe": nothing,  # follower bookkeeping is done by the inbox; WeChat shows no reply anyway
    "scan": on_scan,
    "click": route_click,
    "scancode_push": route_flow_event,
    "scancode_waitmsg": route_flow_event,
    "pic_sysphoto": route_flow_event,
    "pic_photo_or_album": route_flow_event,
    "pic_weixin": route_flow_event,
    "location_select": route_flow_event,
}

# Events we know and deliberately do not answer (platform callbacks, automatic reports, other products).
IGNORED_EVENTS: frozenset[str] = frozenset({
    "view", "view_miniprogram", "location", "masssendjobfinish",
    "subscribe_msg_popup_event", "subscribe_msg_change_event", "subscribe_msg_sent_event",
    "kf_create_session", "kf_close_session", "kf_switch_session",
})


def dispatch(ctx: ChatContext) -> Optional[str]:
    """Choose the route for this message and return its reply (paginated to WeChat's 2048-byte limit)."""
    inbound = ctx.inbound
    if inbound.kind == "event":
        event = inbound.event or ""
        if event in IGNORED_EVENTS:
            return None
        route = EVENT_ROUTES.get(event) or EVENT_HANDLERS.get(event)
        if route is None:
            log.warning("unhandled event %r from %s", event, ctx.openid)
            return None
    else:
        route = MESSAGE_ROUTES.get(inbound.kind, route_unsupported)
    waiting = messages_chat.has_waiting(ctx)  # staff replies that go out with this message, before the answer
    reply = route(ctx)
    return paginate(ctx, messages_chat.with_waiting(ctx, reply) if waiting else reply)


def paginate(ctx: ChatContext, reply: Optional[str]) -> Optional[str]:
    """Keep the first page within 2048 bytes and park the rest for "更多"."""
    if reply is None or utf8_len(reply) <= REPLY_LIMIT:
        return reply
    hint = "\n" + texts.MORE_HINT
    pages = split_utf8(reply, REPLY_LIMIT - utf8_len(hint))
    ctx.session.execute(update(Follower).where(Follower.openid == ctx.openid).values(more_pages=pages[1:])
                        .execution_options(synchronize_session=False))
    return pages[0] + hint
