"""Units and their staff, and binding a staff member's WeChat openid with a one-time code.

Binding: an administrator calls `issue_binding_code` and hands the code over (phone, in person); the staff member
sends `绑定 CODE`. Only the code's SHA-256 is stored. Every failed try is recorded, and an openid with
`MAX_FAILED_BINDS` failures within the last hour is refused until the oldest of them is an hour old.
"""
from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Optional, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from models.staff import BindingAttempt, BindingCode, Staff
from models.unit import CATEGORIES, Unit
from service.core import audit
from service.core.clock import local
from service.core.errors import InvalidInput, NotFound
from service.core.paging import DEFAULT_PER_PAGE, Page, paginate
from service.core.phone import parse_phone
from service.reporting import texts

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: codes are read out over the phone
CODE_LENGTH = 8
CODE_TTL = timedelta(days=7)
MAX_FAILED_BINDS = 5
LOCK_WINDOW = timedelta(hours=1)
T = TypeVar("T")


class UnitError(InvalidInput):
    """Invalid unit or staff data (unknown category, bad phone...); the message is Chinese, `field` names the input."""


class NameTaken(UnitError):
    """Another unit already has this name."""


# --- phone numbers -------------------------------------------------------------------------------------------

def normalise_phone(text: str, labels: dict[str, str] = texts.FIELD_LABELS) -> str:
    """A unit's or staff member's phone in its stored form (service/core/phone.py); anything that is not a phone
    number is refused naming the field (`phone`) in Chinese."""
    number = parse_phone(text)
    if number is None:
        raise UnitError(texts.bad_phone("phone", labels), "phone")
    return number


# --- units ---------------------------------------------------------------------------------------------------

UNIT_FIELDS = {"name", "category", "contact", "phone", "is_extension", "is_education_base", "active"}


def _check_unit(session: Session, name: str, category: str, unit_id: Optional[int] = None) -> None:
    if not name or len(name) > 100:
        raise UnitError(texts.UNIT_NAME, "name")
    if category not in CATEGORIES:
        raise UnitError(texts.bad_choice("category", CATEGORIES), "category")
    clash = session.scalar(select(Unit.id).where(Unit.name == name, Unit.id != (unit_id or 0)))
    if clash is not None:
        raise NameTaken(texts.unit_exists(name), "name")


def create_unit(session: Session, name: str, category: str, contact: str = "", phone: str = "",
                is_extension: bool = False, is_education_base: bool = False) -> Unit:
    name = name.strip()
    _check_unit(session, name, category)
    unit = Unit(name=name, category=category, contact=contact.strip(), phone=normalise_phone(phone, texts.UNIT_LABELS),
                is_extension=is_extension, is_education_base=is_education_base, active=True)
    session.add(unit)
    session.flush()
    return unit


def _get(session: Session, model: type[T], row_id: int) -> T:
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"没有编号为 {row_id} 的{'单位' if model is Unit else '工作人员'}")
    return row


def _only(changes: dict[str, Any], allowed: set[str]) -> None:
    unknown = set(changes) - allowed
    if unknown:
        raise UnitError(texts.unknown_fields(sorted(unknown)))


def get_unit(session: Session, unit_id: int) -> Unit:
    return _get(session, Unit, unit_id)


def update_unit(session: Session, unit_id: int, **changes: Any) -> Unit:
    """Change any of UNIT_FIELDS; the name stays unique and the category one of the seven."""
    _only(changes, UNIT_FIELDS)
    unit = get_unit(session, unit_id)
    name = str(changes.get("name", unit.name)).strip()
    _check_unit(session, name, changes.get("category", unit.category), unit.id)
    if "phone" in changes:
        changes["phone"] = normalise_phone(changes["phone"], texts.UNIT_LABELS)
    for key, value in changes.items():
        setattr(unit, key, name if key == "name" else value)
    session.flush()
    return unit


def deactivate_unit(session: Session, unit_id: int) -> Unit:
    """Hide the unit from new reports; its staff can no longer report. History is kept."""
    return update_unit(session, unit_id, active=False)


def _units(include_inactive: bool, category: Optional[str] = None, name: str = "") -> Select:
    stmt = select(Unit).order_by(Unit.category, Unit.name, Unit.id)
    if not include_inactive:
        stmt = stmt.where(Unit.active.is_(True))
    if category:
        stmt = stmt.where(Unit.category == category)
    if name:
        stmt = stmt.where(Unit.name.contains(name, autoescape=True))
    return stmt


def list_units(session: Session, include_inactive: bool = False) -> list[Unit]:
    """Every unit, for choosing one (forms, filters); pages list them with `units_page`."""
    return list(session.scalars(_units(include_inactive)))


def units_page(session: Session, page: int = 1, per_page: int = DEFAULT_PER_PAGE, *, include_inactive: bool = False,
               category: Optional[str] = None, name: str = "") -> Page[Unit]:
    """One page of units by category and name; `name` is a part of the name."""
    return paginate(session, _units(include_inactive, category, name), page, per_page)


