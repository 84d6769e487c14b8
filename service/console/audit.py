"""The console's audit pages: list and filter entries and explain their details in Chinese. Entries are written by
`service.core.audit.record` (re-exported here for the console's views)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.announcement import AnnouncementStatus
from models.audit import AuditLog
from service.console import texts
from service.core import clock
from service.core.audit import Target, record  # the console's views record through this module too
from service.core.paging import Page, paginate

__all__ = ["Target", "record", "readable_detail", "announcement_created", "announcement_detail", "AuditFilter",
           "list_entries", "actors"]


def readable_detail(detail: Optional[dict[str, Any]]) -> list[tuple[str, str]]:
    """An entry's detail as (Chinese label, value) pairs for the audit page: keys, flags and codes in words, lists
    joined, nested objects (an announcement's audience, a filter) spelled out the same way."""
    return [(texts.DETAIL_LABELS.get(key, key), _readable_value(key, value)) for key, value in (detail or {}).items()]


def _readable_value(key: str, value: Any) -> str:
    if isinstance(value, dict):
        return "；".join(f"{label}：{text}" for label, text in readable_detail(value) if text)
    if isinstance(value, (list, tuple)):
        return "、".join(_readable_value(key, item) for item in value)
    if isinstance(value, (bool, type(None))):
        return texts.FLAG_VALUES[value]
    return texts.DETAIL_VALUES.get(key, {}).get(value, str(value)) if isinstance(value, str) else str(value)


def announcement_created(ann: Any) -> str:
    """The action a new announcement is audited as: a draft is created, anything else is scheduled."""
    return "announcement.create" if ann.status == AnnouncementStatus.DRAFT else "announcement.schedule"


def announcement_detail(ann: Any) -> dict[str, Any]:
    return {"title": ann.title, "audience": ann.audience, "recurrence": ann.recurrence, "status": ann.status}


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""  # exact action, or a prefix ending in "." such as "report."
    target_type: str = ""
    date_from: Optional[date] = None
    date_to: Optional[date] = None  # inclusive, in Asia/Shanghai


PER_PAGE = 50


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=clock.TZ)


def list_entries(session: Session, flt: AuditFilter = AuditFilter(), page: int = 1,
                 per_page: int = PER_PAGE) -> Page[AuditLog]:
    """Newest first, filtered; `page` counts from 1."""
    conditions = []
    if flt.actor:
        conditions.append(AuditLog.actor == flt.actor)
    if flt.action.endswith("."):
        conditions.append(AuditLog.action.startswith(flt.action))
    elif flt.action:
        conditions.append(AuditLog.action == flt.action)
    if flt.target_type:
        conditions.append(AuditLog.target_type == flt.target_type)
    if flt.date_from:
        conditions.append(AuditLog.at >= _day_start(flt.date_from))
    if flt.date_to:
        conditions.append(AuditLog.at < _day_start(flt.date_to + timedelta(days=1)))
    return paginate(session, select(AuditLog).where(*conditions).order_by(AuditLog.at.desc(), AuditLog.id.desc()),
                    page, per_page)


def actors(session: Session) -> list[str]:
    """Distinct actor names, for the filter drop-down."""
    return list(session.scalars(select(AuditLog.actor).distinct().order_by(AuditLog.actor)))
