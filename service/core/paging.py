"""One page of any list the console or the API shows: every list is paged in SQL, none is loaded whole."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Generic, Mapping, Optional, Sequence, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from service.core.db import MAX_ROW_ID
from service.core.errors import InvalidInput

T = TypeVar("T")

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
BAD_PAGE = "页码必须是正整数"


def bad_per_page(limit: int) -> str:
    return f"每页条数必须在 1 到 {limit} 之间"


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return math.ceil(self.total / self.per_page) if self.total else 0


def check_page(page: int, per_page: int, max_per_page: int = MAX_PER_PAGE) -> None:
    """Refuse a page below 1 or a page size out of range, naming the field (422 in the API, a message in the console)."""
    if page < 1:
        raise InvalidInput(BAD_PAGE, "page")
    if not 1 <= per_page <= max_per_page:
        raise InvalidInput(bad_per_page(max_per_page), "per_page")


def _whole(value: Any, message: str, name: str, maximum: int = MAX_ROW_ID) -> Optional[int]:
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= maximum:
        raise InvalidInput(message, name)
    return int(text)


def requested_page(args: Mapping[str, Any], per_page: int = DEFAULT_PER_PAGE,
                   max_per_page: int = MAX_PER_PAGE) -> tuple[int, int]:
    """(page, per_page) from query arguments; absent ones take the defaults, anything else out of range is refused
    naming its field (a page beyond the last is simply empty)."""
    page = _whole(args.get("page"), BAD_PAGE, "page")
    size = _whole(args.get("per_page"), bad_per_page(max_per_page), "per_page", max_per_page)
    return page or 1, size or per_page


def paginate(session: Session, stmt: Select, page: int = 1, per_page: int = DEFAULT_PER_PAGE, *,
             total: Optional[int] = None, scalars: bool = True) -> Page:
    """Run `stmt` (already ordered) for one page; the total is counted over the same statement without its order.

    Pass `total` when it is known more cheaply; `scalars=False` returns rows instead of the first column.
    """
    check_page(page, per_page)
    if total is None:
        total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    result = session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    items = result.scalars().all() if scalars else result.all()
    return Page(items=items, total=total, page=page, per_page=per_page)
