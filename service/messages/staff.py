"""The staff side of residents' messages: the inbox (filters, SQL paging, counts per status), a thread's timeline,
assigning, notes, replies and closing, and the month's figures for the dashboard and the weekly digest.

Who sees what: 管理员 every thread; any other console user (审核员, 接待员) only the threads assigned to them — the
same rule for the console and the API, applied in SQL (`visible`). Every change is audited in the caller's
transaction through `core.audit.record`; the caller commits, then delivers a reply (`replies.deliver_reply`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Mapping, Optional, Sequence

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from models.admin import ROLE_ADMIN, AdminUser
from models.inbound import InboundMessage
from models.message import EntryKind, ResidentThread, ThreadEntry, ThreadStatus
from service.core import clock, params
from service.core.audit import record
from service.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.core.paging import DEFAULT_PER_PAGE, Page, paginate
from service.messages import labels, replies, sla, staff_texts as texts, threads

STATUSES = tuple(labels.STATUS_LABELS)
CATEGORIES = tuple(labels.CATEGORY_LABELS)
NOT_CLOSED = (ThreadStatus.OPEN.value, ThreadStatus.IN_PROGRESS.value, ThreadStatus.REPLIED.value)
NOTE_LIMIT = 2000
Q_LIMIT = 100
TIMELINE_THREADS = 20  # the resident's other threads shown beside one
TIMELINE_MESSAGES = 20  # and their latest messages to the account (index on openid, id)
DIGEST_EXAMPLES = 5


# ---- filters -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InboxFilter:
    status: Optional[str] = None
    category: Optional[str] = None
    assigned_to: Optional[int] = None
    overdue: bool = False
    date_from: Optional[date] = None  # created on or after, Asia/Shanghai
    date_to: Optional[date] = None  # created on or before, inclusive
    q: str = ""

    def apply(self, stmt: Select, now: datetime) -> Select:
        conditions = [column == value for column, value in (
            (ResidentThread.status, self.status), (ResidentThread.category, self.category),
            (ResidentThread.assigned_to, self.assigned_to)) if value is not None]
        if self.overdue:
            conditions.append(sla.overdue(now))
        if self.date_from is not None:
            conditions.append(ResidentThread.created_at >= day_start(self.date_from))
        if self.date_to is not None:
            conditions.append(ResidentThread.created_at < day_start(self.date_to + timedelta(days=1)))
        if self.q:
            conditions.append(params.contains_any(
                (ResidentThread.receipt, ResidentThread.subject, ResidentThread.phone), self.q))
        return stmt.where(*conditions) if conditions else stmt

    def to_dict(self) -> dict[str, Any]:
        return {key: (value.isoformat() if isinstance(value, date) else value)
                for key, value in self.__dict__.items() if value not in (None, "", False)}


def parse_filters(args: Mapping[str, Any]) -> InboxFilter:
    """Query arguments → a filter; a bad value is a 422 naming its field (the console shows it beside the field)."""
    flag = str(args.get("overdue") or "").strip().lower()
    if flag not in ("", "0", "1", "true", "false"):
        raise InvalidInput(texts.OVERDUE_FLAG, "overdue")
    start = params.parse_date(args.get("date_from"), "date_from", texts.FIELD_LABELS)
    end = params.parse_date(args.get("date_to"), "date_to", texts.FIELD_LABELS)
    if start and end and end < start:
        raise InvalidInput(texts.DATE_ORDER, "date_to")
    return InboxFilter(
        status=params.choice(args.get("status"), STATUSES, "status", texts.FIELD_LABELS, _shown(STATUSES)),
        category=params.choice(args.get("category"), CATEGORIES, "category", texts.FIELD_LABELS, _shown(CATEGORIES)),
        assigned_to=params.parse_int(args.get("assigned_to"), "assigned_to", labels=texts.FIELD_LABELS),
        overdue=flag in ("1", "true"), date_from=start, date_to=end, q=str(args.get("q") or "").strip()[:Q_LIMIT])


def _shown(options: tuple[str, ...]) -> tuple[str, ...]:
    """Options as the message lists them: `open（待处理）`."""
    words = labels.STATUS_LABELS | labels.CATEGORY_LABELS
    return tuple(f"{option}（{words[option]}）" for option in options)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=clock.TZ)


def is_overdue(thread: ResidentThread, now: datetime) -> bool:
    """One thread by `sla.overdue`'s definition: no reply yet and past its due time."""
    return thread.status in sla.UNANSWERED and thread.due_at is not None and clock.local(thread.due_at) < now


# ---- who sees what -----------------------------------------------------------------------------------------------

def visible(stmt: Select, user: AdminUser) -> Select:
    return stmt if user.role == ROLE_ADMIN else stmt.where(ResidentThread.assigned_to == user.id)


