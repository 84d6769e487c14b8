"""Staff replies reaching the resident, each exactly once.

A reply (and the one rating question a closed thread asks) is a thread entry with a `delivery` state:

    pending → sending (claimed by a compare-and-set, committed before the call) → sent | unknown | failed
                                                                               ↘ waiting → passive

The channel is chosen when it is claimed, with the announcements' window bookkeeping (notices.delivery):
a customer-service message while the resident's 48-hour window is open and has quota left; else a template message
when MESSAGE_REPLY_TEMPLATE_ID is set; else it waits (`waiting`) and goes out as the passive reply to the
resident's next message, before whatever the bot answers, in the same transaction that stores that message.

A call whose answer was lost (WeChatOutcomeUnknown), or a claim whose sender died (lease over), becomes `unknown`:
a customer-service message has no idempotency key, so it is never re-sent blindly. A refusal is `failed` with
WeChat's reason, shown on the thread; retryable failures go back to `pending` with the announcements' backoff.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Callable, Optional

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, sessionmaker

from models.announcement import CS, TEMPLATE
from models.message import EntryKind, ReplyDelivery, ResidentThread, ThreadEntry, ThreadStatus
from service.chat import conversation
from service.chat.conversation import ConcurrentUpdate, Draft
from service.core import clock
from service.core.config import Settings
from service.core.errors import InvalidInput
from service.core.textfit import utf8_len
from service.messages import texts
from service.notices import texts as notice_texts
from service.notices.delivery import (NOT_FOLLOWING, WINDOW_CLOSED, Outcome, Sender, attempt, close_window,
                                      reserve_cs_slot, retry_delay, template_data, template_outcome, template_receipt)

log = logging.getLogger(__name__)

PASSIVE = "passive"  # ThreadEntry.channel of a reply that went out with the resident's next message
REPLY_MAX_CHARS = 500  # a reply with its head and foot stays within one WeChat text (2048 bytes)
WAITING_FLOW = "message_waiting"  # a marker draft: the resident has replies waiting (the gateway's fast path
WAITING_TTL = timedelta(days=365)  # declines while it lives, so their next message takes the general path)
RATING_FLOW = "message_rating"  # the rating question went out: the next 1/2/3 rates the thread
RATING_TTL = timedelta(days=7)
conversation.BACKGROUND_FLOWS.update({WAITING_FLOW, RATING_FLOW})


# ---- writing a reply --------------------------------------------------------------------------------------------

def check_reply(text: str) -> str:
    text = (text or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise InvalidInput(texts.REPLY_EMPTY, "text")
    if len(text) > REPLY_MAX_CHARS:
        raise InvalidInput(texts.REPLY_TOO_LONG.format(limit=REPLY_MAX_CHARS, n=len(text)), "text")
    return text


def post_reply(session: Session, thread: ResidentThread, *, author_id: Optional[int], text: str,
               now: Optional[datetime] = None) -> ThreadEntry:
    """Add a staff reply (pending delivery); the thread becomes 已回复 and its first response time is kept. The
    caller commits, then calls `deliver_reply` (or leaves it to the scheduler)."""
    text = check_reply(text)
    now = now or clock.now()
    entry = _outgoing(session, thread, EntryKind.REPLY, text, now, author_id)
    if thread.status != ThreadStatus.CLOSED:
        thread.status = ThreadStatus.REPLIED.value
    if thread.first_response_at is None:
        thread.first_response_at = now
    return entry


def request_rating(session: Session, thread: ResidentThread, now: Optional[datetime] = None) -> Optional[ThreadEntry]:
    """Ask the resident, once per thread, to rate how it was handled (1 满意 / 2 基本满意 / 3 不满意 + words); the
    question is delivered like a reply. None when it was asked before."""
    if thread.rating_asked_at is not None:
        return None
    now = now or clock.now()
    thread.rating_asked_at = now
    return _outgoing(session, thread, EntryKind.EVENT, texts.RATING_QUESTION.format(receipt=thread.receipt), now)


def _outgoing(session: Session, thread: ResidentThread, kind: EntryKind, body: str, now: datetime,
              author_id: Optional[int] = None) -> ThreadEntry:
    entry = ThreadEntry(thread_id=thread.id, kind=kind.value, author_id=author_id, body=body, created_at=now,
                        delivery=ReplyDelivery.PENDING.value, next_attempt_at=now)
    session.add(entry)
    thread.updated_at = now
    session.flush()
    return entry


def is_rating_question(entry: ThreadEntry) -> bool:
    return entry.kind == EntryKind.EVENT


def message_text(thread: ResidentThread, entry: ThreadEntry) -> str:
    """The words the resident receives for an outgoing entry: a reply with the thread number, or the question."""
    if is_rating_question(entry):
        return entry.body
    return "\n".join((texts.REPLY_HEAD.format(receipt=thread.receipt), entry.body,
                      texts.REPLY_FOOT.format(receipt=thread.receipt)))


def _template(thread: ResidentThread, entry: ThreadEntry, now: datetime) -> dict[str, Any]:
    hint = texts.TEMPLATE_RATE if is_rating_question(entry) else texts.TEMPLATE_HINT
    return template_data(texts.TEMPLATE_TITLE.format(receipt=thread.receipt), clock.local(now), hint)


# ---- markers the chat reads -------------------------------------------------------------------------------------

def _mark(session: Session, openid: str, flow: str, data: dict[str, Any], now: datetime, ttl: timedelta) -> None:
    """Save a background draft (replacing an earlier one of the same flow); a concurrent save by another turn
    leaves theirs, which says the same."""
    try:
        with session.begin_nested():
            conversation.save(session, Draft(openid, flow, "wait", data), now, ttl)
    except ConcurrentUpdate:
        pass


def _delivered(session: Session, thread: ResidentThread, entry: ThreadEntry, now: datetime) -> None:
    """What follows a delivery: after the rating question, the resident's next 1/2/3 is the rating."""
    if is_rating_question(entry):
        _mark(session, thread.openid, RATING_FLOW, {"thread": thread.id}, now, RATING_TTL)


