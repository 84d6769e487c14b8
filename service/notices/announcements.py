"""Announcements: validate what an administrator submits, create / edit / cancel, resolve the audience to openids,
and report per-recipient results. The scheduler process (notices/delivery.py) does the sending."""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Optional

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from models.announcement import Announcement, AnnouncementStatus, Delivery, DeliveryStatus
from models.follower import Follower
from models.staff import Staff
from models.subscription import TOPICS, Subscription
from models.unit import CATEGORIES, Unit
from service.core.db import is_row_id
from service.core.errors import Conflict, InvalidInput, NotFound
from service.core.paging import DEFAULT_PER_PAGE, Page, paginate
from service.core.textfit import unix_newlines, utf8_len
from service.notices import recurrence, texts

TITLE_LIMIT = 20  # template keyword values are capped at 20 characters (2023-05 rules)
TEXT_LIMIT = 2048  # bytes of a customer-service / mass text message
AUDIENCE_TYPES = ("all", "topic", "units", "categories", "openids")
EDITABLE = (AnnouncementStatus.DRAFT, AnnouncementStatus.SCHEDULED)
CANCELLABLE = (AnnouncementStatus.DRAFT, AnnouncementStatus.SCHEDULED, AnnouncementStatus.SENDING)
PAST_SLACK = timedelta(minutes=1)  # a time "now-ish" typed a few seconds ago is not "in the past"


def utc(dt: datetime) -> datetime:
    return dt.astimezone(timezone.utc)


def message_text(title: str, body: str) -> str:
    """The text a recipient gets by customer-service or mass message."""
    return f"【{title}】\n{body}"


# ---- validation -------------------------------------------------------------------------------------------------

def _clean_title(value: Any) -> str:
    title = unix_newlines(value).strip() if isinstance(value, str) else ""
    if not title:
        raise InvalidInput(texts.TITLE_REQUIRED, "title")
    if len(title) > TITLE_LIMIT or "\n" in title:
        raise InvalidInput(texts.TITLE_TOO_LONG.format(limit=TITLE_LIMIT), "title")
    return title


def _clean_body(value: Any, title: str) -> str:
    body = unix_newlines(value).strip() if isinstance(value, str) else ""
    if not body:
        raise InvalidInput(texts.BODY_REQUIRED, "body")
    size = utf8_len(message_text(title, body))
    if size > TEXT_LIMIT:
        raise InvalidInput(texts.BODY_TOO_LONG.format(limit=TEXT_LIMIT, size=size), "body")
    return body


def _id_list(value: Any, field: str, message: str) -> list:
    """A non-empty list of strings or numbers, without repeats (lists and objects inside are refused)."""
    if not isinstance(value, list) or not value or not all(isinstance(v, (str, int, float)) for v in value):
        raise InvalidInput(message, field)
    return list(dict.fromkeys(value))


def clean_audience(session: Session, value: Any) -> dict[str, Any]:
    """A normalised audience dict; unknown topics, units and categories are refused naming the field."""
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, dict) or value.get("type") not in AUDIENCE_TYPES:
        raise InvalidInput(texts.AUDIENCE_INVALID, "audience")
    kind = value["type"]
    if kind == "all":
        return {"type": "all"}
    if kind == "topic":
        topic = value.get("topic")
        by_name = {name: code for code, name in TOPICS.items()}
        topic = by_name.get(topic, topic) if isinstance(topic, str) else None
        if topic not in TOPICS:
            raise InvalidInput(texts.TOPIC_UNKNOWN.format(value=value.get("topic"), choices="、".join(TOPICS.values())),
                               "audience.topic")
        return {"type": "topic", "topic": topic}
    if kind == "units":
        ids = _id_list(value.get("unit_ids"), "audience.unit_ids", texts.UNITS_INVALID)
        if not all(is_row_id(i) for i in ids):
            raise InvalidInput(texts.UNITS_INVALID, "audience.unit_ids")
        known = set(session.scalars(select(Unit.id).where(Unit.id.in_(ids))))
        missing = [i for i in ids if i not in known]
        if missing:
            raise InvalidInput(texts.UNIT_UNKNOWN.format(value=", ".join(map(str, missing))), "audience.unit_ids")
        return {"type": "units", "unit_ids": ids}
    if kind == "categories":
        cats = _id_list(value.get("categories"), "audience.categories", texts.CATEGORIES_INVALID)
        bad = [c for c in cats if c not in CATEGORIES]
        if bad:
            raise InvalidInput(texts.CATEGORY_UNKNOWN.format(value="、".join(map(str, bad)),
                                                             choices="、".join(CATEGORIES)), "audience.categories")
        return {"type": "categories", "categories": cats}
    ids = _id_list(value.get("openids"), "audience.openids", texts.OPENIDS_INVALID)
    if not all(isinstance(o, str) and 0 < len(o) <= 64 for o in ids):
        raise InvalidInput(texts.OPENIDS_INVALID, "audience.openids")
    return {"type": "openids", "openids": ids}