def staff_counts(session: Session, unit_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """Active staff per unit and how many of them are bound to a WeChat account, in one query."""
    rows = session.execute(select(Staff.unit_id, func.count(), func.count(Staff.openid))
                           .where(Staff.unit_id.in_(list(unit_ids)), Staff.active.is_(True))
                           .group_by(Staff.unit_id))
    return {unit_id: (total, bound) for unit_id, total, bound in rows}


# --- staff ---------------------------------------------------------------------------------------------------

def create_staff(session: Session, unit_id: int, name: str, phone: str = "") -> Staff:
    unit = get_unit(session, unit_id)
    name = name.strip()
    if not name or len(name) > 50:
        raise UnitError(texts.STAFF_NAME, "name")
    staff = Staff(unit_id=unit.id, name=name, phone=normalise_phone(phone, texts.STAFF_LABELS), active=True)
    session.add(staff)
    session.flush()
    return staff


def get_staff(session: Session, staff_id: int) -> Staff:
    return _get(session, Staff, staff_id)


def update_staff(session: Session, staff_id: int, **changes: Any) -> Staff:
    """Change name, phone, unit_id or active."""
    _only(changes, {"name", "phone", "unit_id", "active"})
    staff = get_staff(session, staff_id)
    if "unit_id" in changes:
        get_unit(session, changes["unit_id"])
    if "name" in changes and not str(changes["name"]).strip():
        raise UnitError(texts.STAFF_NAME, "name")
    if "phone" in changes:
        changes["phone"] = normalise_phone(changes["phone"], texts.STAFF_LABELS)
    for key, value in changes.items():
        setattr(staff, key, value.strip() if isinstance(value, str) else value)
    session.flush()
    return staff


def deactivate_staff(session: Session, staff_id: int) -> Staff:
    """Stop the staff member from reporting: unbind the openid and revoke unused codes."""
    staff = get_staff(session, staff_id)
    staff.active = False
    staff.openid = None
    revoke_binding_codes(session, staff.id)
    session.flush()
    return staff


def staff_for_openid(session: Session, openid: str) -> Optional[Staff]:
    """The active staff member of an active unit bound to `openid`, or None."""
    return session.scalar(
        select(Staff).join(Unit, Staff.unit_id == Unit.id)
        .where(Staff.openid == openid, Staff.active.is_(True), Unit.active.is_(True))
    )


# --- binding -------------------------------------------------------------------------------------------------

def normalise_code(code: str) -> str:
    """What the user typed, as stored: full-width to ASCII, upper case, spaces and dashes dropped."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", code).upper() if ch.isalnum())


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode("ascii", "ignore")).hexdigest()


def issue_binding_code(session: Session, staff_id: int, now: datetime) -> str:
    """A new one-time code (valid CODE_TTL) for the staff member; older unused codes are revoked.

    The plain code is returned once and never stored.
    """
    staff = get_staff(session, staff_id)
    if not staff.active:
        raise UnitError(texts.STAFF_INACTIVE)
    revoke_binding_codes(session, staff.id)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    session.add(BindingCode(code_hash=hash_code(code), staff_id=staff.id, created_at=now, expires_at=now + CODE_TTL))
    session.flush()
    return code


def revoke_binding_codes(session: Session, staff_id: int) -> int:
    result = session.execute(
        update(BindingCode).where(BindingCode.staff_id == staff_id, BindingCode.used_at.is_(None),
                                  BindingCode.revoked.is_(False))
        .values(revoked=True).execution_options(synchronize_session=False))
    return result.rowcount or 0


@dataclass
class BindResult:
    """`staff` on success; otherwise `reason`: locked, wrong, used, expired, revoked, inactive or other_staff
    (then `bound_to` is the staff member this openid is already bound to)."""

    staff: Optional[Staff] = None
    reason: str = ""
    bound_to: Optional[Staff] = None

    @property
    def ok(self) -> bool:
        return self.staff is not None


def is_locked(session: Session, openid: str, now: datetime) -> bool:
    failures = session.scalar(select(func.count()).select_from(BindingAttempt).where(
        BindingAttempt.openid == openid, BindingAttempt.attempted_at > now - LOCK_WINDOW))
    return (failures or 0) >= MAX_FAILED_BINDS


def bind(session: Session, openid: str, code: str, now: datetime) -> BindResult:
    """Link `openid` to the staff member the code was issued for.

    Failures are *recorded* (a BindingAttempt row) and returned, not raised, so the caller commits the record.
    A refused (locked) try is not recorded, so the lock lifts an hour after the failures, however often the user
    keeps trying. The code is claimed with a compare-and-set, so two users racing for one code cannot both win.
    """
    if is_locked(session, openid, now):
        return BindResult(reason="locked")
    row = session.scalar(select(BindingCode).where(BindingCode.code_hash == hash_code(code)))
    reason = _code_problem(row, now)
    if reason:
        session.add(BindingAttempt(openid=openid, attempted_at=now, reason=reason))
        session.flush()
        return BindResult(reason=reason)
    assert row is not None
    staff = get_staff(session, row.staff_id)
    if not staff.active or not staff.unit.active:
        return BindResult(reason="inactive")
    current = staff_for_openid(session, openid) or session.scalar(select(Staff).where(Staff.openid == openid))
    if current is not None and current.id != staff.id:
        return BindResult(reason="other_staff", bound_to=current)
    claimed = session.execute(
        update(BindingCode).where(BindingCode.id == row.id, BindingCode.used_at.is_(None))
        .values(used_at=now, used_by_openid=openid).execution_options(synchronize_session=False))
    if claimed.rowcount != 1:
        session.add(BindingAttempt(openid=openid, attempted_at=now, reason="used"))
        session.flush()
        return BindResult(reason="used")
    staff.openid = openid
    staff.bound_at = now
    audit.record(session, staff.name, "binding.bind", staff, {"name": staff.name, "unit": staff.unit.name})
    session.flush()
    return BindResult(staff)


def _code_problem(row: Optional[BindingCode], now: datetime) -> str:
    if row is None:
        return "wrong"
    if row.used_at is not None:
        return "used"
    if row.revoked:
        return "revoked"
    if local(row.expires_at) <= now:
        return "expired"
    return ""