def get_thread(session: Session, user: AdminUser, thread_id: int) -> ResidentThread:
    """The thread if `user` may see it: 404 when there is none, 403 when it is someone else's."""
    thread = session.get(ResidentThread, thread_id)
    if thread is None:
        raise NotFound(texts.THREAD_NOT_FOUND, "thread_id")
    if user.role != ROLE_ADMIN and thread.assigned_to != user.id:
        raise Forbidden(texts.NOT_YOURS)
    return thread


# ---- the inbox ---------------------------------------------------------------------------------------------------

def inbox(session: Session, user: AdminUser, filters: InboxFilter, now: datetime, page: int = 1,
          per_page: int = DEFAULT_PER_PAGE) -> Page[ResidentThread]:
    """Newest first, one page in SQL (index on status, created_at)."""
    stmt = visible(filters.apply(select(ResidentThread), now), user)
    return paginate(session, stmt.order_by(ResidentThread.created_at.desc(), ResidentThread.id.desc()), page, per_page)


def status_counts(session: Session, user: AdminUser, now: datetime) -> dict[str, int]:
    """Threads per status the user can see, plus "overdue": the nav badge and the inbox's tabs (one query)."""
    counts = dict.fromkeys(STATUSES + ("overdue",), 0)
    rows = session.execute(visible(select(ResidentThread.status, func.count(),
                                          func.count().filter(sla.overdue(now))), user)
                           .group_by(ResidentThread.status)).all()
    for status, count, overdue in rows:
        counts[status] = count
        counts["overdue"] += overdue
    return counts


def user_names(session: Session, ids: Sequence[Optional[int]]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(AdminUser.id, AdminUser.display_name, AdminUser.username)
                           .where(AdminUser.id.in_(wanted))).all()
    return {row.id: row.display_name or row.username for row in rows}


def assignable_users(session: Session) -> list[AdminUser]:
    return list(session.scalars(select(AdminUser).where(AdminUser.active.is_(True)).order_by(AdminUser.username)))


# ---- one thread --------------------------------------------------------------------------------------------------

@dataclass
class Timeline:
    thread: ResidentThread
    entries: list[ThreadEntry]
    other_threads: list[ResidentThread]
    messages: list[InboundMessage]  # the resident's latest messages to the account, newest first
    names: dict[int, str] = field(default_factory=dict)  # console users named in the timeline


def timeline(session: Session, thread: ResidentThread) -> Timeline:
    """The thread's entries, the resident's other threads and their latest messages from the log: each one bounded
    query on an index (resident_thread by openid and time, inbound_message by openid and id)."""
    others = list(session.scalars(
        select(ResidentThread).where(ResidentThread.openid == thread.openid, ResidentThread.id != thread.id)
        .order_by(ResidentThread.created_at.desc()).limit(TIMELINE_THREADS)))
    messages = list(session.scalars(select(InboundMessage).where(InboundMessage.openid == thread.openid)
                                    .order_by(InboundMessage.id.desc()).limit(TIMELINE_MESSAGES)))
    entries = list(session.scalars(select(ThreadEntry).where(ThreadEntry.thread_id == thread.id)
                                   .options(selectinload(ThreadEntry.photo_files)).order_by(ThreadEntry.id)))
    names = user_names(session, [e.author_id for e in entries] + [thread.assigned_to, thread.closed_by])
    return Timeline(thread, entries, others, messages, names)


def _text(value: Any, name: str, limit: int) -> str:
    return params.parse_text(value, name, limit, True, texts.FIELD_LABELS) or ""


def _open(thread: ResidentThread) -> None:
    if thread.status == ThreadStatus.CLOSED:
        raise Conflict(texts.ALREADY_CLOSED, "status")


def _event(session: Session, thread: ResidentThread, kind: EntryKind, by: AdminUser, body: str) -> ThreadEntry:
    entry = ThreadEntry(thread=thread, kind=kind.value, author_id=by.id, body=body)
    session.add(entry)
    session.flush()  # in the timeline before anything the change adds after it (the rating question)
    return entry


def _audit(session: Session, by: AdminUser, action: str, thread: ResidentThread, via: Optional[str],
           **detail: Any) -> None:
    record(session, by, action, thread, {"receipt": thread.receipt, **detail, **({"via": via} if via else {})})


CONTENT_LIMIT = 1000  # the resident's words, as in WeChat
OPENID_LIMIT = 64
PHONE_LIMIT = 32


