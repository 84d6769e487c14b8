"""Service levels of residents' messages: the answer is due MESSAGE_SLA_HOURS (default 48) working hours after the
message came in. The clock runs on working days only (Monday–Friday, Asia/Shanghai, whole days), so 48 hours are two
working days and a message sent on Saturday is due on Tuesday night. Public holidays are not known to it."""
from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from models.message import ResidentThread, ThreadStatus
from service.core.clock import TZ, local

MESSAGE_SLA_SETTING = "MESSAGE_SLA_HOURS"  # read through Settings.message_sla_hours (service/core/config.py)
WORKDAYS = frozenset(range(5))  # Monday = 0 … Friday = 4


def _next_midnight(moment: datetime) -> datetime:
    return datetime.combine(moment.date() + timedelta(days=1), time(0), tzinfo=TZ)


def due_at(start: datetime, hours: float) -> datetime:
    """`start` plus `hours` counted on working days only (weekend hours do not count), in Asia/Shanghai."""
    moment = local(start)
    remaining = timedelta(hours=hours)
    while True:
        midnight = _next_midnight(moment)
        if moment.weekday() in WORKDAYS:
            if moment + remaining <= midnight:
                return moment + remaining
            remaining -= midnight - moment
        moment = midnight


UNANSWERED = (ThreadStatus.OPEN.value, ThreadStatus.IN_PROGRESS.value)  # no reply went out yet


def overdue(now: datetime) -> ColumnElement[bool]:
    """Threads past their due time without a reply (待处理 / 处理中): the one definition the console, the API and
    the weekly digest count by."""
    return and_(ResidentThread.status.in_(UNANSWERED), ResidentThread.due_at < now)


def open_and_overdue(session: Session, now: datetime) -> tuple[int, int]:
    """(threads without a reply, of which overdue)."""
    row = session.execute(select(func.count(), func.count().filter(ResidentThread.due_at < now))
                          .where(ResidentThread.status.in_(UNANSWERED))).one()
    return row[0], row[1]
