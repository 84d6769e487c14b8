"""The 活动上报 conversation as a pure state table: data in, data and a reply out, no I/O.

A draft is a plain dict (JSON-safe) plus the name of the step being asked. `step()` applies one inbound message
and returns a `Transition`; `report_chat` loads and saves the draft around it and creates the report when the
transition is `done`. Keys of the draft dict: default_category, category, activity_type, title, date (ISO),
place, latitude, longitude, participants, content, photos ([{media_id, pic_url}]), photos_done; and the flags
cancelling (取消 asked for confirmation), paused (暂停: the draft waits, every message goes elsewhere, 继续 resumes).

Steps are asked in STEPS order; after an answer the flow moves to the first *unanswered* step after it, which
makes the normal walk, '上一步', '修改 N' (returns to the summary) and the quick report one rule.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Callable, Optional

from models.report import ACTIVITY_TYPES
from models.unit import CATEGORIES
from service.chat.contract import Inbound
from service.chat.words import (BACK_WORDS, CANCEL_WORDS, CONFIRM_WORDS, HELP_WORDS, RESUME_WORDS, SKIP_WORDS,
                                command_word, normalise)
from service.reporting import texts

CONFIRM = "confirm"
MAX_PHOTOS = 9
PHOTO_EVENTS = {"pic_sysphoto", "pic_photo_or_album", "pic_weixin"}
# Commands of the main menu that mean "take me elsewhere": inside the wizard they are never an answer. The draft is
# kept and the liaison is told how to pause (then 菜单/政策 work as usual) or to leave.
LEAVE_WORDS = {"菜单", "主菜单", "政策", "政策学习", "学政策", "我的上报", "订阅", "退订", "通知", "上报", "活动上报"}
PAUSE_WORDS = {"暂停", "稍后", "等会", "待会"}
CONFIRM_CANCEL_WORDS = {"确认取消", "1", "确定取消", "放弃", "是的"}
KEEP_WORDS = {"2", "否", "不", "不取消", "继续"}
DONE_PHOTO_WORDS = {"完成", "好了", "没有了", "结束"}
USE_OFFERED_WORDS = {"用照片", "使用照片", "用", "使用", "附上", "要"}
DEFAULT_WORDS = {"默认", "好", "是", "对"}


class Invalid(ValueError):
    """An answer that does not fit the step; the message is shown to the user with the step's example."""


@dataclass
class Transition:
    data: dict[str, Any]
    step: str
    reply: Optional[str]  # None: say nothing (e.g. the pic_* event that precedes the images)
    done: bool = False  # the user confirmed: create the report from `data`
    cancelled: bool = False  # the user dropped the draft


def _pick(options: tuple[str, ...], text: str, prefix: str = "") -> str:
    """A 1-based number or an option's name (optionally preceded by `prefix`, e.g. '进社区')."""
    text = normalise(text)
    if text.isdigit() and 1 <= int(text) <= len(options):
        return options[int(text) - 1]
    name = text[len(prefix):] if prefix and text.startswith(prefix) else text
    if name in options:
        return name
    raise Invalid("")


# --- parsers (text, today) -> stored value; raise Invalid(message) -------------------------------------------

def parse_category(text: str, today: date) -> str:
    try:
        return _pick(CATEGORIES, text, "进")
    except Invalid:
        raise Invalid(texts.ERR_CATEGORY) from None


def parse_activity_type(text: str, today: date) -> str:
    try:
        return _pick(ACTIVITY_TYPES, text)
    except Invalid:
        raise Invalid(texts.ERR_ACTIVITY_TYPE) from None


def _length(text: str, low: int, high: int, message: str) -> str:
    text = text.strip()
    if not low <= len(text) <= high:
        raise Invalid(message.format(n=len(text)))
    return text


def parse_title(text: str, today: date) -> str:
    return _length(text, 2, 50, texts.ERR_TITLE_LENGTH)


def parse_place(text: str, today: date) -> str:
    return _length(text, 2, 100, texts.ERR_PLACE_LENGTH)