def create_thread(session: Session, data: Mapping[str, Any], by: AdminUser, sla_hours: float,
                  via: Optional[str] = None) -> ResidentThread:
    """A 留言 taken down by staff for a resident (e.g. on the phone): openid, text, category, optional phone;
    it gets a receipt and its service level like one left in WeChat (`threads.open_thread` checks the words)."""
    openid = _text(data.get("openid"), "openid", OPENID_LIMIT)
    text = _text(data.get("text"), "text", CONTENT_LIMIT)
    category = data.get("category")
    if category in labels.CATEGORY_LABELS.values():  # the Chinese word is accepted too
        category = next(k for k, v in labels.CATEGORY_LABELS.items() if v == category)
    if category is None or category == "":
        raise InvalidInput(texts.required("category"), "category")
    if not isinstance(category, str):
        raise InvalidInput(params.bad_choice("category", _shown(CATEGORIES), texts.FIELD_LABELS), "category")
    category = params.choice(category, CATEGORIES, "category", texts.FIELD_LABELS, _shown(CATEGORIES))
    phone = data.get("phone")
    phone = "" if phone in (None, "") else _text(phone, "phone", PHONE_LIMIT)
    thread = threads.open_thread(session, openid=openid, text=text, category=category, phone=phone, source="api",
                                 sla_hours=sla_hours)
    session.flush()
    _audit(session, by, "message.create", thread, via, category=category)
    return thread


def assign(session: Session, thread: ResidentThread, user_id: Any, by: AdminUser,
           via: Optional[str] = None) -> ResidentThread:
    """Give the thread a named handler (any active console user); 待处理 becomes 处理中."""
    _open(thread)
    if isinstance(user_id, bool) or not isinstance(user_id, (int, str)):
        raise InvalidInput(params.bad_int("user_id", labels=texts.FIELD_LABELS), "user_id")
    number = params.parse_int(user_id, "user_id", labels=texts.FIELD_LABELS)
    if number is None:
        raise InvalidInput(texts.required("user_id"), "user_id")
    handler = session.get(AdminUser, number)
    if handler is None or not handler.active:
        raise InvalidInput(texts.UNKNOWN_USER, "user_id")
    if thread.assigned_to == handler.id:
        raise Conflict(texts.ALREADY_ASSIGNED, "user_id")
    thread.assigned_to = handler.id
    if thread.status == ThreadStatus.OPEN:
        thread.status = ThreadStatus.IN_PROGRESS.value
    name = handler.display_name or handler.username
    _event(session, thread, EntryKind.EVENT, by, texts.EVENT_ASSIGNED.format(name=name))
    _audit(session, by, "message.assign", thread, via, assigned_to=handler.username)
    return thread


def add_note(session: Session, thread: ResidentThread, text: Any, by: AdminUser,
             via: Optional[str] = None) -> ThreadEntry:
    """A staff-only note (never sent to the resident); a note on a new thread means someone is on it."""
    body = _text(text, "text", NOTE_LIMIT)
    if thread.status == ThreadStatus.OPEN:
        thread.status = ThreadStatus.IN_PROGRESS.value
    entry = _event(session, thread, EntryKind.NOTE, by, body)
    _audit(session, by, "message.note", thread, via)
    return entry


def reply(session: Session, thread: ResidentThread, text: Any, by: AdminUser, now: datetime,
          via: Optional[str] = None) -> ThreadEntry:
    """Store a reply to the resident (delivery pending; the thread becomes 已回复); the caller commits, then calls
    `replies.deliver_reply`."""
    _open(thread)
    if text is not None and not isinstance(text, str):
        raise InvalidInput(params.bad_type("text", "文本", texts.FIELD_LABELS), "text")
    entry = replies.post_reply(session, thread, author_id=by.id, text=text or "", now=now)
    _audit(session, by, "message.reply", thread, via, entry_id=entry.id)
    return entry


def close_thread(session: Session, thread: ResidentThread, by: AdminUser, now: datetime,
                 via: Optional[str] = None) -> Optional[ThreadEntry]:
    """已办结: the resident is asked once to rate it (`replies.request_rating`). Returns that question, to be
    delivered like a reply after the commit (None when it was asked before)."""
    _open(thread)
    thread.status = ThreadStatus.CLOSED.value
    thread.closed_at, thread.closed_by = now, by.id
    _event(session, thread, EntryKind.EVENT, by, texts.EVENT_CLOSED)
    question = replies.request_rating(session, thread, now)
    _audit(session, by, "message.close", thread, via)
    return question


# ---- figures -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MonthFigures:
    month: date  # its first day
    open: int  # not closed, now
    overdue: int  # waiting for a first answer past their due time, now
    median_first_response: Optional[timedelta]  # threads opened this month that got an answer
    satisfaction: dict[int, int]  # rating → threads rated this month (1 满意, 2 基本满意, 3 不满意)

    @property
    def rated(self) -> int:
        return sum(self.satisfaction.values())


