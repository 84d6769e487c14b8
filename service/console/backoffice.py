"""Administrator operations behind the JSON API (and later the console): typed input checked field by field,
then handed to `units` and `reports`, whose errors come back as DomainErrors naming the field.

Invariant kept here: a report's unit is its staff member's unit. An administrator entering a report on behalf
of a staff member must name that member's own unit (else 403), and a staff member who already has reports cannot
be moved to another unit (409): deactivate them and add a new staff member to the new unit instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Optional

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from models.report import ACTIVITY_TYPES, ActivityReport
from models.staff import Staff
from models.unit import CATEGORIES, Unit
from service.core import params
from service.core.clock import local
from service.core.db import is_row_id
from service.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from service.core.paging import DEFAULT_PER_PAGE, Page, paginate
from service.reporting import reports, texts, units
from service.reporting.query import parse_date

ACTIONS = {"approve": True, "reject": False}
MAX_PARTICIPANTS = 100_000


# ---- typed field readers (JSON values) -----------------------------------------------------------------------
# `labels` names the fields in the messages (texts.FIELD_LABELS, or the unit's / staff's own table).

Labels = dict[str, str]


def text_field(data: Mapping[str, Any], name: str, limit: int, required: bool = False,
               labels: Labels = texts.FIELD_LABELS) -> Optional[str]:
    return params.parse_text(data.get(name), name, limit, required, labels)


def bool_field(data: Mapping[str, Any], name: str, labels: Labels = texts.FIELD_LABELS) -> Optional[bool]:
    if name not in data:
        return None
    if not isinstance(data[name], bool):
        raise InvalidInput(texts.bad_type(name, " true 或 false", labels), name)
    return data[name]


def int_field(data: Mapping[str, Any], name: str, required: bool = False, maximum: int = 2**31 - 1,
              labels: Labels = texts.FIELD_LABELS) -> Optional[int]:
    if name not in data or data[name] is None:
        if required:
            raise InvalidInput(texts.required(name, labels), name)
        return None
    value = data[name]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise InvalidInput(texts.bad_range(name, 0, maximum, labels), name)
    return value


def choice_field(data: Mapping[str, Any], name: str, options: tuple[str, ...], required: bool = False,
                 labels: Labels = texts.FIELD_LABELS) -> Optional[str]:
    value = data.get(name)
    if (required and value is None) or (isinstance(value, str) and not value.strip()):  # the form's 请选择
        raise InvalidInput(texts.choose(name, options, labels), name)
    value = text_field(data, name, 32, required, labels)
    if value is not None and value not in options:
        raise InvalidInput(texts.bad_choice(name, options, labels), name)
    return value


def existing_unit(session: Session, unit_id: Any, field: str = "unit_id") -> Unit:
    unit = session.get(Unit, unit_id) if is_row_id(unit_id) else None
    if unit is None:
        raise InvalidInput(texts.UNKNOWN_UNIT, field)
    return unit


def _present(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


UNIT_FIELDS = ("name", "category", "contact", "phone", "is_extension", "is_education_base", "active")
STAFF_FIELDS = ("name", "phone", "active", "unit_id")


def submitted(data: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The known fields of a change as submitted, for its audit entry (unknown keys are not kept)."""
    return {name: data[name] for name in names if name in data}


# ---- units ---------------------------------------------------------------------------------------------------

