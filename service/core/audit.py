"""The audit log's one writer: who did what to which object, and when, in the caller's transaction. In core so that
every feature records its changes the same way (a liaison binding their WeChat, an administrator's edits); the
console's audit pages list and explain the entries (service/console/audit.py)."""
from __future__ import annotations

from typing import Any, Optional, Union

from sqlalchemy.orm import Session

from models.audit import AuditLog
from service.core import clock

# A target is an ORM object with an `id` (its table name becomes the type), a (type, id) pair, or None.
Target = Union[None, tuple[str, Any], Any]


def _actor_name(actor: Any) -> str:
    if actor is None:
        return "system"
    return str(getattr(actor, "username", actor))[:64]


def _target_parts(target: Target) -> tuple[str, Optional[str]]:
    if target is None:
        return "", None
    if isinstance(target, tuple):
        kind, ident = target
        return str(kind)[:32], None if ident is None else str(ident)[:64]
    return getattr(target, "__tablename__", type(target).__name__)[:32], str(getattr(target, "id", ""))[:64]


def record(session: Session, actor: Any, action: str, target: Target = None,
           detail: Optional[dict[str, Any]] = None) -> AuditLog:
    """Add one entry in the caller's transaction, so it is stored exactly when the audited change is."""
    kind, ident = _target_parts(target)
    entry = AuditLog(actor=_actor_name(actor), action=action, target_type=kind, target_id=ident,
                     detail=dict(detail or {}), at=clock.now())
    session.add(entry)
    return entry
