"""The policy menu flow, 进X shortcuts, free-text answers and bad input, driven through ChatContext."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from models.announcement import Announcement, AnnouncementStatus
from models.audit import AuditLog
from models.policy import PolicyDocument, UnansweredQuestion
from service.core import clock
from service.chat import conversation
from service.policy import answers as policy_answers
from service.chat.contract import ChatContext, Inbound
from service.policy.faq import create_faq, list_unanswered, make_faq_from_unanswered
from service.policy.importer import ensure_seed, import_document
from service.wechat.router import dispatch
from service.core.textfit import utf8_len

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=clock.TZ)


@pytest.fixture
def chat(session, settings):
    ensure_seed(session)
    state = {"now": NOW}

    def send(text: str, openid: str = "o_resident") -> str | None:
        ctx = ChatContext(session, settings, state["now"], Inbound(openid=openid, kind="text", content=text))
        reply = dispatch(ctx)
        session.flush()
        assert reply is None or utf8_len(reply) <= 2048
        return reply

    send.state = state
    return send


def test_menu_drills_down_and_back(chat):
    top = chat("政策")
    assert "1. 前言" in top and "4. 三、具体要求" in top
    level2 = chat("4")
    assert "5. (五)进学校" in level2 and "下设条目" in level2
    level3 = chat("5")
    assert "\n2.深化教育载体途径" in level3
    leaf = chat("2")
    assert "石榴籽" in leaf and "出处：三、具体要求 › (五)进学校 › 2.深化教育载体途径" in leaf
    back = chat("返回")
    assert "(五)进学校" in back and "\n1.加大民族团结进步教育力度" in back
    assert "4. 三、具体要求" not in back
    assert "5. (五)进学校" in chat("返回")
    assert "4. 三、具体要求" in chat("返回")
    assert "已退出" in chat("返回")


def test_menu_number_out_of_range_and_leaf_numbers(chat):
    chat("政策")
    assert "没有第9项" in chat("9")
    chat("2")  # 一、总体要求 is a leaf
    assert "没有下级条目" in chat("1")


def test_section_shortcuts_open_directly(chat):
    reply = chat("进企业")
    assert reply.startswith("(二)进企业") and "\n2.积极开展公益活动" in reply
    assert "公益" in chat("2")
    assert chat("进宗教活动场所").startswith("(七)进宗教活动场所")


def test_number_without_menu_gets_help(chat):
    reply = chat("19")  # above the main menu's numbers
    assert "先回复“政策”" in reply


def test_menu_times_out(chat):
    chat("政策")
    chat.state["now"] = NOW + timedelta(minutes=11)
    assert "先回复“政策”" in chat("18")


def test_free_text_answer_with_source_and_related(chat, session):
    reply = chat("房东不肯租房子给回族人，这样合法吗")
    assert "出处：三、具体要求 › (三)进社区 › 2.维护少数民族群众的合法权益" in reply
    assert "拒租" in reply and "相关条款（回复数字查看）：" in reply
    related = chat("1")
    assert "出处：" in related or "下设条目" in related
    assert session.scalars(select(UnansweredQuestion)).all() == []


def test_other_text_leaves_the_menu(chat):
    chat("政策")
    reply = chat("部队怎么搞民族团结")
    assert "进连队" in reply


def test_off_topic_is_recorded_never_a_random_clause(chat, session):
    for _ in range(2):
        reply = chat("明天会下雨吗？")
        assert "没有找到" in reply and "政策" in reply and "出处" not in reply
    chat("明天会下雨吗")
    rows = session.scalars(select(UnansweredQuestion)).all()
    assert [(r.normalized, r.count) for r in rows] == [("明天会下雨吗", 3)]
    faq = make_faq_from_unanswered(session, rows[0].id, "天气请查看气象部门发布的预报。",
                                   [rows[0].example, "天气怎么样"])
    assert faq.questions == ["明天会下雨吗？", "天气怎么样"] and list_unanswered(session) == []
    assert chat("明天会下雨吗").startswith("天气请查看气象部门发布的预报。")


def test_unanswered_text_that_names_a_feature_points_to_it(chat, session):
    from service.reporting import texts as report_texts

    reply = chat("我要上报")
    assert "您是不是想用这些功能" in reply and "3. 活动上报（工作人员）" in reply and "出处" not in reply
    assert chat("3") == report_texts.NOT_BOUND  # the number it offers opens the feature
    assert "5. 订阅通知\n6. 最新通知" in chat("怎么订阅通知")
    assert session.scalars(select(UnansweredQuestion)).all() == []  # not policy questions: not for the inbox
    # a failed policy question that says 政策 is no feature request: examples, and recorded for the inbox
    assert "也可以这样问" in chat("医保政策怎么报销")
    assert [r.normalized for r in session.scalars(select(UnansweredQuestion))] == ["医保政策怎么报销"]


@pytest.mark.parametrize("text, expected", [
    ("   ", "没有输入内容"),
    ("😀😀🎉", "请用文字提问"),
    ("How do I join the campaign?", "只能用中文"),
    ("民族团结" * 500, "太长了"),
])
def test_bad_input_gets_a_helpful_chinese_reply(chat, text, expected):
    reply = chat(text)
    assert expected in reply or (text.strip() == "" and "空" in reply)  # the router answers blank text itself
    assert expected in policy_answers.bad_input_reply(text)


def test_long_answer_fits_2048_bytes(chat, session):
    body = "。".join(["加强民族团结进步宣传教育工作长句子"] * 200)
    import_document(session, "长文", f"一、超长条款\n{body}\n", "long.txt")
    reply = chat("超长条款")
    assert utf8_len(reply) <= 2048 and "出处：" in reply


def test_preview_records_nothing(session):
    ensure_seed(session)
    create_faq(session, ["七进办电话"], "电话：0000-1234567")
    assert policy_answers.preview_answer(session, "七进办电话").kind == "faq"
    assert policy_answers.preview_answer(session, "周末去哪里玩").kind == "not_found"
    assert session.scalars(select(UnansweredQuestion)).all() == []
    assert conversation.load(session, "anyone", NOW) is None


def test_wechat_end_to_end_menu_and_question(wechat, session):
    ensure_seed(session)
    session.commit()
    assert "三、具体要求" in wechat.send_text("政策")
    assert "进学校" in wechat.send_text("4")
    assert "出处：" in wechat.send_text("当兵的要学党史军史吗")
    assert "没有找到" in wechat.send_text("周末去哪里玩")


def test_cli_import_policy(app, session, tmp_path):
    """Like an upload in the console, a new or changed version prepares a draft notice for 政策更新 that an
    administrator schedules; the same text again prepares nothing."""
    good = tmp_path / "方案.md"
    good.write_text("# 方案\n## 一、总则\n（一）适用范围。全区。\n", encoding="utf-8")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["import-policy", str(good), "--title", "测试方案"])
    assert first.exit_code == 0 and "created" in first.output and "drafted announcement" in first.output
    again = runner.invoke(args=["import-policy", str(good)]).output
    assert "unchanged" in again and "drafted" not in again
    good.write_text("# 方案\n## 一、总则\n（一）适用范围。全区。\n（二）时间。全年。\n", encoding="utf-8")
    second = runner.invoke(args=["import-policy", str(good), "--title", "测试方案"])
    assert "updated" in second.output
    drafts = session.scalars(select(Announcement).order_by(Announcement.id)).all()
    assert [(a.status, a.title, a.audience) for a in drafts] == [
        (AnnouncementStatus.DRAFT, "政策更新：测试方案", {"type": "topic", "topic": "policy"})] * 2
    counts = [re.search(r"(\d+) clauses", r.output).group(1) for r in (first, second)]
    assert f"第1版，共{counts[0]}条" in drafts[0].body and f"第2版，共{counts[1]}条" in drafts[1].body
    entries = session.scalars(select(AuditLog).where(AuditLog.action == "announcement.create")).all()
    assert [(e.actor, e.target_id) for e in entries] == [("system", str(a.id)) for a in drafts]
    bad = tmp_path / "bad.txt"
    bad.write_text("一、总则\n二、附则\n一、重复\n", encoding="utf-8")
    result = runner.invoke(args=["import-policy", str(bad)])
    assert result.exit_code != 0 and "第3行" in result.output
    session.expire_all()
    assert [(d.source_name, d.version) for d in session.scalars(select(PolicyDocument).order_by(PolicyDocument.id))] \
        == [("方案.md", 1), ("方案.md", 2)]  # the malformed file added nothing
    assert len(session.scalars(select(Announcement)).all()) == 2


def test_follow_up_is_read_against_the_last_question_for_ten_minutes(chat):
    first = chat("机关要设宣传栏吗")
    assert "出处：三、具体要求 › (一)进机关" in first and first.index("宣传栏") < first.index("出处")
    assert "在连队设置宣传栏、宣传墙" in chat("那连队呢")  # the new place, the same topic
    assert "在连队设置宣传栏" not in chat("那连队呢", openid="o_other")  # stored per user
    chat("机关要设宣传栏吗")
    chat.state["now"] = NOW + timedelta(minutes=11)
    assert "在连队设置宣传栏" not in chat("那连队呢")  # the window has passed: a new question


def test_restart_words_and_keywords_leave_the_follow_up(chat):
    chat("社区要帮少数民族群众做什么")
    assert "新的问题" in chat("换个问题")
    chat("社区要帮少数民族群众做什么")
    assert chat("进学校").startswith("(五)进学校")  # a menu keyword is no follow-up
