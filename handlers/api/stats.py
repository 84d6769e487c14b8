"""/api/v1/statistics, /api/v1/compliance and /api/v1/exports/reports (file downloads)."""
from __future__ import annotations

from flask import jsonify, request

from handlers.api import admin_only, bp
from handlers.downloads import export_response
from service.app import db, runtime
from service.core import clock
from service.reporting import compliance, exports, query as report_query, statistics


@bp.get("/statistics")
@admin_only
def get_statistics():
    return jsonify(statistics.summarize(db(), report_query.parse_filters(db(), request.args)))


@bp.get("/compliance")
@admin_only
def get_compliance():
    """?date_from&date_to (default: this calendar year) &quarter_min (default: settings) &status=滞后 to filter."""
    args, today = request.args, clock.today()
    default_from, default_to = compliance.year_to_date(today)
    quarter_min = report_query.parse_int(args.get("quarter_min"), "quarter_min")
    report = compliance.evaluate(
        db(), report_query.parse_date(args.get("date_from"), "date_from") or default_from,
        report_query.parse_date(args.get("date_to"), "date_to") or default_to, today,
        rule_set=compliance.rules(quarter_min or runtime().settings.compliance_quarter_min))
    status = report_query.choice(args.get("status"), (compliance.MET, compliance.RUNNING, compliance.LAGGING), "status")
    payload = report.to_dict()
    if status:
        payload["units"] = [u for u in payload["units"] if u["status"] == status]
    return jsonify(payload)


@bp.get("/exports/reports.<fmt>")
def export_reports(fmt: str):
    """The filtered reports as an .xlsx or .csv attachment (same filters as /reports, e.g. ?month=2026-03)."""
    file = exports.export_reports(db(), report_query.parse_filters(db(), request.args), fmt)
    return export_response(file)