def parse_send_at(value: Any, now: datetime) -> datetime:
    """'now' (or missing) → now; an ISO date-time (naive means Asia/Shanghai) not in the past."""
    if value is None or value == "now":
        return now
    if not isinstance(value, str):
        raise InvalidInput(texts.SEND_AT_INVALID, "send_at")
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(texts.SEND_AT_INVALID, "send_at") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=now.tzinfo)
    if when < now - PAST_SLACK:
        raise InvalidInput(texts.SEND_AT_PAST, "send_at")
    return when


def first_run(send_at: datetime, rule: Optional[str], now: datetime) -> datetime:
    """When the first occurrence is due: `send_at`, or for a recurrence its first firing at/after `send_at`."""
    if not rule:
        return send_at
    try:
        return recurrence.next_run(rule, max(send_at, now) - timedelta(seconds=1))
    except recurrence.RecurrenceError:
        raise InvalidInput(texts.RECURRENCE_INVALID.format(value=rule), "recurrence") from None


def _clean_recurrence(value: Any) -> Optional[str]:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidInput(texts.RECURRENCE_INVALID.format(value=value), "recurrence")
    try:
        recurrence.parse(value)
    except recurrence.RecurrenceError:
        raise InvalidInput(texts.RECURRENCE_INVALID.format(value=value), "recurrence") from None
    return value.strip()


# ---- create / edit / cancel -------------------------------------------------------------------------------------

def create(session: Session, data: dict[str, Any], now: datetime, created_by: Optional[int] = None,
           kind: str = "announcement", dedupe_key: Optional[str] = None, flush: bool = True) -> Announcement:
    """Validate everything first, then add the row (status 草稿 with `draft: true`, else 已排期). `flush=False`
    leaves the insert to the caller's one flush of many (its id is known after that flush)."""
    title = _clean_title(data.get("title"))
    body = _clean_body(data.get("body"), title)
    audience = clean_audience(session, data.get("audience"))
    rule = _clean_recurrence(data.get("recurrence"))
    send_at = parse_send_at(data.get("send_at"), now)
    run_at = first_run(send_at, rule, now)
    ann = Announcement(kind=kind, dedupe_key=dedupe_key, created_by=created_by,
                       **_scheduled(title, body, audience, rule, send_at, run_at, bool(data.get("draft"))))
    session.add(ann)
    if flush:
        session.flush()
    return ann


def draft_policy_update(session: Session, document_title: str, version: int, clauses: int, now: datetime,
                        created_by: Optional[int] = None) -> Announcement:
    """A draft notice to the 政策更新 subscribers about a new policy version: the administrator reviews and
    schedules it (nothing goes out by itself)."""
    data = {"title": texts.POLICY_UPDATE_TITLE.format(title=document_title)[:TITLE_LIMIT],
            "body": texts.POLICY_UPDATE_BODY.format(title=document_title, version=version, count=clauses),
            "audience": {"type": "topic", "topic": "policy"}, "draft": True}
    return create(session, data, now, created_by=created_by)


def get(session: Session, announcement_id: int) -> Announcement:
    ann = session.get(Announcement, announcement_id)
    if ann is None or ann.kind != "announcement":
        raise NotFound(texts.NOT_FOUND)
    return ann


def _scheduled(title: str, body: str, audience: dict[str, Any], rule: Optional[str], send_at: datetime,
               run_at: datetime, draft: bool) -> dict[str, Any]:
    """The columns create and edit both set: the content, and either a draft (no next run) or the schedule."""
    return {"title": title, "body": body, "audience": audience, "recurrence": rule, "send_at": send_at,
            "next_run_at": None if draft else run_at,
            "status": AnnouncementStatus.DRAFT if draft else AnnouncementStatus.SCHEDULED}


