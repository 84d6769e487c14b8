"""Routing across features, end to end through /wechat: conversations, keywords and free text side by side."""
import pytest
from sqlalchemy import select

from service.core import clock
from service.reporting import units
from service.policy.importer import ensure_seed
from tests.factories import make_staff, make_unit


@pytest.fixture(autouse=True)
def policy(session):
    ensure_seed(session)
    session.commit()


def bind(wechat, session):
    staff = make_staff(session, make_unit(session))
    code = units.issue_binding_code(session, staff.id, clock.now())
    session.commit()
    assert "绑定成功" in wechat.send_text(f"绑定 {code}")
    return staff


def test_a_photo_reaches_the_report_draft_while_the_policy_menu_is_open(wechat, session):
    bind(wechat, session)
    wechat.send_text("上报")
    assert "目录" in wechat.click("POLICY")  # the policy menu is now the newest conversation
    reply = wechat.send_image("media-while-browsing")
    assert "照片" in reply and "不支持" not in reply and "暂不支持" not in reply


def test_numbers_choose_in_the_open_menu_and_fall_back_to_the_main_menu_otherwise(wechat):
    assert "目录" in wechat.send_text("1")  # main-menu option 1 opens the policy menu
    assert "总体要求" in wechat.send_text("2")  # now a number picks a policy item
    wechat.send_text("取消")
    assert "目录" in wechat.send_text("1")


def test_free_text_goes_to_the_policy_answer(wechat):
    reply = wechat.send_text("部队里怎么搞民族团结")
    assert "出处：" in reply and "进连队" in reply


def test_off_topic_free_text_says_nothing_was_found(wechat):
    assert "没有找到" in wechat.send_text("明天会下雨吗")


def test_greetings_and_thanks_get_a_friendly_answer_not_a_policy_search(wechat, session):
    from models.policy import UnansweredQuestion
    from service.chat import texts

    hello = wechat.send_text("你好！")
    assert hello.startswith(texts.GREETING) and texts.MENU_TITLE in hello
    assert wechat.send_text("谢谢") == texts.THANKS
    assert wechat.send_text("Thank you") == texts.THANKS
    assert wechat.send_text("好的。") == texts.ACKNOWLEDGED
    assert session.scalars(select(UnansweredQuestion)).all() == []
    assert "出处：" in wechat.send_text("你好，部队里怎么搞民族团结")  # a question that greets first is a question


def test_a_liaison_binding_their_wechat_is_audited(wechat, session):
    from models.audit import AuditLog

    staff = bind(wechat, session)
    session.expire_all()
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "binding.bind")).one()
    assert (entry.actor, entry.target_type, entry.target_id) == (staff.name, "staff", str(staff.id))
    assert entry.detail == {"name": staff.name, "unit": staff.unit.name}
