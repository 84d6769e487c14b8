"""Audit log page (administrators only): who did what and when, filterable."""
from __future__ import annotations

from datetime import date
from typing import Optional

from flask import request

from handlers.admin import admin_required, bp, render
from service.app import db
from service.console import audit, texts
from service.core.paging import requested_page


def _date(value: str) -> Optional[date]:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@bp.get("/audit")
@admin_required
def audit_log():
    args = request.args
    flt = audit.AuditFilter(actor=args.get("actor", ""), action=args.get("action", ""),
                            target_type=args.get("target_type", ""),
                            date_from=_date(args.get("date_from", "")), date_to=_date(args.get("date_to", "")))
    page = audit.list_entries(db(), flt, *requested_page(args, audit.PER_PAGE))
    return render("audit.html", page=page, flt=flt, actors=audit.actors(db()), actions=texts.ACTIONS,
                  targets=texts.TARGETS, readable_detail=audit.readable_detail,
                  query={k: v for k, v in args.items() if k != "page"})
