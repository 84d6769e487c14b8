"""The last run of each background job (scheduler jobs, `sync-menu`) in `job_run`, for the console's status page.

`record()` never raises: a job that worked must not be reported as failed because its bookkeeping could not be
written (the database being down is shown on the status page anyway)."""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Optional

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models.status import JobRun
from service.core import clock

log = logging.getLogger(__name__)
SYNC_MENU = "sync-menu"


def record(session_factory: sessionmaker[Session], name: str, ok: bool, detail: str = "",
           started_at: Optional[datetime] = None, finished_at: Optional[datetime] = None) -> None:
    finished_at = finished_at or clock.now()
    try:
        with session_factory() as session:
            row = session.get(JobRun, name) or JobRun(name=name)
            row.started_at, row.finished_at = started_at or finished_at, finished_at
            row.ok, row.detail = ok, (detail or "")[:255]
            if ok:
                row.last_ok_at = finished_at
            session.add(row)
            session.commit()
    except SQLAlchemyError:
        log.warning("could not record the run of %s", name, exc_info=True)


def all_runs(session: Session) -> dict[str, JobRun]:
    return {row.name: row for row in session.query(JobRun)}
