"""Residents' messages (留言): the inbox with filters and counts per status, a thread's page with the resident's
timeline, and the reply, assign, note and close forms. 管理员 see every thread; 审核员 and 接待员 the threads
assigned to them (`service.messages.staff` applies the rule). Same service functions as /api/v1/messages."""
from __future__ import annotations

from typing import Any, Callable, Optional

from flask import abort, flash, g, redirect, request, url_for

from handlers.admin import bp, current_admin, field_errors, login_required, render
from handlers.downloads import stored_photo
from models.admin import ROLE_ADMIN
from models.message import EntryKind, ThreadEntry, ThreadPhoto
from service.app import db, runtime
from service.core import clock
from service.core.errors import DomainError
from service.core.paging import DEFAULT_PER_PAGE
from service.messages import labels, replies, staff

FILTER_KEYS = ("status", "category", "assigned_to", "overdue", "date_from", "date_to", "q")
FORM_FIELDS = {"reply": "text", "note": "text", "assign": "user_id"}  # each form's one field, for its errors
SAVED = {"reply": "回复已保存，正在发送给居民", "assign": "已分派", "note": "备注已保存（仅工作人员可见）", "close": "已办结，已请居民评价"}


def deliver_now(*entries: Optional[ThreadEntry]) -> None:
    """Send replies (and rating questions) right after the commit that stored them, exactly once each; whatever
    cannot go out now (window closed, WeChat busy) is left to the scheduler's deliver_replies job or the resident's
    next message, and its state shows on the thread."""
    rt = runtime()
    for entry in entries:
        if entry is not None:
            replies.deliver_reply(entry.id, session_factory=rt.session_factory, settings=rt.settings,
                                  sender=rt.wechat_client())


def message_counts() -> dict[str, int]:
    """Threads per status for the nav badge, once per request (the base template calls it)."""
    if "message_counts" not in g:
        g.message_counts = staff.status_counts(db(), current_admin(), clock.now())
    return g.message_counts


@bp.app_context_processor
def messages_context() -> dict[str, Any]:
    return {"message_counts": message_counts, "status_labels": labels.STATUS_LABELS}


@bp.get("/messages")
@login_required
def messages():
    args = {key: request.args.get(key, "").strip() for key in FILTER_KEYS}
    now, errors = clock.now(), {}
    try:
        filters = staff.parse_filters(args)
    except DomainError as exc:
        filters, errors = staff.InboxFilter(), field_errors(exc)
    page = staff.inbox(db(), current_admin(), filters, now, max(request.args.get("page", 1, type=int), 1),
                       DEFAULT_PER_PAGE)
    users = staff.assignable_users(db()) if current_admin().role == ROLE_ADMIN else []
    return render("messages.html", 422 if errors else 200, page=page, args=args, errors=errors, now=now,
                  names=staff.user_names(db(), [t.assigned_to for t in page.items]), users=users,
                  counts=message_counts(), categories=labels.CATEGORY_LABELS, statuses=labels.STATUS_LABELS,
                  sensitive=labels.SENSITIVE_CATEGORIES, is_overdue=staff.is_overdue,
                  query={k: v for k, v in args.items() if v})


@bp.get("/messages/<int:thread_id>")
@login_required
def message_thread(thread_id: int):
    return _thread_page(thread_id)


@bp.get("/messages/<int:thread_id>/photos/<int:photo_id>")
@login_required
def message_photo(thread_id: int, photo_id: int):
    """A resident's photo, to whoever may open its thread."""
    thread = staff.get_thread(db(), current_admin(), thread_id)
    photo = db().get(ThreadPhoto, photo_id)
    entry = db().get(ThreadEntry, photo.entry_id) if photo is not None else None
    if entry is None or entry.thread_id != thread.id:
        abort(404)
    return stored_photo(runtime().settings.media_dir, photo.local_path)


def _thread_page(thread_id: int, values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                 status: int = 422):
    thread = staff.get_thread(db(), current_admin(), thread_id)
    view = staff.timeline(db(), thread)
    return render("message_thread.html", status if errors else 200, view=view, thread=thread, now=clock.now(),
                  values=values or {}, errors=errors or {}, users=staff.assignable_users(db()),
                  labels=labels, EntryKind=EntryKind, overdue=staff.is_overdue(thread, clock.now()),
                  can_assign=current_admin().role == ROLE_ADMIN, reply_limit=replies.REPLY_MAX_CHARS)


def _change(thread_id: int, kind: str, values: dict[str, str], act: Callable[[Any], Any]):
    """Run one change on the thread; a refused value comes back beside its field (422), nothing half-saved."""
    try:
        thread = staff.get_thread(db(), current_admin(), thread_id)
        result = act(thread)
    except DomainError as exc:
        db().rollback()
        if exc.status in (403, 404):
            raise
        beside = f"{kind}_{exc.field}" if exc.field == FORM_FIELDS.get(kind) else "_form"  # else above the page
        return _thread_page(thread_id, values, {beside: exc.message}, exc.status)
    db().commit()
    if kind in ("reply", "close"):  # the reply, or the rating question closing asks
        deliver_now(result)
    flash(SAVED[kind], "ok")
    return redirect(url_for("admin.message_thread", thread_id=thread_id))


@bp.post("/messages/<int:thread_id>/reply")
@login_required
def reply_message(thread_id: int):
    text = request.form.get("text", "")
    return _change(thread_id, "reply", {"reply_text": text},
                   lambda t: staff.reply(db(), t, text, current_admin(), clock.now()))


@bp.post("/messages/<int:thread_id>/note")
@login_required
def note_message(thread_id: int):
    text = request.form.get("text", "")
    return _change(thread_id, "note", {"note_text": text}, lambda t: staff.add_note(db(), t, text, current_admin()))


@bp.post("/messages/<int:thread_id>/assign")
@login_required
def assign_message(thread_id: int):
    if current_admin().role != ROLE_ADMIN:
        return render("error.html", 403, title="没有权限", message="只有管理员可以分派留言。")
    user_id = request.form.get("user_id", "")
    return _change(thread_id, "assign", {"assign_user_id": user_id},
                   lambda t: staff.assign(db(), t, user_id, current_admin()))


@bp.post("/messages/<int:thread_id>/close")
@login_required
def close_message(thread_id: int):
    return _change(thread_id, "close", {}, lambda t: staff.close_thread(db(), t, current_admin(), clock.now()))
