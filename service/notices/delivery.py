"""Deliver announcements: plan one Delivery row per recipient, choose each recipient's channel, claim rows so no
two workers (or processes) send the same one, call WeChat with bounded concurrency, retry, fall back, record.

Channels (limits: ../shared/wechat-platform.md §3.3–3.5):
  mass      群发 by openid list, chunks of ≤ 10,000 carrying a `clientmsgid`, for "all followers" when
            WECHAT_MASS_SEND_ALL is on and the follower got < WECHAT_MASS_MONTHLY_LIMIT mass messages this month;
  cs        customer-service text when the follower wrote to us within 48 h and fewer than 5 of those 5 allowed
            messages were used in that window (ServiceWindow tracks it);
  template  the template message WECHAT_TEMPLATE_ID otherwise.
Unfollowed users and users who sent 退订 are recorded as skipped and never called.

Exactly once. A row goes pending → sending (with a lease, committed *before* the call) → sent/failed/skipped
(committed right after). Claims are a single UPDATE … WHERE status='pending' (compare-and-set; on PostgreSQL the
candidate rows are picked with FOR UPDATE SKIP LOCKED), so two schedulers never claim the same row. A process
killed between the claim and the result leaves rows in 'sending' whose lease runs out:
  * mass rows go back to pending and are re-sent with the *same* clientmsgid, which WeChat de-duplicates for
    24 h (45065 = already sent), so they end up sent exactly once;
  * customer-service and template calls have no idempotency key and WeChat offers no way to ask whether one
    arrived, so re-sending could duplicate. Those rows become 'unknown' (reported to the administrator, never
    re-sent automatically): at most once, and the uncertain set is bounded by the calls in flight at the crash.
The same holds for a call whose answer was lost (read timeout, connection dropped after sending, HTTP 502/504:
`WeChatOutcomeUnknown`): a mass chunk is retried under its clientmsgid, a customer-service or template row becomes
'unknown'. Only an administrator's deliberate "resend the unknown ones" (announcements.resend_unknown) sends
those again. Retryable failures — the ones known not to have reached WeChat or refused by it (-1 busy,
45009/45011 rate limits, HTTP 503, connection refused, DNS, connect timeout) — go back to pending with an
exponential backoff; they are never marked sent. 40001 is refreshed once inside the API client.
"""
from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Optional, Protocol

from sqlalchemy import Select, and_, false, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from models.announcement import (CS, MASS, TEMPLATE, Announcement, AnnouncementStatus, Delivery, DeliveryStatus,
                                 ServiceWindow)
from models.follower import Follower
from models.subscription import NoticeOptOut
from service.core import clock
from service.core.config import Settings
from service.core.db import batches, insert_rows
from service.core.errors import WeChatAPIError, WeChatError, WeChatOutcomeUnknown
from service.core.redact import describe, redact
from service.notices import recurrence, texts
from service.notices.announcements import audience_query, message_text
from service.wechat_api.client import make_client
from service.wechat_api.token_store import MemoTokenStore, make_token_store

log = logging.getLogger(__name__)

CS_WINDOW = timedelta(hours=48)
CS_QUOTA = 5
MASS_CHUNK = 10_000
WINDOW_CLOSED = frozenset({45015, 45047})  # out of the 48 h window / count exhausted → next channel
NOT_FOLLOWING = 43004  # "require subscribe": the user unfollowed
BACKOFF_CAP = 1800.0
TEMPLATE_BATCH = "tpl:"  # Delivery.batch of a template row once sent: "tpl:" + WeChat's msgid
IN_CHUNK = 5000  # ids per IN (...) list


class Sender(Protocol):
    """What notify needs from service.wechat_client's client."""

    def send_text(self, openid: str, text: str) -> dict[str, Any]: ...

    def send_template(self, openid: str, template_id: str, data: dict[str, Any],
                      url: str | None = None) -> dict[str, Any]: ...

    def mass_send_text(self, openids: list[str], text: str, clientmsgid: str) -> dict[str, Any]: ...


