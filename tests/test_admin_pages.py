"""Console pages: each renders for the right role, escapes user text, and keeps typed values on a server error."""
from __future__ import annotations

from sqlalchemy import select

from models.admin import AdminUser
from models.audit import AuditLog
from models.subscription import TOPICS
from service.console import audit
from service.core import clock

XSS = "<script>alert(1)</script>"


def text(response) -> str:
    return response.get_data(as_text=True)


def test_audit_page_lists_and_filters_entries(admin_console, session_factory):
    with session_factory() as s:
        audit.record(s, "li", "report.approve", ("activity_report", 7), {"note": "好"})
        audit.record(s, "wang", "unit.create", ("unit", 3))
        s.commit()
    page = text(admin_console.get("/admin/audit"))
    assert "通过报告" in page and "新建单位" in page and "报告 #7" in page
    filtered = text(admin_console.get("/admin/audit?action=report.approve"))
    assert "报告 #7" in filtered and "单位 #3" not in filtered
    by_actor = text(admin_console.get("/admin/audit?actor=wang&date_from=bad-date"))
    assert "单位 #3" in by_actor and "报告 #7" not in by_actor


def test_audit_page_escapes_user_text(admin_console, session_factory):
    with session_factory() as s:
        audit.record(s, XSS, "report.reject", None, {"reason": XSS})
        s.commit()
    page = text(admin_console.get("/admin/audit"))
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_accounts_page_is_for_administrators_only(admin_console, reviewer_console):
    assert admin_console.get("/admin/accounts").status_code == 200
    assert reviewer_console.get("/admin/accounts").status_code == 403
    assert reviewer_console.post("/admin/accounts", {"username": "x", "password": "12345678",
                                                     "role": "admin"}).status_code == 403


def test_create_account_validates_and_keeps_what_was_typed(admin_console, session):
    response = admin_console.post("/admin/accounts", {"username": "liu", "display_name": "刘 " + XSS,
                                                      "role": "reviewer", "password": "short"})
    page = text(response)
    assert response.status_code == 422
    assert 'id="e-password"' in page and "密码至少 8 位" in page
    assert 'value="liu"' in page and "刘 &lt;script&gt;" in page and XSS not in page
    assert session.scalar(select(AdminUser).where(AdminUser.username == "liu")) is None
    duplicate = admin_console.post("/admin/accounts", {"username": "admin", "role": "reviewer",
                                                       "password": "long-enough-1"})
    assert duplicate.status_code == 422 and "用户名已存在" in text(duplicate)


def test_create_and_deactivate_an_account_is_audited(admin_console, app, session):
    created = admin_console.post("/admin/accounts", {"username": "liu", "display_name": XSS,
                                                     "role": "reviewer", "password": "long-enough-1"})
    assert created.status_code == 302
    listing = text(admin_console.get("/admin/accounts"))
    assert "liu" in listing and XSS not in listing and "&lt;script&gt;" in listing
    liu = session.scalar(select(AdminUser).where(AdminUser.username == "liu"))
    assert liu.role == "reviewer"
    assert admin_console.post(f"/admin/accounts/{liu.id}/active", {"active": "0"}).status_code == 302
    session.expire_all()
    assert session.get(AdminUser, liu.id).active is False
    actions = set(session.scalars(select(AuditLog.action)))
    assert {"admin.create", "admin.deactivate"} <= actions


def test_cannot_deactivate_yourself(admin_console, session):
    me = session.scalar(select(AdminUser).where(AdminUser.username == "admin"))
    response = admin_console.post(f"/admin/accounts/{me.id}/active", {"active": "0"}, follow_redirects=True)
    assert "不能停用自己的账号" in text(response)
    session.expire_all()
    assert session.get(AdminUser, me.id).active is True


def test_unknown_account_and_page_are_reported(admin_console):
    response = admin_console.post("/admin/accounts/999/active", {"active": "0"}, follow_redirects=True)
    assert "没有这个账号" in text(response)
    assert admin_console.get("/admin/nope").status_code == 404


# ---- policy ---------------------------------------------------------------------------------------------------

POLICY = "一、总体要求\n坚持共同团结奋斗。\n二、进学校\n（一）课堂教学\n把民族团结教育纳入课程。\n"


