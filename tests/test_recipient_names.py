"""Delivery results name people: a bound staff member by name and unit, anyone else by a shortened openid; the
full openid only on hover."""
from __future__ import annotations

from service.console.people import people, short_openid
from service.notices import announcements, delivery as notify
from service.core import clock
from tests.factories import make_staff, make_unit
from tests.notice_helpers import add_followers

LONG = "oABCDEFGHIJKLMNOPQRSTUVWXYZ12"


def test_names_for_openids(session):
    make_staff(session, make_unit(session, name="团结社区"), name="王芳", openid="o-wang")
    found = people(session, ["o-wang", LONG, "o-wang"])
    assert found["o-wang"].label == "王芳（团结社区）"
    assert found[LONG].label == short_openid(LONG) == "oABCDE…YZ12" and found[LONG].name is None


def test_the_delivery_page_shows_names_with_the_openid_on_hover(admin_console, session, session_factory, settings,
                                                                fake_wechat):
    add_followers(session, ["o-wang", LONG], clock.now())
    make_staff(session, make_unit(session, name="团结社区"), name="王芳", openid="o-wang")
    ann = announcements.create(session, {"title": "通知", "body": "正文", "audience": {"type": "all"}}, clock.now())
    session.commit()
    notify.run_once(session_factory, settings, notify.sender_factory(settings, session_factory))
    html = admin_console.get(f"/admin/announcements/{ann.id}").get_data(as_text=True)
    assert 'title="o-wang">王芳（团结社区）</td>' in html
    assert f'title="{LONG}">oABCDE…YZ12</td>' in html
    assert f">{LONG}<" not in html  # the full openid only on hover
