"""Answers from the policy: clause access and rendering (within WeChat's byte limit, with the source), the reply a
free-text question gets (FAQ, best clause with related ones, or a helpful 没有找到), and the unanswered-question
count. The chat routes (policy/chat.py) and the console's "try it" box both use it.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.policy import PolicyClause, PolicyDocument, UnansweredQuestion
from service.chat import menu
from service.core.textfit import REPLY_LIMIT, fit_utf8, utf8_len
from service.policy import texts as T
from service.policy.search import SearchResult, compact, related_hits, search

MAX_QUESTION_CHARS = 300  # longer texts are pastes, not questions
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_WORDISH = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)


# ---- clause access ---------------------------------------------------------------------------------------------

def current_clause(session: Session, clause_id: int) -> PolicyClause | None:
    return session.scalar(select(PolicyClause).join(PolicyDocument)
                          .where(PolicyClause.id == clause_id, PolicyDocument.is_current.is_(True)))


def children_of(session: Session, parent_id: int | None) -> list[PolicyClause]:
    stmt = select(PolicyClause).join(PolicyDocument).where(PolicyDocument.is_current.is_(True))
    stmt = stmt.where(PolicyClause.parent_id == parent_id) if parent_id is not None else stmt.where(
        PolicyClause.parent_id.is_(None))
    return list(session.scalars(stmt.order_by(PolicyDocument.id, PolicyClause.position)))


def _current_titles(session: Session) -> list[str]:
    return list(session.scalars(select(PolicyDocument.title).where(PolicyDocument.is_current.is_(True))
                                .order_by(PolicyDocument.id)))


def _source(session: Session, clause: PolicyClause) -> str:
    titles = _current_titles(session)
    path = clause.path if len(titles) <= 1 else f"《{clause.document.title}》{clause.path}"
    return T.SOURCE.format(path=path)


# ---- rendering -------------------------------------------------------------------------------------------------

def _fit_body(head: str, body: str, tail: str) -> str:
    """head + body + tail within the reply limit, cutting only the body."""
    fixed = utf8_len(head) + utf8_len(tail) + 2
    body = fit_utf8(body, max(REPLY_LIMIT - fixed, 0)) if body else ""
    return fit_utf8("\n".join(part for part in (head, body, tail) if part))


def _numbered(clauses: list[PolicyClause]) -> str:
    """Numbered choices; a clause already numbered with its choice number (1. 2. ...) is not numbered twice."""
    return "\n".join(c.label if c.number.rstrip(".、．") == str(i) else f"{i}. {c.label}"
                     for i, c in enumerate(clauses, 1))


def render_top(session: Session, items: list[PolicyClause]) -> str:
    titles = _current_titles(session)
    head = T.MENU_HEADER.format(title="》《".join(titles))
    return fit_utf8(f"{head}\n{_numbered(items)}\n{T.MENU_FOOTER}")


def render_clause(session: Session, clause: PolicyClause, children: list[PolicyClause]) -> str:
    if children:
        tail = f"{T.CHILDREN_HEADER}\n{_numbered(children)}\n{T.MENU_FOOTER}"
    else:
        tail = f"{_source(session, clause)}\n{T.LEAF_FOOTER}"
    return _fit_body(clause.label, clause.text, tail)


def _render_answer(session: Session, clause: PolicyClause, related: list[PolicyClause]) -> str:
    tail = _source(session, clause)
    if related:  # the last two path steps, so two "1.扎实开展…" items of different sections stay apart
        options = "\n".join(f"{i}. {' › '.join(c.path.split(' › ')[-2:])}" for i, c in enumerate(related, 1))
        tail += "\n" + T.RELATED_HEADER + "\n" + options
    return _fit_body(clause.label, clause.text, tail)


def as_number(text: str) -> int | None:
    text = unicodedata.normalize("NFKC", text).strip().rstrip(".、")
    return int(text) if text.isdigit() and len(text) <= 4 else None


# ---- free text -------------------------------------------------------------------------------------------------

@dataclass
class Composed:
    """What the bot would say to a text, and why (for the console's preview and for `answer`)."""

    reply: str
    kind: str  # "faq" | "clause" | "not_found" | "menu_hint" | "bad_input"
    result: SearchResult | None = None
    clause_id: int | None = None
    related_ids: list[int] = field(default_factory=list)


def bad_input_reply(text: str) -> str | None:
    """A helpful reply for text that is not a question we can search, else None."""
    examples = T.examples_block()
    stripped = text.strip()
    if not stripped:
        return T.EMPTY.format(examples=examples)
    if as_number(stripped) is not None:
        return T.NUMBER_NO_MENU
    if len(stripped) > MAX_QUESTION_CHARS:
        return T.TOO_LONG.format(count=len(stripped), examples=examples)
    if not _CJK.search(stripped):
        if _LATIN.search(stripped):
            return T.NOT_CHINESE.format(examples=examples)
        if not _WORDISH.search(stripped) or not compact(stripped):
            return T.SYMBOLS_ONLY.format(examples=examples)
    if not compact(stripped):
        return T.SYMBOLS_ONLY.format(examples=examples)
    return None


def compose_answer(session: Session, text: str) -> Composed:
    """The reply for a free-text question, without saving anything."""
    bad = bad_input_reply(text)
    if bad is not None:
        return Composed(bad, "bad_input")
    result = search(session, text)
    if result.faq is not None:
        return Composed(fit_utf8(f"{result.faq.answer}\n{T.FAQ_FOOTER}"), "faq", result)
    if not result.answered or result.best is None:
        return _not_found(text, result)
    clause = session.get(PolicyClause, result.best.entry.id)
    related = [c for c in (session.get(PolicyClause, h.entry.id) for h in related_hits(result)) if c is not None]
    if clause is None:  # the index was built from rows this session cannot see: treat as not found
        return Composed(T.NOT_FOUND.format(examples=T.examples_block()), "not_found", result)
    return Composed(_render_answer(session, clause, related), "clause", result, clause.id, [c.id for c in related])


def _not_found(text: str, result: SearchResult) -> Composed:
    """No clause answers: point to the features the text names (not a policy question then), else give examples.

    The policy features themselves are left out: NOT_FOUND offers them already, and a policy question that names
    政策 belongs in the unanswered-question inbox."""
    options = [o for o in menu.options_named_in(text) if o.intent not in ("policy", "ask")]
    if options:
        lines = "\n".join(T.MENU_HINT_OPTION.format(number=o.number, label=o.label) for o in options)
        return Composed(T.MENU_HINT.format(options=lines), "menu_hint", result)
    return Composed(T.NOT_FOUND.format(examples=T.examples_block()), "not_found", result)


def preview_answer(session: Session, text: str) -> Composed:
    """What the bot would answer to `text` (the console's "try it" box); records nothing."""
    return compose_answer(session, text)


def record_unanswered(session: Session, text: str, now: datetime) -> UnansweredQuestion:
    """Count one more asking of an unanswered question (keyed by its compact form)."""
    key = compact(text)[:255] or text.strip()[:255]
    row = session.scalar(select(UnansweredQuestion).where(UnansweredQuestion.normalized == key))
    if row is None:
        try:
            with session.begin_nested():
                row = UnansweredQuestion(normalized=key, example=text.strip()[:1000], count=1,
                                         first_asked_at=now, last_asked_at=now)
                session.add(row)
            return row
        except IntegrityError:  # another worker inserted it first
            row = session.scalar(select(UnansweredQuestion).where(UnansweredQuestion.normalized == key))
            assert row is not None
    row.count += 1
    row.last_asked_at = now
    session.flush()
    return row


