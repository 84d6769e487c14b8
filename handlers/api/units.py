"""/api/v1/units and /api/v1/staff: CRUD, deactivation and one-time binding codes (管理员 only)."""
from __future__ import annotations

from flask import jsonify, request

from handlers.api import admin_only, bp, json_body, paged, saved, serialize as out
from models.unit import CATEGORIES
from service.app import db
from service.console import backoffice
from service.core import clock
from service.core.paging import requested_page
from service.reporting import query as report_query, units


def _include_inactive() -> bool:
    return request.args.get("include_inactive", "").lower() in {"1", "true", "yes"}


@bp.get("/units")
@admin_only
def list_units():
    args = request.args
    page = units.units_page(db(), *requested_page(args), include_inactive=_include_inactive(),
                            category=report_query.choice(args.get("category"), CATEGORIES, "category"),
                            name=str(args.get("q") or "").strip()[:100])
    return jsonify(paged([out.unit(u) for u in page.items], page))


@bp.post("/units")
@admin_only
def create_unit():
    unit = backoffice.create_unit(db(), json_body())
    return saved(out.unit(unit), 201, "unit.create", unit, {"name": unit.name, "category": unit.category})


@bp.get("/units/<int:unit_id>")
@admin_only
def get_unit(unit_id: int):
    unit = backoffice.get_unit(db(), unit_id)
    return jsonify(out.unit(unit) | {"staff": [out.staff(s) for s in backoffice.list_staff(db(), unit.id, True)]})


@bp.patch("/units/<int:unit_id>")
@admin_only
def update_unit(unit_id: int):
    data = json_body()
    return saved(out.unit(backoffice.update_unit(db(), unit_id, data)), 200, "unit.update", ("unit", unit_id),
                 backoffice.submitted(data, backoffice.UNIT_FIELDS))


@bp.delete("/units/<int:unit_id>")
@admin_only
def deactivate_unit(unit_id: int):
    unit = backoffice.deactivate_unit(db(), unit_id)
    return saved(out.unit(unit), 200, "unit.deactivate", unit, {"name": unit.name})


@bp.get("/staff")
@admin_only
def list_staff():
    unit_id = report_query.parse_int(request.args.get("unit_id"), "unit_id")
    page = backoffice.staff_page(db(), *requested_page(request.args), unit_id=unit_id,
                                 include_inactive=_include_inactive())
    return jsonify(paged([out.staff(s) for s in page.items], page))


@bp.post("/staff")
@admin_only
def create_staff():
    person = backoffice.create_staff(db(), json_body())
    return saved(out.staff(person), 201, "staff.create", person, {"name": person.name, "unit": person.unit.name})


@bp.get("/staff/<int:staff_id>")
@admin_only
def get_staff(staff_id: int):
    return jsonify(out.staff(backoffice.get_staff(db(), staff_id)))


@bp.patch("/staff/<int:staff_id>")
@admin_only
def update_staff(staff_id: int):
    data = json_body()
    return saved(out.staff(backoffice.update_staff(db(), staff_id, data)), 200, "staff.update", ("staff", staff_id),
                 backoffice.submitted(data, backoffice.STAFF_FIELDS))


@bp.delete("/staff/<int:staff_id>")
@admin_only
def deactivate_staff(staff_id: int):
    person = backoffice.deactivate_staff(db(), staff_id)
    return saved(out.staff(person), 200, "staff.deactivate", person, {"name": person.name})


@bp.post("/staff/<int:staff_id>/binding-code")
@admin_only
def issue_binding_code(staff_id: int):
    """The plain code is in this answer only; the database keeps its hash."""
    issued = backoffice.issue_binding_code(db(), staff_id, clock.now())
    return saved({"staff_id": issued.staff.id, "code": issued.code, "expires_at": out.when(issued.expires_at)}, 201,
                 "binding.issue", issued.staff, {"name": issued.staff.name})


@bp.delete("/staff/<int:staff_id>/binding-code")
@admin_only
def revoke_binding_code(staff_id: int):
    count = backoffice.revoke_binding_codes(db(), staff_id)
    return saved({"staff_id": staff_id, "revoked": count}, 200, "binding.revoke", ("staff", staff_id),
                 {"revoked": count})
