"""/api/v1/reports: list with filters and pagination, detail with photos, entry on behalf of staff, review.

Reviewers (审核员) may list, read and review; entering a report for a staff member needs a 管理员.
"""
from __future__ import annotations

from flask import g, jsonify, request

from handlers.api import admin_only, bp, json_body
from service.console import backoffice
from service.core import clock
from service.reporting import query as report_query, reports
from service.app import db


@bp.get("/reports")
def list_reports():
    args = request.args
    page = report_query.list_reports(
        db(), report_query.parse_filters(db(), args),
        page=report_query.parse_int(args.get("page"), "page") or 1,
        per_page=report_query.parse_int(args.get("per_page"), "per_page") or report_query.DEFAULT_PER_PAGE)
    return jsonify(items=[reports.report_dict(r) for r in page.items], total=page.total, page=page.page,
                   per_page=page.per_page, pages=page.pages, filters=page.filters.to_dict())


@bp.get("/reports/<int:report_id>")
def get_report(report_id: int):
    return jsonify(reports.report_dict(reports.get_report(db(), report_id)))


@bp.post("/reports")
@admin_only
def create_report():
    report = backoffice.create_report(db(), json_body(), clock.now())
    db().commit()
    return jsonify(reports.report_dict(report)), 201


@bp.post("/reports/<int:report_id>/review")
def review_report(report_id: int):
    """{"action": "approve" | "reject", "reason": "..."}; reject needs a reason. The reporter's notice is queued."""
    report = backoffice.review_report(db(), report_id, json_body(), g.api_user.username, clock.now())
    db().commit()
    return jsonify(reports.report_dict(report))
