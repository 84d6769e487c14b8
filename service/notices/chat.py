"""What notices answer in chat besides subscriptions: the delivery reports WeChat sends back as events.

Registered with `handles_event`, so the router finds them without knowing the delivery engine.
"""
from __future__ import annotations

from service.chat.contract import ChatContext, handles_event
from service.notices import delivery


@handles_event("templatesendjobfinish")
def template_finished(ctx: ChatContext) -> None:
    """TEMPLATESENDJOBFINISH: whether a template message reached the user, kept on its announcement delivery row
    (or, through `delivery.TEMPLATE_RECEIPTS`, on another feature's send) for the console; WeChat expects no reply."""
    raw = ctx.inbound.raw
    msgid, status = raw.get("MsgID") or raw.get("MsgId"), raw.get("Status")
    if isinstance(msgid, str) and isinstance(status, str):
        args = (ctx.session, ctx.openid, msgid.strip(), status.strip(), ctx.now)
        if not delivery.template_job_finished(*args):
            any(handler(*args) for handler in delivery.TEMPLATE_RECEIPTS)
    return None
