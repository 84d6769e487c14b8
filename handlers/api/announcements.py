"""/api/v1/announcements: create, list, show, edit, cancel announcements and read per-recipient results."""
from __future__ import annotations

from flask import g, jsonify, request

from handlers.api import admin_only, bp, json_body, saved
from service.app import db
from service.console import audit, people
from service.core import clock
from service.core.errors import InvalidInput
from service.notices import announcements, texts as notice_texts
from service.reporting.query import parse_int


def _int_arg(name: str, default: int, maximum: int) -> int:
    value = parse_int(request.args.get(name), name, minimum=0)
    return default if value is None else min(value, maximum)


def _saved(ann, action: str, status: int = 200):
    """Audit and commit the change; answer with the announcement as it now stands."""
    return saved(announcements.to_dict(db(), ann), status, action, ann, audit.announcement_detail(ann))


@bp.post("/announcements")
@admin_only
def create_announcement():
    ann = announcements.create(db(), json_body(), clock.now(), created_by=g.api_user.id)
    return _saved(ann, audit.announcement_created(ann), 201)


@bp.get("/announcements")
@admin_only
def list_announcements():
    session = db()
    items = announcements.listing(session, request.args.get("status"), _int_arg("limit", 50, 200),
                                  _int_arg("offset", 0, 10**9))
    return jsonify(items=announcements.to_dicts(session, items))


@bp.get("/announcements/<int:announcement_id>")
@admin_only
def show_announcement(announcement_id: int):
    session = db()
    return jsonify(announcements.to_dict(session, announcements.get(session, announcement_id)))


@bp.patch("/announcements/<int:announcement_id>")
@bp.put("/announcements/<int:announcement_id>")
@admin_only
def edit_announcement(announcement_id: int):
    return _saved(announcements.edit(db(), announcement_id, json_body(), clock.now()), "announcement.edit")


@bp.post("/announcements/<int:announcement_id>/cancel")
@admin_only
def cancel_announcement(announcement_id: int):
    return _saved(announcements.cancel(db(), announcement_id, clock.now()), "announcement.cancel")


@bp.post("/announcements/<int:announcement_id>/resend-unknown")
@admin_only
def resend_unknown(announcement_id: int):
    """Send the deliveries whose result is unknown again. They may already have arrived, so the body must say
    `{"confirm": true}`; without it the answer is 422 with that warning. Audited."""
    if json_body().get("confirm") is not True:
        raise InvalidInput(notice_texts.RESEND_CONFIRM, "confirm")
    ann, count = announcements.resend_unknown(db(), announcement_id, clock.now())
    return saved({"resent": count, "announcement": announcements.to_dict(db(), ann)}, 200,
                 "announcement.resend_unknown", ann, {"title": ann.title, "count": count})


@bp.get("/announcements/<int:announcement_id>/deliveries")
@admin_only
def list_deliveries(announcement_id: int):
    session = db()
    rows = announcements.deliveries(session, announcement_id, request.args.get("status"),
                                    _int_arg("limit", 100, 1000), _int_arg("offset", 0, 10**9))
    who = people.people(session, (d.openid for d in rows))
    return jsonify(summary=announcements.delivery_counts(session, announcement_id),
                   items=[{**announcements.delivery_dict(d), "name": who[d.openid].name, "unit": who[d.openid].unit,
                           "recipient": who[d.openid].label} for d in rows])
