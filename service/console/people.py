"""Who an openid is, for lists: the bound staff member's name and unit, else a shortened openid (WeChat gives us no
nickname for followers, and none is stored). The full openid stays for hover and detail."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.staff import Staff

CHUNK = 500


@dataclass(frozen=True)
class Person:
    openid: str
    name: Optional[str] = None
    unit: Optional[str] = None

    @property
    def label(self) -> str:
        if self.name:
            return f"{self.name}（{self.unit}）" if self.unit else self.name
        return short_openid(self.openid)


def short_openid(openid: str) -> str:
    return openid if len(openid) <= 12 else f"{openid[:6]}…{openid[-4:]}"


def people(session: Session, openids: Iterable[str]) -> dict[str, Person]:
    wanted = list(dict.fromkeys(o for o in openids if o))
    found = {o: Person(o) for o in wanted}
    for start in range(0, len(wanted), CHUNK):
        for staff in session.scalars(select(Staff).where(Staff.openid.in_(wanted[start:start + CHUNK]))):
            found[staff.openid] = Person(staff.openid, staff.name, staff.unit.name if staff.unit else None)
    return found
