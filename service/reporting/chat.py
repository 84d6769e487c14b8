"""Chat routes of activity reporting: binding, the report conversation, quick report, 继续, my reports.

A turn of the report conversation lets the pure `report_flow.step` compute the next state from the draft and
returns it as a `Turn`; the router's turn runner (chat/flows.py) saves it with the version check, and rolls the
turn's writes back and runs it again if another turn of the same user saved first.
"""
from __future__ import annotations

from datetime import timedelta

from models.report import STATUS_REJECTED
from service.chat import conversation
from service.chat.contract import ChatContext, Flow, Turn, handled, not_mine
from service.chat.conversation import Draft
from service.core.clock import local
from service.reporting import flow as report_flow, reports, texts, units
from service.reporting.flow import Transition

FLOW = "report"
TTL = timedelta(hours=2)
FLOW_EVENTS = report_flow.PHOTO_EVENTS | {"location_select"}
BIND_REPLIES = {"wrong": texts.BIND_WRONG, "used": texts.BIND_USED, "expired": texts.BIND_EXPIRED,
                "revoked": texts.BIND_REVOKED, "locked": texts.BIND_LOCKED, "inactive": texts.BIND_INACTIVE}


def _today(ctx: ChatContext):
    return local(ctx.now).date()


def _staff_or_none(ctx: ChatContext):
    return units.staff_for_openid(ctx.session, ctx.openid)


# --- binding -------------------------------------------------------------------------------------------------

def bind(ctx: ChatContext, rest: str) -> str:
    """`绑定 CODE`."""
    if not rest.strip():
        return texts.BIND_USAGE
    result = units.bind(ctx.session, ctx.openid, rest, ctx.now)
    if result.ok:
        assert result.staff is not None
        return texts.BIND_OK.format(name=result.staff.name, unit=result.staff.unit.name)
    if result.reason == "other_staff" and result.bound_to is not None:
        return texts.BIND_OTHER_STAFF.format(name=result.bound_to.name, unit=result.bound_to.unit.name)
    return BIND_REPLIES[result.reason]


def bind_help(ctx: ChatContext) -> str:
    """The 绑定 menu option: how to bind, or who the user is already bound as."""
    staff = _staff_or_none(ctx)
    if staff is not None:
        return texts.ALREADY_BOUND.format(name=staff.name, unit=staff.unit.name)
    return texts.BIND_HELP


# --- starting and resuming -----------------------------------------------------------------------------------

def _begin(ctx: ChatContext, transition: Transition) -> None:
    """Save a fresh draft, replacing any earlier report draft of this user (version 0 = replace)."""
    conversation.save(ctx.session, Draft(ctx.openid, FLOW, transition.step, transition.data), ctx.now, TTL)


def start(ctx: ChatContext) -> str:
    """`上报` (keyword, menu number or CLICK): start a new report for bound staff."""
    staff = _staff_or_none(ctx)
    if staff is None:
        return texts.NOT_BOUND
    transition = report_flow.begin(staff.unit.category)
    _begin(ctx, transition)
    return texts.STARTED.format(unit=staff.unit.name) + (transition.reply or "")


def quick_report(ctx: ChatContext, rest: str) -> str:
    """`上报 进社区 研究部署 2026-11-20 民族团结知识讲座 35人`: fill what the message says, ask the rest."""
    if not rest.strip():
        return start(ctx)
    staff = _staff_or_none(ctx)
    if staff is None:
        return texts.NOT_BOUND
    transition = report_flow.prefill(staff.unit.category, rest, _today(ctx))
    _begin(ctx, transition)
    return transition.reply or ""


