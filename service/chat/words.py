"""The command words every form conversation understands alike (the report, the 留言 form): 取消, 上一步, 跳过,
帮助, 继续, 确认 — and how a message's text is compared with them."""
from __future__ import annotations

import unicodedata

from service.chat.contract import Inbound

CANCEL_WORDS = {"取消", "放弃", "退出"}
BACK_WORDS = {"上一步", "返回"}
SKIP_WORDS = {"跳过", "略过", "无"}
HELP_WORDS = {"帮助", "?", "？", "help", "说明"}
RESUME_WORDS = {"继续"}
CONFIRM_WORDS = {"确认", "确定", "提交", "确认提交"}


def normalise(text: str) -> str:
    """Full-width digits and punctuation to ASCII, trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


def command_word(inbound: Inbound) -> str:
    """The text of a text or recognised-voice message as commands are compared ("" for anything else)."""
    if inbound.kind not in ("text", "voice"):
        return ""
    return normalise(inbound.text).rstrip("。.!！ ")
