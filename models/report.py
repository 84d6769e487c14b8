"""Activity reports sent by staff, their photos (downloaded from WeChat in the background) and result notices."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional

from sqlalchemy import DDL, JSON, ForeignKey, Index, String, Text, event, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.media import ReceivedPhoto
from models.staff import Staff
from models.unit import Unit

STATUS_PENDING = "待审核"
STATUS_APPROVED = "已通过"
STATUS_REJECTED = "已退回"
STATUSES: tuple[str, ...] = (STATUS_PENDING, STATUS_APPROVED, STATUS_REJECTED)

ACTIVITY_TYPES: tuple[str, ...] = ("专题学习", "研究部署", "宣传教育", "文体活动", "走访慰问", "志愿服务", "联创共建",
                                   "公益帮扶", "其他")


class ActivityReport(Base):
    """A submitted 七进 activity. Created whole from a confirmed draft, never half-written.

    `category` is the 七进 category the activity counts for (may differ from the unit's own), `receipt_no` is
    `QJ` + submit date (YYYYMMDD) + a 4-digit daily sequence, e.g. QJ202611200001.
    """

    __tablename__ = "activity_report"
    # Every column compliance and statistics group or filter by, so their GROUP BYs read this index alone.
    __table_args__ = (Index("ix_activity_report_tally", "activity_date", "status", "unit_id", "activity_type",
                            "category", "participants"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_no: Mapped[str] = mapped_column(String(20), unique=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(16), index=True)
    activity_type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(50))
    activity_date: Mapped[date] = mapped_column(index=True)
    place: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[Optional[float]]
    longitude: Mapped[Optional[float]]
    participants: Mapped[int]
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default=STATUS_PENDING, index=True)
    review_reason: Mapped[str] = mapped_column(String(500), default="")
    reviewed_by: Mapped[str] = mapped_column(String(64), default="")
    reviewed_at: Mapped[Optional[datetime]]
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    unit: Mapped[Unit] = relationship(lazy="joined")
    staff: Mapped[Staff] = relationship(lazy="joined")
    photos: Mapped[list["ReportPhoto"]] = relationship(back_populates="report", order_by="ReportPhoto.id")
    revisions: Mapped[list["ReportRevision"]] = relationship(back_populates="report",
                                                              order_by="ReportRevision.number")


# Text search over a report's receipt number, title, place and content. PostgreSQL keeps a GIN index of the
# character bigrams of those four (lower-cased), maintained by the database itself so every writer (the API, the
# chat, COPY) is covered. Bigrams rather than trigrams because Chinese queries are often two characters, which a
# trigram index cannot use; plain functions rather than pg_trgm, so no extension (and no superuser) is needed.
# SQLite has no such index and searches with LIKE alone.
SEARCH_FUNCTIONS_SQL = (
    # Two non-overlapping passes of "..", from the first and from the second character, give every bigram.
    """CREATE OR REPLACE FUNCTION qj_text_bigrams(doc text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
      SELECT coalesce(array_agg(m[1]), '{}') FROM (SELECT lower(doc) AS d) x,
        LATERAL (SELECT regexp_matches(x.d, '(..)', 'g') UNION ALL
                 SELECT regexp_matches(substr(x.d, 2), '(..)', 'g')) r(m)
    $$""",
    # The columns joined by a newline: a query (one line) never matches across two of them.
    """CREATE OR REPLACE FUNCTION qj_report_grams(receipt_no text, title text, place text, content text)
    RETURNS text[] LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
      SELECT qj_text_bigrams(concat_ws(E'\\n', receipt_no, title, place, content))
    $$""",
)
DROP_SEARCH_FUNCTIONS_SQL = ("DROP FUNCTION IF EXISTS qj_report_grams(text, text, text, text)",
                             "DROP FUNCTION IF EXISTS qj_text_bigrams(text)")
SEARCH_COLUMNS = ("receipt_no", "title", "place", "content")


class ReportRevision(Base):
    """An earlier submission of a report that was rejected, then fixed and resubmitted under the same receipt number.

    Written at the moment of resubmission: `number` 1 is the first submission; `fields` the report's fields as they
    were then (category, activity_type, title, activity_date, place, participants, content, photos); the review
    columns the rejection it received.
    """

    __tablename__ = "report_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("activity_report.id"), index=True)
    number: Mapped[int]
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    submitted_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(8))
    review_reason: Mapped[str] = mapped_column(String(500), default="")
    reviewed_by: Mapped[str] = mapped_column(String(64), default="")
    reviewed_at: Mapped[Optional[datetime]]
    resubmitted_by: Mapped[str] = mapped_column(String(64), default="")  # 微信 openid, or 管理员 name
    resubmitted_at: Mapped[datetime] = mapped_column(default=utcnow)

    report: Mapped[ActivityReport] = relationship(back_populates="revisions")


class ReceiptCounter(Base):
    """Last receipt sequence handed out on a day; incremented in place so concurrent submits never share a number."""

    __tablename__ = "receipt_counter"

    day: Mapped[date] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)


class ReportPhoto(ReceivedPhoto, Base):
    """A photo a staff member sent; stored the moment it arrives (MediaId expires in 3 days), linked on submit.

    `report_id` is None while the report is still a draft; the download columns are ReceivedPhoto's (`last_error`
    is shown on the report page).
    """

    __tablename__ = "report_photo"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[Optional[int]] = mapped_column(ForeignKey("activity_report.id"), index=True)

    report: Mapped[Optional[ActivityReport]] = relationship(back_populates="photos")


class ReportResultNotice(Base):
    """A queued 'your report was approved/rejected' message for the reporter; the notifier sends pending ones."""

    __tablename__ = "report_result_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("activity_report.id"), index=True)
    openid: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(8), default="pending", index=True)  # pending / sent / failed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[Optional[datetime]]


def search_grams(table=None):
    """The indexed expression: the bigrams of a report's searchable text (PostgreSQL only)."""
    table = ActivityReport.__table__ if table is None else table
    return func.qj_report_grams(*(table.c[name] for name in SEARCH_COLUMNS))


Index("ix_activity_report_search", search_grams(), postgresql_using="gin").ddl_if(dialect="postgresql")
for _statement in SEARCH_FUNCTIONS_SQL:
    event.listen(ActivityReport.__table__, "before_create", DDL(_statement).execute_if(dialect="postgresql"))
