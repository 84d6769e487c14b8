"""Policy in chat: the numbered menu (a 'policy' conversation flow), 进X shortcuts and the free-text route, which
answers with policy/answers.py.

The menu state lives in the user's conversation draft: `at` is the clause on screen (None = the top level) and
`items` the clause ids its numbers open. A free-text answer saves the same shape, so replying a number opens one of
the related clauses it offered.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models.policy import PolicyClause, PolicyDocument
from service.chat import conversation, menu
from service.chat.contract import ChatContext, Flow, Turn, handled, not_mine
from service.chat.conversation import Draft
from service.policy import texts as T
from service.policy.answers import (as_number, children_of, compose_answer, current_clause, record_unanswered,
                                    render_clause, render_top)

MENU_TTL = timedelta(minutes=10)
SECTION_NAMES = ("进机关", "进企业", "进社区", "进乡镇", "进学校", "进连队", "进宗教活动场所")


# ---- menu state ------------------------------------------------------------------------------------------------

def _save(ctx: ChatContext, at: int | None, items: list[int], keep_other_flows: bool = False,
          asked: str | None = None) -> None:
    """Store the menu position. With keep_other_flows nothing is stored while another flow (a half-filled report)
    is the user's active conversation, so a passing answer does not take the next message away from it."""
    if keep_other_flows:
        active = conversation.load(ctx.session, ctx.openid, ctx.now)
        if active is not None and active.flow != T.FLOW:
            return
    draft = conversation.load(ctx.session, ctx.openid, ctx.now, for_update=True, include_expired=True, flow=T.FLOW)
    if draft is None:
        draft = Draft(ctx.openid, T.FLOW)
    draft.flow, (draft.step, draft.data) = T.FLOW, _menu_state(at, items, asked)
    conversation.save(ctx.session, draft, ctx.now, MENU_TTL)


def _menu_state(at: int | None, items: list, asked: str | None = None) -> tuple[str, dict]:
    """The menu's draft: the clause on screen (None = the top level), the clause ids its numbers open and, after
    an answer, the question it answered (`asked`), against which a follow-up is read until the draft expires."""
    data: dict = {"at": at, "items": [c if isinstance(c, int) else c.id for c in items]}
    if asked:
        data["asked"] = asked
    return "menu", data


def _show(ctx: ChatContext, clause: PolicyClause) -> str:
    children = children_of(ctx.session, clause.id)
    _save(ctx, clause.id, [c.id for c in children])
    return render_clause(ctx.session, clause, children)


def ask_prompt(ctx: ChatContext) -> str:
    """The 政策问答 menu option: invite a question."""
    return T.ASK_PROMPT.format(examples=T.examples_block())


def open_menu(ctx: ChatContext) -> str:
    """The top level of the current documents as a numbered list; opens the 'policy' flow."""
    items = children_of(ctx.session, None)
    if not items:
        return T.EMPTY_KB
    _save(ctx, None, [c.id for c in items])
    return render_top(ctx.session, items)


def open_section(ctx: ChatContext, name: str) -> str:
    """进社区, 进学校 … by name: the clause with that heading, shown with its items."""
    clause = ctx.session.scalar(select(PolicyClause).join(PolicyDocument)
                                .where(PolicyDocument.is_current.is_(True), PolicyClause.heading == name)
                                .order_by(PolicyDocument.id, PolicyClause.position).limit(1))
    if clause is None:
        return T.SECTION_MISSING.format(name=name)
    return _show(ctx, clause)


def _clause_turn(ctx: ChatContext, clause: PolicyClause) -> Turn:
    children = children_of(ctx.session, clause.id)
    return handled(render_clause(ctx.session, clause, children), save=_menu_state(clause.id, children))


def _top_turn(ctx: ChatContext) -> Turn:
    items = children_of(ctx.session, None)
    if not items:
        return handled(T.EMPTY_KB, end=True)
    return handled(render_top(ctx.session, items), save=_menu_state(None, items))


def handle_flow(ctx: ChatContext, draft: Draft) -> Turn:
    """Numbers open items, 返回 goes up; anything else closes the menu and is routed as usual."""
    text = ctx.inbound.text
    number = as_number(text)
    at, items = draft.data.get("at"), list(draft.data.get("items") or [])
    if number is not None:
        if not items:
            return handled(T.NO_CHOICES)
        if not 1 <= number <= len(items):
            return handled(T.BAD_NUMBER.format(number=number, count=len(items)))
        clause = current_clause(ctx.session, items[number - 1])
        return _clause_turn(ctx, clause) if clause is not None else handled(T.CLAUSE_GONE, end=True)
    if text in T.RESTART_WORDS:
        return handled(T.ASK_AGAIN.format(examples=T.examples_block()), end=True)
    if text not in T.BACK_WORDS:
        return _follow_up(ctx, draft)
    if at is None:
        return handled(T.MENU_EXITED, end=True)
    clause = current_clause(ctx.session, at)
    if clause is None:
        return handled(T.CLAUSE_GONE, end=True)
    parent = current_clause(ctx.session, clause.parent_id) if clause.parent_id is not None else None
    return _clause_turn(ctx, parent) if parent is not None else _top_turn(ctx)


def _follow_up(ctx: ChatContext, draft: Draft) -> Turn:
    """A question read against the one answered last (那学校呢, 一年几次); anything else closes the menu and is
    routed as usual (a self-contained question is answered afresh by `answer`)."""
    previous = draft.data.get("asked")
    text = ctx.inbound.text
    if not previous or text in SECTION_NAMES or text == T.MENU_KEYWORD or menu.options_named_in(text) and len(text) <= 6:
        return not_mine(end=True)
    composed = compose_answer(ctx.session, text, previous)
    if composed.kind != "clause" or composed.asked == text:
        return not_mine(end=True)
    return handled(composed.reply, save=_menu_state(composed.clause_id, composed.items, composed.asked))


POLICY_FLOW = Flow(T.FLOW, handle_flow, MENU_TTL)


def answer(ctx: ChatContext) -> str:
    """Free-text fallback: FAQ, else the best clause with its source and related clauses, else 没有找到."""
    text = ctx.inbound.text
    composed = compose_answer(ctx.session, text)
    if composed.kind == "clause":
        _save(ctx, composed.clause_id, composed.items, keep_other_flows=True, asked=composed.asked)
    elif composed.kind == "not_found":
        record_unanswered(ctx.session, text, ctx.now, ctx.openid)
    return composed.reply
