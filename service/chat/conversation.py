"""Load, save and clear a user's conversation drafts, one per (openid, flow), each with its own TTL.

The *active* conversation is the most recently touched live draft. Two messages of one user may arrive at once
(two workers): `load(..., for_update=True)` takes a row lock on PostgreSQL, and `save` bumps `version` with a
compare-and-set so a lost update raises `ConcurrentUpdate` instead of silently overwriting the other turn.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import Select, bindparam, delete, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from models.conversation import ConversationDraft
from service.core.clock import local

# Flows that wait in the background for one particular answer (a rating asked for, replies waiting to go out)
# and let every other message pass: they never count as the user's *active* conversation. Features add theirs.
BACKGROUND_FLOWS: set[str] = set()


class ConcurrentUpdate(Exception):
    """Another turn of the same user saved the draft first."""


@dataclass
class Draft:
    openid: str
    flow: str
    step: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    version: int = 0
    expired: bool = False


def load(session: Session, openid: str, now: datetime, for_update: bool = False, include_expired: bool = False,
         flow: str | None = None) -> Draft | None:
    """The user's live draft of `flow` (or the most recently touched live draft of any flow but the background
    ones), or None.

    Expired drafts are returned (with `expired=True`) only when include_expired is set, so '继续' can resume them.
    """
    stmt = select(ConversationDraft).where(ConversationDraft.openid == openid)
    if flow is not None:
        stmt = stmt.where(ConversationDraft.flow == flow)
    elif BACKGROUND_FLOWS:
        stmt = stmt.where(ConversationDraft.flow.not_in(sorted(BACKGROUND_FLOWS)))
    stmt = stmt.order_by(ConversationDraft.updated_at.desc())
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    for row in session.scalars(stmt):
        expired = local(row.expires_at) <= now
        if expired and not include_expired:
            continue
        return Draft(row.openid, row.flow, row.step, dict(row.data or {}), row.version, expired)
    return None


_LIVE = (select(ConversationDraft.flow, ConversationDraft.step, ConversationDraft.data, ConversationDraft.version,
                ConversationDraft.expires_at)
         .where(ConversationDraft.openid == bindparam("openid")).order_by(ConversationDraft.updated_at.desc()))
_LIVE_LOCKED = _LIVE.with_for_update()


def live_drafts(session: Session, openid: str, now: datetime, for_update: bool = False) -> list[Draft]:
    """All the user's live drafts, most recently touched first (the router offers a message to each in turn).

    Runs for every message, so it is one Core statement built once (service/core/fastsql.py); the gateway usually
    fetches it together with the message's claim (inbox.claim).
    """
    connection = session.connection()
    statement, params = live_drafts_query(connection.dialect, openid, for_update)
    return live_drafts_from(openid, connection.execute(statement, params).all(), now)


def live_drafts_query(dialect: Dialect, openid: str, for_update: bool = False) -> tuple[Select, dict]:
    """The statement behind live_drafts, locking the rows on PostgreSQL when the caller may update them."""
    locked = for_update and dialect.name == "postgresql"
    return (_LIVE_LOCKED if locked else _LIVE), {"openid": openid}


def live_drafts_from(openid: str, rows: Sequence[Sequence[Any]], now: datetime) -> list[Draft]:
    return [Draft(openid, flow, step, dict(data or {}), version, False)
            for flow, step, data, version, expires_at in rows if expires_at > now]


def save(session: Session, draft: Draft, now: datetime, ttl: timedelta) -> Draft:
    """Insert or update the draft; raises ConcurrentUpdate when the row changed since it was loaded."""
    expires = now + ttl
    if draft.version == 0:
        existing = session.get(ConversationDraft, (draft.openid, draft.flow))
        if existing is None:
            session.add(ConversationDraft(openid=draft.openid, flow=draft.flow, step=draft.step, data=draft.data,
                                          version=1, updated_at=now, expires_at=expires))
            session.flush()
            draft.version = 1
            return draft
        draft.version = existing.version  # a fresh draft replaces an old one of the same flow
    result = session.execute(
        update(ConversationDraft)
        .where(ConversationDraft.openid == draft.openid, ConversationDraft.flow == draft.flow,
               ConversationDraft.version == draft.version)
        .values(step=draft.step, data=draft.data, version=draft.version + 1, updated_at=now, expires_at=expires)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ConcurrentUpdate(draft.openid)
    draft.version += 1
    draft.expired = False
    return draft


def end(session: Session, draft: Draft) -> None:
    """Delete the draft a turn has finished; raises ConcurrentUpdate when it changed since it was loaded."""
    if draft.version == 0:  # never saved
        return
    result = session.execute(
        delete(ConversationDraft)
        .where(ConversationDraft.openid == draft.openid, ConversationDraft.flow == draft.flow,
               ConversationDraft.version == draft.version)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise ConcurrentUpdate(draft.openid)


def clear(session: Session, openid: str, flow: str | None = None) -> None:
    """Drop the user's draft of `flow`, or all their drafts."""
    stmt = delete(ConversationDraft).where(ConversationDraft.openid == openid)
    if flow is not None:
        stmt = stmt.where(ConversationDraft.flow == flow)
    session.execute(stmt.execution_options(synchronize_session=False))


def purge_expired(session: Session, now: datetime, grace: timedelta = timedelta(days=7)) -> int:
    """Delete drafts expired for longer than `grace` (kept that long so '继续' can still resume them)."""
    result = session.execute(delete(ConversationDraft).where(ConversationDraft.expires_at < now - grace))
    return result.rowcount or 0
