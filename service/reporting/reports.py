"""Create activity reports from confirmed drafts, list and show them, and review them (approve / reject).

A report is written in one go from a complete draft (`submit`), so nothing half-filled is ever stored as
submitted. Photos arrive before the report exists: `record_photo` stores each MediaId at once (the download job
fetches it within WeChat's 3-day window) and `submit` links the draft's photos to the new report.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import false, select, update
from sqlalchemy.orm import Session

from models.report import (ACTIVITY_TYPES, STATUS_APPROVED, STATUS_PENDING, STATUS_REJECTED, ActivityReport,
                           ReceiptCounter, ReportPhoto, ReportResultNotice, ReportRevision)
from models.staff import Staff
from models.unit import CATEGORIES
from service.core.clock import local
from service.core.errors import Conflict, InvalidInput, NotFound
from service.core.receipts import next_receipt
from service.reporting import texts

MY_REPORTS_LIMIT = 10
REQUIRED_FIELDS = ("category", "activity_type", "title", "date", "place", "participants", "content")


class ReportError(InvalidInput):
    """Report data or a review request that cannot be accepted; the message is Chinese."""


class ReportNotFound(NotFound):
    """No report with that id (or not visible to that user)."""


class AlreadyReviewed(Conflict):
    """The report left 待审核 before this review (another administrator was faster)."""


# --- receipts ------------------------------------------------------------------------------------------------

def next_receipt_no(session: Session, day: date) -> str:
    """`QJ` + YYYYMMDD + 4-digit daily sequence (service/core/receipts.py)."""
    return next_receipt(session, ReceiptCounter, "QJ", day)


# --- photos --------------------------------------------------------------------------------------------------

def record_photo(session: Session, openid: str, media_id: str, pic_url: str, now: datetime) -> ReportPhoto:
    """Store a received photo (not yet attached to a report) so the download job can fetch it; idempotent."""
    row = session.scalar(select(ReportPhoto).where(ReportPhoto.openid == openid, ReportPhoto.media_id == media_id))
    if row is None:
        row = ReportPhoto(openid=openid, media_id=media_id, pic_url=pic_url[:512], received_at=now)
        session.add(row)
        session.flush()
    return row


KEEP_LOOSE_PHOTOS = timedelta(days=3)  # WeChat keeps a MediaId for 3 days; the download job fetches it meanwhile


def loose_photos(session: Session, openid: str, now: datetime, exclude: set[str] = frozenset()) -> list[ReportPhoto]:
    """Photos this user sent in the last 3 days that belong to no report (sent outside the wizard, or left in a
    draft that was cancelled), oldest first, except the media ids in `exclude`."""
    rows = session.scalars(select(ReportPhoto).where(
        ReportPhoto.openid == openid, ReportPhoto.report_id.is_(None),
        ReportPhoto.received_at >= now - KEEP_LOOSE_PHOTOS).order_by(ReportPhoto.id))
    return [row for row in rows if row.media_id not in exclude]


# --- submit --------------------------------------------------------------------------------------------------

def _check_complete(data: dict[str, Any]) -> None:
    missing = [key for key in REQUIRED_FIELDS if data.get(key) in (None, "")]
    if missing:
        raise ReportError(f"上报内容不完整，缺少：{'、'.join(texts.label(key) for key in missing)}", missing[0])
    if data["category"] not in CATEGORIES or data["activity_type"] not in ACTIVITY_TYPES:
        raise ReportError("类别或活动类型无效")


def submit(session: Session, staff: Staff, openid: str, data: dict[str, Any], now: datetime) -> ActivityReport:
    """Create a 待审核 report from a complete draft (report_flow's data dict) and attach its photos."""
    _check_complete(data)
    report = ActivityReport(
        receipt_no=next_receipt_no(session, local(now).date()),
        unit_id=staff.unit_id, staff_id=staff.id, openid=openid,
        category=data["category"], activity_type=data["activity_type"], title=data["title"],
        activity_date=date.fromisoformat(data["date"]), place=data["place"],
        latitude=data.get("latitude"), longitude=data.get("longitude"),
        participants=int(data["participants"]), content=data["content"],
        status=STATUS_PENDING, submitted_at=now,
    )
    session.add(report)
    session.flush()
    for photo in data.get("photos", []):
        row = record_photo(session, openid, photo["media_id"], photo.get("pic_url", ""), now)
        if row.report_id is None:
            row.report_id = report.id
    session.flush()
    return report


# --- fix and resubmit a rejected report ---------------------------------------------------------------------

def draft_of(report: ActivityReport, default_category: str) -> dict[str, Any]:
    """A rejected report as a complete report_flow draft (its summary step), marked as a resubmission."""
    if report.status != STATUS_REJECTED:
        raise ReportError(texts.reopen_not_rejected(report.receipt_no, report.status), "status")
    data: dict[str, Any] = {
        "default_category": default_category, "category": report.category, "activity_type": report.activity_type,
        "title": report.title, "date": report.activity_date.isoformat(), "place": report.place,
        "participants": report.participants, "content": report.content, "photos_done": True,
        "photos": [{"media_id": p.media_id, "pic_url": p.pic_url} for p in report.photos],
        "resubmit": report.id, "receipt_no": report.receipt_no, "review_reason": report.review_reason,
    }
    if report.latitude is not None and report.longitude is not None:
        data.update(latitude=report.latitude, longitude=report.longitude)
    return data


def _fields(report: ActivityReport) -> dict[str, Any]:
    return {"category": report.category, "activity_type": report.activity_type, "title": report.title,
            "activity_date": report.activity_date.isoformat(), "place": report.place,
            "latitude": report.latitude, "longitude": report.longitude, "participants": report.participants,
            "content": report.content, "photos": [p.media_id for p in report.photos]}


def resubmit(session: Session, report_id: int, data: dict[str, Any], by: str, now: datetime,
             staff: Staff | None = None) -> ActivityReport:
    """Replace a 已退回 report's fields with `data` (report_flow's dict) and put it back to 待审核 under the same
    receipt number; the earlier submission and its rejection become a `ReportRevision`.

    `staff`: the liaison resubmitting from WeChat (the report must be theirs). The status change is a
    compare-and-set on 已退回, so a double confirm resubmits once.
    """
    _check_complete(data)
    report = get_report(session, report_id)
    if staff is not None and report.staff_id != staff.id:
        raise ReportNotFound("没有找到这条上报")
    if report.status != STATUS_REJECTED:
        raise ReportError(texts.reopen_not_rejected(report.receipt_no, report.status), "status")
    revision = ReportRevision(report_id=report.id, number=len(report.revisions) + 1, fields=_fields(report),
                              submitted_at=report.submitted_at, status=report.status,
                              review_reason=report.review_reason, reviewed_by=report.reviewed_by,
                              reviewed_at=report.reviewed_at, resubmitted_by=by[:64], resubmitted_at=now)
    changed = session.execute(
        update(ActivityReport).where(ActivityReport.id == report.id, ActivityReport.status == STATUS_REJECTED)
        .values(category=data["category"], activity_type=data["activity_type"], title=data["title"],
                activity_date=date.fromisoformat(str(data["date"])), place=data["place"],
                latitude=data.get("latitude"), longitude=data.get("longitude"),
                participants=int(data["participants"]), content=data["content"], status=STATUS_PENDING,
                review_reason="", reviewed_by="", reviewed_at=None, submitted_at=now)
        .execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        session.refresh(report)
        raise ReportError(texts.reopen_not_rejected(report.receipt_no, report.status), "status")
    session.add(revision)
    keep = {photo["media_id"] for photo in data.get("photos", [])}
    for row in list(report.photos):
        if row.media_id not in keep:
            row.report_id = None
    for photo in data.get("photos", []):
        row = record_photo(session, report.openid or by, photo["media_id"], photo.get("pic_url", ""), now)
        if row.report_id is None:
            row.report_id = report.id
    session.flush()
    session.refresh(report)
    return report


# --- reading -------------------------------------------------------------------------------------------------

def _mine(session: Session, openid: str):
    """The reports of the staff member this WeChat account is bound to, whichever account they were sent from
    (a liaison who re-binds a new phone keeps their history; the old account, no longer bound, sees none)."""
    staff_id = session.scalar(select(Staff.id).where(Staff.openid == openid))
    return ActivityReport.staff_id == staff_id if staff_id is not None else false()


def list_mine(session: Session, openid: str, limit: int = MY_REPORTS_LIMIT) -> list[ActivityReport]:
    """The user's latest reports, newest first."""
    return list(session.scalars(select(ActivityReport).where(_mine(session, openid))
                                .order_by(ActivityReport.submitted_at.desc(), ActivityReport.id.desc()).limit(limit)))


def find_mine(session: Session, openid: str, ref: str) -> ActivityReport:
    """One of the user's reports by its position in `list_mine` (1–10) or by receipt number."""
    ref = ref.strip().upper()
    if ref.isdigit():
        mine = list_mine(session, openid)
        if 1 <= int(ref) <= len(mine):
            return mine[int(ref) - 1]
        raise ReportNotFound("没有找到这条上报")
    report = session.scalar(select(ActivityReport).where(ActivityReport.receipt_no == ref, _mine(session, openid)))
    if report is None:
        raise ReportNotFound("没有找到这条上报")
    return report


def get_report(session: Session, report_id: int) -> ActivityReport:
    report = session.get(ActivityReport, report_id)
    if report is None:
        raise ReportNotFound(f"没有编号为 {report_id} 的上报")
    return report


# --- review --------------------------------------------------------------------------------------------------

def review(session: Session, report_id: int, approve: bool, reviewer: str, now: datetime,
           reason: str = "") -> ActivityReport:
    """Approve or reject (reason required) a 待审核 report and queue the result notice for the reporter.

    The status change is a compare-and-set on 待审核, so two administrators reviewing at once cannot both win.
    """
    reason = reason.strip()
    if not approve and not reason:
        raise ReportError("退回时必须填写原因", "reason")
    if len(reason) > 500:
        raise ReportError("原因不能超过500字", "reason")
    report = get_report(session, report_id)
    status = STATUS_APPROVED if approve else STATUS_REJECTED
    changed = session.execute(
        update(ActivityReport).where(ActivityReport.id == report.id, ActivityReport.status == STATUS_PENDING)
        .values(status=status, review_reason=reason, reviewed_by=reviewer, reviewed_at=now)
        .execution_options(synchronize_session=False))
    if changed.rowcount != 1:
        session.refresh(report)
        raise AlreadyReviewed(f"该上报已审核（{report.status}），不能重复审核")
    session.refresh(report)
    if not report.openid:  # entered for staff without a WeChat binding: nobody to tell
        return report
    template = texts.RESULT_APPROVED if approve else texts.RESULT_REJECTED
    session.add(ReportResultNotice(report_id=report.id, openid=report.openid, created_at=now,
                                   text=template.format(title=report.title, receipt_no=report.receipt_no,
                                                        reason=reason.rstrip("。.！!；; "))))
    session.flush()
    return report


def pending_notices(session: Session, limit: int = 100) -> list[ReportResultNotice]:
    """Queued result notices the notifier has not delivered yet, oldest first."""
    return list(session.scalars(select(ReportResultNotice).where(ReportResultNotice.status == "pending")
                                .order_by(ReportResultNotice.id).limit(limit)))



def report_dict(report: ActivityReport) -> dict[str, Any]:
    """The JSON shape of a report for /api/v1 (dates ISO 8601, times in Asia/Shanghai)."""
    return {
        "id": report.id, "receipt_no": report.receipt_no, "status": report.status,
        "unit": {"id": report.unit_id, "name": report.unit.name, "category": report.unit.category},
        "staff": {"id": report.staff_id, "name": report.staff.name},
        "category": report.category, "activity_type": report.activity_type, "title": report.title,
        "activity_date": report.activity_date.isoformat(), "place": report.place,
        "latitude": report.latitude, "longitude": report.longitude, "participants": report.participants,
        "content": report.content, "review_reason": report.review_reason, "reviewed_by": report.reviewed_by,
        "reviewed_at": local(report.reviewed_at).isoformat() if report.reviewed_at else None,
        "submitted_at": local(report.submitted_at).isoformat(),
        "photos": [{"id": p.id, "pic_url": p.pic_url, "download_status": p.download_status,
                    "local_path": p.local_path} for p in report.photos],
        "revisions": [{"number": r.number, "status": r.status, "review_reason": r.review_reason,
                       "reviewed_by": r.reviewed_by,
                       "reviewed_at": local(r.reviewed_at).isoformat() if r.reviewed_at else None,
                       "submitted_at": local(r.submitted_at).isoformat(),
                       "resubmitted_at": local(r.resubmitted_at).isoformat(), "fields": r.fields}
                      for r in report.revisions],
    }