def parse_content(text: str, today: date) -> str:
    return _length(text, 10, 1000, texts.ERR_CONTENT_LENGTH)


RELATIVE_DAYS = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2, "大前天": 3, "明天": -1, "后天": -2}
_FULL_DATE = re.compile(r"^(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*[日号]?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*[日号]?$")


def looks_like_date(text: str) -> bool:
    text = normalise(text)
    return text in RELATIVE_DAYS or any(p.match(text) for p in (_FULL_DATE, _COMPACT_DATE, _MONTH_DAY))


def one_year_before(today: date) -> date:
    try:
        return today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        return today.replace(year=today.year - 1, day=28)


def parse_date(text: str, today: date) -> date:
    """今天/昨天/前天, 11月20日, 11.20, 11-20, 2026-11-20, 2026年11月20日, 20261120.

    A month and day without a year mean the latest such day not after today (so '12月30日' said on 2 January is
    last year's). The date may be neither in the future nor more than one year ago.
    """
    text = normalise(text)
    full = _FULL_DATE.match(text) or _COMPACT_DATE.match(text)
    try:
        if text in RELATIVE_DAYS:
            value = today - timedelta(days=RELATIVE_DAYS[text])
        elif full:
            value = date(int(full[1]), int(full[2]), int(full[3]))
        elif month_day := _MONTH_DAY.match(text):
            month, day = int(month_day[1]), int(month_day[2])
            value = _latest_month_day(month, day, today)
        else:
            raise Invalid(texts.ERR_DATE_FORMAT)
    except ValueError as exc:
        if isinstance(exc, Invalid):
            raise
        raise Invalid(texts.ERR_DATE_INVALID) from None
    if value > today:
        raise Invalid(texts.ERR_DATE_FUTURE)
    if value < one_year_before(today):
        raise Invalid(texts.ERR_DATE_TOO_OLD)
    return value


def _latest_month_day(month: int, day: int, today: date) -> date:
    if not 1 <= month <= 12:
        raise ValueError("month")
    for year in (today.year, today.year - 1, today.year - 2, today.year - 3, today.year - 4):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue  # 2月29日 in a non-leap year: try the year before
        if candidate <= today:
            return candidate
    raise ValueError("day")


CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "两": 2, "贰": 2, "三": 3, "叁": 3, "四": 4, "肆": 4,
             "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8, "九": 9, "玖": 9}
CN_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
CN_MYRIAD = {"万": 10_000, "萬": 10_000}


def chinese_number(text: str) -> int:
    """三十五 → 35, 一百二十 → 120, 一百零五 → 105, 两千 → 2000, 十万 → 100000, colloquial 一百二 → 120.

    Raises ValueError for anything that is not a Chinese numeral.
    """
    if not text or any(ch not in CN_DIGITS and ch not in CN_UNITS and ch not in CN_MYRIAD for ch in text):
        raise ValueError(text)
    total = section = digit = 0
    last_unit = 0  # the unit just applied, for the colloquial trailing digit (一百二 = 120)
    after_zero = False
    for ch in text:
        if ch in CN_DIGITS:
            digit = CN_DIGITS[ch]
            after_zero = after_zero or digit == 0
        elif ch in CN_UNITS:
            unit = CN_UNITS[ch]
            if not digit:
                if unit != 10:
                    raise ValueError(text)  # 百/千 without a digit before it
                digit = 1  # 十五 = 15
            section += digit * unit
            digit, last_unit, after_zero = 0, unit, False
        else:
            total = (total + section + digit) * CN_MYRIAD[ch]
            section = digit = 0
            last_unit, after_zero = CN_MYRIAD[ch], False
    if digit and not after_zero and last_unit >= 100:
        digit *= last_unit // 10
    return total + section + digit


_COUNT_PREFIX = re.compile(r"^(?:大约|大概|约|近|共计|总共|共|参加|参与|人数)+[:：]?")
_APPROX = r"(?:余|多|来|左右|上下|许)"
_COUNT_SUFFIX = re.compile(rf"{_APPROX}?(?:人次|人|名|位|个)?{_APPROX}?$")


