"""Residents' messages in chat: the 留言 form (content → category → phone → confirm, on the same engine and command
words as the report form), 我的留言, 留言详情, 追加 (also any message while a thread's detail is open), the rating
answer, and the replies waiting for the resident's next message.

Every turn of a form returns a `Turn`; the router's turn runner saves the draft. The draft's data: text, photos
([{media_id, pic_url}], at most 3), category, phone, prefill (the unanswered question it started from), paused.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import select

from models.message import EntryKind, ReplyDelivery, ResidentThread, ThreadEntry, ThreadStatus, UnansweredAsker
from service.chat import conversation
from service.chat.contract import ChatContext, Flow, Turn, handled, not_mine
from service.chat.conversation import Draft
from service.chat.words import (BACK_WORDS, CANCEL_WORDS, CONFIRM_WORDS, HELP_WORDS, RESUME_WORDS, SKIP_WORDS,
                                command_word, normalise)
from service.core.clock import local
from service.core.errors import InvalidInput
from service.core.textfit import REPLY_LIMIT
from service.messages import replies, texts, threads
from service.messages.labels import CATEGORY_LABELS, RATING_LABELS, STATUS_LABELS

FLOW = "message"
TTL = timedelta(hours=2)
APPEND_FLOW = "message_append"
APPEND_TTL = timedelta(minutes=10)
PREFILL_WITHIN = timedelta(minutes=30)  # a 留言 this soon after a 没有找到 starts from that question
PASSIVE_BUDGET = REPLY_LIMIT - 248  # room for the 更多 hint and the first words of the bot's own answer

STEPS = ("content", "category", "phone")
CONFIRM = "confirm"
LABELS = {"content": "内容", "category": "类别", "phone": "电话"}
PHOTO_EVENTS = {"pic_sysphoto", "pic_photo_or_album", "pic_weixin"}
CATEGORY_WORDS: dict[str, str] = {
    **{label: code for code, label in CATEGORY_LABELS.items()},
    "咨询": "consult", "建议": "suggest", "意见": "suggest", "反映": "complaint", "投诉": "complaint", "举报": "complaint",
}
# Menu words that mean "take me elsewhere": inside the form they are never an answer (as in the report form).
LEAVE_WORDS = {"菜单", "主菜单", "政策", "政策学习", "学政策", "我的留言", "我的上报", "上报", "活动上报", "订阅", "退订",
               "通知", "留言"}
PAUSE_WORDS = {"暂停", "稍后", "等会", "待会"}
END_APPEND_WORDS = {"结束", "完成", "好了", "退出", "取消", "没有了"}
COMMAND_PREFIXES = ("留言", "追加", "我的", "上报", "绑定", "订阅", "修改")
_EDIT = re.compile(r"^(?:修改|改)\s*(\d+)$")
_RATING = re.compile(r"^([123])(?:$|[\s,，。.、:：;；!！\-—]+(.*)$)", re.S)
RATING_WORDS = (("基本满意", 2), ("不满意", 3), ("满意", 1))  # longest first
# replies the resident has not been sent yet: 留言详情 leaves them to their delivery (shown once, not twice)
NOT_OUT_YET = frozenset({ReplyDelivery.PENDING, ReplyDelivery.SENDING, ReplyDelivery.WAITING})


# ---- the form as a table of steps -------------------------------------------------------------------------------

def _category_options() -> str:
    return "\n".join(f"{i}. {label}{texts.CATEGORY_HINTS.get(code, '')}"
                     for i, (code, label) in enumerate(CATEGORY_LABELS.items(), 1))


def _is_answered(data: dict[str, Any], key: str) -> bool:
    return {"content": "text", "category": "category", "phone": "phone"}[key] in data


def _next_step(data: dict[str, Any], after: Optional[str] = None) -> str:
    start = 0 if after is None else STEPS.index(after) + 1
    return next((key for key in STEPS[start:] if not _is_answered(data, key)), CONFIRM)


def _display(data: dict[str, Any], key: str) -> str:
    if key == "content":
        return threads.subject_of(data["text"])
    if key == "category":
        return CATEGORY_LABELS[data["category"]]
    return data["phone"] or texts.NO_PHONE


def prompt(data: dict[str, Any], key: str) -> str:
    if key == CONFIRM:
        return summary(data)
    head = texts.STEP_HEAD.format(n=STEPS.index(key) + 1, total=len(STEPS), label=LABELS[key])
    if key == "content":
        question = data.get("prefill")
        body = texts.PROMPT_CONTENT_PREFILLED.format(question=question) if question else texts.PROMPT_CONTENT
    elif key == "category":
        body = texts.PROMPT_CATEGORY.format(options=_category_options())
    else:
        body = texts.PROMPT_PHONE
    return head + body + (texts.CURRENT.format(value=_display(data, key)) if _is_answered(data, key) else "")


def summary(data: dict[str, Any]) -> str:
    content, photos, category, phone = texts.SUMMARY_LINES
    lines = [texts.SUMMARY_HEAD, content.format(text=data["text"])]
    if data.get("photos"):
        lines.append(photos.format(photos=len(data["photos"])))
    lines += [category.format(category=_display(data, "category")), phone.format(phone=_display(data, "phone")),
              texts.SUMMARY_FOOT]
    return "\n".join(lines)


def _reask(data: dict[str, Any], step: str, error: str) -> Turn:
    return handled(texts.INVALID.format(error=error) + prompt(data, step), save=(step, data))


def _advance(data: dict[str, Any], answered: str) -> Turn:
    key = _next_step(data, answered)
    return handled(prompt(data, key), save=(key, data))


def _content(data: dict[str, Any], text: str, word: str) -> Turn:
    if word in SKIP_WORDS and data.get("prefill"):
        text = ""
    elif word in SKIP_WORDS:
        return _reask(data, "content", texts.EMPTY_TEXT)
    if data.get("prefill"):  # the unanswered question stays the first line
        text = f"{data['prefill']}\n{text}".strip()
    try:
        data["text"] = threads.check_text(text)
    except InvalidInput as exc:
        return _reask(data, "content", exc.message)
    data.pop("prefill", None)
    return _advance(data, "content")


def _category(data: dict[str, Any], word: str) -> Turn:
    codes = list(CATEGORY_LABELS)
    if word.isdigit() and 1 <= int(word) <= len(codes):
        data["category"] = str(codes[int(word) - 1])
    elif word in CATEGORY_WORDS:
        data["category"] = CATEGORY_WORDS[word]
    else:
        return _reask(data, "category", texts.BAD_CATEGORY)
    return _advance(data, "category")


def _phone(data: dict[str, Any], word: str) -> Turn:
    try:
        data["phone"] = "" if word in SKIP_WORDS else threads.check_phone(word)
    except InvalidInput as exc:
        return _reask(data, "phone", exc.message)
    return _advance(data, "phone")


def _back(data: dict[str, Any], step: str) -> Turn:
    index = len(STEPS) if step == CONFIRM else STEPS.index(step)
    if index == 0:
        return handled(texts.FIRST_STEP + prompt(data, step), save=(step, data))
    key = STEPS[index - 1]
    return handled(prompt(data, key), save=(key, data))


def _photo(ctx: ChatContext, data: dict[str, Any], step: str) -> Turn:
    inbound = ctx.inbound
    photos = data.setdefault("photos", [])
    if any(p["media_id"] == inbound.media_id for p in photos):  # WeChat's retry of the same picture
        return handled(None)
    if len(photos) >= texts.MAX_PHOTOS:
        return handled(texts.PHOTO_LIMIT + prompt(data, step), save=(step, data))
    photos.append({"media_id": inbound.media_id, "pic_url": inbound.pic_url})
    return handled(texts.PHOTO_RECEIVED.format(n=len(photos)) + prompt(data, step), save=(step, data))


def _confirm(ctx: ChatContext, data: dict[str, Any], word: str) -> Turn:
    if word in CONFIRM_WORDS:
        return _submit(ctx, data)
    edit = _EDIT.match(word)
    if edit and 1 <= int(edit[1]) <= len(STEPS):
        key = STEPS[int(edit[1]) - 1]
        return handled(prompt(data, key), save=(key, data))
    return _reask(data, CONFIRM, texts.ERR_EDIT if word.startswith(("修改", "改")) else texts.ERR_CONFIRM)


def _submit(ctx: ChatContext, data: dict[str, Any]) -> Turn:
    try:
        with ctx.session.begin_nested():
            thread = threads.open_thread(ctx.session, openid=ctx.openid, text=data["text"],
                                         category=data["category"], phone=data.get("phone", ""),
                                         photos=data.get("photos", []), now=ctx.now,
                                         sla_hours=ctx.settings.message_sla_hours)
    except InvalidInput as exc:  # cannot happen for drafts built here; keep the draft
        return _reask(data, CONFIRM, exc.message)
    return handled(texts.SUBMITTED.format(receipt=thread.receipt), end=True)


STEP_ANSWERS = {
    "content": lambda ctx, data, word: _content(data, ctx.inbound.text, word),
    "category": lambda ctx, data, word: _category(data, word),
    "phone": lambda ctx, data, word: _phone(data, word),
    CONFIRM: lambda ctx, data, word: _confirm(ctx, data, word),
}


def handle_flow(ctx: ChatContext, draft: Draft) -> Turn:
    """One message to the live 留言 form: a command word, a photo, or the answer to the step being asked."""
    inbound, step = ctx.inbound, draft.step
    data = {**draft.data, "photos": list(draft.data.get("photos", []))}
    if inbound.kind == "event":
        return handled(None) if inbound.event in PHOTO_EVENTS else not_mine()
    word = command_word(inbound)
    if data.get("paused"):  # 暂停: only 继续 and 取消 are the form's; everything else is routed as usual
        if word in RESUME_WORDS:
            data.pop("paused")
            return handled(texts.RESUMED + prompt(data, step), save=(step, data))
        return handled(texts.CANCELLED, end=True) if word in CANCEL_WORDS else not_mine()
    if inbound.kind == "image":
        return _photo(ctx, data, step)
    if inbound.kind not in ("text", "voice") or not word:
        return _reask(data, step, texts.ERR_TEXT_ONLY)
    if word in CANCEL_WORDS:
        return handled(texts.CANCELLED, end=True)
    if word.lower() in HELP_WORDS:
        return handled(texts.HELP + prompt(data, step), save=(step, data))
    if word in RESUME_WORDS:
        return handled(prompt(data, step), save=(step, data))
    if word in PAUSE_WORDS:
        return handled(texts.PAUSED, save=(step, {**data, "paused": True}))
    if word in LEAVE_WORDS:
        return handled(texts.LEAVE_HINT.format(word=word) + prompt(data, step), save=(step, data))
    if word in BACK_WORDS:
        return _back(data, step)
    return STEP_ANSWERS[step](ctx, data, word)


MESSAGE_FLOW = Flow(FLOW, handle_flow, TTL)


# ---- entry points -----------------------------------------------------------------------------------------------

def _prefill(ctx: ChatContext) -> Optional[str]:
    """The question the resident just asked and the bot could not answer (recorded by the policy answer), unless
    a message was left since."""
    asked = ctx.session.execute(
        select(UnansweredAsker.text, UnansweredAsker.asked_at).where(UnansweredAsker.openid == ctx.openid)
        .order_by(UnansweredAsker.asked_at.desc()).limit(1)).first()
    if asked is None or local(asked.asked_at) < ctx.now - PREFILL_WITHIN:
        return None
    newer = ctx.session.scalar(select(ResidentThread.id).where(ResidentThread.openid == ctx.openid,
                                                               ResidentThread.created_at >= asked.asked_at).limit(1))
    return None if newer is not None else asked.text[:threads.SUBJECT_CHARS * 4]


def _begin(ctx: ChatContext, step: str, data: dict[str, Any], head: str = "") -> str:
    """A fresh form, replacing any earlier one of this resident (version 0 = replace)."""
    conversation.save(ctx.session, Draft(ctx.openid, FLOW, step, data), ctx.now, TTL)
    return head + prompt(data, step)


def start(ctx: ChatContext) -> str:
    """`留言` (keyword, menu number, CLICK): a new message, starting from the unanswered question if one was just
    asked."""
    question = _prefill(ctx)
    return _begin(ctx, "content", {"prefill": question} if question else {})


def quick(ctx: ChatContext, rest: str) -> str:
    """`留言 <text>`: the words are the content; the form asks the rest."""
    text = re.sub(r"^\s*留言[\s:：,，]*", "", ctx.inbound.text)  # the resident's own words, not the routing form
    try:
        data: dict[str, Any] = {"text": threads.check_text(text)}
    except InvalidInput as exc:
        return _begin(ctx, "content", {}, texts.INVALID.format(error=exc.message))
    return _begin(ctx, _next_step(data), data)


def resume(ctx: ChatContext) -> Optional[str]:
    """`继续` for a form that went idle past its TTL; None when there is no 留言 draft (the router asks others)."""
    draft = conversation.load(ctx.session, ctx.openid, ctx.now, for_update=True, include_expired=True, flow=FLOW)
    if draft is None:
        return None
    draft.data.pop("paused", None)
    conversation.save(ctx.session, draft, ctx.now, TTL)
    return texts.RESUMED + prompt(draft.data, draft.step)


# ---- 我的留言, 留言详情, 追加 -----------------------------------------------------------------------------------------

def _day(value: datetime) -> str:
    value = local(value)
    return f"{value.month}月{value.day}日"


def my_messages(ctx: ChatContext) -> str:
    """`我的留言`: the last ten with their status."""
    mine = threads.threads_of(ctx.session, ctx.openid)
    if not mine:
        return texts.MY_NONE
    lines = [texts.MY_HEAD]
    lines += [texts.MY_LINE.format(n=i, receipt=t.receipt, date=_day(t.created_at),
                                   category=CATEGORY_LABELS.get(t.category, t.category), subject=t.subject,
                                   status=STATUS_LABELS.get(t.status, t.status)) for i, t in enumerate(mine, 1)]
    lines.append(texts.MY_FOOT)
    return "\n".join(lines)


def _entry_line(entry: ThreadEntry) -> str:
    template = texts.DETAIL_RESIDENT if entry.kind == EntryKind.RESIDENT else texts.DETAIL_REPLY
    body = entry.body + (texts.DETAIL_PHOTOS.format(n=len(entry.photos)) if entry.photos else "")
    return template.format(time=f"{local(entry.created_at):%m-%d %H:%M}", body=body)


def detail(ctx: ChatContext, rest: str) -> str:
    """`留言详情 N` (number in 我的留言 or receipt): the resident's words and the replies (never staff notes); an
    open thread then takes whatever the resident sends in the next ten minutes as a 追加."""
    if not rest.strip():
        return texts.DETAIL_USAGE
    thread = threads.thread_of(ctx.session, ctx.openid, rest.split()[0])
    if thread is None:
        return texts.NOT_FOUND
    lines = [texts.DETAIL_HEAD.format(receipt=thread.receipt, category=CATEGORY_LABELS.get(thread.category, ""),
                                      status=STATUS_LABELS.get(thread.status, thread.status),
                                      created=f"{local(thread.created_at):%Y-%m-%d %H:%M}")]
    lines += [_entry_line(e) for e in threads.resident_timeline(thread) if e.delivery not in NOT_OUT_YET]
    if thread.rating:
        comment = f"（{thread.rating_comment}）" if thread.rating_comment else ""
        lines.append(texts.DETAIL_RATING.format(rating=RATING_LABELS[thread.rating], comment=comment))
    if thread.status == ThreadStatus.CLOSED:
        lines.append(texts.DETAIL_CLOSED)
    else:
        conversation.save(ctx.session, Draft(ctx.openid, APPEND_FLOW, "append", {"thread": thread.id}), ctx.now,
                          APPEND_TTL)
        lines.append(texts.DETAIL_APPEND)
    return "\n".join(lines)


def _append(ctx: ChatContext, thread: ResidentThread, text: str, photos: list[Any] = ()) -> tuple[bool, str]:
    """Add the resident's words (or a photo) to their thread: (added, what to say)."""
    try:
        with ctx.session.begin_nested():
            threads.add_resident_entry(ctx.session, thread, text, photos, now=ctx.now)
    except InvalidInput as exc:
        return False, exc.message
    return True, texts.APPENDED.format(receipt=thread.receipt)