def sender_factory(settings: Settings, session_factory: sessionmaker[Session]) -> Callable[[], Sender]:
    """One API client per worker thread (each with its own HTTP connection), sharing a memo-cached token store."""
    store = MemoTokenStore(make_token_store(settings, session_factory))
    return lambda: make_client(settings, store)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


# ---- planning: announcement due → one Delivery row per recipient ----------------------------------------------------

# One recipient as planning sees it: openid, subscribed, last message, service window (start, used), opted out,
# mass messages sent to them this month.
Recipient = tuple[str, bool, Optional[datetime], Optional[datetime], int, bool, int]


def _recipients(session: Session, audience: dict[str, Any], mass_since: Optional[datetime]) -> Iterator[Recipient]:
    """Every recipient of the audience, once each in openid order, with what the channel choice needs: one query
    joining the audience to followers, service windows, opt-outs (and this month's mass sends when `mass_since`),
    so 100,000 recipients cost one round of rows rather than IN lists of their openids. An explicit openid list
    keeps its own order and is looked up in bounded IN lists; an openid without a follower row is unsubscribed."""
    source = audience_query(audience)
    if source is not None:
        distinct = source.distinct().subquery()
        yield from session.execute(_joined(distinct, mass_since).order_by(distinct.c.openid))
        return
    openids = list(dict.fromkeys(audience.get("openids") or []))
    found: dict[str, Recipient] = {}
    for part in batches(openids, IN_CHUNK):
        known = select(Follower.openid.label("openid")).where(Follower.openid.in_(part)).subquery()
        found.update((row[0], row) for row in session.execute(_joined(known, mass_since)))
    for openid in openids:
        yield found.get(openid, (openid, False, None, None, 0, False, 0))


def _joined(source: Any, mass_since: Optional[datetime]) -> Select:
    openid = source.c.openid
    columns: list[Any] = [openid, func.coalesce(Follower.subscribed, false()), Follower.last_message_at,
                          ServiceWindow.window_start, func.coalesce(ServiceWindow.used, 0),
                          NoticeOptOut.openid.is_not(None)]
    stmt = (select().select_from(source).outerjoin(Follower, Follower.openid == openid)
            .outerjoin(ServiceWindow, ServiceWindow.openid == openid)
            .outerjoin(NoticeOptOut, NoticeOptOut.openid == openid))
    if mass_since is None:
        return stmt.add_columns(*columns, literal(0))
    mass = (select(Delivery.openid, func.count().label("sent")).where(
        Delivery.channel == MASS, Delivery.status == DeliveryStatus.SENT, Delivery.sent_at >= mass_since)
        .group_by(Delivery.openid).subquery())
    return stmt.outerjoin(mass, mass.c.openid == openid).add_columns(*columns, func.coalesce(mass.c.sent, 0))


@dataclass
class Window:
    """A follower's customer-service window in planning: its start (their last message) and messages used."""

    start: datetime
    used: int = 0


def _take_slot(last_message: Optional[datetime], window: Optional[Window], now: datetime) -> Optional[Window]:
    """The window with one more customer-service message used, while the 48 h window is open and has quota left;
    None when it is closed or used up."""
    if last_message is not None and last_message > now - CS_WINDOW:
        if window is None or window.start != last_message:
            window = Window(last_message)
        if window.used < CS_QUOTA:
            window.used += 1
            return window
    return None


def _per_user_channel(settings: Settings, last_message: Optional[datetime], window: Optional[Window],
                      now: datetime) -> tuple[Optional[str], Optional[Window]]:
    """cs while the 48 h window has quota left (reserving one), else template if configured, else None."""
    window = _take_slot(last_message, window, now)
    if window is not None:
        return CS, window
    if settings.wechat_template_id:
        return TEMPLATE, None
    return None, None


