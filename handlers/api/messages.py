"""/api/v1/messages: residents' messages (留言) — list with the inbox's filters, one thread with its timeline, take
one down for a resident, reply, assign, close. 管理员 tokens reach every thread, others (审核员, 接待员) only the
threads assigned to their owner; assigning and taking one down need a 管理员. Audited by the service functions
(`"via": "api"`), as the console's changes are."""
from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from handlers.admin.messages import deliver_now
from handlers.api import admin_only, bp, json_body, paged, reception_allowed
from models.message import ThreadEntry
from service.app import db, runtime
from service.core import clock
from service.core.paging import requested_page
from service.messages import staff

VIA = "api"


def _thread_json(thread_id: int, status: int = 200):
    thread = staff.get_thread(db(), g.api_user, thread_id)
    return jsonify(staff.timeline_dict(staff.timeline(db(), thread), clock.now())), status


@bp.get("/messages")
@reception_allowed
def list_messages():
    now, filters = clock.now(), staff.parse_filters(request.args)
    page = staff.inbox(db(), g.api_user, filters, now, *requested_page(request.args))
    names = staff.user_names(db(), [t.assigned_to for t in page.items])
    return jsonify(**paged([staff.thread_dict(t, now, names) for t in page.items], page), filters=filters.to_dict(),
                   counts=staff.status_counts(db(), g.api_user, now))


@bp.post("/messages")
@admin_only
def create_message():
    thread = staff.create_thread(db(), json_body(), g.api_user, runtime().settings.message_sla_hours, via=VIA)
    db().commit()
    return _thread_json(thread.id, 201)


@bp.get("/messages/<int:thread_id>")
@reception_allowed
def get_message(thread_id: int):
    return _thread_json(thread_id)


def _body_value(name: str) -> Any:
    return json_body().get(name)


@bp.post("/messages/<int:thread_id>/reply")
@reception_allowed
def reply_message(thread_id: int):
    """{"text": "..."}: stored, committed, then sent (customer-service message, or waiting for the resident's next
    message); the answer carries the reply's delivery status."""
    thread = staff.get_thread(db(), g.api_user, thread_id)
    entry = staff.reply(db(), thread, _body_value("text"), g.api_user, clock.now(), via=VIA)
    db().commit()
    deliver_now(entry)
    db().expire_all()
    entry = db().get(ThreadEntry, entry.id)
    return jsonify(staff.entry_dict(entry, staff.user_names(db(), [entry.author_id]))), 201


@bp.post("/messages/<int:thread_id>/assign")
@admin_only
def assign_message(thread_id: int):
    """{"user_id": N}: any active console user."""
    thread = staff.get_thread(db(), g.api_user, thread_id)
    staff.assign(db(), thread, _body_value("user_id"), g.api_user, via=VIA)
    db().commit()
    return _thread_json(thread_id)


@bp.post("/messages/<int:thread_id>/close")
@reception_allowed
def close_message(thread_id: int):
    question = staff.close_thread(db(), staff.get_thread(db(), g.api_user, thread_id), g.api_user, clock.now(),
                                  via=VIA)
    db().commit()
    deliver_now(question)
    return _thread_json(thread_id)
