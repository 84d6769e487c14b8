"""Bulk import of units and staff (管理员 only): the template, a dry run of an uploaded file, then apply.

The dry run writes nothing; its page carries the file back (base64, in a hidden field) so 确认导入 applies exactly
the bytes that were checked, re-checked against the database of that moment. Applying answers with the binding-code
sheet of the new staff at once (printable, or as .xlsx posted back from that page): the codes are never stored.
"""
from __future__ import annotations

import base64
import binascii
from urllib.parse import quote

from flask import Response, request

from handlers.admin import admin_required, bp, current_admin, render, upload_limit
from service.app import db
from service.console import bulk_import
from service.core import clock
from service.core.errors import InvalidInput

ROOM = 64 * 1024  # the other form fields
UPLOAD_LIMIT = bulk_import.MAX_BYTES + ROOM
APPLY_LIMIT = bulk_import.MAX_BYTES * 4 // 3 + ROOM  # the file as base64


def _download(content: bytes, filename: str) -> Response:
    return Response(content, mimetype=bulk_import.XLSX_MIMETYPE, headers={
        "Content-Disposition": f"attachment; filename=import.xlsx; filename*=UTF-8''{quote(filename)}"})


def _page(status: int = 200, **context):
    return render("units_import.html", status, limits=(bulk_import.MAX_BYTES // (1024 * 1024), bulk_import.MAX_ROWS),
                  unit_columns=list(bulk_import.UNIT_COLUMNS), staff_columns=list(bulk_import.STAFF_COLUMNS),
                  neutral=bulk_import.neutral, **context)


@bp.get("/units/import")
@admin_required
def units_import():
    return _page()


@bp.get("/units/import/template.xlsx")
@admin_required
def units_import_template():
    return _download(bulk_import.template_xlsx(), "单位与人员导入模板.xlsx")


@bp.post("/units/import")
@admin_required
@upload_limit(UPLOAD_LIMIT)
def units_import_preview():
    upload = request.files.get("file")
    filename = (upload.filename or "") if upload else ""
    data = upload.read(bulk_import.MAX_BYTES + 1) if upload else b""
    try:
        plan = bulk_import.plan_import(db(), bulk_import.read_tables(filename, data))
    except InvalidInput as exc:
        return _page(422, error=exc.message)
    finally:
        db().rollback()  # a dry run: nothing is kept
    return _page(200 if not plan.errors else 422, plan=plan, filename=filename,
                 payload=base64.b64encode(data).decode("ascii") if plan.ok and plan.has_changes else "")


@bp.post("/units/import/apply")
@admin_required
@upload_limit(APPLY_LIMIT)
def units_import_apply():
    filename = request.form.get("filename", "")[:200]
    try:
        data = base64.b64decode(request.form.get("payload", ""), validate=True)
        result = bulk_import.apply_import(db(), filename, data, current_admin(), clock.now(),
                                          issue_codes=request.form.get("issue_codes") == "1")
    except (InvalidInput, binascii.Error) as exc:
        db().rollback()
        return _page(422, error=exc.message if isinstance(exc, InvalidInput) else bulk_import.NO_FILE)
    db().commit()
    return render("units_import_done.html", result=result, counts=result.plan.counts,
                  rows=bulk_import.code_rows(result.codes), neutral=bulk_import.neutral,
                  issued_at=clock.now())


@bp.post("/units/import/codes.xlsx")
@admin_required
def units_import_codes():
    """The sheet on the page just shown, as .xlsx: the rows come back from that page (nothing stored has them)."""
    columns = [request.form.getlist(name) for name in ("name", "unit", "code", "expires")]
    rows = [list(row) for row in zip(*columns)][:bulk_import.MAX_ROWS]
    return _download(bulk_import.codes_xlsx(rows), f"绑定码-{clock.now():%Y%m%d-%H%M}.xlsx")
