"""Policy pages (administrators only): documents and their clause tree, upload a new version, FAQ entries with a
"try it" box, and the unanswered questions with a one-click "make FAQ" that also answers the people who asked."""
from __future__ import annotations

from flask import flash, redirect, request, url_for

from handlers.admin import admin_required, bp, current_admin, form_values, render, upload_limit
from handlers.admin.messages import deliver_now
from models.policy import UnansweredQuestion
from service.app import db, runtime
from service.console import audit, texts, unanswered as unanswered_service
from service.core import clock
from service.core.errors import InvalidInput
from service.core.paging import requested_page
from service.notices import announcements
from service.policy import documents as policy_docs, faq as policy_faq, importer as policy_import
from service.policy.answers import preview_answer

FAQ_FIELDS = ["questions", "answer", "unanswered_id", "reply_askers"]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@bp.get("/policy")
@admin_required
def policy():
    return _policy_page()


def _policy_page(values=None, errors=None, status=200):
    return render("policy.html", status, documents=policy_docs.list_documents(db()), values=values or {},
                  errors=errors or {}, max_mb=policy_docs.MAX_UPLOAD_BYTES // (1024 * 1024),
                  types=", ".join(sorted(policy_docs.UPLOAD_TYPES)))


@bp.post("/policy/upload")
@admin_required
@upload_limit(policy_docs.MAX_UPLOAD_BYTES + 64 * 1024)  # room for the other fields; the file itself is checked
def upload_policy():
    upload = request.files.get("file")
    values = form_values(["title"])
    data = upload.read() if upload else b""
    try:
        name = policy_docs.check_upload(upload.filename if upload else "", data)
        text = policy_import.read_document(name, data)
        title = values["title"].strip()[:200] or policy_import.title_from_name(name)
        result = policy_import.import_document(db(), title, text, name)
    except InvalidInput as exc:
        return _policy_page(values, {exc.field or "file": exc.message}, 422)
    except policy_import.PolicyParseError as exc:
        db().rollback()
        return _policy_page(values, {"file": str(exc)}, 422)
    audit.record(db(), current_admin(), "policy.upload", ("policy_document", result.document_id),
                 {"file": name, "status": result.status, "version": result.version, "clauses": result.clause_count})
    message = texts.POLICY_IMPORTED[result.status].format(version=result.version, count=result.clause_count)
    if result.status != "unchanged":  # subscribers of 政策更新 get a notice once an administrator schedules it
        draft = announcements.draft_policy_update(db(), title, result.version, result.clause_count, clock.now(),
                                                  created_by=current_admin().id)
        audit.record(db(), current_admin(), "announcement.create", draft, {"title": draft.title,
                                                                            "audience": draft.audience})
        message += texts.POLICY_NOTICE_DRAFTED
    db().commit()
    flash(message, "ok")
    return redirect(url_for("admin.policy_document", document_id=result.document_id))


@bp.get("/policy/documents/<int:document_id>")
@admin_required
def policy_document(document_id: int):
    document, roots = policy_docs.document_tree(db(), document_id)
    return render("policy_document.html", document=document, roots=roots)


def _faq_page(values=None, errors=None, status=200):
    query = request.args.get("q", "").strip()[:300]
    preview = preview_answer(db(), query) if query else None
    return render("faq.html", status, faqs=policy_faq.list_faqs(db()), values=values or {}, errors=errors or {},
                  query=query, preview=preview)


@bp.get("/policy/faq")
@admin_required
def faq():
    values = {}
    source = request.args.get("from", type=int)
    if source is not None:
        row = db().get(UnansweredQuestion, source)
        if row is not None:
            values = {"questions": row.example, "unanswered_id": str(row.id), "reply_askers": "1",
                      "askers": unanswered_service.asker_counts(db(), [row.id]).get(row.id, 0)}
    return _faq_page(values)


@bp.post("/policy/faq")
@admin_required
def create_faq():
    values = form_values(FAQ_FIELDS)
    sent = []
    try:
        if values["unanswered_id"].isdigit():
            done = unanswered_service.answer_and_make_faq(
                db(), int(values["unanswered_id"]), values["answer"], _lines(values["questions"]), current_admin(),
                clock.now(), runtime().settings.message_sla_hours, reply_to_askers=values["reply_askers"] == "1")
            entry, sent = done.faq, done.replies
        else:
            entry = policy_faq.create_faq(db(), _lines(values["questions"]), values["answer"])
    except policy_faq.FaqInvalid as exc:
        db().rollback()
        return _faq_page(values, {exc.field or "_form": str(exc)}, 422)
    except InvalidInput as exc:
        db().rollback()
        return _faq_page(values, {exc.field or "_form": exc.message}, 422)
    except policy_faq.FaqNotFound:
        db().rollback()
        return _faq_page(values, {"_form": texts.UNANSWERED_GONE}, 404)
    audit.record(db(), current_admin(), "faq.create", ("faq", entry.id),
                 {"questions": entry.questions, "from_unanswered": values["unanswered_id"] or None,
                  "answered_askers": len(sent)})
    db().commit()
    deliver_now(*sent)
    flash(texts.SAVED + (texts.ANSWERED_ASKERS.format(count=len(sent)) if sent else ""), "ok")
    return redirect(url_for("admin.faq"))


@bp.route("/policy/faq/<int:faq_id>", methods=["GET", "POST"])
@admin_required
def edit_faq(faq_id: int):
    try:
        entry = policy_faq.get_faq(db(), faq_id)
    except policy_faq.FaqNotFound:
        return render("error.html", 404, title="未找到", message="没有这条问答。")
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = form_values(["questions", "answer"])
        try:
            policy_faq.update_faq(db(), faq_id, _lines(values["questions"]), values["answer"],
                                  active=request.form.get("active") == "1")
        except policy_faq.FaqInvalid as exc:
            db().rollback()
            errors = {exc.field or "_form": str(exc)}
        else:
            audit.record(db(), current_admin(), "faq.update", ("faq", faq_id), {"questions": entry.questions})
            db().commit()
            flash(texts.SAVED, "ok")
            return redirect(url_for("admin.faq"))
    else:
        values = {"questions": "\n".join(entry.questions or []), "answer": entry.answer}
    return render("faq_edit.html", 422 if errors else 200, entry=entry, values=values, errors=errors)


@bp.post("/policy/faq/<int:faq_id>/delete")
@admin_required
def delete_faq(faq_id: int):
    try:
        entry = policy_faq.get_faq(db(), faq_id)
        questions = list(entry.questions or [])
        policy_faq.delete_faq(db(), faq_id)
    except policy_faq.FaqNotFound:
        flash("没有这条问答", "error")
        return redirect(url_for("admin.faq"))
    audit.record(db(), current_admin(), "faq.delete", ("faq", faq_id), {"questions": questions})
    db().commit()
    flash(texts.DELETED, "ok")
    return redirect(url_for("admin.faq"))


@bp.get("/policy/unanswered")
@admin_required
def unanswered():
    page = policy_faq.unanswered_page(db(), *requested_page(request.args))
    return render("unanswered.html", page=page, rows=page.items,
                  askers=unanswered_service.asker_counts(db(), [r.id for r in page.items]))