def _count_core(text: str) -> tuple[str, bool]:
    """The number part of a count (约40人 → '40', 四十来人 → '四十') and whether a word around it marked it as one."""
    text = normalise(text)
    core = _COUNT_PREFIX.sub("", text)
    core = _COUNT_SUFFIX.sub("", core, count=1)
    return core.replace(",", "").strip(), core != text


def _count_value(core: str) -> int:
    return int(core) if core.isdigit() else chinese_number(core)


def looks_like_count(text: str) -> bool:
    """A count as the quick report sees one: a number with a word that makes it one (35人, 约40, 40余, 三十多) or a
    Chinese numeral (二十); a bare Arabic number is not guessed, nor a word that merely ends in 人."""
    core, marked = _count_core(text)
    try:
        _count_value(core)
    except ValueError:
        return False
    return marked or not core.isdigit()


def parse_participants(text: str, today: date) -> int:
    """35, 35人, 三十五人, 约40人, 四十来人, 三十多, 40余, 一百二十名: approximate counts mean the round number."""
    try:
        value = _count_value(_count_core(text)[0])
    except ValueError:
        raise Invalid(texts.ERR_PARTICIPANTS_FORMAT) from None
    if not 1 <= value <= 100_000:
        raise Invalid(texts.ERR_PARTICIPANTS_RANGE)
    return value


# --- the step table ------------------------------------------------------------------------------------------

def _numbered(options: tuple[str, ...], prefix: str = "") -> str:
    return "\n".join(f"{i}. {prefix}{name}" for i, name in enumerate(options, 1))


@dataclass(frozen=True)
class Step:
    key: str
    label: str
    prompt: Callable[[dict[str, Any]], str]
    parse: Optional[Callable[[str, date], Any]]  # None: the step takes media, not text (photos)
    example: str
    optional: bool = False
    display: Callable[[dict[str, Any]], str] = field(default=lambda data: "")


def display_date(iso: str) -> str:
    value = date.fromisoformat(iso)
    return texts.DATE_DISPLAY.format(y=value.year, m=value.month, d=value.day)


STEPS: tuple[Step, ...] = (
    Step("category", "类别",
         lambda d: texts.PROMPT_CATEGORY.format(options=_numbered(CATEGORIES, "进"), default=d.get("default_category", "")),
         parse_category, texts.EXAMPLE_CATEGORY, optional=True, display=lambda d: "进" + d["category"]),
    Step("activity_type", "活动类型", lambda d: texts.PROMPT_ACTIVITY_TYPE.format(options=_numbered(ACTIVITY_TYPES)),
         parse_activity_type, texts.EXAMPLE_ACTIVITY_TYPE, display=lambda d: d["activity_type"]),
    Step("title", "主题", lambda d: texts.PROMPT_TITLE, parse_title, texts.EXAMPLE_TITLE, display=lambda d: d["title"]),
    Step("date", "日期", lambda d: texts.PROMPT_DATE, parse_date, texts.EXAMPLE_DATE,
         display=lambda d: display_date(d["date"])),
    Step("place", "地点", lambda d: texts.PROMPT_PLACE, parse_place, texts.EXAMPLE_PLACE, display=lambda d: d["place"]),
    Step("participants", "参与人数", lambda d: texts.PROMPT_PARTICIPANTS, parse_participants,
         texts.EXAMPLE_PARTICIPANTS, display=lambda d: f"{d['participants']}人"),
    Step("content", "内容", lambda d: texts.PROMPT_CONTENT, parse_content, texts.EXAMPLE_CONTENT,
         display=lambda d: short(d["content"])),
    Step("photos", "照片", lambda d: texts.PROMPT_PHOTOS, None, "", optional=True,
         display=lambda d: f"{len(d.get('photos', []))}张"),
)
STEP_BY_KEY = {s.key: s for s in STEPS}
ORDER = [s.key for s in STEPS]


