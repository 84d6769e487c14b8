"""/api/v1/reports: list with filters and pagination, detail with photos, entry on behalf of staff, review.

Reviewers (审核员) may list, read and review; entering a report for a staff member needs a 管理员.
"""
from __future__ import annotations

from flask import g, jsonify, request

from handlers.api import admin_only, bp, json_body, paged, saved
from service.app import db
from service.console import backoffice
from service.core import clock
from service.core.paging import requested_page
from service.reporting import query as report_query, reports


@bp.get("/reports")
def list_reports():
    filters = report_query.parse_filters(db(), request.args)
    page = report_query.list_reports(db(), filters, *requested_page(request.args))
    return jsonify(**paged([reports.report_dict(r) for r in page.items], page), filters=filters.to_dict())


@bp.get("/reports/<int:report_id>")
def get_report(report_id: int):
    return jsonify(reports.report_dict(reports.get_report(db(), report_id)))


@bp.post("/reports")
@admin_only
def create_report():
    report = backoffice.create_report(db(), json_body(), clock.now())
    return saved(reports.report_dict(report), 201, "report.create", report,
                 {"receipt_no": report.receipt_no, "staff_id": report.staff_id})


@bp.post("/reports/<int:report_id>/review")
def review_report(report_id: int):
    """{"action": "approve" | "reject", "reason": "..."}; reject needs a reason. The reporter's notice is queued."""
    data = json_body()
    report = backoffice.review_report(db(), report_id, data, g.api_user.username, clock.now())
    return saved(reports.report_dict(report), 200, f"report.{data['action']}", report,
                 {"receipt_no": report.receipt_no, "reason": report.review_reason})