def test_policy_upload_shows_the_tree_and_is_audited(admin_console, session):
    from io import BytesIO

    response = admin_console.post("/admin/policy/upload", {"title": "测试方案",
                                                           "file": (BytesIO(POLICY.encode()), "plan.txt")},
                                  content_type="multipart/form-data")
    assert response.status_code == 302
    tree = text(admin_console.get(response.headers["Location"]))
    assert "测试方案" in tree and "二、进学校" in tree and "(一)课堂教学" in tree and "把民族团结教育纳入课程" in tree
    again = admin_console.post("/admin/policy/upload", {"file": (BytesIO((POLICY + "三、附则\n").encode()),
                                                                 "plan.txt")},
                               content_type="multipart/form-data", follow_redirects=True)
    assert "第 2 版" in text(again)
    listing = text(admin_console.get("/admin/policy"))
    assert "当前" in listing and "历史" in listing
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "policy.upload").order_by(AuditLog.id.desc()))
    assert entry.detail["version"] == 2 and entry.detail["file"] == "plan.txt"


def test_a_new_policy_version_prepares_a_draft_notice_for_its_subscribers(admin_console, session):
    from io import BytesIO

    from models.announcement import Announcement

    def upload(content: str):
        return admin_console.post("/admin/policy/upload", {"title": "民族团结进步创建七进活动实施方案",
                                                           "file": (BytesIO(content.encode()), "plan.txt")},
                                  content_type="multipart/form-data", follow_redirects=True)

    assert "通知草稿" in text(upload(POLICY))
    assert "通知草稿" not in text(upload(POLICY))  # the same text again: nothing new to announce
    assert "通知草稿" in text(upload(POLICY + "三、附则\n"))
    drafts = session.scalars(select(Announcement).order_by(Announcement.id)).all()
    assert [(a.status, a.audience) for a in drafts] == [("草稿", {"type": "topic", "topic": "policy"})] * 2
    assert all(a.title.startswith("政策更新：") and len(a.title) <= 20 for a in drafts)
    assert "第1版" in drafts[0].body and "发布了第2版，共4条" in drafts[1].body and "回复“政策”" in drafts[1].body
    assert drafts[1].next_run_at is None  # a draft: nothing is sent until an administrator schedules it
    listing = text(admin_console.get("/admin/announcements"))
    assert "政策更新：" in listing


def test_policy_upload_refuses_bad_types_and_sizes(admin_console):
    from io import BytesIO

    from service.policy.documents import MAX_UPLOAD_BYTES

    cases = [((BytesIO(b"MZ\x00\x00"), "virus.exe"), "只能上传"),
             ((BytesIO(b"not a zip"), "fake.docx"), "不是 Word"),
             ((BytesIO(b"x" * (MAX_UPLOAD_BYTES + 1)), "big.txt"), "不能超过"),
             ((BytesIO("没有编号的文字".encode()), "plain.txt"), "第")]
    for upload, message in cases:
        response = admin_console.post("/admin/policy/upload", {"title": "标题<b>", "file": upload},
                                      content_type="multipart/form-data")
        page = text(response)
        assert response.status_code in (413, 422), upload[1]
        assert message in page and 'id="e-file"' in page, upload[1]
    huge = admin_console.post("/admin/policy/upload", {"file": (BytesIO(b"x" * (MAX_UPLOAD_BYTES + 200 * 1024)),
                                                                "huge.txt")}, content_type="multipart/form-data")
    assert huge.status_code == 413 and "文件太大" in text(huge)
    kept = admin_console.post("/admin/policy/upload", {"title": "保留的标题", "file": (BytesIO(b"MZ"), "a.exe")},
                              content_type="multipart/form-data")
    assert 'value="保留的标题"' in text(kept)


