"""Announcements (管理员): compose with a live count per channel, audience, time or recurrence, preview, schedule or
save as draft, edit while a draft or scheduled, cancel, and the delivery page. Same `service.notices.announcements`
functions as /api/v1/announcements."""
from __future__ import annotations

from typing import Any, Callable

from flask import flash, redirect, request, url_for

from handlers.admin import admin_required, audited, bp, current_admin, field_errors, render
from models.announcement import STATUSES
from models.subscription import TOPICS
from models.unit import CATEGORIES
from service.app import db, runtime
from service.console import audit as audit_log, people, texts
from service.core import clock
from service.core.errors import DomainError
from service.core.paging import requested_page
from service.notices import announcements, delivery
from service.reporting import units

TEXT_FIELDS = ("title", "body", "audience_type", "topic", "send_mode", "send_at", "recurrence")
AUDIENCES = [("all", "全部关注者"), ("topic", "订阅了某个主题的人"), ("units", "指定单位的人员"),
             ("categories", "某类单位的人员")]


def _form() -> tuple[dict[str, Any], dict[str, Any]]:
    """(data for service.notices.announcements, values to re-show) from the compose form."""
    values: dict[str, Any] = {name: request.form.get(name, "") for name in TEXT_FIELDS}
    values["unit_ids"] = request.form.getlist("unit_ids")
    values["categories"] = request.form.getlist("categories")
    kind = values["audience_type"] or "all"
    audience: dict[str, Any] = {"type": kind}
    if kind == "topic":
        audience["topic"] = values["topic"]
    elif kind == "units":
        audience["unit_ids"] = [int(v) if v.isdigit() else v for v in values["unit_ids"]]
    elif kind == "categories":
        audience["categories"] = values["categories"]
    data = {"title": values["title"], "body": values["body"], "audience": audience,
            "send_at": "now" if values["send_mode"] != "at" else values["send_at"],
            "recurrence": values["recurrence"].strip() or None,
            "draft": request.form.get("submit") == "draft"}
    return data, values


def _compose(values=None, errors=None, preview=None, status=200, editing=None):
    """The compose form; with `editing` (an announcement's id) it changes that announcement instead."""
    return render("announcement_form.html", status, values=values or {"audience_type": "all", "send_mode": "now"},
                  errors=errors or {}, preview=preview, audiences=AUDIENCES, topics=list(TOPICS.items()),
                  categories=CATEGORIES, units=units.list_units(db()), title_limit=announcements.TITLE_LIMIT,
                  text_limit=announcements.TEXT_LIMIT, editing=editing)


def _preview(ann) -> dict[str, Any]:
    """What the form's 预览 shows: the text, and who it reaches on which channel at its first run, decided exactly as
    the scheduler will (delivery.reach); the caller rolls back, as a preview stores nothing."""
    first_run = ann.next_run_at or ann.send_at
    at = max(clock.now(), clock.local(first_run)) if first_run else clock.now()
    return {"text": announcements.message_text(ann.title, ann.body), "first_run": first_run,
            "reach": delivery.reach(db(), runtime().settings, ann.audience, at)}


def _time_input(value) -> str:
    """A stored time as the form's datetime-local value (Asia/Shanghai, to the minute)."""
    return clock.local(value).strftime("%Y-%m-%dT%H:%M") if value else ""


def _values_of(ann) -> dict[str, Any]:
    """The compose form filled in from an existing announcement."""
    audience = ann.audience or {}
    return {"title": ann.title, "body": ann.body, "audience_type": audience.get("type", "all"),
            "topic": audience.get("topic", ""), "unit_ids": [str(u) for u in audience.get("unit_ids", [])],
            "categories": list(audience.get("categories", [])), "send_mode": "at",
            "send_at": _time_input(ann.send_at), "recurrence": ann.recurrence or ""}


def editable_here(ann) -> bool:
    """Drafts and scheduled announcements whose audience the form can show (the API can also name openids)."""
    return ann.status in announcements.EDITABLE and (ann.audience or {}).get("type") in dict(AUDIENCES)


def _field(exc: DomainError) -> dict[str, str]:
    """Audience sub-fields (audience.unit_ids …) are shown beside the audience choice."""
    errors = field_errors(exc)
    return {("audience_type" if key.startswith("audience") else key): value for key, value in errors.items()}