def append(ctx: ChatContext, rest: str) -> str:
    """`追加 N <text>` (N = number in 我的留言 or receipt)."""
    parts = re.sub(r"^\s*追加\s*", "", ctx.inbound.text).split(None, 1)
    if len(parts) < 2:
        return texts.APPEND_USAGE
    thread = threads.thread_of(ctx.session, ctx.openid, normalise(parts[0]))
    if thread is None:
        return texts.NOT_FOUND
    return _append(ctx, thread, parts[1])[1]


def handle_append(ctx: ChatContext, draft: Draft) -> Turn:
    """While a thread's detail is open, whatever the resident sends (words, a photo) is added to it; a command or
    menu word closes the prompt and is routed as usual."""
    inbound = ctx.inbound
    if inbound.kind == "event":
        return handled(None) if inbound.event in PHOTO_EVENTS else not_mine()
    word = command_word(inbound)
    if word in END_APPEND_WORDS:
        return handled(texts.APPEND_ENDED, end=True)
    if inbound.kind not in ("text", "voice", "image"):
        return not_mine(end=True)
    if word in LEAVE_WORDS or word.lower() in HELP_WORDS or word.startswith(COMMAND_PREFIXES) or word.isdigit():
        return not_mine(end=True)  # a command, a menu word or a menu number: the resident moved on
    thread = ctx.session.get(ResidentThread, draft.data.get("thread"))
    if thread is None or thread.openid != ctx.openid:
        return not_mine(end=True)
    photos = [{"media_id": inbound.media_id, "pic_url": inbound.pic_url}] if inbound.kind == "image" else []
    added, reply = _append(ctx, thread, "" if photos else inbound.text, photos)
    if not added:
        return handled(reply, end=thread.status == ThreadStatus.CLOSED)
    return handled(texts.APPENDED_MORE.format(receipt=thread.receipt), save=(draft.step, draft.data))