def test_faq_create_validates_try_it_and_edit(admin_console, session):
    bad = admin_console.post("/admin/policy/faq", {"questions": "报告怎么写 " + XSS, "answer": "  "})
    page = text(bad)
    assert bad.status_code == 422 and 'id="e-answer"' in page and "答案不能为空" in page
    assert "报告怎么写 &lt;script&gt;" in page and XSS not in page
    ok = admin_console.post("/admin/policy/faq", {"questions": "报告怎么写\n怎么上报活动", "answer": "发送“我要上报”。"})
    assert ok.status_code == 302
    tried = text(admin_console.get("/admin/policy/faq?q=怎么上报活动"))
    assert "常见问答" in tried and "发送“我要上报”。" in tried
    from models.policy import FaqEntry

    faq = session.scalar(select(FaqEntry))
    edited = admin_console.post(f"/admin/policy/faq/{faq.id}", {"questions": "报告怎么写", "answer": "新答案",
                                                                "active": "1"})
    assert edited.status_code == 302
    session.expire_all()
    assert session.get(FaqEntry, faq.id).answer == "新答案"
    assert admin_console.post(f"/admin/policy/faq/{faq.id}/delete").status_code == 302
    assert admin_console.get(f"/admin/policy/faq/{faq.id}").status_code == 404
    tried = text(admin_console.get("/admin/policy/faq?q=怎么上报活动"))  # no FAQ now: the bot points to the feature
    assert "回答方式：功能指引" in tried and "3. 活动上报（工作人员）" in tried
    actions = [a for a in session.scalars(select(AuditLog.action)) if a.startswith("faq.")]
    assert sorted(actions) == ["faq.create", "faq.delete", "faq.update"]


def test_unanswered_question_becomes_an_faq_in_one_step(admin_console, session_factory, session):
    from models.policy import FaqEntry, UnansweredQuestion
    from service.core import clock
    from service.policy.answers import record_unanswered

    with session_factory() as s:
        row = record_unanswered(s, "食堂几点开门" + XSS, clock.now())
        s.commit()
        row_id = row.id
    listing = text(admin_console.get("/admin/policy/unanswered"))
    assert "食堂几点开门&lt;script&gt;" in listing and XSS not in listing
    form = text(admin_console.get(f"/admin/policy/faq?from={row_id}"))
    assert f'name="unanswered_id" value="{row_id}"' in form and "食堂几点开门&lt;script&gt;" in form
    made = admin_console.post("/admin/policy/faq", {"unanswered_id": str(row_id), "answer": "这不属于政策问题。",
                                                    "questions": "食堂几点开门" + XSS + "\n食堂开门时间"})
    assert made.status_code == 302
    assert session.get(UnansweredQuestion, row_id) is None
    faq = session.scalar(select(FaqEntry))
    assert faq.questions == ["食堂几点开门" + XSS, "食堂开门时间"]
    gone = admin_console.post("/admin/policy/faq", {"unanswered_id": str(row_id), "answer": "x", "questions": "y"})
    assert gone.status_code == 404 and "已被处理" in text(gone)


def test_faq_from_an_unanswered_question_keeps_only_the_phrasings_the_administrator_kept(admin_console,
                                                                                        session_factory, session):
    from models.policy import FaqEntry
    from service.core import clock
    from service.policy.answers import preview_answer, record_unanswered

    with session_factory() as s:
        row_id = record_unanswered(s, "食堂咋开门", clock.now()).id
        s.commit()
    made = admin_console.post("/admin/policy/faq", {"unanswered_id": str(row_id), "answer": "食堂每天七点开门。",
                                                    "questions": "食堂几点开门\n食堂开门时间"})
    assert made.status_code == 302
    assert session.scalar(select(FaqEntry)).questions == ["食堂几点开门", "食堂开门时间"]
    assert preview_answer(session, "食堂几点开门").kind == "faq"
    assert preview_answer(session, "食堂咋开门").reply != "食堂每天七点开门。"
    assert not preview_answer(session, "食堂咋开门").reply.startswith("食堂每天七点开门")


def test_policy_pages_are_for_administrators_only(reviewer_console):
    for path in ("/admin/policy", "/admin/policy/faq", "/admin/policy/unanswered"):
        assert reviewer_console.get(path).status_code == 403
    assert reviewer_console.post("/admin/policy/faq", {"questions": "a", "answer": "b"}).status_code == 403


# ---- reports --------------------------------------------------------------------------------------------------

def _reports(session_factory, **overrides):
    from tests.factories import make_report, make_staff, make_unit

    with session_factory() as s:
        unit = make_unit(s, "民族团结示范社区")
        staff = make_staff(s, unit, openid="o-reporter")
        report = make_report(s, staff, **overrides)
        s.commit()
        return report.id, unit.id


