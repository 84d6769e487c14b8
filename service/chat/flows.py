"""The turn runner: load-handle-save around a conversation flow, so no flow saves its own draft.

A flow's handler runs inside a savepoint; the router then stores the draft it asked for with conversation's
version check. If another turn of the same user saved first (two workers, one user), the savepoint is rolled
back — the turn's own writes (a photo row, a submitted report) with it — and the turn runs once more on the
fresh draft, so two answers arriving together are both kept and nothing is written twice. On PostgreSQL the
`for_update` load already serialises the two turns; on SQLite the write lock plus the version check do.
"""
from __future__ import annotations

from service.chat import conversation, texts
from service.chat.contract import ChatContext, Flow, Turn, handled
from service.chat.conversation import ConcurrentUpdate, Draft


def take_turn(ctx: ChatContext, flow: Flow, draft: Draft) -> Turn:
    """Offer the message to `flow` with its live `draft`; store what the turn asks for."""
    for _attempt in (1, 2):
        try:
            with ctx.session.begin_nested():
                turn = flow.handle(ctx, draft)
                _store(ctx, flow, draft, turn)
            return turn
        except ConcurrentUpdate:
            fresh = conversation.load(ctx.session, ctx.openid, ctx.now, for_update=True, flow=flow.name)
            if fresh is None:  # the other turn finished the conversation
                return handled(flow.finished_reply or texts.ALREADY_HANDLED)
            draft = fresh
    return handled(texts.BUSY)


def _store(ctx: ChatContext, flow: Flow, draft: Draft, turn: Turn) -> None:
    if turn.end:
        conversation.end(ctx.session, draft)
    elif turn.save is not None:
        draft.step, draft.data = turn.save
        conversation.save(ctx.session, draft, ctx.now, flow.ttl)