def reserve_cs_slot(session: Session, openid: str, now: datetime) -> bool:
    """Use one customer-service message of a follower's current window for a single message (a staff reply to a
    resident), with the same bookkeeping announcements use; False when the window is closed or used up (or the user
    does not follow us). The follower's window row is locked on PostgreSQL, so two senders never share a slot."""
    last = session.scalar(select(Follower.last_message_at).where(Follower.openid == openid,
                                                                 Follower.subscribed.is_(True)))
    stmt = select(ServiceWindow.window_start, ServiceWindow.used).where(ServiceWindow.openid == openid)
    if _dialect(session) == "postgresql":
        stmt = stmt.with_for_update()
    row = session.execute(stmt).first()
    window = _take_slot(clock.local(last) if last else None,
                        Window(clock.local(row.window_start), row.used) if row else None, now)
    if window is None:
        return False
    _save_windows(session, {openid: window})
    return True


def close_window(session: Session, openid: str) -> None:
    """WeChat said the window is closed or used up (45015/45047): no more customer-service messages until the
    follower writes again."""
    session.execute(update(ServiceWindow).where(ServiceWindow.openid == openid)
                    .values(used=CS_QUOTA).execution_options(synchronize_session=False))


@dataclass
class Decision:
    """One recipient's fate: the channel it will be sent on, or why it is skipped / cannot be reached."""

    openid: str
    status: str
    channel: Optional[str] = None
    reason: str = ""
    batch: Optional[int] = None  # index of its mass chunk


@dataclass
class Decisions:
    """The channel decision for every recipient of an audience, and the service windows it would use up (held in
    memory: `plan` saves them, a preview drops them)."""

    rows: list[Decision]
    windows: dict[str, Window]


