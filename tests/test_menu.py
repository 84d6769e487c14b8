"""Menus as data: the custom menu obeys WeChat's limits and every option reaches a real intent."""
from models.status import JobRun
from service.chat import menu
from service.wechat import router
from service.chat.menu import CUSTOM_MENU, validate_menu


def test_the_custom_menu_is_valid():
    assert validate_menu(CUSTOM_MENU) == []


def test_validation_catches_every_limit():
    too_many = {"button": [{"type": "click", "name": "甲", "key": "A"}] * 4}
    assert any("1-3" in e for e in validate_menu(too_many))
    long_top = {"button": [{"name": "五个汉字长", "sub_button": [{"type": "click", "name": "x", "key": "K"}]}]}
    assert any("4 汉字" in e for e in validate_menu(long_top))
    six_subs = {"button": [{"name": "菜单", "sub_button": [{"type": "click", "name": "x", "key": "K"}] * 6}]}
    assert any("1-5" in e for e in validate_menu(six_subs))
    long_sub = {"button": [{"name": "菜单", "sub_button": [{"type": "click", "name": "九个汉字的子菜单名", "key": "K"}]}]}
    assert any("8 汉字" in e for e in validate_menu(long_sub))
    bad_key = {"button": [{"name": "菜单", "sub_button": [{"type": "click", "name": "x", "key": "k" * 129}]}]}
    assert any("128 bytes" in e for e in validate_menu(bad_key))
    no_url = {"button": [{"type": "view", "name": "网页"}]}
    assert any("without url" in e for e in validate_menu(no_url))
    unknown = {"button": [{"type": "teleport", "name": "传送", "key": "T"}]}
    assert any("unknown type" in e for e in validate_menu(unknown))


def test_ascii_counts_half_a_chinese_character():
    assert validate_menu({"button": [{"type": "click", "name": "FAQ帮助", "key": "H"}]}) == []


def test_every_click_key_and_menu_option_reaches_an_intent():
    keys = {sub["key"] for top in CUSTOM_MENU["button"] for sub in top.get("sub_button", []) if sub["type"] == "click"}
    assert keys <= set(menu.CLICK_KEYS)
    assert set(menu.CLICK_KEYS.values()) <= set(router.INTENTS)
    assert {o.intent for o in menu.MAIN_MENU} <= set(router.INTENTS)


def test_menu_numbers_and_synonyms_route_like_their_keywords():
    for option in menu.MAIN_MENU:
        assert router.KEYWORDS[option.number] == option.intent
        for word in option.keywords:
            assert router.KEYWORDS[router.normalise(word)] == option.intent


def test_sync_menu_pushes_the_custom_menu_to_wechat(app, fake_wechat, session):
    result = app.test_cli_runner().invoke(args=["sync-menu"])
    assert result.exit_code == 0, result.output
    calls = fake_wechat.calls_to("menu/create")
    assert len(calls) == 1 and calls[0].json == CUSTOM_MENU
    run = session.get(JobRun, "sync-menu")  # the console's 设置与状态 page shows when the menu was last pushed
    assert run.ok and run.last_ok_at is not None


def test_sync_menu_reports_a_refusal_without_crashing(app, fake_wechat, session):
    fake_wechat.inject("menu/create", errcode=40018)
    result = app.test_cli_runner().invoke(args=["sync-menu"])
    assert result.exit_code != 0 and "refused" in result.output
    run = session.get(JobRun, "sync-menu")
    assert not run.ok and "40018" in run.detail and run.last_ok_at is None


def test_sync_menu_refuses_an_invalid_menu_before_calling_wechat(app, fake_wechat, monkeypatch):
    monkeypatch.setitem(menu.CUSTOM_MENU, "button", [{"type": "click", "name": "太长的顶级菜单", "key": "X"}])
    result = app.test_cli_runner().invoke(args=["sync-menu"])
    assert result.exit_code != 0 and "invalid" in result.output
    assert fake_wechat.calls_to("menu/create") == []
