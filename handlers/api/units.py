"""/api/v1/units and /api/v1/staff: CRUD, deactivation and one-time binding codes (管理员 only)."""
from __future__ import annotations

from flask import jsonify, request

from handlers.api import admin_only, bp, json_body
from handlers.api import serialize as out
from service.console import backoffice
from service.core import clock
from service.reporting import units
from service.app import db


def _include_inactive() -> bool:
    return request.args.get("include_inactive", "").lower() in {"1", "true", "yes"}


def _saved(payload, status: int = 200):
    db().commit()
    return jsonify(payload), status


@bp.get("/units")
@admin_only
def list_units():
    return jsonify(items=[out.unit(u) for u in units.list_units(db(), include_inactive=_include_inactive())])


@bp.post("/units")
@admin_only
def create_unit():
    return _saved(out.unit(backoffice.create_unit(db(), json_body())), 201)


@bp.get("/units/<int:unit_id>")
@admin_only
def get_unit(unit_id: int):
    unit = backoffice.get_unit(db(), unit_id)
    return jsonify(out.unit(unit) | {"staff": [out.staff(s) for s in backoffice.list_staff(db(), unit.id, True)]})


@bp.patch("/units/<int:unit_id>")
@admin_only
def update_unit(unit_id: int):
    return _saved(out.unit(backoffice.update_unit(db(), unit_id, json_body())))


@bp.delete("/units/<int:unit_id>")
@admin_only
def deactivate_unit(unit_id: int):
    return _saved(out.unit(backoffice.deactivate_unit(db(), unit_id)))


@bp.get("/staff")
@admin_only
def list_staff():
    unit_id = request.args.get("unit_id", type=int)
    return jsonify(items=[out.staff(s) for s in backoffice.list_staff(db(), unit_id, _include_inactive())])


@bp.post("/staff")
@admin_only
def create_staff():
    return _saved(out.staff(backoffice.create_staff(db(), json_body())), 201)


@bp.get("/staff/<int:staff_id>")
@admin_only
def get_staff(staff_id: int):
    return jsonify(out.staff(backoffice.get_staff(db(), staff_id)))


@bp.patch("/staff/<int:staff_id>")
@admin_only
def update_staff(staff_id: int):
    return _saved(out.staff(backoffice.update_staff(db(), staff_id, json_body())))


@bp.delete("/staff/<int:staff_id>")
@admin_only
def deactivate_staff(staff_id: int):
    return _saved(out.staff(backoffice.deactivate_staff(db(), staff_id)))


@bp.post("/staff/<int:staff_id>/binding-code")
@admin_only
def issue_binding_code(staff_id: int):
    """The plain code is in this answer only; the database keeps its hash."""
    issued = backoffice.issue_binding_code(db(), staff_id, clock.now())
    return _saved({"staff_id": issued.staff.id, "code": issued.code, "expires_at": out.when(issued.expires_at)}, 201)


@bp.delete("/staff/<int:staff_id>/binding-code")
@admin_only
def revoke_binding_code(staff_id: int):
    return _saved({"staff_id": staff_id, "revoked": backoffice.revoke_binding_codes(db(), staff_id)})