APPEND_FLOW_SPEC = Flow(APPEND_FLOW, handle_append, APPEND_TTL)


# ---- the rating ---------------------------------------------------------------------------------------------------

def parse_rating(text: str) -> Optional[tuple[int, str]]:
    """`1` / `3 还没解决` / `满意` / `不满意，态度不好` → (rating, words); None for anything else."""
    text = normalise(text)
    if match := _RATING.match(text):
        return int(match[1]), (match[2] or "").strip()
    for word, rating in RATING_WORDS:
        if text.startswith(word):
            return rating, text[len(word):].lstrip(" ,，。.、:：;；!！-—").strip()
    return None


def handle_rating(ctx: ChatContext, draft: Draft) -> Turn:
    """After the rating question went out, the resident's 1/2/3 (+ words) rates the thread, once; anything else is
    routed as usual and the question keeps waiting (7 days)."""
    if ctx.inbound.kind not in ("text", "voice"):
        return not_mine()
    parsed = parse_rating(ctx.inbound.text)
    if parsed is None:
        return not_mine()
    thread = ctx.session.get(ResidentThread, draft.data.get("thread"))
    if thread is None or thread.openid != ctx.openid:
        return not_mine(end=True)
    if thread.rated_at is not None:
        return handled(texts.RATING_AGAIN, end=True)
    rating, comment = parsed
    thread.rating, thread.rating_comment, thread.rated_at = rating, comment[:500], ctx.now
    label = RATING_LABELS[rating]
    ctx.session.add(ThreadEntry(thread_id=thread.id, kind=EntryKind.EVENT.value, created_at=ctx.now,
                                body=texts.RATED_EVENT.format(rating=label,
                                                              comment=f"：{comment}" if comment else "")))
    return handled(texts.RATED.format(rating=label), end=True)


RATING_FLOW_SPEC = Flow(replies.RATING_FLOW, handle_rating, replies.RATING_TTL)

FLOWS = (MESSAGE_FLOW, APPEND_FLOW_SPEC, RATING_FLOW_SPEC)


# ---- replies waiting for the resident's next message ------------------------------------------------------------

def has_waiting(ctx: ChatContext) -> bool:
    """Whether replies wait for this resident: the marker draft among the drafts the gateway fetched with the claim
    (no query), or looked up when they were not fetched. Call before routing (routes take the drafts)."""
    if ctx.inbound.kind == "event" or not ctx.openid:
        return False
    if ctx.drafts is not None:
        return any(d.flow == replies.WAITING_FLOW for d in ctx.drafts)
    return conversation.load(ctx.session, ctx.openid, ctx.now, flow=replies.WAITING_FLOW) is not None


def with_waiting(ctx: ChatContext, reply: Optional[str]) -> Optional[str]:
    """The waiting replies (marked delivered in this message's transaction), then the bot's own answer."""
    waiting = replies.passive_reply_for(ctx.session, ctx.openid, ctx.now, PASSIVE_BUDGET)
    if waiting is None:
        return reply
    return f"{waiting}\n\n{reply}" if reply else waiting