def resume(ctx: ChatContext) -> str:
    """`继续`: pick up a report draft that went idle past its TTL (a live one is handled by handle_flow)."""
    draft = conversation.load(ctx.session, ctx.openid, ctx.now, for_update=True, include_expired=True, flow=FLOW)
    if draft is None:
        return texts.NOTHING_TO_RESUME
    if _staff_or_none(ctx) is None:
        return texts.NOT_BOUND
    draft.data = report_flow.resume(draft.data)
    conversation.save(ctx.session, draft, ctx.now, TTL)
    return texts.RESUMED + report_flow.prompt(draft.data, draft.step)


# --- one turn of the conversation ----------------------------------------------------------------------------

def handle_flow(ctx: ChatContext, draft: Draft) -> Turn:
    """Apply the inbound (text, voice, image, location, pic_*/location_select event) to the live report draft.

    Events the report has no use for (menu clicks...) are not its own: the router goes on routing them. A re-sent
    photo is taken with nothing to say.
    """
    inbound = ctx.inbound
    if inbound.kind == "event" and inbound.event not in FLOW_EVENTS:
        return not_mine()
    data = draft.data
    if data.get("paused"):  # 暂停: only 继续 and 取消 are the report's; everything else is routed as usual
        word = report_flow.command_word(inbound)
        if word in report_flow.RESUME_WORDS:
            data = report_flow.resume(data)
            return handled(texts.RESUMED + report_flow.prompt(data, draft.step), save=(draft.step, data))
        if word not in report_flow.CANCEL_WORDS:
            return not_mine()
        data = report_flow.resume(data)
    transition = report_flow.step(data, draft.step, inbound, _today(ctx))
    if transition.cancelled:
        return handled(transition.reply, end=True)
    known = {p["media_id"] for p in draft.data.get("photos", [])}
    for photo in transition.data.get("photos", []):
        if photo["media_id"] not in known:
            reports.record_photo(ctx.session, ctx.openid, photo["media_id"], photo["pic_url"], ctx.now)
    if transition.done:
        return _submit(ctx, transition)
    if transition.step == "photos" and draft.step != "photos" and transition.reply:
        transition = _offer_loose_photos(ctx, transition)
    return handled(transition.reply or None, save=(transition.step, transition.data))


def _offer_loose_photos(ctx: ChatContext, transition: Transition) -> Transition:
    """Reaching the photo step: offer the photos sent outside a report in the last 3 days (回复“用照片”)."""
    mine = {p["media_id"] for p in transition.data.get("photos", [])}
    loose = reports.loose_photos(ctx.session, ctx.openid, ctx.now, exclude=mine)
    if not loose:
        transition.data.pop("offered", None)
        return transition
    transition.data["offered"] = [{"media_id": p.media_id, "pic_url": p.pic_url} for p in loose]
    return Transition(transition.data, transition.step,
                      transition.reply + texts.PHOTOS_OFFER.format(n=len(loose)))


def keep_photo(ctx: ChatContext) -> str | None:
    """An image sent outside a report by bound staff: kept 3 days and offered at the next report's photo step.
    None for anyone else (the router's usual reply)."""
    inbound = ctx.inbound
    if inbound.kind != "image" or not inbound.media_id or _staff_or_none(ctx) is None:
        return None
    reports.record_photo(ctx.session, ctx.openid, inbound.media_id, inbound.pic_url, ctx.now)
    return texts.PHOTO_KEPT


def _submit(ctx: ChatContext, transition: Transition) -> Turn:
    staff = _staff_or_none(ctx)
    if staff is None:
        return handled(texts.NOT_BOUND, end=True)
    if transition.data.get("resubmit"):
        return _resubmit(ctx, staff, transition)
    try:
        with ctx.session.begin_nested():
            report = reports.submit(ctx.session, staff, ctx.openid, transition.data, ctx.now)
    except reports.ReportError as exc:  # cannot happen for drafts built by report_flow; keep the draft
        return handled(f"⚠ {exc}\n" + report_flow.summary(transition.data), save=(transition.step, transition.data))
    return handled(texts.SUBMITTED.format(receipt_no=report.receipt_no), end=True)


