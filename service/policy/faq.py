"""Administrator-curated FAQ entries (several phrasings → one answer) and the unanswered-question inbox they come from."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Sequence

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from models.policy import FaqEntry, UnansweredQuestion
from service.core.paging import DEFAULT_PER_PAGE, Page, paginate
from service.core.textfit import REPLY_LIMIT, utf8_len
from service.policy.search import compact

MAX_ANSWER_BYTES = REPLY_LIMIT - 200  # room for the FAQ footer


class FaqInvalid(ValueError):
    """The FAQ entry cannot be saved as given; the message is a Chinese explanation for the console."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field  # "questions" or "answer", so a form can show the message beside the field


class FaqNotFound(LookupError):
    pass


def _clean_questions(questions: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for q in questions:
        q = (q or "").strip()
        if q and compact(q) and compact(q) not in seen:
            seen.add(compact(q))
            out.append(q[:200])
    if not out:
        raise FaqInvalid("至少需要一个问法", "questions")
    return out


def _clean_answer(answer: str) -> str:
    answer = (answer or "").strip()
    if not answer:
        raise FaqInvalid("答案不能为空", "answer")
    if utf8_len(answer) > MAX_ANSWER_BYTES:
        raise FaqInvalid(f"答案太长（超过 {MAX_ANSWER_BYTES} 字节），微信一次回复放不下", "answer")
    return answer


def create_faq(session: Session, questions: Sequence[str], answer: str, active: bool = True) -> FaqEntry:
    faq = FaqEntry(questions=_clean_questions(questions), answer=_clean_answer(answer), active=active)
    session.add(faq)
    session.flush()
    return faq


def get_faq(session: Session, faq_id: int) -> FaqEntry:
    faq = session.get(FaqEntry, faq_id)
    if faq is None:
        raise FaqNotFound(faq_id)
    return faq


def update_faq(session: Session, faq_id: int, questions: Sequence[str] | None = None, answer: str | None = None,
               active: bool | None = None) -> FaqEntry:
    faq = get_faq(session, faq_id)
    new_questions = _clean_questions(questions) if questions is not None else None
    new_answer = _clean_answer(answer) if answer is not None else None
    if new_questions is not None:
        faq.questions = new_questions
    if new_answer is not None:
        faq.answer = new_answer
    if active is not None:
        faq.active = active
    session.flush()
    return faq


def list_faqs(session: Session, include_inactive: bool = True) -> list[FaqEntry]:
    stmt = select(FaqEntry).order_by(FaqEntry.id)
    if not include_inactive:
        stmt = stmt.where(FaqEntry.active.is_(True))
    return list(session.scalars(stmt))


def delete_faq(session: Session, faq_id: int) -> None:
    session.delete(get_faq(session, faq_id))
    session.flush()


def _unanswered(since: datetime | None) -> Select:
    stmt = select(UnansweredQuestion)
    if since is not None:
        stmt = stmt.where(UnansweredQuestion.last_asked_at >= since)
    return stmt.order_by(UnansweredQuestion.count.desc(), UnansweredQuestion.last_asked_at.desc(),
                         UnansweredQuestion.id)


def list_unanswered(session: Session, limit: int = 100,
                    since: datetime | None = None) -> list[UnansweredQuestion]:
    """Most asked first, then most recent; `since` keeps only questions asked again at or after that moment."""
    return list(session.scalars(_unanswered(since).limit(limit)))


def unanswered_page(session: Session, page: int = 1, per_page: int = DEFAULT_PER_PAGE) -> Page[UnansweredQuestion]:
    """The console's list, most asked first, a page at a time."""
    return paginate(session, _unanswered(None), page, per_page)


def make_faq_from_unanswered(session: Session, unanswered_id: int, answer: str,
                             questions: Sequence[str]) -> FaqEntry:
    """Turn an unanswered question into an FAQ entry with the phrasings the administrator kept or wrote (the
    original question only if it is still among them) and clear it from the inbox."""
    row = session.get(UnansweredQuestion, unanswered_id)
    if row is None:
        raise FaqNotFound(unanswered_id)
    faq = create_faq(session, questions, answer)
    session.execute(delete(UnansweredQuestion).where(UnansweredQuestion.id == unanswered_id))
    return faq