def test_review_queue_filters_and_escapes(reviewer_console, session_factory):
    report_id, unit_id = _reports(session_factory, content=XSS, title="讲座<b>1</b>")
    queue = text(reviewer_console.get("/admin/reports"))
    assert "讲座&lt;b&gt;1&lt;/b&gt;" in queue and "<b>1</b>" not in queue
    assert "讲座" not in text(reviewer_console.get("/admin/reports?status=已通过"))
    assert "讲座" in text(reviewer_console.get(f"/admin/reports?status=&unit_id={unit_id}&category=社区"))
    bad = reviewer_console.get("/admin/reports?date_from=2026-13-01&q=讲座")
    assert bad.status_code == 422 and 'value="2026-13-01"' in text(bad)
    detail = text(reviewer_console.get(f"/admin/reports/{report_id}"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail and XSS not in detail


def test_reject_needs_a_reason_and_keeps_it_typed(reviewer_console, session_factory, session):
    from models.report import ActivityReport, ReportResultNotice

    report_id, _ = _reports(session_factory)
    empty = reviewer_console.post(f"/admin/reports/{report_id}", {"action": "reject", "reason": "  "})
    assert empty.status_code == 422 and 'id="e-reason"' in text(empty)
    assert session.get(ActivityReport, report_id).status == "待审核"
    rejected = reviewer_console.post(f"/admin/reports/{report_id}", {"action": "reject", "reason": "缺少照片" + XSS})
    assert rejected.status_code == 302
    session.expire_all()
    report = session.get(ActivityReport, report_id)
    assert report.status == "已退回" and report.reviewed_by == "reviewer"
    assert session.scalar(select(ReportResultNotice).where(ReportResultNotice.report_id == report_id)) is not None
    again = reviewer_console.post(f"/admin/reports/{report_id}", {"action": "approve"})
    assert again.status_code == 422 and "不能重复审核" in text(again)
    entry = session.scalar(select(AuditLog).where(AuditLog.action == "report.reject"))
    assert entry.actor == "reviewer" and entry.target_id == str(report_id)


def test_export_is_an_xlsx_of_the_filtered_list(reviewer_console, session_factory, session):
    import io

    from openpyxl import load_workbook

    _reports(session_factory, title="导出的活动")
    response = reviewer_console.get("/admin/reports/export.xlsx?status=")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert any("导出的活动" in str(cell.value) for row in sheet.iter_rows() for cell in row)
    assert session.scalar(select(AuditLog).where(AuditLog.action == "report.export")).detail["count"] == 1
    csv_file = reviewer_console.get("/admin/reports/export.csv?status=")
    assert csv_file.status_code == 200 and "导出的活动" in csv_file.data.decode("utf-8-sig")
    assert "filename*=UTF-8''" in csv_file.headers["Content-Disposition"]


def test_unknown_report_is_404(reviewer_console):
    assert reviewer_console.get("/admin/reports/999").status_code == 404


# ---- units and staff ------------------------------------------------------------------------------------------

def test_unit_create_validates_and_keeps_values(admin_console, session):
    from models.unit import Unit

    bad = admin_console.post("/admin/units", {"name": "新单位" + XSS, "category": "", "contact": "王<i>",
                                              "is_extension": "1"})
    page = text(bad)
    assert bad.status_code == 422 and 'id="e-category"' in page
    assert "请选择七进类别" in page and "category" not in page.split('id="e-category"')[1].split("</span>")[0]
    assert "新单位&lt;script&gt;" in page and "王&lt;i&gt;" in page and XSS not in page
    assert 'name="is_extension" value="1" checked' in page
    ok = admin_console.post("/admin/units", {"name": "新单位", "category": "学校", "is_education_base": "1"})
    assert ok.status_code == 302
    unit = session.scalar(select(Unit).where(Unit.name == "新单位"))
    assert unit.is_education_base and not unit.is_extension
    edited = admin_console.post(f"/admin/units/{unit.id}", {"name": "新单位", "category": ""})
    assert edited.status_code == 422 and "请选择七进类别" in text(edited)
    dup = admin_console.post("/admin/units", {"name": "新单位", "category": "学校"})
    assert dup.status_code == 422 and "已存在" in text(dup) and 'id="e-name"' in text(dup)


def test_unit_and_staff_phones_are_checked_on_the_forms(admin_console, session):
    from models.staff import Staff
    from models.unit import Unit

    bad = admin_console.post("/admin/units", {"name": "电话单位", "category": "企业", "phone": "abc"})
    assert bad.status_code == 422 and "联系电话应为手机号" in text(bad) and 'id="e-phone"' in text(bad)
    assert session.scalar(select(Unit).where(Unit.name == "电话单位")) is None
    ok = admin_console.post("/admin/units", {"name": "电话单位", "category": "企业", "phone": "0851 8681 2345 转 8001"})
    assert ok.status_code == 302
    unit = session.scalar(select(Unit).where(Unit.name == "电话单位"))
    assert unit.phone == "0851-86812345转8001"
    staff_bad = admin_console.post(f"/admin/units/{unit.id}/staff", {"name": "李四", "phone": "abc"})
    assert staff_bad.status_code == 422 and "电话应为手机号" in text(staff_bad)
    assert admin_console.post(f"/admin/units/{unit.id}/staff", {"name": "李四", "phone": "86 139-1234-5678"}).status_code == 302
    assert session.scalar(select(Staff.phone).where(Staff.name == "李四")) == "13912345678"


def test_staff_binding_codes_and_deactivation(admin_console, session_factory, session):
    from models.staff import BindingCode, Staff
    from tests.factories import make_unit

    with session_factory() as s:
        unit_id = make_unit(s, "某机关", "机关").id
        s.commit()
    assert admin_console.post(f"/admin/units/{unit_id}/staff", {"name": "", "phone": "139"}).status_code == 422
    assert admin_console.post(f"/admin/units/{unit_id}/staff", {"name": "李四", "phone": "139 1234 5678"}).status_code == 302
    staff = session.scalar(select(Staff).where(Staff.name == "李四"))
    issued = admin_console.post(f"/admin/staff/{staff.id}/code")
    page = text(issued)
    assert issued.status_code == 200 and 'id="binding-code"' in page
    assert session.scalar(select(BindingCode).where(BindingCode.staff_id == staff.id)) is not None
    assert admin_console.post(f"/admin/staff/{staff.id}/revoke").status_code == 302
    session.expire_all()
    assert all(c.revoked for c in session.scalars(select(BindingCode)))
    assert admin_console.post(f"/admin/staff/{staff.id}/deactivate").status_code == 302
    session.expire_all()
    assert session.get(Staff, staff.id).active is False
    assert "未绑定" in text(admin_console.get(f"/admin/units/{unit_id}"))
    actions = {a for a in session.scalars(select(AuditLog.action))}
    assert {"staff.create", "binding.issue", "binding.revoke", "staff.deactivate"} <= actions


def test_units_are_for_administrators_only(reviewer_console):
    assert reviewer_console.get("/admin/units").status_code == 403
    assert reviewer_console.post("/admin/units", {"name": "x", "category": "学校"}).status_code == 403


# ---- dashboard ------------------------------------------------------------------------------------------------

def test_dashboard_shows_counts_targets_lagging_and_questions(admin_console, session_factory):
    from service.core import clock
    from service.policy.answers import record_unanswered

    _reports(session_factory)
    with session_factory() as s:
        record_unanswered(s, "本周的问题" + XSS, clock.now())
        s.commit()
    page = text(admin_console.get("/admin/dashboard"))
    assert '<svg' in page and "进社区" in page
    assert 'id="month-total">1<' in page
    assert "0 / 8" in page and "0 / 1" in page  # 延伸拓展单位 and 教育基地 targets
    assert "本周的问题&lt;script&gt;" in page and XSS not in page


# ---- announcements --------------------------------------------------------------------------------------------

def test_announcement_compose_validates_previews_and_schedules(admin_console, session):
    from models.announcement import Announcement

    long_title = "标" * 21
    bad = admin_console.post("/admin/announcements", {"title": long_title, "body": XSS, "audience_type": "all",
                                                      "send_mode": "now", "submit": "schedule"})
    page = text(bad)
    assert bad.status_code == 422 and 'id="e-title"' in page and f'value="{long_title}"' in page
    assert "&lt;script&gt;" in page and XSS not in page
    past = admin_console.post("/admin/announcements", {"title": "通知", "body": "正文", "audience_type": "all",
                                                       "send_mode": "at", "send_at": "2000-01-01T09:00",
                                                       "submit": "schedule"})
    assert past.status_code == 422 and 'id="e-send_at"' in text(past)
    units = admin_console.post("/admin/announcements", {"title": "通知", "body": "正文", "audience_type": "units",
                                                        "submit": "schedule"})
    assert units.status_code == 422 and "unit_ids" in text(units)
    assert 'id="e-audience_type"' in text(units) and "必须是非空的单位编号列表" in text(units)  # said beside 发给谁
    preview = admin_console.post("/admin/announcements", {"title": "周五活动", "body": "<b>下午三点</b>",
                                                          "audience_type": "all", "send_mode": "now",
                                                          "recurrence": "每周五 9:00", "submit": "preview"})
    assert preview.status_code == 200 and "【周五活动】\n&lt;b&gt;下午三点&lt;/b&gt;" in text(preview)
    assert session.scalar(select(Announcement)) is None  # a preview stores nothing
    saved = admin_console.post("/admin/announcements", {"title": "周五活动", "body": "下午三点",
                                                        "audience_type": "categories", "categories": ["社区", "学校"],
                                                        "send_mode": "now", "recurrence": "每周五 9:00",
                                                        "submit": "schedule"})
    assert saved.status_code == 302
    ann = session.scalar(select(Announcement))
    assert ann.status == "已排期" and ann.recurrence == "每周五 9:00"
    assert ann.audience == {"type": "categories", "categories": ["社区", "学校"]}
    detail = text(admin_console.get(saved.headers["Location"]))
    assert "进社区" in detail and "每周五 9:00" in detail
    assert admin_console.post(f"/admin/announcements/{ann.id}/cancel").status_code == 302
    session.expire_all()
    assert session.get(Announcement, ann.id).status == "已取消"
    again = admin_console.post(f"/admin/announcements/{ann.id}/cancel", follow_redirects=True)
    assert "不能取消" in text(again)
    actions = sorted(a for a in session.scalars(select(AuditLog.action)) if a.startswith("announcement."))
    assert actions == ["announcement.cancel", "announcement.schedule"]


def test_announcement_preview_counts_reachable_recipients_per_channel_and_warns(admin_console, app, session,
                                                                              monkeypatch):
    from datetime import timedelta

    from models.announcement import Announcement, Delivery, ServiceWindow
    from models.subscription import NoticeOptOut
    from tests.notice_helpers import add_followers

    now = clock.now()
    add_followers(session, ["o-recent"], now, timedelta(hours=1))
    add_followers(session, ["o-old-1", "o-old-2"], now, timedelta(days=4))
    add_followers(session, ["o-optout"], now, timedelta(hours=1))
    add_followers(session, ["o-gone"], now, timedelta(hours=1), subscribed=False)
    session.add(NoticeOptOut(openid="o-optout"))
    session.commit()
    runtime = app.extensions["qijin"]
    fields = {"title": "周五活动", "body": "下午三点", "audience_type": "all", "send_mode": "now", "submit": "preview"}

    monkeypatch.setattr(runtime, "settings", runtime.settings.with_(wechat_template_id="", wechat_mass_send_all=False))
    page = text(admin_console.post("/admin/announcements", fields))
    assert 'id="preview-reachable">1<' in page  # only o-recent, inside its 48 h window
    assert 'id="reach-cs">1<' in page and 'id="reach-template">0<' in page and 'id="reach-mass">0<' in page
    assert 'id="skip-opted_out">1<' in page and 'id="skip-no_channel">2<' in page
    assert 'id="preview-warning"' in page and "未配置模板消息" in page and "2 位收件人" in page
    assert session.scalar(select(Announcement)) is None and session.scalar(select(Delivery)) is None
    assert session.get(ServiceWindow, "o-recent") is None  # the preview used no window quota

    monkeypatch.setattr(runtime, "settings", runtime.settings.with_(wechat_template_id="TPL-1"))
    page = text(admin_console.post("/admin/announcements", fields))
    assert 'id="preview-reachable">3<' in page and 'id="reach-template">2<' in page and 'id="reach-cs">1<' in page
    assert 'id="skip-no_channel">0<' in page and 'id="preview-warning"' not in page

    # a notice scheduled in a week: the 48 h window will have closed by then
    later = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    page = text(admin_console.post("/admin/announcements", fields | {"send_mode": "at", "send_at": later}))
    assert 'id="reach-cs">0<' in page and 'id="reach-template">3<' in page


def test_announcement_body_from_the_console_has_unix_line_endings(admin_console, session):
    from models.announcement import Announcement

    saved = admin_console.post("/admin/announcements", {"title": "周五活动", "body": "时间：下午三点\r\n地点：活动室\n请准时",
                                                        "audience_type": "all", "send_mode": "now",
                                                        "submit": "draft"})
    assert saved.status_code == 302
    assert session.scalar(select(Announcement.body)) == "时间：下午三点\n地点：活动室\n请准时"


def test_a_scheduled_announcement_is_edited_in_the_console_until_it_goes_out(admin_console, session):
    from models.announcement import Announcement

    saved = admin_console.post("/admin/announcements", {"title": "周五活动", "body": "下午三点",
                                                        "audience_type": "topic", "topic": next(iter(TOPICS)),
                                                        "send_mode": "at", "send_at": "2031-05-09T15:00",
                                                        "submit": "schedule"})
    assert saved.status_code == 302
    ann = session.scalar(select(Announcement))
    detail = text(admin_console.get(saved.headers["Location"]))
    assert 'id="edit-announcement"' in detail
    form = text(admin_console.get(f"/admin/announcements/{ann.id}/edit"))
    assert "修改通知" in form and 'value="周五活动"' in form and 'value="2031-05-09T15:00"' in form
    assert f'action="/admin/announcements/{ann.id}/edit"' in form

    fields = {"title": "周五活动改期", "body": "改到下午四点", "audience_type": "categories", "categories": ["学校"],
              "send_mode": "at", "send_at": "2031-05-09T16:00", "recurrence": ""}
    bad = admin_console.post(f"/admin/announcements/{ann.id}/edit", fields | {"title": "标" * 21, "submit": "schedule"})
    assert bad.status_code == 422 and 'id="e-title"' in text(bad)
    preview = admin_console.post(f"/admin/announcements/{ann.id}/edit", fields | {"submit": "preview"})
    assert preview.status_code == 200 and "【周五活动改期】\n改到下午四点" in text(preview)
    session.expire_all()
    assert session.get(Announcement, ann.id).title == "周五活动"  # neither the error nor the preview changed it
    changed = admin_console.post(f"/admin/announcements/{ann.id}/edit", fields | {"submit": "schedule"})
    assert changed.status_code == 302
    session.expire_all()
    ann = session.get(Announcement, ann.id)
    assert (ann.title, ann.body, ann.status) == ("周五活动改期", "改到下午四点", "已排期")
    assert ann.audience == {"type": "categories", "categories": ["学校"]}
    assert clock.local(ann.send_at).strftime("%Y-%m-%d %H:%M") == "2031-05-09 16:00"

    admin_console.post(f"/admin/announcements/{ann.id}/cancel")
    refused = admin_console.get(f"/admin/announcements/{ann.id}/edit", follow_redirects=True)
    assert "不能在这里修改" in text(refused) and 'id="edit-announcement"' not in text(refused)
    late = admin_console.post(f"/admin/announcements/{ann.id}/edit", fields | {"submit": "schedule"})
    assert late.status_code == 422 and "不能再修改" in text(late)
    actions = sorted(a for a in session.scalars(select(AuditLog.action)) if a.startswith("announcement."))
    assert actions == ["announcement.cancel", "announcement.edit", "announcement.schedule"]


def test_announcements_are_for_administrators_only(reviewer_console):
    assert reviewer_console.get("/admin/announcements").status_code == 403
    assert reviewer_console.get("/admin/announcements/new").status_code == 403


def test_audit_details_read_in_chinese(session):
    from service.console.audit import readable_detail

    detail = {"title": "活动预告", "audience": {"type": "topic", "topic": "event"}, "via": "api", "username": "admin",
              "role": "reviewer", "recurrence": None, "filters": {"unit_ids": [1, 2]}}
    assert readable_detail(detail) == [
        ("标题", "活动预告"), ("发送对象", "类型：订阅主题；主题：活动预告"), ("途径", "接口"), ("用户名", "admin"),
        ("角色", "审核员"), ("重复", "无"), ("筛选条件", "单位：1、2")]
