"""Units taking part in the 七进 campaign (an office, a company, a community...), each in one 七进 category."""
from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TimestampMixin

# The seven 七进 categories, in the campaign's order; their 1-based position is the number users reply with.
CATEGORIES: tuple[str, ...] = ("机关", "企业", "社区", "乡镇", "学校", "连队", "宗教活动场所")


class Unit(TimestampMixin, Base):
    """A unit; `is_extension` marks a 延伸拓展单位 and `is_education_base` a 教育基地 (both weigh in compliance)."""

    __tablename__ = "unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    category: Mapped[str] = mapped_column(String(16), index=True)  # one of CATEGORIES
    contact: Mapped[str] = mapped_column(String(50), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    is_extension: Mapped[bool] = mapped_column(default=False)
    is_education_base: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
