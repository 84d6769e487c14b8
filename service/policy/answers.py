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

from models.message import UnansweredAsker
from models.policy import PolicyClause, PolicyDocument, UnansweredQuestion
from service.chat import menu
from service.core.textfit import REPLY_LIMIT, fit_utf8, utf8_len
from service.policy import texts as T
from service.policy.importer import PATH_SEP
from service.policy.search import (Index, SearchResult, analyse, asks_for_more, compact, current_index, match_faq,
                                   neighbourhood, related_hits, resolve_follow_up, search_index)

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


def _short_path(path: str) -> str:
    """The last two path steps, so two "1.扎实开展…" items of different sections stay apart."""
    return PATH_SEP.join(path.split(PATH_SEP)[-2:])


def render_result(index: Index, result: SearchResult) -> tuple[str, list[int]]:
    """The reply to an answered question and the clause ids its numbers open (pure: the bench renders with it).

    The answering sentence(s) come first, then 出处 and "回复 1 看全文" with up to two related clauses (2, 3); a
    question about a whole section gets the section's summary, 出处 and its numbered items.
    """
    best = result.hits[0].entry
    documents = {e.document_id for e in index.entries}
    path = best.path if len(documents) <= 1 else f"《{best.title}》{best.path}"
    lead = "".join(result.lead) or best.label
    source = T.SOURCE.format(path=path)
    if result.section:
        position = next(i for i, e in enumerate(index.entries) if e.id == best.id)
        items = [index.entries[i] for i in index.children.get(position, ())]
        head = f"{best.label}：{lead}" if result.lead else best.label
        listing = "\n".join(c.label if c.number.rstrip(".、．") == str(n) else f"{n}. {c.label}"
                            for n, c in enumerate(items, 1))
        return _fit_body(head, "", f"{source}\n{T.SECTION_ITEMS}\n{listing}"), [c.id for c in items]
    related = [h.entry for h in related_hits(result)]
    tail = f"{source}\n{T.FULL_TEXT}"
    if related:
        tail += "\n" + T.RELATED_HEADER + "\n" + "\n".join(
            f"{n}. {_short_path(c.path)}" for n, c in enumerate(related, 2))
    return _fit_body("", lead, tail), [best.id] + [c.id for c in related]


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
    items: list[int] = field(default_factory=list)  # the clause ids the reply's numbers open
    asked: str = ""  # the question answered, a follow-up resolved against the previous one


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


def compose_answer(session: Session, text: str, previous: str | None = None) -> Composed:
    """The reply for a free-text question, without saving anything. `previous` is the question answered last
    (within the follow-up window): a follow-up such as 那学校呢 is read against it."""
    bad = bad_input_reply(text)
    if bad is not None:
        return Composed(bad, "bad_input")
    faq = match_faq(session, text)
    if faq is not None:
        return Composed(fit_utf8(f"{faq.answer}\n{T.FAQ_FOOTER}"), "faq", SearchResult(text, [], 1.0, faq))
    result, reply, items, asked = answer_from_index(current_index(session), text, previous)
    if reply is None or result.best is None:
        return _not_found(text, result)
    return Composed(reply, "clause", result, result.best.entry.id, items[1:] if not result.section else [],
                    items=items, asked=asked)


def answer_from_index(index: Index, text: str, previous: str | None = None
                      ) -> tuple[SearchResult, str | None, list[int], str]:
    """(search result, reply or None for 没有找到, the ids its numbers open, the question as resolved) for a
    question that is not an FAQ; pure, so the benchmark grades exactly what residents get."""
    asked = resolve_follow_up(index, text, previous) if previous else text
    if asked == text:
        result = search_index(index, asked)
    elif analyse(index, text).places:  # 那学校呢: the earlier question asked of the new place, answered alike
        before = search_index(index, previous) if previous else None
        result = search_index(index, asked, sections=before is None or before.section)
    else:  # 具体怎么做, 一年几次: more than the section's summary, near the last answer, its own words first
        before = search_index(index, previous) if previous else None
        near = neighbourhood(index, before) if before is not None else set()
        seen = before.lead if before is not None and before.answered and asks_for_more(text) else []
        result = search_index(index, asked, sections=False, follow=text, near=near, seen=seen)
    if not result.answered or result.best is None:
        return result, None, [], asked
    reply, items = render_result(index, result)
    return result, reply, items, asked


def _not_found(text: str, result: SearchResult) -> Composed:
    """No clause answers: point to the features the text names (not a policy question then), else give examples.

    The policy features themselves are left out: NOT_FOUND offers them already, and a policy question that names
    政策 belongs in the unanswered-question inbox."""
    options = [o for o in menu.options_named_in(text) if o.intent not in ("policy", "ask")]
    if options:
        lines = "\n".join(T.MENU_HINT_OPTION.format(number=o.number, label=o.label) for o in options)
        return Composed(T.MENU_HINT.format(options=lines), "menu_hint", result)
    scope = result.question.out_of_scope if result is not None and result.question is not None else []
    if scope:  # say why: the question is about another public service (门票, 医保)
        topics = "、".join(scope[:2])[:20]
        return Composed(fit_utf8(T.OUT_OF_SCOPE.format(topics=topics, examples=T.examples_block())), "not_found",
                        result)
    return Composed(T.NOT_FOUND.format(examples=T.examples_block()), "not_found", result)


def preview_answer(session: Session, text: str) -> Composed:
    """What the bot would answer to `text` (the console's "try it" box); records nothing."""
    return compose_answer(session, text)


def _get_or_add(session: Session, model, where, **values):
    """The row matching `where`, or a new one with `values` (inserted in a savepoint: when another worker inserted
    it first, theirs is returned), and whether it was found."""
    row = session.scalar(select(model).where(*where))
    if row is not None:
        return row, True
    try:
        with session.begin_nested():
            row = model(**values)
            session.add(row)
        return row, False
    except IntegrityError:  # another worker inserted it first
        row = session.scalar(select(model).where(*where))
        assert row is not None
        return row, True


def record_unanswered(session: Session, text: str, now: datetime, openid: str = "") -> UnansweredQuestion:
    """Count one more asking of an unanswered question (keyed by its compact form) and remember who asked it in
    their own words (`UnansweredAsker`), so staff can answer them and they can leave it as a message (留言)."""
    key = compact(text)[:255] or text.strip()[:255]
    words = text.strip()[:1000]
    row, found = _get_or_add(session, UnansweredQuestion, (UnansweredQuestion.normalized == key,), normalized=key,
                             example=words, count=1, first_asked_at=now, last_asked_at=now)
    if found:
        row.count += 1
        row.last_asked_at = now
        session.flush()
    if openid:
        asker, found = _get_or_add(session, UnansweredAsker,
                                   (UnansweredAsker.question_id == row.id, UnansweredAsker.openid == openid),
                                   question_id=row.id, openid=openid, text=words, asked_at=now)
        if found:
            asker.text, asker.asked_at = words, now
            session.flush()
    return row