# ---- sending ----------------------------------------------------------------------------------------------------

def _claim(session: Session, entry_id: int, now: datetime, lease: float) -> bool:
    """pending → sending, compare-and-set: of two senders only one wins."""
    result = session.execute(
        update(ThreadEntry)
        .where(ThreadEntry.id == entry_id, ThreadEntry.delivery == ReplyDelivery.PENDING)
        .values(delivery=ReplyDelivery.SENDING.value, attempts=ThreadEntry.attempts + 1,
                next_attempt_at=now + timedelta(seconds=lease))
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def _set(session: Session, entry_id: int, **values: Any) -> bool:
    """Record the outcome of this sender's claim (only while it is still `sending`: a recovered lease wins)."""
    result = session.execute(update(ThreadEntry).where(ThreadEntry.id == entry_id,
                                                       ThreadEntry.delivery == ReplyDelivery.SENDING)
                             .values(**values).execution_options(synchronize_session=False))
    return result.rowcount == 1


def _wait(session: Session, thread: ResidentThread, entry_id: int, now: datetime, note: str = "") -> None:
    """No channel now: the entry waits for the resident's next message."""
    if _set(session, entry_id, delivery=ReplyDelivery.WAITING.value, channel=None, next_attempt_at=None,
            delivery_error=note[:255]):
        _mark(session, thread.openid, WAITING_FLOW, {}, now, WAITING_TTL)


def _status(session: Session, entry_id: int) -> str:
    return session.scalar(select(ThreadEntry.delivery).where(ThreadEntry.id == entry_id)) or ""


@template_receipt
def template_job_finished(session: Session, openid: str, msgid: str, status: str, now: datetime) -> bool:
    """WeChat's later word on a template reply: a refusal or a failure turns the accepted reply to failed, with the
    reason on the thread, so staff see that it did not arrive. False when no reply of ours carries that msgid."""
    entry = session.scalar(select(ThreadEntry).join(ResidentThread)
                           .where(ThreadEntry.platform_id == msgid, ResidentThread.openid == openid))
    if entry is None:
        return False
    reached, note = template_outcome(status)
    if not reached:
        entry.delivery = ReplyDelivery.FAILED.value
    entry.delivery_error = note[:255]
    return True


def deliver_reply(entry_id: int, *, session_factory: sessionmaker[Session], settings: Settings, sender: Sender,
                  now: Optional[datetime] = None) -> str:
    """Send one pending outgoing entry now (after the transaction that created it committed); returns its delivery
    state afterwards. Does nothing to an entry that is not pending (another sender has it, or it went out)."""
    for _ in range(2):  # a closed window found by WeChat (45015/45047) falls back to the template at once
        status, again = _deliver_once(entry_id, session_factory, settings, sender, now or clock.now())
        if not again:
            return status
    return status


def _deliver_once(entry_id: int, session_factory: sessionmaker[Session], settings: Settings, sender: Sender,
                  now: datetime) -> tuple[str, bool]:
    with session_factory() as session:
        if not _claim(session, entry_id, now, settings.notify_lease_seconds):
            session.rollback()
            return _status(session, entry_id), False
        entry = session.get(ThreadEntry, entry_id)
        assert entry is not None
        thread = entry.thread
        if reserve_cs_slot(session, thread.openid, now):
            channel = CS
        elif settings.message_reply_template_id:
            channel = TEMPLATE
        else:
            _wait(session, thread, entry_id, now)
            session.commit()
            return ReplyDelivery.WAITING.value, False
        _set(session, entry_id, channel=channel)
        openid, text, data = thread.openid, message_text(thread, entry), _template(thread, entry, now)
        attempts = entry.attempts
        session.commit()  # the claim is durable before the call

    calls: dict[str, Callable[[], Any]] = {
        CS: lambda: sender.send_text(openid, text),
        TEMPLATE: lambda: sender.send_template(openid, settings.message_reply_template_id, data),
    }
    outcome = attempt(calls[channel], channel, f"reply {entry_id}")

    with session_factory() as session:
        again = _record(session, settings, entry_id, channel, attempts, outcome, now)
        session.commit()
        return _status(session, entry_id), again


def _record(session: Session, settings: Settings, entry_id: int, channel: str, attempts: int, outcome: Outcome,
            now: datetime) -> bool:
    """Store what the call did; True when the entry should be tried again at once (template after a closed window)."""
    entry = session.get(ThreadEntry, entry_id)
    assert entry is not None
    thread = entry.thread
    if outcome.ok:
        if _set(session, entry_id, delivery=ReplyDelivery.SENT.value, delivered_at=now, delivery_error="",
                next_attempt_at=None, platform_id=outcome.platform_id if channel == TEMPLATE else None):
            _delivered(session, thread, entry, now)
    elif outcome.unknown:
        _set(session, entry_id, delivery=ReplyDelivery.UNKNOWN.value, next_attempt_at=None,
             delivery_error=f"{notice_texts.REASON_NO_ANSWER}（{outcome.reason}）"[:255])
    elif outcome.retryable and attempts < settings.notify_max_attempts:
        _set(session, entry_id, delivery=ReplyDelivery.PENDING.value,
             delivery_error=f"{notice_texts.REASON_WILL_RETRY}（{outcome.reason}）"[:255],
             next_attempt_at=now + retry_delay(settings, attempts))
    elif outcome.retryable:
        _set(session, entry_id, delivery=ReplyDelivery.FAILED.value, next_attempt_at=None,
             delivery_error=f"{notice_texts.REASON_RETRIES}: {outcome.reason}"[:255])
    elif outcome.errcode == NOT_FOLLOWING:
        _set(session, entry_id, delivery=ReplyDelivery.FAILED.value, next_attempt_at=None,
             delivery_error=notice_texts.REASON_UNFOLLOWED)
    elif outcome.errcode in WINDOW_CLOSED and channel == CS:
        close_window(session, thread.openid)
        if settings.message_reply_template_id:
            _set(session, entry_id, delivery=ReplyDelivery.PENDING.value, next_attempt_at=now,
                 delivery_error=texts.CS_CLOSED_TEMPLATE.format(errcode=outcome.errcode))
            return True
        _wait(session, thread, entry_id, now, texts.CS_CLOSED_WAIT.format(errcode=outcome.errcode))
    else:
        _set(session, entry_id, delivery=ReplyDelivery.FAILED.value, next_attempt_at=None,
             delivery_error=outcome.reason)
    return False


def recover_expired(session: Session, now: datetime) -> int:
    """Claims whose sender died (lease over) may or may not have reached WeChat: unknown, never re-sent blindly."""
    result = session.execute(
        update(ThreadEntry)
        .where(ThreadEntry.delivery == ReplyDelivery.SENDING, ThreadEntry.next_attempt_at < now)
        .values(delivery=ReplyDelivery.UNKNOWN.value, delivery_error=notice_texts.REASON_UNKNOWN[:255],
                next_attempt_at=None)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


def deliver_pending_replies(session_factory: sessionmaker[Session], settings: Settings,
                            sender_factory: Callable[[], Sender], limit: int = 200) -> dict[str, int]:
    """The scheduler's job: mark dead claims unknown, then send every pending entry that is due (new ones the
    console left, retries after their backoff). Returns how many ended in each state."""
    now = clock.now()
    with session_factory() as session:
        recover_expired(session, now)
        session.commit()
        due = list(session.scalars(
            select(ThreadEntry.id)
            .where(ThreadEntry.delivery == ReplyDelivery.PENDING,
                   and_(ThreadEntry.next_attempt_at.is_not(None), ThreadEntry.next_attempt_at <= now))
            .order_by(ThreadEntry.id).limit(limit)))
    counts: dict[str, int] = {}
    if not due:
        return counts
    sender = sender_factory()
    for entry_id in due:
        status = deliver_reply(entry_id, session_factory=session_factory, settings=settings, sender=sender, now=now)
        counts[status] = counts.get(status, 0) + 1
    return counts


# ---- the passive reply ------------------------------------------------------------------------------------------

def passive_reply_for(session: Session, openid: str, now: Optional[datetime] = None,
                      budget: int = 1800) -> Optional[str]:
    """The waiting replies of a resident, as text to put before the bot's answer to the message they just sent,
    within `budget` UTF-8 bytes (what does not fit waits for the next message); each is marked delivered in the
    caller's transaction, the one that stores the message and its reply, so it goes out exactly once. None when
    nothing waits."""
    now = now or clock.now()
    rows = session.execute(
        select(ThreadEntry, ResidentThread).join(ResidentThread, ThreadEntry.thread_id == ResidentThread.id)
        .where(ResidentThread.openid == openid, ThreadEntry.delivery == ReplyDelivery.WAITING)
        .order_by(ThreadEntry.id)).all()
    parts: list[str] = []
    used = 0
    left = False
    for entry, thread in rows:
        text = message_text(thread, entry)
        size = utf8_len(text) + 2
        if parts and used + size > budget:
            left = True
            continue
        claimed = session.execute(
            update(ThreadEntry).where(ThreadEntry.id == entry.id, ThreadEntry.delivery == ReplyDelivery.WAITING)
            .values(delivery=ReplyDelivery.PASSIVE.value, channel=PASSIVE, delivered_at=now, next_attempt_at=None)
            .execution_options(synchronize_session=False)).rowcount
        if claimed != 1:
            continue
        parts.append(text)
        used += size
        _delivered(session, thread, entry, now)
    if not left:
        conversation.clear(session, openid, WAITING_FLOW)
    return "\n\n".join(parts) if parts else None
