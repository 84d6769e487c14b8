"""Residents' messages in chat: the 留言 conversation, 我的留言, 留言详情, 追加, the rating answer, and the replies
waiting for the resident's next message."""
from __future__ import annotations

from typing import Optional

from service.chat import conversation
from service.chat.contract import ChatContext
from service.core.textfit import REPLY_LIMIT
from service.messages import replies

PASSIVE_BUDGET = REPLY_LIMIT - 248  # room for the 更多 hint and the first words of the bot's own answer


# ---- replies waiting for the resident's next message ------------------------------------------------------------

def has_waiting(ctx: ChatContext) -> bool:
    """Whether replies wait for this resident: the marker draft among the drafts the gateway fetched with the claim
    (no query), or looked up when they were not fetched. Call before routing (routes take the drafts)."""
    if ctx.inbound.kind == "event" or not ctx.openid:
        return False
    if ctx.drafts is not None:
        return any(d.flow == replies.WAITING_FLOW for d in ctx.drafts)
    return conversation.load(ctx.session, ctx.openid, ctx.now, flow=replies.WAITING_FLOW) is not None


def with_waiting(ctx: ChatContext, reply: Optional[str]) -> Optional[str]:
    """The waiting replies (marked delivered in this message's transaction), then the bot's own answer."""
    waiting = replies.passive_reply_for(ctx.session, ctx.openid, ctx.now, PASSIVE_BUDGET)
    if waiting is None:
        return reply
    return f"{waiting}\n\n{reply}" if reply else waiting