def decide(session: Session, settings: Settings, audience: dict[str, Any], now: datetime) -> Decisions:
    """Choose each recipient's channel as of `now`. Reads only: planning writes the result, the preview counts it."""
    use_mass = audience.get("type") == "all" and settings.wechat_mass_send_all
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    windows: dict[str, Window] = {}
    last_messages: dict[str, Optional[datetime]] = {}
    rows: list[Decision] = []
    mass_rows: list[Decision] = []
    changed: dict[str, Window] = {}

    def per_user(row: Decision, last: Optional[datetime]) -> None:
        channel, window = _per_user_channel(settings, last, windows.get(row.openid), now)
        row.channel = channel
        row.status = DeliveryStatus.PENDING if channel else DeliveryStatus.FAILED
        row.reason = "" if channel else texts.REASON_NO_CHANNEL
        if window is not None:
            windows[row.openid] = changed[row.openid] = window

    for openid, subscribed, last, window_start, used, opted_out, mass_sent in _recipients(
            session, audience, month_start if use_mass else None):
        if window_start is not None:
            windows[openid] = Window(clock.local(window_start), used)
        last = clock.local(last) if last else None
        row = Decision(openid, DeliveryStatus.PENDING)
        if not subscribed:
            row.status, row.reason = DeliveryStatus.SKIPPED, texts.REASON_UNFOLLOWED
        elif opted_out:
            row.status, row.reason = DeliveryStatus.SKIPPED, texts.REASON_OPTED_OUT
        elif use_mass and mass_sent < settings.wechat_mass_monthly_limit:
            row.channel = MASS
            mass_rows.append(row)
            last_messages[openid] = last
        else:
            per_user(row, last)
        rows.append(row)
    if len(mass_rows) == 1:  # a mass send needs at least two openids
        only = mass_rows.pop()
        per_user(only, last_messages[only.openid])
    if mass_rows:  # balanced chunks, each one mass call
        total = len(mass_rows)
        n_chunks = math.ceil(total / MASS_CHUNK)
        for k in range(n_chunks):
            for row in mass_rows[k * total // n_chunks:(k + 1) * total // n_chunks]:
                row.batch = k
    return Decisions(rows, changed)


def plan(session: Session, settings: Settings, ann: Announcement, occurrence: int, now: datetime) -> int:
    """Insert the Delivery rows of one occurrence (channel chosen per recipient by `decide`); returns how many."""
    decided = decide(session, settings, ann.audience, now)
    shared = dict(announcement_id=ann.id, occurrence=occurrence, attempts=0, errcode=None, next_attempt_at=now,
                  created_at=now, updated_at=now, claimed_by="", lease_until=None, sent_at=None)
    rows = (dict(openid=d.openid, status=d.status, channel=d.channel, reason=d.reason,
                 # the clientmsgid of its mass chunk is the batch key
                 batch=None if d.batch is None else f"qijin-a{ann.id}-o{occurrence}-c{d.batch}")
            for d in decided.rows)
    count = insert_rows(session.connection(), Delivery.__table__, rows, shared)
    _save_windows(session, decided.windows)
    return count


def reach(session: Session, settings: Settings, audience: dict[str, Any], at: datetime) -> dict[str, Any]:
    """An honest preview of who an audience reaches if sent at `at`: the same `decide` the planner runs, counted per
    channel and per reason for skipping, with a warning when recipients are lost for want of a template. Writes
    nothing and uses up no customer-service window."""
    decided = decide(session, settings, audience, at)
    channels = {MASS: 0, CS: 0, TEMPLATE: 0}
    skipped = {"unfollowed": 0, "opted_out": 0, "no_channel": 0}
    why = {texts.REASON_UNFOLLOWED: "unfollowed", texts.REASON_OPTED_OUT: "opted_out",
           texts.REASON_NO_CHANNEL: "no_channel"}
    for row in decided.rows:
        if row.channel:
            channels[row.channel] += 1
        else:
            skipped[why[row.reason]] += 1
    warning = ""
    if skipped["no_channel"] and not settings.wechat_template_id:
        warning = texts.NO_TEMPLATE_WARNING.format(count=skipped["no_channel"])
    return {"audience": len(decided.rows), "reachable": sum(channels.values()), "channels": channels,
            "skipped": skipped, "template_configured": bool(settings.wechat_template_id), "warning": warning}


def _save_windows(session: Session, windows: dict[str, Window]) -> None:
    if not windows:
        return
    insert = pg_insert if _dialect(session) == "postgresql" else sqlite_insert
    items = list(windows.items())
    for part in batches(items, 2000):
        stmt = insert(ServiceWindow).values([{"openid": openid, "window_start": w.start, "used": w.used}
                                             for openid, w in part])
        session.execute(stmt.on_conflict_do_update(index_elements=["openid"], set_={
            "window_start": stmt.excluded.window_start, "used": stmt.excluded.used}))


def materialize_due(session_factory: sessionmaker[Session], settings: Settings, now: datetime) -> list[int]:
    """Start every announcement whose time has come: one transaction each (status 发送中 + its Delivery rows), so
    a crash leaves either nothing or the complete recipient list; two schedulers race on the status CAS."""
    started: list[int] = []
    with session_factory() as session:
        due = list(
            session.scalars(
                select(Announcement.id)
                .where(Announcement.status == AnnouncementStatus.SCHEDULED, Announcement.next_run_at <= now)
                .order_by(Announcement.next_run_at)
            )
        )
    for ann_id in due:
        with session_factory() as session:
            result = session.execute(
                update(Announcement)
                .where(
                    Announcement.id == ann_id,
                    Announcement.status == AnnouncementStatus.SCHEDULED,
                    Announcement.next_run_at <= now,
                )
                .values(
                    status=AnnouncementStatus.SENDING,
                    occurrence=Announcement.occurrence + 1,
                    last_sent_at=now,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:
                session.rollback()
                continue
            ann = session.get(Announcement, ann_id)
            count = plan(session, settings, ann, ann.occurrence, now)
            session.commit()
            log.info("announcement %s occurrence %s: %s deliveries planned", ann_id, ann.occurrence, count)
            started.append(ann_id)
    return started


# ---- crash recovery and completion --------------------------------------------------------------------------------

def recover_expired(session: Session, now: datetime) -> dict[str, int]:
    """Claims whose lease ran out belong to a dead process: mass rows are re-sent under the same clientmsgid,
    per-user rows become 'unknown' (they may or may not have reached WeChat)."""
    expired = and_(Delivery.status == DeliveryStatus.IN_FLIGHT, Delivery.lease_until < now)
    mass = session.execute(update(Delivery).where(expired, Delivery.channel == MASS).values(
        status=DeliveryStatus.PENDING, next_attempt_at=now, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    unknown = session.execute(update(Delivery).where(expired, Delivery.channel != MASS).values(
        status=DeliveryStatus.UNKNOWN, reason=texts.REASON_UNKNOWN, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    if mass or unknown:
        log.warning("recovered interrupted deliveries: %s mass rows to resend, %s marked unknown", mass, unknown)
    return {"mass": mass or 0, "unknown": unknown or 0}


def finish_completed(session: Session, now: datetime) -> list[int]:
    """Announcements whose current occurrence has no pending or in-flight row: 已发送 / 部分失败, or back to
    已排期 at the next occurrence for a recurrence."""
    done: list[int] = []
    for ann in session.scalars(select(Announcement).where(Announcement.status == AnnouncementStatus.SENDING)):
        open_rows = session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.announcement_id == ann.id, Delivery.occurrence == ann.occurrence,
            Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT))))
        if open_rows:
            continue
        bad = session.scalar(select(func.count()).select_from(Delivery).where(
            Delivery.announcement_id == ann.id, Delivery.occurrence == ann.occurrence,
            Delivery.status.in_((DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN))))
        result = AnnouncementStatus.PARTIAL if bad else AnnouncementStatus.SENT
        values: dict[str, Any] = {"status": result, "updated_at": now}
        if ann.recurrence:
            values.update(status=AnnouncementStatus.SCHEDULED, next_run_at=recurrence.next_run(ann.recurrence, now))
        session.execute(
            update(Announcement)
            .where(
                Announcement.id == ann.id,
                Announcement.status == AnnouncementStatus.SENDING,
                Announcement.occurrence == ann.occurrence,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        done.append(ann.id)
    return done


# ---- sending ------------------------------------------------------------------------------------------------------

@dataclass
class Job:
    """One claimed delivery (or a claimed mass chunk) handed to a worker thread."""

    ids: list[int]
    openids: list[str]
    channel: str
    announcement_id: int
    attempts: int
    batch: Optional[str] = None


@dataclass
class Outcome:
    ok: bool
    errcode: Optional[int] = None
    reason: str = ""
    retryable: bool = False
    http: bool = False
    platform_id: Optional[str] = None  # a template send's msgid, for its TEMPLATESENDJOBFINISH event
    unknown: bool = False  # the call went out and its answer was lost: WeChat may have delivered it


def _claim_user_rows(session: Session, limit: int, now: datetime, lease: float, me: str) -> list[Job]:
    candidates = (
        select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.PENDING,
            Delivery.channel.in_((CS, TEMPLATE)),
            Delivery.next_attempt_at <= now,
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    )  # follows ix_delivery_due: no sort of the backlog
    if _dialect(session) == "postgresql":
        # a locking CTE is evaluated exactly once; an IN (subquery … LIMIT n SKIP LOCKED) may be re-run per row
        # by the planner and claim more than n rows
        picked = candidates.with_for_update(skip_locked=True).cte("picked")
        target = Delivery.id == picked.c.id
    else:  # SQLite runs one writer at a time, so the uncorrelated subquery and the UPDATE see the same rows
        target = Delivery.id.in_(candidates.scalar_subquery())
    rows = session.execute(
        update(Delivery)
        .where(target, Delivery.status == DeliveryStatus.PENDING)
        .values(
            status=DeliveryStatus.IN_FLIGHT,
            lease_until=now + timedelta(seconds=lease),
            attempts=Delivery.attempts + 1,
            claimed_by=me,
            updated_at=now,
        )
        .returning(Delivery.id, Delivery.openid, Delivery.channel, Delivery.announcement_id, Delivery.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    return [Job([r.id], [r.openid], r.channel, r.announcement_id, r.attempts) for r in rows]


def _claim_mass_chunk(session: Session, now: datetime, lease: float, me: str) -> Optional[Job]:
    batch = session.scalar(
        select(Delivery.batch)
        .where(Delivery.status == DeliveryStatus.PENDING, Delivery.channel == MASS, Delivery.next_attempt_at <= now)
        .limit(1)
    )
    if batch is None:
        return None
    rows = session.execute(
        update(Delivery)
        .where(Delivery.batch == batch, Delivery.status == DeliveryStatus.PENDING)
        .values(
            status=DeliveryStatus.IN_FLIGHT,
            lease_until=now + timedelta(seconds=lease),
            attempts=Delivery.attempts + 1,
            claimed_by=me,
            updated_at=now,
        )
        .returning(Delivery.id, Delivery.openid, Delivery.announcement_id, Delivery.attempts)
        .execution_options(synchronize_session=False)
    ).all()
    if not rows:
        return None
    # the chunk is fixed at planning time, so a resend after a crash repeats the same openids and clientmsgid
    return Job([r.id for r in rows], [r.openid for r in rows], MASS, rows[0].announcement_id,
               max(r.attempts for r in rows), batch)


TemplateReceipt = Callable[[Session, str, str, str, datetime], bool]
# Other features that send template messages (residents' message replies) register here to hear of theirs.
TEMPLATE_RECEIPTS: list[TemplateReceipt] = []


def template_receipt(handler: TemplateReceipt) -> TemplateReceipt:
    """Register a feature's own TEMPLATESENDJOBFINISH handler (True when the msgid was one of its sends)."""
    TEMPLATE_RECEIPTS.append(handler)
    return handler


def template_outcome(status: str) -> tuple[bool, str]:
    """(reached the user, the note to keep) of a TEMPLATESENDJOBFINISH status."""
    if status == "success":
        return True, texts.TEMPLATE_RECEIVED
    return False, texts.TEMPLATE_REFUSED if "block" in status else texts.template_failed(status[:64])


def template_job_finished(session: Session, openid: str, msgid: str, status: str, now: datetime) -> bool:
    """WeChat's TEMPLATESENDJOBFINISH event: whether a template message reached the user (a refusal or a failure
    turns its delivery row to failed, with the reason). False when no row of ours carries that msgid."""
    if not msgid:
        return False
    row = session.scalar(select(Delivery).where(Delivery.batch == TEMPLATE_BATCH + msgid, Delivery.openid == openid,
                                                Delivery.channel == TEMPLATE))
    if row is None:
        return False
    reached, note = template_outcome(status)
    if not reached:
        row.status = DeliveryStatus.FAILED
    row.reason = "；".join(part for part in (row.reason, note) if part)[:255]
    row.updated_at = now
    return True


def template_data(title: str, when: datetime, hint: str = texts.TEMPLATE_HINT) -> dict[str, Any]:
    """Keyword values ≤ 20 characters, no line breaks (template rules since 2023-05)."""
    return {"thing1": {"value": title[:20]}, "time2": {"value": when.strftime("%Y-%m-%d %H:%M")},
            "thing3": {"value": hint[:20]}}


def attempt(call: Callable[[], Any], channel: str, what: str = "delivery") -> Outcome:
    """Make one WeChat call and say what came of it: sent (with a template's msgid), refused (errcode, whether a
    retry may help), not reached (retryable) or unknown (sent, answer lost: only a mass chunk may go again). Shared
    by announcements and staff replies, so both read WeChat's answers alike."""
    try:
        answer = call()
    except WeChatAPIError as exc:
        return Outcome(False, exc.errcode, redact(f"{exc.errcode} {exc.errmsg}")[:255], exc.retryable)
    except WeChatOutcomeUnknown as exc:  # sent, no answer: only a mass chunk (clientmsgid) may go again
        return Outcome(False, None, redact(exc)[:255], channel == MASS, True, unknown=True)
    except WeChatError as exc:  # not reached: connection refused, DNS, connect timeout, 503 — never 'sent'
        return Outcome(False, None, redact(exc)[:255], True, True)
    except Exception as exc:  # a bug must not lose the row: record it as failed with the reason
        log.exception("unexpected error sending %s", what)
        return Outcome(False, None, describe(exc), False)
    msgid = answer.get("msgid") if channel == TEMPLATE and isinstance(answer, dict) else None
    return Outcome(True, 0, platform_id=str(msgid) if msgid else None)


def _call(sender: Sender, settings: Settings, job: Job, content: tuple[str, str], when: datetime) -> Outcome:
    title, body = content
    openid = job.openids[0]
    calls: dict[str, Callable[[], Any]] = {
        CS: lambda: sender.send_text(openid, message_text(title, body)),
        TEMPLATE: lambda: sender.send_template(openid, settings.wechat_template_id, template_data(title, when)),
        MASS: lambda: sender.mass_send_text(job.openids, message_text(title, body), clientmsgid=job.batch),
    }
    return attempt(calls[job.channel], job.channel, f"delivery {job.ids}")


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """How long a retryable failure waits before its next try: NOTIFY_BACKOFF_SECONDS, doubling per attempt."""
    return timedelta(seconds=min(settings.notify_backoff_seconds * 2 ** (attempts - 1), BACKOFF_CAP))


def _record(session: Session, settings: Settings, job: Job, outcome: Outcome, now: datetime) -> None:
    ids = Delivery.id.in_(job.ids)
    mine = and_(ids, Delivery.status == DeliveryStatus.IN_FLIGHT)
    common = dict(lease_until=None, updated_at=now, errcode=outcome.errcode)
    if outcome.ok:
        values = dict(common, status=DeliveryStatus.SENT, sent_at=now, channel=job.channel)  # keeps earlier notes
        if job.channel == TEMPLATE and outcome.platform_id:
            values["batch"] = TEMPLATE_BATCH + outcome.platform_id
    elif outcome.unknown and (job.channel != MASS or job.attempts >= settings.notify_max_attempts):
        values = dict(common, status=DeliveryStatus.UNKNOWN,
                      reason=f"{texts.REASON_NO_ANSWER}（{outcome.reason}）"[:255])
    elif outcome.retryable and job.attempts < settings.notify_max_attempts:
        values = dict(common, status=DeliveryStatus.PENDING,
                      next_attempt_at=now + retry_delay(settings, job.attempts),
                      reason=outcome.reason)
    elif outcome.retryable:
        values = dict(common, status=DeliveryStatus.FAILED, reason=f"{texts.REASON_RETRIES}: {outcome.reason}"[:255])
    elif outcome.errcode == NOT_FOLLOWING:
        values = dict(common, status=DeliveryStatus.SKIPPED, reason=texts.REASON_UNFOLLOWED)
    elif outcome.errcode in WINDOW_CLOSED and job.channel == CS:
        close_window(session, job.openids[0])
        if settings.wechat_template_id:  # fall back to the next channel right away
            values = dict(common, status=DeliveryStatus.PENDING, channel=TEMPLATE, next_attempt_at=now,
                          reason=f"客服消息失败（{outcome.errcode}），改用模板消息")
        else:
            values = dict(
                common, status=DeliveryStatus.FAILED, reason=f"{outcome.reason}；{texts.REASON_NO_CHANNEL}"[:255]
            )
    elif job.channel == MASS:  # the mass API refused this chunk (quota, protection…): per-user channels instead
        values = dict(
            common,
            status=DeliveryStatus.PENDING,
            channel=TEMPLATE if settings.wechat_template_id else CS,
            batch=None,
            next_attempt_at=now,
            reason=f"群发失败（{outcome.reason}），改为逐个发送"[:255],
        )
    else:
        values = dict(common, status=DeliveryStatus.FAILED, reason=outcome.reason)
    session.execute(update(Delivery).where(mine).values(**values).execution_options(synchronize_session=False))


def _record_all(session: Session, settings: Settings, finished: list[tuple[Job, Outcome]], now: datetime) -> None:
    """Successes share their values, so they are written with one UPDATE per channel; the rest one by one (and
    template sends, which each keep their own msgid)."""
    ok: dict[str, list[int]] = {}
    for job, outcome in finished:
        if outcome.ok and not outcome.platform_id:
            ok.setdefault(job.channel, []).extend(job.ids)
        else:
            _record(session, settings, job, outcome, now)
    for channel, ids in ok.items():
        for part in batches(ids, IN_CHUNK):
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(part), Delivery.status == DeliveryStatus.IN_FLIGHT)
                .values(
                    status=DeliveryStatus.SENT,
                    sent_at=now,
                    channel=channel,
                    errcode=0,
                    lease_until=None,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )


@dataclass
class RunStats:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    calls: int = 0


def deliver_pending(session_factory: sessionmaker[Session], settings: Settings,
                    sender_factory: Callable[[], Sender], max_seconds: Optional[float] = None,
                    concurrency: Optional[int] = None) -> RunStats:
    """Send everything due until nothing is left (or `max_seconds` passed), with at most `concurrency` calls in
    flight. One thread does all database work in short transactions; worker threads only call WeChat (each
    with its own HTTP connection). Results are committed together with the next claim."""
    n = concurrency or settings.notify_concurrency
    me = worker_id()
    lease = settings.notify_lease_seconds
    started = time.monotonic()
    local = threading.local()
    contents: dict[int, tuple[str, str]] = {}
    stats = RunStats()

    def sender() -> Sender:
        if not hasattr(local, "sender"):
            local.sender = sender_factory()
        return local.sender

    def run(job: Job, content: tuple[str, str], when: datetime) -> Outcome:
        return _call(sender(), settings, job, content, when)

    inflight: dict[Future[Outcome], Job] = {}
    finished: list[tuple[Job, Outcome]] = []
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="notify") as pool:
        while True:
            now = clock.now()
            out_of_time = max_seconds is not None and time.monotonic() - started > max_seconds
            with session_factory() as session:
                _record_all(session, settings, finished, now)
                finished.clear()
                jobs: list[Job] = []
                free = n - len(inflight)
                if not out_of_time and free > 0 and (free >= max(1, n // 4) or not inflight):
                    mass = _claim_mass_chunk(session, now, lease, me)
                    if mass is not None:
                        jobs.append(mass)
                        free -= 1
                    if free > 0:
                        jobs += _claim_user_rows(session, free, now, lease, me)
                    for job in jobs:
                        if job.announcement_id not in contents:
                            ann = session.get(Announcement, job.announcement_id)
                            contents[job.announcement_id] = (ann.title, ann.body)
                session.commit()  # the claim is durable before any call is made
            for job in jobs:
                inflight[pool.submit(run, job, contents[job.announcement_id], now)] = job
            if not inflight:
                break
            done, _ = wait(list(inflight), timeout=1.0, return_when=FIRST_COMPLETED)
            batch = max(1, n // 4)
            while len(done) < batch and len(done) < len(inflight):  # gather a few results per database round
                more, _ = wait([f for f in inflight if f not in done], timeout=0.02, return_when=FIRST_COMPLETED)
                if not more:
                    break
                done |= more
            for future in done:
                job = inflight.pop(future)
                outcome = future.result()
                finished.append((job, outcome))
                stats.calls += 1
                if outcome.ok:
                    stats.sent += len(job.ids)
                elif outcome.unknown and not outcome.retryable:
                    stats.unknown += len(job.ids)
                elif outcome.retryable:
                    stats.retried += len(job.ids)
                else:
                    stats.failed += len(job.ids)
    return stats


def run_once(session_factory: sessionmaker[Session], settings: Settings, sender_factory: Callable[[], Sender],
             max_seconds: Optional[float] = None) -> RunStats:
    """One scheduler tick: recover crashed claims, start due announcements, send, close finished ones."""
    now = clock.now()
    with session_factory() as session:
        recover_expired(session, now)
        session.commit()
    materialize_due(session_factory, settings, now)
    stats = deliver_pending(session_factory, settings, sender_factory, max_seconds=max_seconds)
    with session_factory() as session:
        finish_completed(session, clock.now())
        session.commit()
    return stats