def _resubmit(ctx: ChatContext, staff, transition: Transition) -> Turn:
    try:
        with ctx.session.begin_nested():
            report = reports.resubmit(ctx.session, int(transition.data["resubmit"]), transition.data, ctx.openid,
                                      ctx.now, staff=staff)
    except reports.ReportNotFound:
        return handled(texts.DETAIL_NOT_FOUND, end=True)
    except reports.ReportError as exc:
        if getattr(exc, "field", None) == "status":  # reviewed or resubmitted meanwhile: nothing left to fix
            return handled(str(exc), end=True)
        return handled(f"⚠ {exc}\n" + report_flow.summary(transition.data), save=(transition.step, transition.data))
    return handled(texts.RESUBMITTED.format(receipt_no=report.receipt_no), end=True)


def reopen(ctx: ChatContext, rest: str) -> str:
    """`修改 QJ…` (receipt number) or `修改 N` (position in 我的上报): a rejected report of the bound staff member
    back in the wizard, at its summary, with the reviewer's reason; 确认 resubmits it under the same number."""
    staff = _staff_or_none(ctx)
    if staff is None:
        return texts.NOT_BOUND
    if not rest.strip():
        return texts.REOPEN_USAGE
    try:
        report = reports.find_mine(ctx.session, ctx.openid, rest)
        data = reports.draft_of(report, staff.unit.category)
    except reports.ReportNotFound:
        return texts.DETAIL_NOT_FOUND
    except reports.ReportError as exc:
        return str(exc)
    _begin(ctx, Transition(data, report_flow.CONFIRM, None))
    return report_flow.summary(data)


REPORT_FLOW = Flow(FLOW, handle_flow, TTL, finished_reply=texts.ALREADY_HANDLED)


# --- my reports ----------------------------------------------------------------------------------------------

def _day(value) -> str:
    return f"{value.month}月{value.day}日"


def my_reports(ctx: ChatContext) -> str:
    """`我的上报`: the last 10 reports with their status."""
    mine = reports.list_mine(ctx.session, ctx.openid)
    if not mine:
        return texts.MY_REPORTS_NONE if _staff_or_none(ctx) is not None else texts.MY_REPORTS_NOT_BOUND
    lines = [texts.MY_REPORTS_HEAD]
    lines += [texts.MY_REPORTS_LINE.format(n=i, date=_day(r.activity_date), title=r.title, status=r.status)
              for i, r in enumerate(mine, 1)]
    lines.append(texts.MY_REPORTS_FOOT)
    rejected = [i for i, r in enumerate(mine, 1) if r.status == STATUS_REJECTED]
    if rejected:
        lines.append(texts.MY_REPORTS_FOOT_REJECTED.format(n=rejected[0]))
    return "\n".join(lines)


def detail(ctx: ChatContext, rest: str) -> str:
    """`上报详情 N` (position in 我的上报) or `上报详情 QJ…` (receipt number)."""
    if not rest.strip():
        return texts.DETAIL_USAGE
    try:
        report = reports.find_mine(ctx.session, ctx.openid, rest)
    except reports.ReportNotFound:
        return texts.DETAIL_NOT_FOUND
    reason = texts.DETAIL_REASON.format(reason=report.review_reason) if report.review_reason else ""
    if report.status == STATUS_REJECTED:
        reason += texts.DETAIL_REOPEN.format(receipt_no=report.receipt_no)
    elif report.revisions:
        reason += texts.DETAIL_REVISIONS.format(n=len(report.revisions), reason=report.revisions[-1].review_reason)
    return texts.DETAIL.format(
        receipt_no=report.receipt_no, status=report.status, reason=reason, category=report.category,
        activity_type=report.activity_type, title=report.title, date=report_flow.display_date(
            report.activity_date.isoformat()), place=report.place, participants=report.participants,
        photos=len(report.photos), submitted=f"{local(report.submitted_at):%Y-%m-%d %H:%M}",
        content=report_flow.short(report.content, 300))
