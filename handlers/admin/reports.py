"""Activity reports (审核员 and 管理员): review queue with filters, detail with photos and location, approve or
reject with a reason, export of the filtered list to .xlsx. Same service functions as /api/v1/reports."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from handlers.admin import bp, current_admin, field_errors, render, reports_required
from handlers.downloads import export_response, stored_photo
from models.report import ACTIVITY_TYPES, STATUS_PENDING, STATUS_REJECTED, STATUSES, ReportPhoto
from models.unit import CATEGORIES
from service.app import db, runtime
from service.console import audit, backoffice, texts
from service.core import clock
from service.core.errors import DomainError
from service.core.paging import requested_page
from service.reporting import exports, query as report_query, reports as report_service, units

FILTER_KEYS = ("status", "category", "unit_id", "activity_type", "date_from", "date_to", "q")


def _filter_args() -> dict[str, str]:
    """The queue opens on 待审核; an explicit empty status ("全部") shows every report."""
    args = {key: request.args.get(key, "") for key in FILTER_KEYS}
    if "status" not in request.args:
        args["status"] = STATUS_PENDING
    return args


def _filters(args: dict[str, str]) -> tuple[report_query.ReportFilter, dict[str, str]]:
    try:
        return report_query.parse_filters(db(), args), {}
    except DomainError as exc:
        return report_query.ReportFilter(status=STATUS_PENDING), field_errors(exc)


@bp.get("/reports")
@reports_required
def reports():
    args = _filter_args()
    filters, errors = _filters(args)
    page = report_query.list_reports(db(), filters, *requested_page(request.args))
    return render("reports.html", 422 if errors else 200, page=page, args=args, errors=errors,
                  statuses=STATUSES, categories=CATEGORIES, activity_types=ACTIVITY_TYPES,
                  units=units.list_units(db(), include_inactive=True),
                  query={k: v for k, v in args.items() if v or k == "status"})


@bp.get("/reports/export.<any(xlsx, csv):fmt>")
@reports_required
def export_reports(fmt: str):
    args = _filter_args()
    filters, errors = _filters(args)
    if errors:
        flash(next(iter(errors.values())), "error")
        return redirect(url_for("admin.reports", **args))
    file = exports.export_reports(db(), filters, fmt)
    audit.record(db(), current_admin(), "report.export", None,
                 {"filters": filters.to_dict(), "count": file.count, "format": fmt})
    db().commit()
    return export_response(file)


@bp.route("/reports/<int:report_id>", methods=["GET", "POST"])
@reports_required
def report_detail(report_id: int):
    report = report_service.get_report(db(), report_id)
    values, errors = {"reason": ""}, {}
    if request.method == "POST":
        values = {"reason": request.form.get("reason", ""), "action": request.form.get("action", "")}
        try:
            report = backoffice.review_report(db(), report_id, values, current_admin().username, clock.now())
        except DomainError as exc:
            db().rollback()
            errors = field_errors(exc)
            report = report_service.get_report(db(), report_id)
        else:
            audit.record(db(), current_admin(), f"report.{values['action']}", report,
                         {"receipt_no": report.receipt_no, "reason": report.review_reason})
            db().commit()
            flash(texts.REVIEWED[values["action"]].format(receipt=report.receipt_no), "ok")
            return redirect(url_for("admin.reports"))
    return _detail(report, values, errors)


RESUBMIT_FIELDS = ("category", "activity_type", "title", "activity_date", "place", "participants", "content")


def _detail(report, values: dict, errors: dict, fix: dict | None = None):
    """The detail page: review form while 待审核, fix-and-resubmit form (prefilled) while 已退回."""
    rejected = report.status == STATUS_REJECTED
    if fix is None and rejected:
        fix = {name: str(getattr(report, name)) for name in RESUBMIT_FIELDS}
    return render("report_detail.html", 422 if errors else 200, report=report, values=values, errors=errors,
                  pending=report.status == STATUS_PENDING, rejected=rejected, fix=fix or {},
                  categories=CATEGORIES, activity_types=ACTIVITY_TYPES)


@bp.post("/reports/<int:report_id>/resubmit")
@reports_required
def resubmit_report(report_id: int):
    """Fix a 已退回 report's fields and put it back to 待审核 under the same receipt number (a revision keeps the
    earlier submission and its rejection), as the liaison can with 修改 in WeChat."""
    fix = {name: request.form.get(name, "") for name in RESUBMIT_FIELDS}
    count = fix["participants"].strip()  # a form sends text; the check wants a number
    data = dict(fix, participants=int(count) if count.isdigit() else count)
    try:
        report = backoffice.resubmit_report(db(), report_id, data, current_admin().username, clock.now())
    except DomainError as exc:
        db().rollback()
        return _detail(report_service.get_report(db(), report_id), {"reason": ""}, field_errors(exc), fix)
    audit.record(db(), current_admin(), "report.resubmit", report, {"receipt_no": report.receipt_no})
    db().commit()
    flash(texts.RESUBMITTED.format(receipt=report.receipt_no), "ok")
    return redirect(url_for("admin.report_detail", report_id=report_id))


@bp.get("/reports/<int:report_id>/photos/<int:photo_id>")
@reports_required
def report_photo(report_id: int, photo_id: int):
    photo = db().get(ReportPhoto, photo_id)
    if photo is None or photo.report_id != report_id:
        abort(404)
    return stored_photo(runtime().settings.media_dir, photo.local_path)
