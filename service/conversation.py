"""Load, save and clear the one conversation draft an openid may have; drafts expire after their TTL.

Two messages of one user may arrive at once (two workers): `load(..., for_update=True)` takes a row lock on
PostgreSQL, and `save` bumps `version` with a compare-and-set so a lost update raises `ConcurrentUpdate`
instead of silently overwriting the other turn's answer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from models.conversation import ConversationDraft
from service.clock import local


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


def load(session: Session, openid: str, now: datetime, for_update: bool = False, include_expired: bool = False) -> Draft | None:
    """The user's live draft, or None. Expired drafts are returned only with include_expired (for '继续')."""
    stmt = select(ConversationDraft).where(ConversationDraft.openid == openid)
    if for_update and session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        return None
    expired = local(row.expires_at) <= now
    if expired and not include_expired:
        return None
    return Draft(row.openid, row.flow, row.step, dict(row.data or {}), row.version, expired)


def save(session: Session, draft: Draft, now: datetime, ttl: timedelta) -> Draft:
    """Insert or update the draft; raises ConcurrentUpdate when the row changed since it was loaded."""
    row = session.get(ConversationDraft, draft.openid)
    expires = now + ttl
    if row is None:
        session.add(ConversationDraft(openid=draft.openid, flow=draft.flow, step=draft.step, data=draft.data,
                                      version=1, updated_at=now, expires_at=expires))
        session.flush()
        draft.version = 1
        return draft
    result = session.execute(
        update(ConversationDraft)
        .where(ConversationDraft.openid == draft.openid, ConversationDraft.version == draft.version)
        .values(flow=draft.flow, step=draft.step, data=draft.data, version=draft.version + 1,
                updated_at=now, expires_at=expires)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ConcurrentUpdate(draft.openid)
    session.expire(row)
    draft.version += 1
    return draft


def clear(session: Session, openid: str) -> None:
    session.execute(delete(ConversationDraft).where(ConversationDraft.openid == openid))


def purge_expired(session: Session, now: datetime, grace: timedelta = timedelta(days=7)) -> int:
    """Delete drafts expired for longer than `grace` (kept that long so '继续' can still resume them)."""
    result = session.execute(delete(ConversationDraft).where(ConversationDraft.expires_at < now - grace))
    return result.rowcount or 0
