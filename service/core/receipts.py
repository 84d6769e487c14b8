"""Receipt numbers: a prefix, the day (YYYYMMDD) and a 4-digit daily sequence from a per-day counter row updated in
place, so two submissions at the same moment never share a number (reports' QJ…, residents' messages' LY…)."""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


def next_receipt(session: Session, counter: Any, prefix: str, day: date) -> str:
    """`prefix` + YYYYMMDD + the day's next sequence number from `counter` (a model with `day` and `last`).

    The UPDATE row lock (PostgreSQL) or the database write lock (SQLite) serialises concurrent callers; the first
    of a day inserts the row inside a savepoint and, if another transaction inserted it first, increments.
    """
    for _ in range(3):
        seq = session.scalar(update(counter).where(counter.day == day)
                             .values(last=counter.last + 1).returning(counter.last))
        if seq is None:
            try:
                with session.begin_nested():
                    session.add(counter(day=day, last=1))
                seq = 1
            except IntegrityError:
                continue
        return f"{prefix}{day:%Y%m%d}{seq:04d}"
    raise RuntimeError("receipt counter contention")  # pragma: no cover - three lost inserts in a row