def edit(session: Session, announcement_id: int, data: dict[str, Any], now: datetime) -> Announcement:
    """Change any field while the announcement is a draft or scheduled; `draft: false` schedules a draft."""
    ann = get(session, announcement_id)
    if ann.status not in EDITABLE:
        raise Conflict(texts.NOT_EDITABLE.format(status=ann.status))
    title = _clean_title(data.get("title", ann.title))
    body = _clean_body(data.get("body", ann.body), title)
    audience = clean_audience(session, data["audience"]) if "audience" in data else ann.audience
    rule = _clean_recurrence(data["recurrence"]) if "recurrence" in data else ann.recurrence
    if "send_at" in data:
        send_at = parse_send_at(data["send_at"], now)
    else:
        send_at = ann.send_at if ann.send_at and ann.send_at >= now - PAST_SLACK else now
    run_at = first_run(send_at, rule, now)
    draft = bool(data.get("draft", ann.status == AnnouncementStatus.DRAFT))
    # compare-and-set: the scheduler may be materialising this very announcement
    result = session.execute(
        update(Announcement)
        .where(Announcement.id == ann.id, Announcement.status.in_(EDITABLE))
        .values(updated_at=now, **_scheduled(title, body, audience, rule, send_at, run_at, draft))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(texts.NOT_EDITABLE.format(status=AnnouncementStatus.SENDING))
    session.refresh(ann)
    return ann


def cancel(session: Session, announcement_id: int, now: datetime) -> Announcement:
    """Stop an announcement: nothing more is sent (messages already on the wire finish)."""
    ann = get(session, announcement_id)
    result = session.execute(
        update(Announcement).where(Announcement.id == ann.id, Announcement.status.in_(CANCELLABLE))
        .values(status=AnnouncementStatus.CANCELLED, cancelled_at=now, next_run_at=None, updated_at=now)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.refresh(ann)
        raise Conflict(texts.NOT_CANCELLABLE.format(status=ann.status))
    session.execute(
        update(Delivery)
        .where(Delivery.announcement_id == ann.id, Delivery.status == DeliveryStatus.PENDING)
        .values(status=DeliveryStatus.SKIPPED, reason=texts.REASON_CANCELLED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(ann)
    return ann


def resend_unknown(session: Session, announcement_id: int, now: datetime) -> tuple[Announcement, int]:
    """An administrator's deliberate decision to send the 'unknown' deliveries again (calls whose answer was lost,
    or that a crash interrupted): they may already have arrived, so a recipient may get the message twice. The
    rows go back to pending with a fresh retry budget; a finished announcement is sending again until they are
    done. Returns the announcement and how many rows were requeued."""
    ann = get(session, announcement_id)
    if ann.status in (AnnouncementStatus.DRAFT, AnnouncementStatus.CANCELLED):
        raise Conflict(texts.NOT_RESENDABLE.format(status=ann.status))
    count = session.execute(
        update(Delivery)
        .where(Delivery.announcement_id == ann.id, Delivery.status == DeliveryStatus.UNKNOWN)
        .values(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, lease_until=None,
                reason=texts.REASON_RESENT, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not count:
        raise Conflict(texts.NOTHING_TO_RESEND)
    session.execute(
        update(Announcement)
        .where(Announcement.id == ann.id, Announcement.status.in_((AnnouncementStatus.SENT, AnnouncementStatus.PARTIAL)))
        .values(status=AnnouncementStatus.SENDING, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(ann)
    return ann, count


def _listing(status: Optional[str]) -> Select:
    query = select(Announcement).where(Announcement.kind == "announcement")
    if status:
        query = query.where(Announcement.status == status)
    return query.order_by(Announcement.id.desc())


def listing(session: Session, status: Optional[str] = None, limit: int = 50, offset: int = 0) -> list[Announcement]:
    return list(session.scalars(_listing(status).limit(limit).offset(offset)))


def listing_page(session: Session, status: Optional[str] = None, page: int = 1,
                 per_page: int = DEFAULT_PER_PAGE) -> Page[Announcement]:
    """Newest first, optionally of one status."""
    return paginate(session, _listing(status), page, per_page)


def delivery_counts(session: Session, announcement_id: int) -> dict[str, Any]:
    return delivery_counts_of(session, [announcement_id])[announcement_id]


def delivery_counts_of(session: Session, announcement_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Deliveries per status and per channel of each announcement (a page of them), in one query."""
    ids = list(announcement_ids)
    by_status: dict[int, Counter[str]] = {ann_id: Counter() for ann_id in ids}
    by_channel: dict[int, Counter[str]] = {ann_id: Counter() for ann_id in ids}
    rows = session.execute(select(Delivery.announcement_id, Delivery.status, Delivery.channel, func.count())
                           .where(Delivery.announcement_id.in_(ids))
                           .group_by(Delivery.announcement_id, Delivery.status, Delivery.channel))
    for ann_id, status, channel, count in rows:
        by_status[ann_id][status] += count
        by_channel[ann_id][channel or "none"] += count
    return {ann_id: {"total": sum(by_status[ann_id].values()), "by_status": dict(by_status[ann_id]),
                     "by_channel": dict(by_channel[ann_id])} for ann_id in ids}


def _deliveries(session: Session, announcement_id: int, status: Optional[str]) -> Select:
    get(session, announcement_id)
    query = select(Delivery).where(Delivery.announcement_id == announcement_id)
    if status:
        query = query.where(Delivery.status == status)
    return query.order_by(Delivery.occurrence, Delivery.id)


def deliveries(session: Session, announcement_id: int, status: Optional[str] = None, limit: int = 100,
               offset: int = 0) -> list[Delivery]:
    return list(session.scalars(_deliveries(session, announcement_id, status).limit(limit).offset(offset)))


def deliveries_page(session: Session, announcement_id: int, status: Optional[str] = None, page: int = 1,
                    per_page: int = DEFAULT_PER_PAGE) -> Page[Delivery]:
    """One page of an announcement's deliveries (it may have 100,000 recipients), in sending order."""
    return paginate(session, _deliveries(session, announcement_id, status), page, per_page)


def to_dict(session: Session, ann: Announcement, counts: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """The API's view of one announcement; `counts` when the caller fetched a page's delivery counts at once."""
    def iso(dt: Optional[datetime]) -> Optional[str]:
        from service.core.clock import local

        return local(dt).isoformat() if dt else None

    return {"id": ann.id, "title": ann.title, "body": ann.body, "audience": ann.audience, "status": ann.status,
            "send_at": iso(ann.send_at), "recurrence": ann.recurrence, "next_run_at": iso(ann.next_run_at),
            "occurrence": ann.occurrence, "last_sent_at": iso(ann.last_sent_at),
            "cancelled_at": iso(ann.cancelled_at), "created_at": iso(ann.created_at),
            "deliveries": counts if counts is not None else delivery_counts(session, ann.id)}


def to_dicts(session: Session, anns: list[Announcement]) -> list[dict[str, Any]]:
    """A page of announcements with their delivery counts in one query, not one per announcement."""
    counts = delivery_counts_of(session, [a.id for a in anns])
    return [to_dict(session, a, counts[a.id]) for a in anns]


def delivery_dict(d: Delivery) -> dict[str, Any]:
    from service.core.clock import local

    return {"openid": d.openid, "occurrence": d.occurrence, "status": d.status, "channel": d.channel,
            "errcode": d.errcode, "reason": d.reason, "attempts": d.attempts,
            "created_at": local(d.created_at).isoformat() if d.created_at else None,
            "sent_at": local(d.sent_at).isoformat() if d.sent_at else None}


# ---- audience -----------------------------------------------------------------------------------------------------

def _staff_openids() -> Select:
    return select(Staff.openid.label("openid")).where(Staff.active.is_(True), Staff.openid.is_not(None))


# A stored audience type → the SELECT of its openids (one column, `openid`); an explicit openid list has none.
_AUDIENCE_QUERIES: dict[str, Callable[[dict[str, Any]], Select]] = {
    "all": lambda a: select(Follower.openid.label("openid")).where(Follower.subscribed.is_(True)),
    "topic": lambda a: select(Subscription.openid.label("openid")).where(Subscription.topic == a["topic"]),
    "units": lambda a: _staff_openids().where(Staff.unit_id.in_(a["unit_ids"])),
    "categories": lambda a: _staff_openids().join(Unit, Unit.id == Staff.unit_id).where(
        Unit.category.in_(a["categories"]), Unit.active.is_(True)),
}


def audience_query(audience: dict[str, Any]) -> Optional[Select]:
    """The audience as one SELECT of openids (maybe repeated), so planning can join it in SQL instead of passing
    100,000 openids back and forth; None for an explicit openid list."""
    build = _AUDIENCE_QUERIES.get(audience.get("type"))
    return build(audience) if build else None


def resolve_audience(session: Session, audience: dict[str, Any]) -> list[str]:
    """The openids an audience names (before exclusions), each once, in a stable order."""
    query = audience_query(audience)
    if query is None:
        return list(dict.fromkeys(audience.get("openids") or []))
    return list(dict.fromkeys(session.scalars(query.order_by(query.selected_columns.openid))))
