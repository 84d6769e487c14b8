"""/api/v1/statistics, /api/v1/compliance and /api/v1/exports/reports (file downloads)."""
from __future__ import annotations

from flask import jsonify, request

from handlers.api import admin_only, bp
from handlers.downloads import export_response
from models.unit import CATEGORIES
from service.app import db, runtime
from service.core import clock
from service.core.paging import DEFAULT_PER_PAGE
from service.reporting import compliance, exports, query as report_query, statistics


@bp.get("/statistics")
@admin_only
def get_statistics():
    return jsonify(statistics.summarize(db(), report_query.parse_filters(db(), request.args)))


@bp.get("/compliance")
@admin_only
def get_compliance():
    """?date_from&date_to (default: this calendar year) &quarter_min (default: settings) &category &status=滞后
    &page&per_page: one page of units, with `total`, and the summary of the category's units by status."""
    args, today = request.args, clock.today()
    default_from, default_to = compliance.year_to_date(today)
    quarter_min = report_query.parse_int(args.get("quarter_min"), "quarter_min")
    report = compliance.evaluate(
        db(), report_query.parse_date(args.get("date_from"), "date_from") or default_from,
        report_query.parse_date(args.get("date_to"), "date_to") or default_to, today,
        rule_set=compliance.rules(quarter_min or runtime().settings.compliance_quarter_min),
        cache=runtime().compliance_cache)
    selection = report.select(
        category=report_query.choice(args.get("category"), CATEGORIES, "category"),
        status=report_query.choice(args.get("status"), compliance.STATUSES, "status"),
        page=report_query.parse_int(args.get("page"), "page") or 1,
        per_page=report_query.parse_int(args.get("per_page"), "per_page") or DEFAULT_PER_PAGE)
    return jsonify(report.to_dict(selection))


@bp.get("/exports/reports.<fmt>")
def export_reports(fmt: str):
    """The filtered reports as an .xlsx or .csv attachment (same filters as /reports, e.g. ?month=2026-03)."""
    file = exports.export_reports(db(), report_query.parse_filters(db(), request.args), fmt)
    return export_response(file)
