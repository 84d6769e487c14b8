"""/api/v1 routes for units, staff (binding codes) and report review; thin views over service.units/reports."""
from __future__ import annotations

from flask import g, jsonify

from handlers.api import admin_only, bp, json_body
from service import clock, reports, units
from service.app import db
from service.errors import InvalidInput


def _text(body: dict, name: str, required: bool = True) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidInput(f"{name} 必须是非空字符串", name)
    return value


def _flag(body: dict, name: str) -> bool:
    value = body.get(name, False)
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} 必须是 true 或 false", name)
    return value


def _unit_json(unit) -> dict:
    return {"id": unit.id, "name": unit.name, "category": unit.category, "contact": unit.contact,
            "phone": unit.phone, "is_extension": unit.is_extension, "is_education_base": unit.is_education_base,
            "active": unit.active}


@bp.post("/units")
@admin_only
def create_unit():
    body = json_body()
    unit = units.create_unit(db(), _text(body, "name"), _text(body, "category"),
                             contact=_text(body, "contact", False), phone=_text(body, "phone", False),
                             is_extension=_flag(body, "is_extension"),
                             is_education_base=_flag(body, "is_education_base"))
    db().commit()
    return jsonify(_unit_json(unit)), 201


@bp.post("/staff")
@admin_only
def create_staff():
    body = json_body()
    unit_id = body.get("unit_id")
    if not isinstance(unit_id, int):
        raise InvalidInput("unit_id 必须是整数", "unit_id")
    staff = units.create_staff(db(), unit_id, _text(body, "name"), _text(body, "phone", False))
    db().commit()
    return jsonify(id=staff.id, unit_id=staff.unit_id, name=staff.name, phone=staff.phone, bound=False), 201


@bp.post("/staff/<int:staff_id>/binding-code")
@admin_only
def issue_binding_code(staff_id: int):
    """The plain code is in this answer only; hand it to the staff member, who sends `绑定 CODE`."""
    now = clock.now()
    code = units.issue_binding_code(db(), staff_id, now)
    db().commit()
    return jsonify(staff_id=staff_id, code=code, expires_at=(now + units.CODE_TTL).isoformat()), 201


@bp.get("/reports/<int:report_id>")
def get_report(report_id: int):
    return jsonify(reports.report_dict(reports.get_report(db(), report_id)))


@bp.post("/reports/<int:report_id>/review")
def review_report(report_id: int):
    """Body: {"action": "approve"} or {"action": "reject", "reason": "..."}; reviewers and admins may review."""
    body = json_body()
    action = body.get("action")
    if action not in ("approve", "reject"):
        raise InvalidInput("action 必须是 approve 或 reject", "action")
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise InvalidInput("reason 必须是字符串", "reason")
    report = reports.review(db(), report_id, action == "approve", g.api_user.username, clock.now(), reason)
    db().commit()
    return jsonify(reports.report_dict(report))
