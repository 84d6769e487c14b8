"""Answer an unanswered question to the people who asked it and turn it into an FAQ entry, in one transaction.

Each asker (`UnansweredAsker`, recorded when the bot said 没有找到) gets a thread of their own (source
"unanswered", their own words as its first line) with the answer as a staff reply, through the same path as any
reply: stored pending here, delivered by the caller after the commit (`replies.deliver_reply`), exactly once, with
its delivery status on the thread. Then the FAQ entry is made and the question leaves the inbox.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.admin import AdminUser
from models.message import ThreadCategory, ThreadEntry, UnansweredAsker
from models.policy import FaqEntry, UnansweredQuestion
from service.core.errors import InvalidInput
from service.messages import staff as message_staff, threads
from service.policy import faq as policy_faq

MAX_ASKERS = 500  # answered in one step; a question asked by more people is answered to the latest 500


@dataclass(frozen=True)
class Answered:
    faq: FaqEntry
    replies: list[ThreadEntry]  # one per asker, delivery pending until the caller delivers them


def asker_counts(session: Session, question_ids: Sequence[int]) -> dict[int, int]:
    """How many people asked each listed question (one grouped query)."""
    if not question_ids:
        return {}
    return dict(session.execute(select(UnansweredAsker.question_id, func.count())
                                .where(UnansweredAsker.question_id.in_(question_ids))
                                .group_by(UnansweredAsker.question_id)).all())


def answer_and_make_faq(session: Session, question_id: int, answer: str, questions: Sequence[str],
                        by: AdminUser, now: datetime, sla_hours: float, reply_to_askers: bool = True) -> Answered:
    """FaqNotFound when the question is gone; FaqInvalid / InvalidInput (field "answer") for a bad answer."""
    row = session.get(UnansweredQuestion, question_id)
    if row is None:
        raise policy_faq.FaqNotFound(question_id)
    sent: list[ThreadEntry] = []
    if reply_to_askers:
        askers = session.scalars(select(UnansweredAsker).where(UnansweredAsker.question_id == question_id)
                                 .order_by(UnansweredAsker.asked_at.desc()).limit(MAX_ASKERS)).all()
        for asker in askers:
            thread = threads.open_thread(session, openid=asker.openid, text=asker.text or row.example,
                                         category=ThreadCategory.CONSULT.value, source="unanswered", now=now,
                                         sla_hours=sla_hours)
            try:
                sent.append(message_staff.reply(session, thread, answer, by, now))
            except InvalidInput as exc:  # the reply's limits name the form's field
                raise InvalidInput(exc.message, "answer") from None
            asker.answered_thread_id = thread.id
    session.flush()
    return Answered(policy_faq.make_faq_from_unanswered(session, question_id, answer, questions), sent)