def _seconds_between(session: Session, start, end):
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def median_first_response(session: Session, since: datetime, until: datetime) -> Optional[timedelta]:
    """The median time to a first answer of the threads opened in [since, until): the middle row(s) of the sorted
    durations, read with OFFSET, so it works on SQLite as on PostgreSQL and never loads the month."""
    where = (ResidentThread.created_at >= since, ResidentThread.created_at < until,
             ResidentThread.first_response_at.is_not(None))
    count = session.scalar(select(func.count()).select_from(ResidentThread).where(*where)) or 0
    if not count:
        return None
    seconds = _seconds_between(session, ResidentThread.created_at, ResidentThread.first_response_at)
    middle = list(session.scalars(select(seconds).where(*where).order_by(seconds)
                                  .offset((count - 1) // 2).limit(2 - count % 2)))
    return timedelta(seconds=round(sum(float(s) for s in middle) / len(middle)))


def month_figures(session: Session, now: datetime) -> MonthFigures:
    """The dashboard's messages panel: three small queries, each on an index or bounded by the month."""
    month = clock.local(now).date().replace(day=1)
    since, until = day_start(month), day_start((month + timedelta(days=32)).replace(day=1))
    # overdue threads are unanswered, so among the open ones: both counts in one pass
    open_count, overdue = session.execute(select(func.count(), func.count().filter(sla.overdue(now)))
                                          .select_from(ResidentThread)
                                          .where(ResidentThread.status.in_(NOT_CLOSED))).one()
    split = dict.fromkeys(labels.RATING_LABELS, 0)
    split.update(session.execute(select(ResidentThread.rating, func.count())
                                 .where(ResidentThread.rated_at >= since, ResidentThread.rated_at < until,
                                        ResidentThread.rating.is_not(None))
                                 .group_by(ResidentThread.rating)).all())
    return MonthFigures(month, open_count, overdue, median_first_response(session, since, until), split)


def longest_overdue(session: Session, now: datetime, limit: int = DIGEST_EXAMPLES) -> list[ResidentThread]:
    return list(session.scalars(select(ResidentThread).where(sla.overdue(now))
                                .order_by(ResidentThread.due_at).limit(limit)))


def digest_line(session: Session, now: datetime) -> str:
    """The weekly digest names the longest overdue threads (the counts are in its first sentence); empty when none
    is overdue."""
    oldest = longest_overdue(session, now)
    if not oldest:
        return ""
    return texts.DIGEST_OVERDUE.format(examples="、".join(texts.DIGEST_EXAMPLE.format(
        receipt=t.receipt, category=labels.CATEGORY_LABELS.get(t.category, t.category),
        days=max((now - clock.local(t.created_at)).days, 0)) for t in oldest))


# ---- JSON --------------------------------------------------------------------------------------------------------

def thread_dict(thread: ResidentThread, now: datetime, names: Optional[Mapping[int, str]] = None) -> dict[str, Any]:
    names = names or {}
    return {
        "id": thread.id, "receipt": thread.receipt, "openid": thread.openid,
        "category": thread.category, "category_label": labels.CATEGORY_LABELS.get(thread.category, thread.category),
        "sensitive": thread.category in labels.SENSITIVE_CATEGORIES,
        "status": thread.status, "status_label": labels.STATUS_LABELS.get(thread.status, thread.status),
        "subject": thread.subject, "phone": thread.phone, "source": thread.source,
        "assigned_to": thread.assigned_to, "assigned_name": names.get(thread.assigned_to or 0),
        "created_at": _iso(thread.created_at), "due_at": _iso(thread.due_at), "overdue": is_overdue(thread, now),
        "first_response_at": _iso(thread.first_response_at), "closed_at": _iso(thread.closed_at),
        "rating": thread.rating, "rating_label": labels.RATING_LABELS.get(thread.rating or 0),
        "rating_comment": thread.rating_comment,
    }


def entry_dict(entry: ThreadEntry, names: Mapping[int, str]) -> dict[str, Any]:
    out = {"id": entry.id, "kind": entry.kind, "body": entry.body, "photos": list(entry.photos or []),
           "author": names.get(entry.author_id or 0), "created_at": _iso(entry.created_at)}
    if entry.delivery:  # replies and the rating question
        out.update(delivery=entry.delivery, delivery_label=labels.DELIVERY_LABELS.get(entry.delivery or "", ""),
                   channel=entry.channel, delivered_at=_iso(entry.delivered_at), delivery_error=entry.delivery_error)
    return out


def timeline_dict(view: Timeline, now: datetime) -> dict[str, Any]:
    return {**thread_dict(view.thread, now, view.names),
            "entries": [entry_dict(e, view.names) for e in view.entries],  # notes too: the API is staff-only
            "other_threads": [thread_dict(t, now) for t in view.other_threads],
            "recent_messages": [{"received_at": _iso(m.received_at), "msg_type": m.msg_type, "content": m.content}
                                for m in view.messages]}


def _iso(value: Optional[datetime]) -> Optional[str]:
    return clock.local(value).isoformat() if value is not None else None