def short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _cancelled_reply(data: dict[str, Any]) -> str:
    if data.get("resubmit"):
        return texts.RESUBMIT_CANCELLED.format(receipt_no=data.get("receipt_no", ""))
    return texts.REPORT_CANCELLED


def has_content(data: dict[str, Any]) -> bool:
    """Whether the draft holds anything the liaison typed or sent (then 取消 asks before discarding it); the
    category alone (one tap, usually the unit's default) is not worth a question."""
    return bool(data.get("photos")) or any(key in data for key in ORDER if key not in ("photos", "category"))


def resume(data: dict[str, Any]) -> dict[str, Any]:
    """The draft taken up again after 暂停 or an idle spell: no pause, no pending 取消."""
    return {key: value for key, value in data.items() if key not in ("paused", "cancelling")}


def is_answered(data: dict[str, Any], key: str) -> bool:
    return bool(data.get("photos_done")) if key == "photos" else key in data


def next_step(data: dict[str, Any], after: Optional[str] = None) -> str:
    """The first unanswered step after `after` (from the start when None), or CONFIRM when all are answered."""
    start = 0 if after is None else ORDER.index(after) + 1
    for key in ORDER[start:]:
        if not is_answered(data, key):
            return key
    return CONFIRM


def prompt(data: dict[str, Any], key: str) -> str:
    """The question for step `key` (with the current value when revisiting), or the summary for CONFIRM."""
    if key == CONFIRM:
        return summary(data)
    spec = STEP_BY_KEY[key]
    text = texts.STEP_HEAD.format(n=ORDER.index(key) + 1, total=len(STEPS), label=spec.label) + spec.prompt(data)
    if is_answered(data, key):
        text += texts.CURRENT.format(value=spec.display(data))
    return text


def summary(data: dict[str, Any]) -> str:
    """The confirm step; a reopened rejected report (`resubmit`) shows its receipt number and the reviewer's reason."""
    values = {s.key: s.display(data) for s in STEPS}
    resubmit = bool(data.get("resubmit"))
    head = texts.RESUBMIT_HEAD.format(receipt_no=data.get("receipt_no", ""), reason=data.get("review_reason") or "无")
    lines = [(head if resubmit else "") + texts.SUMMARY_HEAD]
    lines += [f"{i}. {s.label}：{values[s.key]}" for i, s in enumerate(STEPS, 1)]
    lines.append(texts.RESUBMIT_FOOT if resubmit else texts.SUMMARY_FOOT)
    return "\n".join(lines)


def begin(default_category: str) -> Transition:
    """A fresh draft for a staff member of a unit in `default_category`."""
    data: dict[str, Any] = {"default_category": default_category, "photos": []}
    return Transition(data, ORDER[0], prompt(data, ORDER[0]))


# --- one turn ------------------------------------------------------------------------------------------------

def step(data: dict[str, Any], current: str, inbound: Inbound, today: date) -> Transition:
    """Apply one inbound message to the draft `data` whose step `current` is being asked. Pure.

    `data` is not mutated; the returned Transition carries a new dict.
    """
    data = {**data, "photos": list(data.get("photos", []))}
    if inbound.kind == "image":
        return _photo(data, current, inbound)
    if inbound.kind == "event" and inbound.event in PHOTO_EVENTS:
        return Transition(data, current, texts.PHOTOS_COMING if current == "photos" else None)
    if inbound.is_location:
        return _location(data, current, inbound)
    if inbound.kind not in ("text", "voice") or not inbound.text:
        return _reask(data, current, texts.ERR_TEXT_ONLY)
    text = command_word(inbound)
    if data.pop("cancelling", False):
        if text in CONFIRM_CANCEL_WORDS:
            return Transition(data, current, _cancelled_reply(data), cancelled=True)
        if text in KEEP_WORDS or text in CANCEL_WORDS:
            return Transition(data, current, texts.CANCEL_KEPT + prompt(data, current))
        # anything else is an answer to the question being asked: the wizard goes on
    if text in CANCEL_WORDS:
        if not has_content(data):
            return Transition(data, current, texts.REPORT_CANCELLED, cancelled=True)
        data["cancelling"] = True
        return Transition(data, current, texts.CANCEL_CONFIRM)
    if text.lower() in HELP_WORDS:
        return Transition(data, current, texts.HELP + prompt(data, current))
    if text in RESUME_WORDS:
        return Transition(data, current, prompt(data, current))
    if text in PAUSE_WORDS:
        data["paused"] = True
        return Transition(data, current, texts.PAUSED)
    if text in LEAVE_WORDS:
        return Transition(data, current, texts.LEAVE_HINT.format(word=text) + prompt(data, current))
    if text in BACK_WORDS:
        return _back(data, current)
    if current == CONFIRM:
        return _confirm(data, text)
    spec = STEP_BY_KEY[current]
    if text in SKIP_WORDS:
        return _skip(data, spec)
    if current == "photos":
        return _photo_text(data, text)
    if current == "category" and text in DEFAULT_WORDS:
        return _skip(data, spec)
    try:
        value = spec.parse(inbound.text, today)  # type: ignore[misc]
    except Invalid as exc:
        return _reask(data, current, str(exc))
    data[current] = value.isoformat() if isinstance(value, date) else value
    if current == "place":  # typed place replaces an earlier shared location
        data.pop("latitude", None)
        data.pop("longitude", None)
    return _advance(data, current)


