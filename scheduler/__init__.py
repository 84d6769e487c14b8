"""build_scheduler(): the APScheduler 3 instance shared by `python -m scheduler` (blocking) and `python wsgi.py`
(background, development). Jobs live in a persistent SQLAlchemy job store in the application database, have
explicit ids, coalesce missed runs into one and still run when late by less than SCHEDULER_MISFIRE_GRACE."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import DBAPIError

from scheduler import jobs
from service.core import runlog
from service.core.clock import TZ
from service.core.config import Settings
from service.core.db import make_engine, make_session_factory

log = logging.getLogger(__name__)
JOB_TABLE = "apscheduler_jobs"


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: str  # textual reference, so the persistent store keeps no pickled code
    trigger: Any


def job_specs(settings: Settings) -> list[JobSpec]:
    return [
        JobSpec("deliver_announcements", "scheduler.jobs:deliver_announcements",
                IntervalTrigger(seconds=settings.scheduler_poll_seconds, timezone=TZ)),
        JobSpec("deliver_replies", "scheduler.jobs:deliver_replies",
                IntervalTrigger(seconds=settings.scheduler_poll_seconds, timezone=TZ)),
        JobSpec("download_report_media", "scheduler.jobs:download_report_media",
                IntervalTrigger(minutes=1, timezone=TZ)),
        JobSpec("monthly_compliance_reminders", "scheduler.jobs:monthly_compliance_reminders",
                CronTrigger(day=1, hour=9, minute=0, timezone=TZ)),
        JobSpec("quarter_end_warning", "scheduler.jobs:quarter_end_warning",
                CronTrigger(month="3,6,9,12", day=20, hour=9, minute=0, timezone=TZ)),
        JobSpec("weekly_digest", "scheduler.jobs:weekly_digest",
                CronTrigger(day_of_week="mon", hour=8, minute=30, timezone=TZ)),
        JobSpec("purge_conversation_drafts", "scheduler.jobs:purge_conversation_drafts",
                IntervalTrigger(hours=1, timezone=TZ)),
        JobSpec("trim_message_log", "scheduler.jobs:trim_message_log",
                CronTrigger(hour=3, minute=30, timezone=TZ)),
    ]


def build_scheduler(settings: Settings, blocking: bool = False) -> BaseScheduler:
    engine = make_engine(settings.database_url)
    session_factory = make_session_factory(engine)
    jobs.configure(settings, session_factory)
    store = SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)
    try:  # two processes starting together may race to create the table; the loser finds it there
        store.jobs_t.create(engine, checkfirst=True)
    except DBAPIError:
        log.info("job table %s was created by another process", JOB_TABLE)
    cls = BlockingScheduler if blocking else BackgroundScheduler
    scheduler = cls(jobstores={"default": store}, executors={"default": ThreadPoolExecutor(4)},
                    job_defaults={"coalesce": True, "max_instances": 1,
                                  "misfire_grace_time": settings.scheduler_misfire_grace},
                    timezone=TZ)
    for spec in job_specs(settings):
        scheduler.add_job(spec.func, spec.trigger, id=spec.id, name=spec.id, replace_existing=True)
    scheduler.add_listener(run_recorder(session_factory), EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
    return scheduler


def run_recorder(session_factory) -> Any:
    """A listener writing each job's last run and outcome to `job_run` (the console's 设置与状态 page)."""
    def on_event(event: JobExecutionEvent) -> None:
        failed = event.exception is not None
        detail = f"{type(event.exception).__name__}: {event.exception}" if failed else ""
        runlog.record(session_factory, event.job_id, not failed, detail, started_at=event.scheduled_run_time)
    return on_event
