"""JSON shapes of units, staff and reports for the API (dates ISO 8601, datetimes in Asia/Shanghai)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from models.staff import Staff
from models.unit import Unit
from service.core.clock import local


def when(value: Optional[datetime]) -> Optional[str]:
    return local(value).isoformat() if value is not None else None


def unit(u: Unit) -> dict[str, Any]:
    return {"id": u.id, "name": u.name, "category": u.category, "contact": u.contact, "phone": u.phone,
            "is_extension": u.is_extension, "is_education_base": u.is_education_base, "active": u.active}


def staff(s: Staff) -> dict[str, Any]:
    return {"id": s.id, "unit_id": s.unit_id, "unit": s.unit.name, "name": s.name, "phone": s.phone,
            "bound": s.openid is not None, "bound_at": when(s.bound_at), "active": s.active}
