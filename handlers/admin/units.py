"""Units and staff (管理员 only): list, create, edit, deactivate; issue and revoke binding codes; who is bound.
Same `backoffice` functions as /api/v1/units and /api/v1/staff; the form's strings become the JSON types here."""
from __future__ import annotations

from typing import Any

from flask import request, url_for

from handlers.admin import admin_required, audited, bp, current_admin, field_errors, form_values, render
from models.unit import CATEGORIES
from service.app import db
from service.console import audit, backoffice, texts
from service.core import clock
from service.core.errors import DomainError
from service.core.paging import requested_page
from service.reporting import units

UNIT_TEXT = ["name", "category", "contact", "phone"]
UNIT_FLAGS = ["is_extension", "is_education_base"]
STAFF_TEXT = ["name", "phone"]


def _unit_data() -> tuple[dict[str, Any], dict[str, str]]:
    """(data for backoffice, values to re-show): checkboxes become booleans."""
    values = form_values(UNIT_TEXT)
    data: dict[str, Any] = dict(values)
    for flag in UNIT_FLAGS:
        data[flag] = request.form.get(flag) == "1"
        values[flag] = "1" if data[flag] else ""
    return data, values


def _staff_anchor(unit_id: int) -> str:
    return url_for("admin.unit_detail", unit_id=unit_id) + "#staff"


def _units_page(values=None, errors=None, status=200):
    """A page of units (all states) filtered by category and part of the name, each with its staff counts."""
    args = request.args
    shown = {"category": args.get("category", "") if args.get("category") in CATEGORIES else "",
             "q": args.get("q", "").strip()[:100]}
    page = units.units_page(db(), *requested_page(args), include_inactive=True, category=shown["category"] or None,
                            name=shown["q"])
    return render("units.html", status, page=page, staff_counts=units.staff_counts(db(), (u.id for u in page.items)),
                  categories=CATEGORIES, values=values or {}, errors=errors or {}, shown=shown,
                  query={key: value for key, value in shown.items() if value})


@bp.get("/units")
@admin_required
def units_list():
    return _units_page()


@bp.post("/units")
@admin_required
def create_unit():
    data, values = _unit_data()
    try:
        unit = backoffice.create_unit(db(), data)
    except DomainError as exc:
        db().rollback()
        return _units_page(values, field_errors(exc), 422)
    return audited("unit.create", unit, {"name": unit.name, "category": unit.category},
                   url_for("admin.unit_detail", unit_id=unit.id), texts.SAVED)


def _unit_page(unit, values=None, errors=None, staff_values=None, staff_errors=None, status=200, issued=None):
    unit_values = values or {"name": unit.name, "category": unit.category, "contact": unit.contact,
                             "phone": unit.phone, "is_extension": "1" if unit.is_extension else "",
                             "is_education_base": "1" if unit.is_education_base else ""}
    return render("unit_detail.html", status, unit=unit, categories=CATEGORIES, values=unit_values,
                  errors=errors or {}, staff=backoffice.list_staff(db(), unit.id, include_inactive=True),
                  staff_values=staff_values or {}, staff_errors=staff_errors or {}, issued=issued)


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@admin_required
def unit_detail(unit_id: int):
    unit = backoffice.get_unit(db(), unit_id)
    if request.method == "GET":
        return _unit_page(unit)
    data, values = _unit_data()
    try:
        unit = backoffice.update_unit(db(), unit_id, data)
    except DomainError as exc:
        db().rollback()
        return _unit_page(backoffice.get_unit(db(), unit_id), values, field_errors(exc), status=422)
    return audited("unit.update", unit, data, url_for("admin.unit_detail", unit_id=unit_id), texts.SAVED)


@bp.post("/units/<int:unit_id>/deactivate")
@admin_required
def deactivate_unit(unit_id: int):
    unit = backoffice.deactivate_unit(db(), unit_id)
    return audited("unit.deactivate", unit, {"name": unit.name}, url_for("admin.unit_detail", unit_id=unit_id),
                   texts.DEACTIVATED)


@bp.post("/units/<int:unit_id>/staff")
@admin_required
def create_staff(unit_id: int):
    unit = backoffice.get_unit(db(), unit_id)
    values = form_values(STAFF_TEXT)
    try:
        person = backoffice.create_staff(db(), {**values, "unit_id": unit.id})
    except DomainError as exc:
        db().rollback()
        return _unit_page(backoffice.get_unit(db(), unit_id), staff_values=values, staff_errors=field_errors(exc),
                          status=422)
    return audited("staff.create", person, {"name": person.name, "unit": unit.name}, _staff_anchor(unit_id), texts.SAVED)


@bp.route("/staff/<int:staff_id>", methods=["GET", "POST"])
@admin_required
def staff_detail(staff_id: int):
    person = backoffice.get_staff(db(), staff_id)
    values, errors = {"name": person.name, "phone": person.phone}, {}
    if request.method == "POST":
        values = form_values(STAFF_TEXT)
        try:
            person = backoffice.update_staff(db(), staff_id, values)
        except DomainError as exc:
            db().rollback()
            errors = field_errors(exc)
            person = backoffice.get_staff(db(), staff_id)
        else:
            return audited("staff.update", person, dict(values), _staff_anchor(person.unit_id), texts.SAVED)
    return render("staff_edit.html", 422 if errors else 200, person=person, values=values, errors=errors)


@bp.post("/staff/<int:staff_id>/deactivate")
@admin_required
def deactivate_staff(staff_id: int):
    person = backoffice.deactivate_staff(db(), staff_id)
    return audited("staff.deactivate", person, {"name": person.name}, _staff_anchor(person.unit_id), texts.DEACTIVATED)


@bp.post("/staff/<int:staff_id>/code")
@admin_required
def issue_code(staff_id: int):
    """The code is shown once, on this response; only its hash is stored."""
    issued = backoffice.issue_binding_code(db(), staff_id, clock.now())
    audit.record(db(), current_admin(), "binding.issue", issued.staff, {"name": issued.staff.name})
    db().commit()
    return _unit_page(issued.staff.unit, issued=issued)


@bp.post("/staff/<int:staff_id>/revoke")
@admin_required
def revoke_codes(staff_id: int):
    count = backoffice.revoke_binding_codes(db(), staff_id)
    person = backoffice.get_staff(db(), staff_id)
    return audited("binding.revoke", person, {"name": person.name, "revoked": count}, _staff_anchor(person.unit_id),
                   texts.CODES_REVOKED.format(count=count))


from handlers.admin import units_import  # noqa: E402,F401  bulk import lives beside the units page; its views join `bp`
