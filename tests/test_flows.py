"""The flow contract (service/chat/contract.py) and the turn runner (service/chat/flows.py): a flow says what it
made of a message, the runner stores the draft; a lost race undoes the turn's writes and runs it once more."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from models.conversation import ConversationDraft
from models.policy import UnansweredQuestion
from service.chat import conversation, flows
from service.chat.contract import (EVENT_HANDLERS, ChatContext, Flow, Inbound, handled, handles_event,
                                   not_mine)
from service.core import clock
from service.wechat import router

TTL = timedelta(minutes=10)


def ctx_for(session, settings, text: str) -> ChatContext:
    return ChatContext(session, settings, clock.now(), Inbound(openid="o-flow", kind="text", content=text))


def start(session, flow: str, step: str = "one", data: dict | None = None):
    draft = conversation.save(session, conversation.Draft("o-flow", flow, step, data or {}), clock.now(), TTL)
    session.commit()
    return draft


def test_a_turn_saves_the_draft_it_asks_for_and_deletes_it_at_the_end(session, settings):
    counter = Flow("count", lambda ctx, d: handled(f"第{d.data['n'] + 1}次", save=("counting", {"n": d.data["n"] + 1}))
                   if ctx.inbound.text != "完" else handled("结束", end=True), TTL)
    draft = start(session, "count", data={"n": 0})
    turn = flows.take_turn(ctx_for(session, settings, "加"), counter, draft)
    assert (turn.taken, turn.reply) == (True, "第1次")
    stored = conversation.load(session, "o-flow", clock.now(), flow="count")
    assert (stored.step, stored.data, stored.version) == ("counting", {"n": 1}, 2)
    assert flows.take_turn(ctx_for(session, settings, "完"), counter, stored).reply == "结束"
    assert conversation.load(session, "o-flow", clock.now(), flow="count") is None


def test_not_mine_passes_the_message_on_and_may_close_the_conversation(session, settings):
    draft = start(session, "menu")
    turn = flows.take_turn(ctx_for(session, settings, "别的"), Flow("menu", lambda c, d: not_mine(end=True), TTL), draft)
    assert not turn.taken and turn.reply is None
    assert conversation.load(session, "o-flow", clock.now(), flow="menu") is None
    kept = start(session, "stay")
    assert not flows.take_turn(ctx_for(session, settings, "x"), Flow("stay", lambda c, d: not_mine(), TTL), kept).taken
    assert conversation.load(session, "o-flow", clock.now(), flow="stay") is not None


def test_a_lost_race_undoes_the_turns_writes_and_runs_it_again_on_the_fresh_draft(session, settings):
    calls: list[int] = []

    def record_then_lose_once(ctx, draft):
        calls.append(draft.version)
        ctx.session.add(UnansweredQuestion(normalized=f"q{len(calls)}", example="?", count=1,
                                           first_asked_at=ctx.now, last_asked_at=ctx.now))
        ctx.session.flush()
        if len(calls) == 1:  # another turn of the same user saves the draft meanwhile
            ctx.session.execute(update(ConversationDraft).values(version=ConversationDraft.version + 5))
        return handled("好", save=("two", {}))

    draft = start(session, "race")
    turn = flows.take_turn(ctx_for(session, settings, "x"), Flow("race", record_then_lose_once, TTL), draft)
    assert turn.reply == "好" and calls == [1, 1]  # the savepoint took the competing save back with the turn
    assert session.scalar(select(func.count()).select_from(UnansweredQuestion)) == 1
    assert session.scalars(select(UnansweredQuestion.normalized)).all() == ["q2"]


def test_a_message_racing_a_finished_conversation_gets_the_flows_own_word(session, session_factory, settings):
    draft = start(session, "done")
    with session_factory() as other:  # another turn of the same user ended the conversation and committed
        conversation.clear(other, "o-flow", "done")
        other.commit()
    flow = Flow("done", lambda ctx, d: handled("不会发出", save=("x", {})), TTL, "已经处理过了")
    assert flows.take_turn(ctx_for(session, settings, "x"), flow, draft).reply == "已经处理过了"


def test_features_register_the_events_they_handle_once():
    from service.notices import chat as notices_chat

    assert EVENT_HANDLERS["templatesendjobfinish"] is notices_chat.template_finished
    assert "templatesendjobfinish" not in router.EVENT_ROUTES  # the router does not know the delivery engine
    with pytest.raises(ValueError, match="already has a handler"):
        handles_event("templatesendjobfinish")(lambda ctx: None)