def _advance(data: dict[str, Any], answered: str) -> Transition:
    key = next_step(data, answered)
    return Transition(data, key, prompt(data, key))


def _reask(data: dict[str, Any], current: str, error: str) -> Transition:
    if current == CONFIRM:
        return Transition(data, current, f"⚠ {error}\n" + prompt(data, current))
    example = STEP_BY_KEY[current].example
    head = texts.INVALID.format(error=error, example=example) if example else f"⚠ {error}\n"
    return Transition(data, current, head + prompt(data, current))


def _back(data: dict[str, Any], current: str) -> Transition:
    index = len(ORDER) if current == CONFIRM else ORDER.index(current)
    if index == 0:
        return Transition(data, current, texts.FIRST_STEP + prompt(data, current))
    key = ORDER[index - 1]
    return Transition(data, key, prompt(data, key))


def _skip(data: dict[str, Any], spec: Step) -> Transition:
    if not spec.optional:
        return _reask(data, spec.key, texts.ERR_REQUIRED)
    if spec.key == "category":
        data["category"] = data.get("category") or data["default_category"]
    else:
        data["photos_done"] = True
    return _advance(data, spec.key)


def _photo(data: dict[str, Any], current: str, inbound: Inbound) -> Transition:
    photos = data["photos"]
    if any(p["media_id"] == inbound.media_id for p in photos):  # WeChat retry of the same image
        return Transition(data, current, None)
    if len(photos) >= MAX_PHOTOS:
        return Transition(data, current, texts.PHOTO_LIMIT)
    photos.append({"media_id": inbound.media_id, "pic_url": inbound.pic_url})
    if current == "photos":
        return Transition(data, current, texts.PHOTO_RECEIVED.format(n=len(photos)))
    return Transition(data, current, texts.PHOTO_RECEIVED_EARLY.format(n=len(photos)) + prompt(data, current))


def _photo_text(data: dict[str, Any], text: str) -> Transition:
    if text in DONE_PHOTO_WORDS:
        data["photos_done"] = True
        return _advance(data, "photos")
    if text in USE_OFFERED_WORDS and data.get("offered"):
        room = MAX_PHOTOS - len(data["photos"])
        have = {p["media_id"] for p in data["photos"]}
        added = [p for p in data.pop("offered") if p["media_id"] not in have][:room]
        data["photos"].extend(added)
        return Transition(data, "photos", texts.PHOTOS_USED.format(n=len(added), total=len(data["photos"])))
    if text in {"清空", "清空照片"}:
        data["photos"] = []
        return Transition(data, "photos", texts.PHOTOS_CLEARED)
    return _reask(data, "photos", texts.ERR_PHOTOS_TEXT)


