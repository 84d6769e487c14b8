"""One inbound POST from WeChat, end to end: verify → decode → claim (exactly once) → route → encode.

Flask-free so the simulator, benchmarks and tests drive the same path. The caller owns the session; the gateway
commits the message's transaction itself (on PostgreSQL in the same round trip as the reply's update).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Mapping

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from service.chat import texts
from service.chat.contract import ChatContext, Inbound
from service.core import fastsql
from service.core.config import Settings
from service.core.db import serialized_writes
from service.wechat import inbox, router
from service.wechat.protocol import (InvalidSignature, MalformedMessage, decode_request, encode_reply, message_xml,
                                     to_inbound)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayResult:
    status: int
    body: str
    content_type: str = "application/xml; charset=utf-8"
    msg_id: int | None = None  # the message's MsgId, for the access log (which must not show the query string)


FORBIDDEN = GatewayResult(403, "forbidden", "text/plain; charset=utf-8")


def receive(open_session: Callable[[], Session], engine: Engine, settings: Settings, args: Mapping[str, str],
            body: bytes, now: datetime) -> GatewayResult:
    """Answer one POST: check, decrypt and parse, handle, encrypt the reply.

    `open_session` gives the request's ORM session; it is called only when a route or the general path needs one.
    """
    try:
        data, envelope = decode_request(settings, args, body, now.timestamp())
    except InvalidSignature as exc:
        log.warning("rejected /wechat POST: %s", exc)
        return FORBIDDEN
    except MalformedMessage as exc:
        log.warning("malformed /wechat POST (%s); raw body: %r", exc, body[:4096])
        return GatewayResult(400, "bad request", "text/plain; charset=utf-8")

    inbound = to_inbound(data)
    # keep the decrypted XML in the log, not the ciphertext
    raw = message_xml(data) if envelope.encrypted else envelope.body_text
    try:
        reply = handle(open_session, engine, settings, inbound, raw, now, envelope.replay_key)
    except inbox.NonceReused as exc:
        log.warning("rejected /wechat POST (MsgId %s from %s): %s", inbound.msg_id, inbound.openid, exc)
        return FORBIDDEN
    return GatewayResult(200, encode_reply(settings, envelope, inbound, reply), msg_id=inbound.msg_id)


def _read_only_reply(ctx: ChatContext) -> str | None:
    try:
        return router.read_only_reply(ctx)
    except Exception:  # the full path runs the route again and answers with an apology if it fails again
        log.warning("read-only route failed for a message from %s", ctx.openid, exc_info=True)
        return None


def handle(open_session: Callable[[], Session], engine: Engine, settings: Settings, inbound: Inbound, raw: str,
           now: datetime, replay_key: str | None = None) -> str | None:
    """Claim, route and store one message exactly once, and commit; a retry gets the stored reply.

    Two paths, both exactly once:
    * fast: a text asking for a read-only intent (the keyword menu) has no effect but its own storage, unless a
      conversation of the user is open. Its reply is computed first, then stored with the message in one write
      (`inbox.record_if_idle`) on a connection this thread keeps (`fastsql.kept_write`), which declines when it
      finds an open conversation or a stored retry;
    * general: everything else, and what the fast path declined, in the request's ORM session: claim the message
      first, route it, store the reply (`_claim_and_route`).
    Only the writing runs behind the SQLite writer gate (service/core/db.py), so the gate is held briefly.
    Both paths store `replay_key` with the message: inbox.NonceReused, with nothing stored, if another message has it.
    """
    ctx = ChatContext(None, settings, now, inbound, open_session=open_session)
    reply = _read_only_reply(ctx)
    if reply is not None and _stored_on_the_fast_path(engine, inbound, raw, reply, now, replay_key):
        return reply
    session = ctx.session
    try:
        with serialized_writes(engine):
            reply = _claim_and_route(ctx, raw, replay_key)
    except inbox.NonceReused:
        session.rollback()
        raise
    session.commit()
    return reply


def _stored_on_the_fast_path(engine: Engine, inbound: Inbound, raw: str, reply: str, now: datetime,
                             replay_key: str | None) -> bool:
    def record(connection: Connection) -> bool:
        with serialized_writes(engine):
            return inbox.record_if_idle(connection, inbound, raw, reply, now, replay_key)

    return fastsql.kept_write(engine, record)


def _claim_and_route(ctx: ChatContext, raw: str, replay_key: str | None) -> str | None:
    """The general path, one transaction: claim the message first, then route it, then store the reply."""
    session, inbound, now = ctx.session, ctx.inbound, ctx.now
    claim = inbox.claim(session, inbound, raw, now, replay_key)
    if claim.duplicate:
        session.rollback()  # the claim changed nothing; end the transaction (and SQLite's write lock)
        log.info("retry of an already handled message from %s: replaying its reply", inbound.openid)
        return claim.replay
    ctx.drafts = claim.drafts
    failed = False
    try:
        reply = router.dispatch(ctx)
    except Exception:  # a bug in a route must never become a 500 to WeChat
        log.exception("route failed for message %s from %s", claim.dedupe_key, inbound.openid)
        # Undo whatever the route half-wrote, then store the message again with the apology.
        session.rollback()
        claim = inbox.claim(session, inbound, raw, now, replay_key)
        if claim.duplicate:  # another worker handled a retry meanwhile
            session.rollback()
            return claim.replay
        reply, failed = texts.APOLOGY, True
    inbox.finish(session, claim, reply, now, failed=failed)
    return reply