@bp.get("/announcements")
@admin_required
def announcements_list():
    status = request.args.get("status", "")
    status = status if status in STATUSES else ""
    page = announcements.listing_page(db(), status or None, *requested_page(request.args))
    return render("announcements.html", page=page, items=page.items, statuses=STATUSES, chosen=status,
                  counts=announcements.delivery_counts_of(db(), (a.id for a in page.items)),
                  query={"status": status} if status else {})


@bp.get("/announcements/new")
@admin_required
def new_announcement():
    return _compose()


def _save(save: Callable[[], Any], values: dict[str, Any], action: Callable[[Any], str], editing=None):
    """Run `save` (create or edit) and finish the form: a preview shows and stores nothing, a refusal re-shows the
    form with the reasons beside the fields, a success is audited as `action(ann)` and opens the announcement."""
    try:
        ann = save()
        if request.form.get("submit") == "preview":
            preview = _preview(ann)
            db().rollback()  # a preview stores nothing
            return _compose(values, preview=preview, editing=editing)
    except DomainError as exc:
        db().rollback()
        return _compose(values, _field(exc), status=422, editing=editing)
    return audited(action(ann), ann, audit_log.announcement_detail(ann),
                   url_for("admin.announcement_detail", announcement_id=ann.id), texts.ANNOUNCEMENT_SAVED[ann.status])


@bp.post("/announcements")
@admin_required
def create_announcement():
    data, values = _form()
    return _save(
        lambda: announcements.create(db(), data, clock.now(), created_by=current_admin().id),
        values,
        audit_log.announcement_created,
    )


PER_PAGE = 50  # deliveries on an announcement's page


@bp.get("/announcements/<int:announcement_id>")
@admin_required
def announcement_detail(announcement_id: int):
    ann = announcements.get(db(), announcement_id)
    status = request.args.get("status", "")
    page = announcements.deliveries_page(db(), ann.id, status or None, *requested_page(request.args, PER_PAGE))
    return render("announcement_detail.html", ann=ann, counts=announcements.delivery_counts(db(), ann.id),
                  page=page, deliveries=page.items, people=people.people(db(), (d.openid for d in page.items)),
                  chosen=status, query={"status": status} if status else {},
                  cancellable=ann.status in announcements.CANCELLABLE, editable=editable_here(ann), topics=TOPICS,
                  resend_warning=texts.RESEND_UNKNOWN_WARNING)


@bp.get("/announcements/<int:announcement_id>/edit")
@admin_required
def edit_announcement(announcement_id: int):
    ann = announcements.get(db(), announcement_id)
    if not editable_here(ann):
        flash(texts.ANNOUNCEMENT_NOT_EDITABLE.format(status=ann.status), "error")
        return redirect(url_for("admin.announcement_detail", announcement_id=announcement_id))
    return _compose(_values_of(ann), editing=announcement_id)


@bp.post("/announcements/<int:announcement_id>/edit")
@admin_required
def update_announcement(announcement_id: int):
    ann = announcements.get(db(), announcement_id)
    data, values = _form()
    if values["send_mode"] == "at" and values["send_at"] == _time_input(ann.send_at):
        del data["send_at"]  # left as it was: kept, even when a recurring notice's first run is past
    return _save(lambda: announcements.edit(db(), announcement_id, data, clock.now()), values,
                 lambda ann: "announcement.edit", editing=announcement_id)


@bp.post("/announcements/<int:announcement_id>/cancel")
@admin_required
def cancel_announcement(announcement_id: int):
    try:
        ann = announcements.cancel(db(), announcement_id, clock.now())
    except DomainError as exc:
        db().rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin.announcement_detail", announcement_id=announcement_id))
    return audited("announcement.cancel", ann, {"title": ann.title},
                   url_for("admin.announcement_detail", announcement_id=announcement_id), texts.ANNOUNCEMENT_CANCELLED)


@bp.post("/announcements/<int:announcement_id>/resend-unknown")
@admin_required
def resend_unknown(announcement_id: int):
    """The delivery page's 重发结果未知的消息 (behind a confirm warning: those messages may have arrived)."""
    try:
        ann, count = announcements.resend_unknown(db(), announcement_id, clock.now())
    except DomainError as exc:
        db().rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin.announcement_detail", announcement_id=announcement_id))
    return audited("announcement.resend_unknown", ann, {"title": ann.title, "count": count},
                   url_for("admin.announcement_detail", announcement_id=announcement_id) + "#deliveries",
                   texts.ANNOUNCEMENT_RESENT.format(count=count))
