"""Residents' threads: open one (receipt LY + date + sequence, due time from the service level), add the resident's
words to it, and find a resident's own threads. A resident only ever reaches threads of their own openid: a
receipt someone else's thread carries is answered exactly like one that does not exist."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable, Optional, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.message import (EntryKind, ResidentThread, ThreadCategory, ThreadEntry, ThreadPhoto, ThreadReceiptCounter,
                            ThreadStatus)
from service.core import clock
from service.core.errors import InvalidInput
from service.core.phone import parse_phone
from service.core.receipts import next_receipt
from service.core.textfit import unix_newlines
from service.messages import sla, texts

RECEIPT_PREFIX = "LY"
MY_THREADS_LIMIT = 10
SUBJECT_CHARS = 60
SOURCES = ("wechat", "api", "unanswered")


def check_text(text: str, field: str = "text") -> str:
    """The resident's words as stored: trimmed, `\\n` line endings, not empty, at most 1,000 characters."""
    text = unix_newlines(text or "").strip()
    if not text:
        raise InvalidInput(texts.EMPTY_TEXT, field)
    if len(text) > texts.MAX_CHARS:
        raise InvalidInput(texts.TOO_LONG.format(n=len(text)), field)
    return text


def check_photos(photos: Iterable[Any]) -> list[Any]:
    photos = list(photos)
    if len(photos) > texts.MAX_PHOTOS:
        raise InvalidInput(texts.TOO_MANY_PHOTOS, "photos")
    return photos


def check_category(category: str) -> str:
    if category not in {c.value for c in ThreadCategory}:
        raise InvalidInput(texts.BAD_CATEGORY, "category")
    return str(category)


def check_phone(phone: str) -> str:
    number = parse_phone(phone)
    if number is None:
        raise InvalidInput(texts.BAD_PHONE, "phone")
    return number


def _photo_files(openid: str, photos: Sequence[Any], now: datetime) -> list[ThreadPhoto]:
    """A download row for each photo sent from WeChat ({media_id, pic_url}); the media job fetches it in time."""
    return [ThreadPhoto(openid=openid, media_id=str(p["media_id"])[:128], pic_url=str(p.get("pic_url") or "")[:512],
                        received_at=now)
            for p in photos if isinstance(p, dict) and p.get("media_id")]


def subject_of(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_CHARS else line[:SUBJECT_CHARS] + "…"


def open_thread(session: Session, *, openid: str, text: str, category: str, phone: str = "",
                photos: Sequence[Any] = (), source: str = "wechat", now: Optional[datetime] = None,
                sla_hours: float = 48) -> ResidentThread:
    """A new thread with the resident's words as its first entry; every field checked (InvalidInput names it)."""
    if not openid:
        raise InvalidInput("缺少居民的 openid", "openid")
    text, category = check_text(text), check_category(category)
    photos, phone = check_photos(photos), check_phone(phone)
    if source not in SOURCES:
        raise InvalidInput(f"来源只能是 {'、'.join(SOURCES)}", "source")
    now = now or clock.now()
    thread = ResidentThread(
        receipt=next_receipt(session, ThreadReceiptCounter, RECEIPT_PREFIX, clock.local(now).date()),
        openid=openid, category=category, status=ThreadStatus.OPEN.value, subject=subject_of(text), phone=phone,
        source=source, created_at=now, updated_at=now, due_at=sla.due_at(now, sla_hours))
    thread.entries.append(ThreadEntry(kind=EntryKind.RESIDENT.value, body=text, photos=photos, created_at=now,
                                      photo_files=_photo_files(openid, photos, now)))
    session.add(thread)
    session.flush()
    return thread


def add_resident_entry(session: Session, thread: ResidentThread, text: str, photos: Sequence[Any] = (),
                       now: Optional[datetime] = None) -> ThreadEntry:
    """The resident's 追加 (words, or a photo on its own) to an open thread; a closed one refuses (InvalidInput on
    `thread`)."""
    if thread.status == ThreadStatus.CLOSED:
        raise InvalidInput(texts.THREAD_CLOSED.format(receipt=thread.receipt), "thread")
    photos = check_photos(photos)
    text = check_text(text) if (text or "").strip() or not photos else ""  # a photo may come on its own
    now = now or clock.now()
    entry = ThreadEntry(thread_id=thread.id, kind=EntryKind.RESIDENT.value, body=text, photos=photos, created_at=now,
                        photo_files=_photo_files(thread.openid, photos, now))
    session.add(entry)
    thread.updated_at = now
    session.flush()
    return entry


def threads_of(session: Session, openid: str, limit: int = MY_THREADS_LIMIT) -> list[ResidentThread]:
    """The resident's latest threads, newest first (ix_resident_thread_openid_created)."""
    return list(session.scalars(select(ResidentThread).where(ResidentThread.openid == openid)
                                .order_by(ResidentThread.created_at.desc(), ResidentThread.id.desc()).limit(limit)))


def thread_of(session: Session, openid: str, receipt_or_id: str | int) -> Optional[ResidentThread]:
    """One of the resident's own threads: by id (an int), or by receipt (LY…) or its number in `threads_of` (1–10)
    as the resident types it; None for anything else, another resident's thread included."""
    mine = ResidentThread.openid == openid
    if isinstance(receipt_or_id, int):
        return session.scalar(select(ResidentThread).where(ResidentThread.id == receipt_or_id, mine))
    ref = receipt_or_id.strip().upper()
    if ref.startswith(RECEIPT_PREFIX):
        return session.scalar(select(ResidentThread).where(ResidentThread.receipt == ref, mine))
    if ref.isdigit() and 1 <= int(ref) <= MY_THREADS_LIMIT:
        listed = threads_of(session, openid)
        return listed[int(ref) - 1] if int(ref) <= len(listed) else None
    return None


def resident_timeline(thread: ResidentThread) -> list[ThreadEntry]:
    """What the resident may see of a thread: their words and the replies, never staff notes or internal events."""
    return [e for e in thread.entries if e.kind in (EntryKind.RESIDENT, EntryKind.REPLY)]