def _location(data: dict[str, Any], current: str, inbound: Inbound) -> Transition:
    if current != "place":
        if (data.get("latitude"), data.get("longitude")) == (inbound.latitude, inbound.longitude):
            return Transition(data, current, None)  # the location message that follows a location_select event
        return Transition(data, current, texts.LOCATION_NOT_NOW + prompt(data, current))
    label = inbound.label.strip() or f"{inbound.latitude:.5f},{inbound.longitude:.5f}"
    data.update(place=label[:100], latitude=inbound.latitude, longitude=inbound.longitude)
    return _advance(data, "place")


_EDIT = re.compile(r"^(?:修改|改)\s*(\d+)$")


def _confirm(data: dict[str, Any], text: str) -> Transition:
    if text in CONFIRM_WORDS:
        return Transition(data, CONFIRM, None, done=True)
    if text.startswith("修改") or text.startswith("改"):
        edit = _EDIT.match(text)
        if not edit or not 1 <= int(edit[1]) <= len(STEPS):
            return _reask(data, CONFIRM, texts.ERR_EDIT_NUMBER)
        key = ORDER[int(edit[1]) - 1]
        return Transition(data, key, prompt(data, key))
    return _reask(data, CONFIRM, texts.ERR_CONFIRM)


# --- quick report --------------------------------------------------------------------------------------------

_PLACE_WORD = re.compile(r"^地点[:：](.+)$")


def prefill(default_category: str, text: str, today: date) -> Transition:
    """Start a draft from one message ('进社区 研究部署 2026-11-20 民族团结知识讲座 35人') and ask for the rest.

    Each space-separated word is tried as category, activity type, date and count (only words that carry a
    unit such as 人, so a bare number is not guessed); the first remaining word is the title, anything further
    the content. The place is never guessed from free text: only a word `地点：…` fills it, otherwise its step is
    asked. A word that looks like a date or count but is invalid is reported and its step asked. The category
    defaults to the unit's.
    """
    data: dict[str, Any] = {"default_category": default_category, "photos": []}
    problems: list[str] = []
    unknown: list[str] = []
    for word in normalise(text).split():
        if "category" not in data and _try(parse_category, word, today, data, "category"):
            continue
        if "activity_type" not in data and _try(parse_activity_type, word, today, data, "activity_type",
                                                 numbers=False):
            continue
        if "place" not in data and (place := _PLACE_WORD.match(word)):
            _fill(data, "place", place[1], today, problems)
            continue
        if "date" not in data and looks_like_date(word):
            _fill(data, "date", word, today, problems)
            continue
        if "participants" not in data and looks_like_count(word):
            _fill(data, "participants", word, today, problems)
            continue
        unknown.append(word)
    for key, words in (("title", unknown[:1]), ("content", unknown[1:])):
        if words:
            _fill(data, key, " ".join(words), today, problems)
    recognised = [f"{s.label} {s.display(data)}" for s in STEPS if s.key in data and s.key != "photos"]
    data.setdefault("category", default_category)
    key = next_step(data)
    head = texts.QUICK_RECOGNISED.format(fields="，".join(recognised)) if recognised else texts.QUICK_NOTHING
    head += "".join(f"⚠ {p}\n" for p in problems)
    return Transition(data, key, head + prompt(data, key))


def _fill(data: dict[str, Any], key: str, text: str, today: date, problems: list[str]) -> None:
    """Parse `text` as step `key` into `data`; a parse error becomes a problem line and the step stays unanswered."""
    try:
        value = STEP_BY_KEY[key].parse(text, today)  # type: ignore[misc]
    except Invalid as exc:
        problems.append(f"{text}：{exc}")
        return
    data[key] = value.isoformat() if isinstance(value, date) else value


def _try(parse: Callable[[str, date], Any], word: str, today: date, data: dict[str, Any], key: str,
         numbers: bool = True) -> bool:
    if not numbers and word.isdigit():
        return False
    if key == "category" and word.isdigit():
        return False  # a bare number is never taken as a category in a quick report
    try:
        data[key] = parse(word, today)
    except Invalid:
        return False
    return True
