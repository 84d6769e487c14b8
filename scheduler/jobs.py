"""The scheduler's jobs: module-level functions (referenced by text in the persistent job store) that poll the
database for due work. Each is idempotent, so a missed run, a coalesced run or a second scheduler process by
mistake never sends twice: announcements are claimed row by row (service.notices.delivery), system messages carry a unique
dedupe key. `configure()` gives them the settings and session factory of the process that runs them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Optional, Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models.announcement import Announcement, Delivery, DeliveryStatus
from models.message import ThreadPhoto
from models.report import ReportPhoto, ReportResultNotice
from service.chat import conversation
from service.core import clock
from service.core.config import Settings
from service.core.db import batches
from service.core.textfit import fit_utf8
from service.messages import replies, sla, staff as message_staff
from service.notices import announcements, delivery as notify, texts
from service.reporting import compliance, media, reports
from service.wechat import inbox

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    session_factory: sessionmaker[Session]

    def sender_factory(self) -> Callable[[], Any]:
        return notify.sender_factory(self.settings, self.session_factory)


_runtime: Optional[Runtime] = None


def configure(settings: Settings, session_factory: sessionmaker[Session]) -> Runtime:
    global _runtime
    _runtime = Runtime(settings, session_factory)
    return _runtime


def runtime() -> Runtime:
    if _runtime is None:
        raise RuntimeError("scheduler.jobs.configure() was not called")
    return _runtime


# ---- system messages ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SystemMessage:
    key: str  # unique per period and recipient: a re-run or a second scheduler creates the message once
    title: str
    body: str
    audience: dict[str, Any]


def queue_system_messages(session_factory: sessionmaker[Session], messages: Sequence[SystemMessage],
                          now: datetime) -> list[int]:
    """Create the system announcements whose key is not stored yet, all in one transaction (a reminder to 1,500
    units is one commit, not 1,500). Returns the ids created. A second scheduler storing one of the same keys at
    the same moment makes the commit fail on the unique key: it is then tried again, skipping what that one made."""
    for _ in range(3):
        with session_factory() as session:
            taken: set[Optional[str]] = set()
            for part in batches([m.key for m in messages], 500):
                taken.update(session.scalars(select(Announcement.dedupe_key).where(Announcement.dedupe_key.in_(part))))
            try:
                with session.no_autoflush:  # one flush inserts them all (batched), not one insert per message
                    created = [announcements.create(session, {"title": m.title, "body": fit_utf8(m.body, 1900),
                                                              "audience": m.audience}, now, kind="system",
                                                    dedupe_key=m.key, flush=False)
                               for m in messages if m.key not in taken]
                session.flush()
                ids = [ann.id for ann in created]
                session.commit()
                return ids
            except IntegrityError:
                session.rollback()
    return []


def queue_system_message(session_factory: sessionmaker[Session], key: str, title: str, body: str,
                         audience: dict[str, Any], now: datetime) -> Optional[int]:
    """One system message unless one with `key` exists (unique: safe against a second scheduler or a re-run).
    Commits. Returns its id, or None when it already existed."""
    ids = queue_system_messages(session_factory, [SystemMessage(key, title, body, audience)], now)
    return ids[0] if ids else None


# ---- jobs --------------------------------------------------------------------------------------------------------

def deliver_announcements() -> None:
    """Start due announcements and send pending deliveries (crash recovery included)."""
    rt = runtime()
    queue_report_results()
    stats = notify.run_once(rt.session_factory, rt.settings, rt.sender_factory())
    if stats.calls:
        log.info("deliveries: %s sent, %s to retry, %s failed in %s calls", stats.sent, stats.retried, stats.failed,
                 stats.calls)
    record_report_results()


def deliver_replies() -> dict[str, int]:
    """Send staff replies to residents the console left pending or that wait for a retry (each exactly once)."""
    rt = runtime()
    counts = replies.deliver_pending_replies(rt.session_factory, rt.settings, rt.sender_factory())
    if counts:
        log.info("replies to residents: %s", counts)
    return counts


def queue_report_results() -> int:
    """Turn each pending report approval/rejection notice into a system message to the reporter."""
    rt = runtime()
    now = clock.now()
    with rt.session_factory() as session:
        pending = reports.pending_notices(session, limit=500)
    queued = 0
    for notice in pending:
        if not notice.openid:  # nobody to address (older rows): record it, don't stop every later delivery
            with rt.session_factory() as session:
                session.get(ReportResultNotice, notice.id).status = "failed"
                session.commit()
            continue
        queue_system_message(rt.session_factory, f"report-result:{notice.id}", texts.REPORT_RESULT_TITLE, notice.text,
                             {"type": "openids", "openids": [notice.openid]}, now)
        with rt.session_factory() as session:
            row = session.get(ReportResultNotice, notice.id)
            if row.status == "pending":
                row.status = "queued"
                session.commit()
                queued += 1
    return queued


def record_report_results() -> None:
    """Copy the delivery outcome of queued report notices back onto the notice rows."""
    rt = runtime()
    with rt.session_factory() as session:
        for notice in session.scalars(select(ReportResultNotice).where(ReportResultNotice.status == "queued")):
            status = session.scalar(select(Delivery.status).join(Announcement).where(
                Announcement.dedupe_key == f"report-result:{notice.id}"))
            if status == DeliveryStatus.SENT:
                notice.status, notice.sent_at = "sent", clock.now()
            elif status in (DeliveryStatus.FAILED, DeliveryStatus.SKIPPED, DeliveryStatus.UNKNOWN):
                notice.status = "failed"
        session.commit()


def _remind(key_prefix: str, title: str, template: str, units: list, extra: dict[str, str]) -> list[int]:
    """One system message per unit (to its bound staff) listing what it missed; unique per period and unit."""
    messages = []
    for unit, missed in units:
        listed = "；".join(f"{r.rule.description}（{r.period.label}：{r.count}/{r.rule.min_count}）"
                          for r in missed) or "—"
        messages.append(SystemMessage(f"{key_prefix}:unit{unit.unit_id}", title,
                                      template.format(unit=unit.name, missed=listed, **extra),
                                      {"type": "units", "unit_ids": [unit.unit_id]}))
    created = queue_system_messages(runtime().session_factory, messages, clock.now())
    log.info("%s: %s units reminded", key_prefix, len(created))
    return created


def _rules(rt) -> tuple:
    """The compliance rules with the configured quarterly minimum, as the dashboard and the API use them."""
    return compliance.rules(rt.settings.compliance_quarter_min)


def monthly_compliance_reminders() -> list[int]:
    """1st of the month, 9:00: staff of every lagging unit (year to date) get a reminder, once per month."""
    today = clock.today()
    rt = runtime()
    with rt.session_factory() as session:
        lagging = compliance.lagging_units(session, *compliance.year_to_date(today), today, _rules(rt))
    return _remind(f"reminder:{today:%Y-%m}", texts.REMINDER_TITLE, texts.REMINDER_BODY,
                   [(u, u.missed) for u in lagging], {})


def quarter_end_warning() -> list[int]:
    """20th of the quarter's last month: staff of units that have not yet met this quarter's requirements are
    warned (before the quarter closes and they turn 滞后), once per quarter."""
    today = clock.today()
    quarter = next(compliance.periods(compliance.QUARTER, today, today))
    q_start, q_end = quarter.start, quarter.end
    rt = runtime()
    with rt.session_factory() as session:
        report = compliance.evaluate(session, q_start, q_end, today, _rules(rt))
    behind = [(u, [r for r in u.missed if r.rule.period == compliance.QUARTER]) for u in report.units]
    return _remind(f"quarter:{q_start:%Y-%m}", texts.QUARTER_TITLE, texts.QUARTER_BODY,
                   [(u, missed) for u, missed in behind if missed], {"quarter_end": q_end.isoformat()})


def weekly_digest() -> Optional[int]:
    """Monday 8:30: last week's sending summary, lagging units and unanswered or overdue residents' messages (the
    longest overdue named) to the administrators' WeChat (ADMIN_OPENIDS)."""
    rt = runtime()
    if not rt.settings.admin_openids:
        log.info("weekly digest: ADMIN_OPENIDS is empty, nothing to send")
        return None
    now = clock.now()
    since = now - timedelta(days=7)
    with rt.session_factory() as session:
        count = session.scalar(select(func.count()).select_from(Announcement).where(
            Announcement.kind == "announcement", Announcement.last_sent_at >= since))
        by_status = dict(session.execute(select(Delivery.status, func.count()).join(Announcement).where(
            Announcement.kind == "announcement", Delivery.created_at >= since).group_by(Delivery.status)).all())
        today = clock.today()
        lagging = len(compliance.lagging_units(session, *compliance.year_to_date(today), today, _rules(rt)))
        unanswered, overdue = sla.open_and_overdue(session, now)
        oldest = message_staff.digest_line(session, now)
    body = texts.DIGEST_BODY.format(
        announcements=count,
        sent=by_status.get(DeliveryStatus.SENT, 0),
        failed=by_status.get(DeliveryStatus.FAILED, 0),
        unknown=by_status.get(DeliveryStatus.UNKNOWN, 0),
        lagging=lagging,
        unanswered=unanswered,
        overdue=overdue,
    ) + oldest
    year, week, _ = now.isocalendar()
    return queue_system_message(rt.session_factory, f"digest:{year}-W{week:02d}", texts.DIGEST_TITLE, body,
                                {"type": "openids", "openids": list(rt.settings.admin_openids)}, now)


def download_report_media() -> None:
    """Fetch staff photos and residents' message photos before WeChat's 3-day media expiry
    (service.reporting.media commits per photo)."""
    rt = runtime()
    client = rt.sender_factory()()
    if rt.settings.simulator_enabled:
        client = media.LocalUploadsFirst(rt.settings.media_dir, client)  # development: simulator pictures
    for model in (ReportPhoto, ThreadPhoto):
        with rt.session_factory() as session:
            media.download_pending(session, client, rt.settings.media_dir, clock.now(), model=model)


def purge_conversation_drafts() -> int:
    rt = runtime()
    with rt.session_factory() as session:
        n = conversation.purge_expired(session, clock.now())
        session.commit()
    return n


def trim_message_log() -> int:
    """Delete inbound-message log rows older than MESSAGE_RETENTION_DAYS (default 180), in short batches."""
    rt = runtime()
    before = clock.now() - timedelta(days=rt.settings.message_retention_days)
    return sum(n for n, _ in inbox.trim_batches(rt.session_factory, before))
