"""One inbound POST from WeChat, end to end: verify → decode → claim (exactly once) → route → encode.

Flask-free so the simulator, benchmarks and tests drive the same path. The caller owns the session and commits.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Mapping

from sqlalchemy.orm import Session

from service import inbox, router
from service.chat import ChatContext
from service.config import Settings
from service.texts import common as texts
from service.wechat_protocol import (CONTROL_CHARS, InvalidSignature, MalformedMessage, decode_request,
                                     encode_reply, message_xml, to_inbound)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayResult:
    status: int
    body: str
    content_type: str = "application/xml; charset=utf-8"


def receive(session: Session, settings: Settings, args: Mapping[str, str], body: bytes, now: datetime) -> GatewayResult:
    try:
        data, envelope = decode_request(settings, args, body)
    except InvalidSignature as exc:
        log.warning("rejected /wechat POST: %s", exc)
        return GatewayResult(403, "forbidden", "text/plain; charset=utf-8")
    except MalformedMessage as exc:
        log.warning("malformed /wechat POST (%s); raw body: %r", exc, body[:4096])
        return GatewayResult(400, "bad request", "text/plain; charset=utf-8")

    inbound = to_inbound(data)
    # keep the decrypted XML in the log, not the ciphertext
    raw = message_xml(data) if envelope.encrypted else CONTROL_CHARS.sub("", body.decode("utf-8", "replace"))
    claim = inbox.claim(session, inbound, raw, now)
    if claim.duplicate:
        log.info("retry of an already handled message from %s: replaying its reply", inbound.openid)
        return GatewayResult(200, encode_reply(settings, envelope, inbound, claim.replay))

    inbox.touch_follower(session, inbound, now)
    ctx = ChatContext(session=session, settings=settings, now=now, inbound=inbound)
    failed = False
    try:
        reply = router.dispatch(ctx)
    except Exception:  # a bug in a route must never become a 500 to WeChat
        log.exception("route failed for message %s from %s", claim.dedupe_key, inbound.openid)
        # Undo whatever the route half-wrote, then store the message again with the apology.
        session.rollback()
        claim = inbox.claim(session, inbound, raw, now)
        if claim.duplicate:  # another worker handled a retry meanwhile
            return GatewayResult(200, encode_reply(settings, envelope, inbound, claim.replay))
        inbox.touch_follower(session, inbound, now)
        reply, failed = texts.APOLOGY, True
    inbox.finish(session, claim, reply, now, failed=failed)
    return GatewayResult(200, encode_reply(settings, envelope, inbound, reply))
