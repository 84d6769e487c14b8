"""The keyword menu (numbered options) and the custom menu, both defined as data and checked against WeChat's limits.

Custom-menu limits: https://developers.weixin.qq.com/doc/offiaccount/Custom_Menus/Creating_Custom-Defined_Menu.html
(≤ 3 top buttons named ≤ 4 汉字 / 16 bytes, ≤ 5 sub-buttons named ≤ 8 汉字 / 60 bytes, key ≤ 128 bytes).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from service.chat import texts
from service.core.textfit import utf8_len


@dataclass(frozen=True)
class MenuOption:
    number: str
    label: str
    intent: str
    keywords: tuple[str, ...] = ()


# Numbered options of the text menu; every intent must be registered in router.INTENTS (tests check it).
MAIN_MENU: tuple[MenuOption, ...] = (
    MenuOption("1", "政策学习（浏览“七进”方案）", "policy", ("政策", "政策学习", "学政策")),
    MenuOption("2", "政策问答（直接提问）", "ask", ("问答", "提问", "政策问答")),
    MenuOption("3", "活动上报（工作人员）", "report", ("上报", "活动上报")),
    MenuOption("4", "我的上报", "my_reports", ("我的上报",)),
    MenuOption("5", "订阅通知", "subscribe", ("订阅", "订阅通知")),
    MenuOption("6", "最新通知", "notices", ("通知", "最新通知")),
    MenuOption("7", "绑定工作人员身份", "bind_help", ("绑定", "绑定说明")),
    MenuOption("8", "我要留言（留给工作人员）", "message", ("留言", "我要留言", "留言咨询")),
    MenuOption("9", "我的留言", "my_messages", ("我的留言", "留言进度")),
)

# The custom menu WeChat shows under the chat; CLICK keys route to the same intents as the keywords.
CUSTOM_MENU: dict[str, Any] = {
    "button": [
        {"name": "学政策", "sub_button": [
            {"type": "click", "name": "政策目录", "key": "POLICY"},
            {"type": "click", "name": "政策问答", "key": "ASK"},
            {"type": "click", "name": "我要留言", "key": "MESSAGE"},
            {"type": "click", "name": "我的留言", "key": "MY_MESSAGES"},
        ]},
        {"name": "上报", "sub_button": [
            {"type": "click", "name": "活动上报", "key": "REPORT"},
            {"type": "click", "name": "我的上报", "key": "MY_REPORTS"},
            {"type": "pic_photo_or_album", "name": "发送活动照片", "key": "PHOTO"},
            {"type": "location_select", "name": "发送活动地点", "key": "PLACE"},
        ]},
        {"name": "服务", "sub_button": [
            {"type": "click", "name": "订阅通知", "key": "SUBSCRIBE"},
            {"type": "click", "name": "最新通知", "key": "NOTICES"},
            {"type": "click", "name": "身份绑定", "key": "BIND_HELP"},
            {"type": "click", "name": "使用帮助", "key": "HELP"},
        ]},
    ]
}

CLICK_KEYS: dict[str, str] = {
    "POLICY": "policy", "ASK": "ask", "REPORT": "report", "MY_REPORTS": "my_reports",
    "SUBSCRIBE": "subscribe", "NOTICES": "notices", "BIND_HELP": "bind_help", "HELP": "menu",
    "MESSAGE": "message", "MY_MESSAGES": "my_messages",
}

MAX_KEY_BYTES = 128

BUTTON_TYPES = {"click", "view", "miniprogram", "scancode_push", "scancode_waitmsg", "pic_sysphoto",
                "pic_photo_or_album", "pic_weixin", "location_select", "media_id", "view_limited"}


def _chinese_width(name: str) -> float:
    """WeChat counts a 汉字 as one unit and two ASCII characters as one."""
    return sum(1 if ord(ch) > 0x7F else 0.5 for ch in name)


def name_fits(name: str, max_chars: int, max_bytes: int) -> bool:
    return bool(name) and _chinese_width(name) <= max_chars and utf8_len(name) <= max_bytes


def key_fits(key: str) -> bool:
    """A CLICK/event key: present and at most 128 bytes."""
    return bool(key) and utf8_len(key) <= MAX_KEY_BYTES


def validate_menu(menu: dict[str, Any]) -> list[str]:
    """Every way `menu` breaks WeChat's limits, as readable messages (empty when it is valid)."""
    errors: list[str] = []
    buttons = menu.get("button") or []
    if not 1 <= len(buttons) <= 3:
        errors.append(f"top level has {len(buttons)} buttons (1-3 allowed)")
    for i, top in enumerate(buttons, 1):
        name = top.get("name", "")
        if not name_fits(name, 4, 16):
            errors.append(f"top button {i} name {name!r} is empty or longer than 4 汉字/16 bytes")
        subs = top.get("sub_button")
        if subs is not None:
            if not 1 <= len(subs) <= 5:
                errors.append(f"top button {i} has {len(subs)} sub buttons (1-5 allowed)")
            for j, sub in enumerate(subs, 1):
                errors.extend(f"button {i}.{j}: {e}" for e in _button_errors(sub, 8, 60))
        else:
            errors.extend(f"button {i}: {e}" for e in _button_errors(top, 4, 16))
    return errors


def _button_errors(button: dict[str, Any], max_chars: int, max_bytes: int) -> Iterable[str]:
    name = button.get("name", "")
    if not name_fits(name, max_chars, max_bytes):
        yield f"name {name!r} is empty or longer than {max_chars} 汉字/{max_bytes} bytes"
    kind = button.get("type")
    if kind not in BUTTON_TYPES:
        yield f"unknown type {kind!r}"
    if kind == "view" and not button.get("url"):
        yield "view button without url"
    if kind not in ("view", "miniprogram", "media_id", "view_limited"):
        key = button.get("key", "")
        if not key_fits(key):
            yield f"key {key!r} is empty or longer than 128 bytes"


def options_named_in(text: str) -> list[MenuOption]:
    """The menu options whose keywords a free-text message contains ("我要上报", "怎么订阅通知"): a message the
    policy search cannot answer may be asking for a feature instead. Single-character keywords (numbers) don't
    count."""
    return [o for o in MAIN_MENU if any(len(word) > 1 and word in text for word in o.keywords)]


def main_menu_text(available_intents: Iterable[str]) -> str:
    """The numbered text menu, listing the options whose features are installed."""
    return _menu_text(tuple(available_intents))


@lru_cache(maxsize=16)
def _menu_text(available_intents: tuple[str, ...]) -> str:
    """Built once per set of installed features: the menu answers most keyword messages."""
    available = set(available_intents)
    lines = [texts.MENU_TITLE]
    lines += [f"{o.number}. {o.label}" for o in MAIN_MENU if o.intent in available]
    lines.append(texts.MENU_FOOTER)
    return "\n".join(lines)
