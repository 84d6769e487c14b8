"""Residents' messages, the resident's side, through real signed messages to /wechat (and the simulator): the 留言
form from every entry point, its command words and re-asks, 我的留言 / 留言详情 / 追加, the rating, and privacy."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from models.conversation import ConversationDraft
from models.follower import Follower
from models.message import EntryKind, ResidentThread, ThreadEntry, ThreadStatus, UnansweredAsker
from models.policy import UnansweredQuestion
from service.chat import menu
from service.core import clock
from service.core.db import session_scope
from service.messages import replies
from service.messages.chat import parse_rating
from tests.wechat_xml import WeChatUser

UNANSWERED = "学校食堂有清真窗口吗"


def all_threads(factory) -> list[ResidentThread]:
    with session_scope(factory) as s:
        rows = list(s.scalars(select(ResidentThread).order_by(ResidentThread.id)))
        for row in rows:
            _ = row.entries
        s.expunge_all()
        return rows


def say(user: WeChatUser, *messages: str) -> str:
    reply = ""
    for message in messages:
        reply = user.send_text(message)
    return reply


# ---- leaving a message ------------------------------------------------------------------------------------------

def test_a_failed_question_becomes_a_message_with_a_receipt(wechat, session_factory):
    answer = wechat.send_text(UNANSWERED)
    assert "没有找到" in answer and "回复“留言”把问题留给工作人员" in answer
    with session_scope(session_factory) as s:
        asker = s.scalar(select(UnansweredAsker))
        assert (asker.openid, asker.text) == ("o_test_user", UNANSWERED)
        assert s.get(UnansweredQuestion, asker.question_id).count == 1

    prompt = wechat.send_text("留言")
    assert f"您的问题：“{UNANSWERED}”" in prompt and "跳过" in prompt
    assert "4. 反映问题（含拒租、拒住" in wechat.send_text("孩子在外地上学，想问清楚")
    assert "电话" in wechat.send_text("4")
    assert wechat.send_text("123").startswith("⚠ 电话应为手机号")
    summary = wechat.send_text("0851-86812345")
    assert "1. 内容：学校食堂有清真窗口吗\n孩子在外地上学，想问清楚" in summary and "0851-86812345" in summary
    receipt = wechat.send_text("确认")
    today = clock.now().strftime("%Y%m%d")
    assert f"留言已提交，编号 LY{today}0001" in receipt

    [thread] = all_threads(session_factory)
    assert thread.openid == "o_test_user" and thread.category == "complaint" and thread.phone == "0851-86812345"
    assert thread.entries[0].body.splitlines() == [UNANSWERED, "孩子在外地上学，想问清楚"]
    assert thread.status == ThreadStatus.OPEN and thread.due_at is not None and thread.source == "wechat"
    # the question is left as a message now: the next 留言 starts afresh
    assert "您的问题" not in wechat.send_text("留言")


def test_skip_keeps_the_question_as_it_was_asked(wechat, session_factory):
    wechat.send_text(UNANSWERED)
    say(wechat, "留言", "跳过", "1", "跳过", "确认")
    [thread] = all_threads(session_factory)
    assert thread.entries[0].body == UNANSWERED and thread.phone == "" and thread.category == "consult"


@pytest.mark.parametrize("entry", ["留言", "我要留言", "8"])
def test_every_entry_point_opens_the_form(wechat, entry):
    assert wechat.send_text(entry).startswith("【留言 第1/3步·内容】")


def test_the_custom_menu_has_the_message_buttons(wechat):
    keys = {sub["key"] for top in menu.CUSTOM_MENU["button"] for sub in top.get("sub_button", [])}
    assert {"MESSAGE", "MY_MESSAGES"} <= keys
    assert wechat.click("MESSAGE").startswith("【留言 第1/3步·内容】")
    assert "还没有留言" in wechat.click("MY_MESSAGES")
    assert "两个工作日" in wechat.send_text("帮助")  # inside the form, 帮助 explains the form
    wechat.send_text("取消")
    help_text = wechat.send_text("帮助")
    assert "我要留言" in help_text and "我的留言" in help_text


def test_one_message_leaves_the_words_and_asks_the_rest(wechat, session_factory):
    assert "第2/3步·类别" in wechat.send_text("留言 小区物业拒绝租房给少数民族租户")
    assert "请核对" in say(wechat, "反映问题", "13812345678")
    wechat.send_text("确认")
    [thread] = all_threads(session_factory)
    assert thread.subject == "小区物业拒绝租房给少数民族租户" and thread.category == "complaint"


def test_a_voice_message_is_taken_as_its_recognised_words(wechat, session_factory):
    wechat.send_text("留言")
    reply = wechat.reply(wechat.fields("voice", MediaId="voice-1", Format="amr", Recognition="社区活动室晚上能开放吗。"))
    assert "第2/3步" in reply
    say(wechat, "2", "跳过", "确认")
    assert all_threads(session_factory)[0].entries[0].body == "社区活动室晚上能开放吗。"


def test_photos_are_kept_up_to_three(wechat, session_factory):
    wechat.send_text("留言")
    for n in (1, 2, 3):
        assert f"共 {n} 张" in wechat.send_image(f"m{n}", f"http://mmbiz.qpic.cn/m{n}")
    assert "最多附 3 张" in wechat.send_image("m4")
    assert wechat.send_image("m3", "http://mmbiz.qpic.cn/m3") is None  # WeChat's retry of a picture: nothing new
    assert "照片：3张" in say(wechat, "路灯坏了很久", "3", "跳过")
    assert "第2/3步" in wechat.send_text("修改 2")
    assert "类别：求助" in wechat.send_text("3")
    wechat.send_text("确认")
    [thread] = all_threads(session_factory)
    assert [p["media_id"] for p in thread.entries[0].photos] == ["m1", "m2", "m3"]


def test_bad_input_is_asked_again_and_nothing_is_lost(wechat, session_factory):
    wechat.send_text("留言")
    assert "留言内容不能为空" in wechat.send_text("跳过")
    too_long = wechat.send_text("长" * 1001)
    assert "最多 1000 字" in too_long and "1001 字" in too_long and "第1/3步" in too_long
    assert "第2/3步" in wechat.send_text("长" * 1000)
    assert "请选择留言类别" in wechat.send_text("5")
    wechat.send_text("求助")
    invalid = wechat.send_text("1234")
    assert invalid.startswith("⚠ 电话应为手机号") and "第3/3步" in invalid
    assert "请核对" in wechat.send_text("+86 138-1234-5678")
    edit = wechat.send_text("修改 3")
    assert "第3/3步" in edit and "（当前：13812345678）" in edit
    assert "请核对" in wechat.send_text("跳过")
    assert "请回复“确认”" in wechat.send_text("好吧")
    wechat.send_text("确认")
    [thread] = all_threads(session_factory)
    assert len(thread.entries[0].body) == 1000 and thread.phone == "" and thread.category == "help"


def test_command_words_back_help_pause_cancel(wechat, session_factory):
    wechat.send_text("留言 社区能不能多办几场民族团结活动")
    back = wechat.send_text("上一步")
    assert "第1/3步" in back and "（当前：社区能不能多办几场民族团结活动）" in back
    assert "已经是第一步" in wechat.send_text("上一步")
    assert "两个工作日" in wechat.send_text("帮助")
    assert "先回复“取消”" in wechat.send_text("政策")  # a menu word is never taken as the content
    assert "暂存" in wechat.send_text("暂停")
    assert "请回复数字或文字选择" in wechat.send_text("菜单")  # paused: the rest of the account works as usual
    assert "继续填写留言" in wechat.send_text("继续")
    assert "已取消这条留言" in wechat.send_text("取消")
    assert all_threads(session_factory) == []


def test_an_idle_form_is_resumed_with_continue(wechat, session_factory):
    start = datetime.now(clock.TZ)
    clock.set_now(lambda: start)
    wechat.send_text("留言 楼道里的宣传栏很久没更新了")
    clock.set_now(lambda: start + timedelta(hours=3))
    resumed = wechat.send_text("继续")
    assert resumed.startswith("继续填写留言") and "第2/3步" in resumed
    say(wechat, "2", "跳过", "确认")
    assert len(all_threads(session_factory)) == 1


# ---- 我的留言, 留言详情, 追加 --------------------------------------------------------------------------------------------

def leave(user: WeChatUser, text: str) -> str:
    say(user, f"留言 {text}", "1", "跳过")
    return user.send_text("确认").split("编号 ")[1][:14]


def test_my_messages_detail_and_append(wechat, session_factory):
    first = leave(wechat, "第一条留言")
    second = leave(wechat, "第二条留言")
    listing = wechat.send_text("我的留言")
    assert listing.index(second) < listing.index(first)  # newest first
    assert f"1. {second}" in listing and "[政策咨询] 第二条留言 —— 待处理" in listing
    with session_scope(session_factory) as s:
        thread = s.scalar(select(ResidentThread).where(ResidentThread.receipt == first))
        s.add(ThreadEntry(thread_id=thread.id, kind=EntryKind.NOTE.value, body="内部备注：找王主任"))
        replies.post_reply(s, thread, author_id=None, text="已转交街道办理")
        entry = thread.entries[-1]
        entry.delivery, entry.delivered_at = "sent", clock.now()
    shown = wechat.send_text(f"留言详情 {first}")
    assert "第一条留言" in shown and "工作人员回复】已转交街道办理" in shown and "状态：已回复" in shown
    assert "内部备注" not in shown  # staff notes never reach the resident
    assert "补充到这条留言" in shown
    assert "还可以继续发送" in wechat.send_text("补充：是在晚上")  # any message while the detail is open
    assert "还可以继续发送" in wechat.send_image("m-extra")
    assert "已结束补充" in wechat.send_text("结束")
    wechat.send_text(f"留言详情 {first}")
    assert "补充到留言" not in wechat.send_text("5")  # a menu number closes the prompt and is the menu's
    assert "已补充到留言" not in wechat.send_text("补充：这句不会加进去")
    assert "已补充到留言" in wechat.send_text("追加 2 还有一件事")
    with session_scope(session_factory) as s:
        thread = s.scalar(select(ResidentThread).where(ResidentThread.receipt == first))
        bodies = [(e.kind, e.body, len(e.photos)) for e in thread.entries if e.kind == EntryKind.RESIDENT]
    assert bodies == [("resident", "第一条留言", 0), ("resident", "补充：是在晚上", 0), ("resident", "", 1),
                      ("resident", "还有一件事", 0)]
    assert "请按“追加 序号 内容”" in wechat.send_text("追加 1")
    assert "没有找到这条留言" in wechat.send_text("留言详情 9")


def test_a_closed_thread_takes_no_more_words(wechat, session_factory):
    receipt = leave(wechat, "问题已经解决了吗")
    with session_scope(session_factory) as s:
        s.scalar(select(ResidentThread).where(ResidentThread.receipt == receipt)).status = ThreadStatus.CLOSED.value
    assert "已办结，不能再追加" in wechat.send_text(f"追加 {receipt} 还没有")
    shown = wechat.send_text("留言详情 1")
    assert "这条留言已办结" in shown and "补充到这条留言" not in shown


def test_a_resident_sees_only_their_own_threads(client, settings, wechat, session_factory):
    receipt = leave(wechat, "我的私事")
    other = WeChatUser(client, settings, "o_someone_else")
    assert "还没有留言" in other.send_text("我的留言")
    assert "没有找到这条留言" in other.send_text(f"留言详情 {receipt}")
    assert "没有找到这条留言" in other.send_text("留言详情 1")
    assert "没有找到这条留言" in other.send_text(f"追加 {receipt} 偷偷加一句")
    with session_scope(session_factory) as s:
        assert s.scalar(select(func.count()).select_from(ThreadEntry)) == 1


# ---- rating -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, parsed", [
    ("1", (1, "")), ("２", (2, "")), ("3 还没有解决", (3, "还没有解决")), ("3，态度不好", (3, "态度不好")),
    ("满意", (1, "")), ("基本满意 谢谢", (2, "谢谢")), ("不满意！太慢了", (3, "太慢了")),
    ("4", None), ("13", None), ("1楼的灯坏了", None), ("谢谢", None),
])
def test_rating_answers(text, parsed):
    assert parse_rating(text) == parsed


def test_a_closed_thread_is_rated_once(wechat, session_factory, settings, wechat_client):
    receipt = leave(wechat, "社区能办理居住证吗")
    with session_scope(session_factory) as s:
        thread = s.scalar(select(ResidentThread).where(ResidentThread.receipt == receipt))
        thread.status = ThreadStatus.CLOSED.value
        question_id = replies.request_rating(s, thread).id
    # the resident wrote a minute ago: the question goes out as a customer-service message
    assert replies.deliver_reply(question_id, session_factory=session_factory, settings=settings,
                                 sender=wechat_client) == "sent"
    assert "感谢您的评价（不满意）" in wechat.send_text("3 还没有答复具体时间")
    assert "感谢" not in wechat.send_text("1")  # a later 1 is the menu again, not a rating
    with session_scope(session_factory) as s:
        thread = s.scalar(select(ResidentThread).where(ResidentThread.receipt == receipt))
        assert (thread.rating, thread.rating_comment) == (3, "还没有答复具体时间")
        assert any(e.kind == EntryKind.EVENT and "不满意" in e.body for e in thread.entries)
        assert s.scalar(select(func.count()).select_from(ConversationDraft)
                        .where(ConversationDraft.flow == replies.RATING_FLOW)) == 0
    assert "我的评价：不满意（还没有答复具体时间）" in wechat.send_text("留言详情 1")


def test_the_rating_question_waits_like_a_reply_and_numbers_mean_the_menu_until_it_is_seen(
        wechat, session_factory, settings, wechat_client):
    receipt = leave(wechat, "窗口什么时候开")
    with session_scope(session_factory) as s:
        thread = s.scalar(select(ResidentThread).where(ResidentThread.receipt == receipt))
        thread.status = ThreadStatus.CLOSED.value
        question_id = replies.request_rating(s, thread).id
    # the resident never wrote through a follower row here, so no window: it waits for their next message
    with session_scope(session_factory) as s:
        s.execute(Follower.__table__.update().values(last_message_at=clock.now() - timedelta(days=3)))
    assert replies.deliver_reply(question_id, session_factory=session_factory, settings=settings,
                                 sender=wechat_client) == "waiting"
    shown = wechat.send_text("1")
    assert shown.startswith(f"【留言 {receipt} 已办结】") and "政策" in shown  # the question, then menu option 1
    assert "感谢您的评价（满意）" in wechat.send_text("1")


# ---- simulator --------------------------------------------------------------------------------------------------

def test_the_simulator_sends_voice_and_leaves_a_message(client, session_factory):
    def act(**action):
        answer = client.post("/simulator/send", json={"openid": "o_sim_bob", **action}, headers={"X-Simulator": "1"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return answer.get_json()["reply"]

    act(type="text", content=UNANSWERED)
    assert UNANSWERED in act(type="click", key="MESSAGE")
    assert "第2/3步" in act(type="voice", content="想了解具体办理地点")
    act(type="text", content="1")
    act(type="text", content="跳过")
    assert "留言已提交" in act(type="text", content="确认")
    [thread] = all_threads(session_factory)
    assert thread.entries[0].body == f"{UNANSWERED}\n想了解具体办理地点"
    assert thread.receipt in act(type="text", content="我的留言")


def test_message_photos_are_downloaded_before_their_media_id_expires(wechat, session_factory, settings, fake_wechat):
    from pathlib import Path

    from models.message import ThreadPhoto
    from scheduler import jobs

    media_ids = [fake_wechat.register_media(media_id=f"res-photo-{n}") for n in (1, 2)]
    wechat.send_text("留言 楼下垃圾站没人清理")
    for media_id in media_ids:
        wechat.send_image(media_id, f"http://mmbiz.qpic.cn/{media_id}")
    assert "留言已提交" in say(wechat, "4", "跳过", "确认")
    jobs.configure(settings, session_factory)
    jobs.download_report_media()
    with session_scope(session_factory) as s:
        rows = list(s.scalars(select(ThreadPhoto).order_by(ThreadPhoto.id)))
        assert [(r.media_id, r.download_status, r.openid) for r in rows] == [
            (m, "done", "o_test_user") for m in media_ids]
        assert all(r.local_path.startswith("messages/") and (Path(settings.media_dir) / r.local_path).is_file()
                   for r in rows)
        assert rows[0].entry_id == s.scalar(select(ResidentThread)).entries[0].id