def get_unit(session: Session, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(texts.UNKNOWN_UNIT, "unit_id")
    return unit


def _unit_changes(data: Mapping[str, Any], creating: bool) -> dict[str, Any]:
    labels = texts.UNIT_LABELS
    return _present(name=text_field(data, "name", 100, required=creating, labels=labels),
                    category=choice_field(data, "category", CATEGORIES, required=creating, labels=labels),
                    contact=text_field(data, "contact", 50, labels=labels),
                    phone=text_field(data, "phone", 32, labels=labels),
                    is_extension=bool_field(data, "is_extension", labels),
                    is_education_base=bool_field(data, "is_education_base", labels),
                    active=bool_field(data, "active", labels))


def _unit_error(exc: units.UnitError) -> Exception:
    """The unit checks left after ours: a name taken is a conflict, the rest (name, phone) invalid input."""
    return Conflict(exc.message, exc.field) if isinstance(exc, units.NameTaken) else exc


def create_unit(session: Session, data: Mapping[str, Any]) -> Unit:
    changes = _unit_changes(data, creating=True)
    active = changes.pop("active", True)
    try:
        unit = units.create_unit(session, **changes)
    except units.UnitError as exc:
        raise _unit_error(exc) from None
    unit.active = active
    return unit


def update_unit(session: Session, unit_id: int, data: Mapping[str, Any]) -> Unit:
    get_unit(session, unit_id)
    try:
        return units.update_unit(session, unit_id, **_unit_changes(data, creating=False))
    except units.UnitError as exc:
        raise _unit_error(exc) from None


def deactivate_unit(session: Session, unit_id: int) -> Unit:
    get_unit(session, unit_id)
    return units.deactivate_unit(session, unit_id)


def _staff(session: Session, unit_id: Optional[int], include_inactive: bool) -> Select:
    stmt = select(Staff).order_by(Staff.unit_id, Staff.id)
    if unit_id is not None:
        stmt = stmt.where(Staff.unit_id == get_unit(session, unit_id).id)
    if not include_inactive:
        stmt = stmt.where(Staff.active.is_(True))
    return stmt


def list_staff(session: Session, unit_id: int, include_inactive: bool = False) -> list[Staff]:
    """One unit's staff (a handful); all staff are listed a page at a time with `staff_page`."""
    return list(session.scalars(_staff(session, unit_id, include_inactive)))


def staff_page(session: Session, page: int = 1, per_page: int = DEFAULT_PER_PAGE, *, unit_id: Optional[int] = None,
               include_inactive: bool = False) -> Page[Staff]:
    return paginate(session, _staff(session, unit_id, include_inactive), page, per_page)


# ---- staff ---------------------------------------------------------------------------------------------------

def get_staff(session: Session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(texts.UNKNOWN_STAFF, "staff_id")
    return staff


def create_staff(session: Session, data: Mapping[str, Any]) -> Staff:
    unit = existing_unit(session, data.get("unit_id"))
    name = text_field(data, "name", 50, required=True, labels=texts.STAFF_LABELS)
    assert name is not None
    return units.create_staff(session, unit.id, name, text_field(data, "phone", 32, labels=texts.STAFF_LABELS) or "")


def update_staff(session: Session, staff_id: int, data: Mapping[str, Any]) -> Staff:
    staff = get_staff(session, staff_id)
    labels = texts.STAFF_LABELS
    changes = _present(name=text_field(data, "name", 50, labels=labels),
                       phone=text_field(data, "phone", 32, labels=labels), active=bool_field(data, "active", labels))
    if "name" in data and not changes.get("name"):
        raise InvalidInput(texts.required("name", labels), "name")
    if "unit_id" in data:
        unit = existing_unit(session, data["unit_id"])
        if unit.id != staff.unit_id:
            has_reports = session.scalar(select(func.count()).select_from(ActivityReport)
                                         .where(ActivityReport.staff_id == staff.id))
            if has_reports:
                raise Conflict(texts.REPORTS_EXIST, "unit_id")
            changes["unit_id"] = unit.id
    staff = units.update_staff(session, staff.id, **changes)
    session.refresh(staff)  # reload the joined unit after a move
    return staff


def deactivate_staff(session: Session, staff_id: int) -> Staff:
    return units.deactivate_staff(session, get_staff(session, staff_id).id)


@dataclass(frozen=True)
class IssuedCode:
    staff: Staff
    code: str
    expires_at: datetime


def issue_binding_code(session: Session, staff_id: int, now: datetime) -> IssuedCode:
    staff = get_staff(session, staff_id)
    try:
        code = units.issue_binding_code(session, staff.id, now)
    except units.UnitError as exc:
        raise Conflict(str(exc), "staff_id") from None
    return IssuedCode(staff, code, now + units.CODE_TTL)


def revoke_binding_codes(session: Session, staff_id: int) -> int:
    return units.revoke_binding_codes(session, get_staff(session, staff_id).id)


# ---- reports -------------------------------------------------------------------------------------------------

def create_report(session: Session, data: Mapping[str, Any], now: datetime) -> ActivityReport:
    """Enter a report on behalf of a staff member (e.g. one handed in on paper); it starts 待审核 like any other.

    Every field is checked before anything is written; the staff member must belong to the named unit (403).
    """
    unit = existing_unit(session, data.get("unit_id"))
    staff = session.get(Staff, data["staff_id"]) if is_row_id(data.get("staff_id")) else None
    if staff is None:
        raise InvalidInput(texts.UNKNOWN_STAFF, "staff_id")
    if staff.unit_id != unit.id:
        raise Forbidden(texts.STAFF_OTHER_UNIT, "staff_id")
    draft = _report_fields(data, now)
    if not staff.active or not unit.active:
        raise Conflict(texts.INACTIVE, "staff_id")
    return reports.submit(session, staff, staff.openid or "", draft, now)


def _report_fields(data: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A report's own fields from a form or JSON body, as a report_flow draft dict; every field is checked."""
    # `activity_date`, as reports are read back; `date` is the older name and still accepted
    date_field = "date" if "date" in data and "activity_date" not in data else "activity_date"
    activity_date = parse_date(text_field(data, date_field, 10, required=True), date_field)
    assert activity_date is not None
    if activity_date > local(now).date():
        raise InvalidInput(texts.FUTURE_DATE, date_field)
    return {
        "category": choice_field(data, "category", CATEGORIES, required=True),
        "activity_type": choice_field(data, "activity_type", ACTIVITY_TYPES, required=True),
        "title": text_field(data, "title", 50, required=True),
        "date": activity_date.isoformat(),
        "place": text_field(data, "place", 100, required=True),
        "participants": int_field(data, "participants", required=True, maximum=MAX_PARTICIPANTS),
        "content": text_field(data, "content", 2000, required=True),
    }


def resubmit_report(session: Session, report_id: int, data: Mapping[str, Any], admin: str,
                    now: datetime) -> ActivityReport:
    """An administrator fixes the fields of a 已退回 report and puts it back to 待审核 under the same receipt
    number (the earlier submission and its rejection are kept as a revision); photos and location stay."""
    report = reports.get_report(session, report_id)
    draft = reports.draft_of(report, report.unit.category) | _report_fields(data, now)
    return reports.resubmit(session, report.id, draft, admin, now)


def review_report(session: Session, report_id: int, data: Mapping[str, Any], reviewer: str,
                  now: datetime) -> ActivityReport:
    """Approve or reject (a reason is required) a 待审核 report; the reporter's result notice is queued."""
    action = data.get("action")
    if not isinstance(action, str) or action not in ACTIONS:  # a list or an object is not hashable
        raise InvalidInput(texts.BAD_ACTION, "action")
    return reports.review(session, report_id, ACTIONS[action], reviewer, now, text_field(data, "reason", 500) or "")
