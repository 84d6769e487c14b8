"""督查考核 (administrators): every active unit's status for a chosen year or quarter, filtered by 七进 category and
status, a page at a time, each with the requirements it missed and a link to its reports of that period. The
evaluation is the one `/api/v1/compliance` and the dashboard use (`service.reporting.compliance`), made once per
request and reused from the worker's cache while the day and the data are unchanged."""
from __future__ import annotations

from typing import Callable, TypeVar

from flask import request

from handlers.admin import admin_required, bp, field_errors, render
from models.unit import CATEGORIES
from service.app import db, runtime
from service.core import clock
from service.core.errors import DomainError
from service.reporting import compliance as compliance_service, query as report_query

PER_PAGE = 20
FILTER_KEYS = ("period", "category", "status")
T = TypeVar("T")


@bp.get("/compliance")
@admin_required
def compliance():
    today = clock.today()
    args = {key: request.args.get(key, "").strip() for key in FILTER_KEYS}
    errors: dict[str, str] = {}

    def read(parse: Callable[[], T], fallback: T) -> T:
        """A filter's value, or its default with the error shown beside the field (the page still answers)."""
        try:
            return parse()
        except DomainError as exc:
            errors.update(field_errors(exc))
            return fallback

    this_year = compliance_service.parse_period("", today)
    period = read(lambda: compliance_service.parse_period(args["period"], today), this_year)
    category = read(lambda: report_query.choice(args["category"], CATEGORIES, "category"), None)
    status = read(lambda: report_query.choice(args["status"], compliance_service.STATUSES, "status"), None)
    page = read(lambda: report_query.parse_int(request.args.get("page"), "page") or 1, 1)
    report = compliance_service.evaluate(
        db(), period.start, period.end, today, compliance_service.rules(runtime().settings.compliance_quarter_min),
        cache=runtime().compliance_cache)
    selection = report.select(category, status, page, PER_PAGE)
    choices = compliance_service.period_choices(today)
    if period not in choices:
        choices.insert(0, period)
    kept = {"period": period.key, "category": category or ""}
    return render("compliance.html", 422 if errors else 200, report=report, selection=selection, period=period,
                  choices=choices, categories=CATEGORIES, statuses=compliance_service.STATUSES, status=status,
                  category=category, errors=errors, kept={k: v for k, v in kept.items() if v},
                  query={k: v for k, v in (kept | {"status": status or ""}).items() if v})
