"""/admin: the server-rendered console. Session sign-in, CSRF on every form, role checks on every view.

Views stay thin: they read the form, call the same service functions as the JSON API, record an audit entry for
every change, commit, and render. Feature pages live in sibling modules imported at the bottom of this file.

CSRF follows Flask-WTF's documented selective pattern: `WTF_CSRF_CHECK_DEFAULT` is off, and this blueprint's own
`before_request` calls `csrf.protect()` on unsafe methods. Nothing else (/wechat, /api/v1, /healthz) reads a token.
"""
from __future__ import annotations

from datetime import timedelta
from functools import wraps
from typing import Any, Callable, Iterable, Optional
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask.blueprints import BlueprintSetupState
from flask_wtf.csrf import CSRFError, CSRFProtect

from models.admin import ROLE_ADMIN, ROLE_RECEPTION, ROLE_REVIEWER, AdminUser
from service.app import db
from service.console.accounts import PASSWORD_RULE, ROLES
from service.core import clock
from service.core.errors import DomainError, refuse_nul

bp = Blueprint("admin", __name__, url_prefix="/admin")


csrf = CSRFProtect()

ALL_ROLES = (ROLE_ADMIN, ROLE_REVIEWER, ROLE_RECEPTION)
REPORT_ROLES = (ROLE_ADMIN, ROLE_REVIEWER)  # 接待员 (reception) works only in the residents' messages inbox
SESSION_LIFETIME = timedelta(hours=8)
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# What an account that must choose its own password may still open; everything else leads to the password page.
BEFORE_PASSWORD_CHANGE = {"admin.password", "admin.logout"}


@bp.record_once
def set_up_app(state: BlueprintSetupState) -> None:
    """What the console needs from the app it is registered on: CSRF tokens (checked only below, never by default)
    and the signed session's lifetime."""
    app = state.app
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False  # Flask-WTF's app-wide hook then returns at once
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the signed session's lifetime
    app.config["PERMANENT_SESSION_LIFETIME"] = SESSION_LIFETIME  # Flask's own default is 31 days
    csrf.init_app(app)


def sign_in(user: AdminUser) -> None:
    session.clear()  # no fixation: a fresh session (and CSRF token) after sign-in
    session.permanent = True
    session["admin_id"] = user.id
    session["gen"] = user.session_generation  # the session is valid while the user's generation is unchanged


def current_admin() -> Optional[AdminUser]:
    return g.get("admin")


def upload_limit(max_bytes: int) -> Callable:
    """Raise the request body limit for one upload view (the app-wide limit is 1 MiB). The mark is an attribute of
    the view, which `functools.wraps` carries through the role decorators in either order."""
    def decorate(view: Callable) -> Callable:
        view.max_upload = max_bytes  # type: ignore[attr-defined]
        return view
    return decorate


@bp.before_request
def load_admin_and_check_csrf():
    limit = getattr(current_app.view_functions.get(request.endpoint or ""), "max_upload", None)
    if limit:
        request.max_content_length = limit  # before CSRF reads the form
    if request.method in UNSAFE_METHODS:
        csrf.protect()  # raises CSRFError (answered below) when the form's token is missing or wrong
    refuse_nul([*request.args.items(multi=True), *request.form.items(multi=True)])  # 422 page naming the field
    g.admin = None
    admin_id = session.get("admin_id")
    if admin_id is not None:
        user = db().get(AdminUser, admin_id)
        if user is not None and user.active and session.get("gen") == user.session_generation:
            g.admin = user
        else:
            session.clear()


@bp.after_request
def security_headers(response):
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
    return response


def roles_required(*roles: str) -> Callable:
    """Not signed in → the sign-in page; a password someone else chose → the password page first; signed in without
    one of `roles` → 403. Marks the view for the tests."""
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = current_admin()
            if user is None:
                return redirect(url_for("admin.login", next=request.full_path.rstrip("?")))
            if user.must_change_password and request.endpoint not in BEFORE_PASSWORD_CHANGE:
                return redirect(url_for("admin.password"))
            if user.role not in roles:
                abort(403)
            return view(*args, **kwargs)
        wrapper.allowed_roles = frozenset(roles)  # type: ignore[attr-defined]
        return wrapper
    return decorate


login_required = roles_required(*ALL_ROLES)
reports_required = roles_required(*REPORT_ROLES)
admin_required = roles_required(ROLE_ADMIN)


def safe_next(target: Optional[str]) -> Optional[str]:
    """Only same-site console paths are followed after sign-in (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/admin") or target.startswith("//"):
        return None
    return target


def form_values(names: Iterable[str]) -> dict[str, str]:
    return {name: request.form.get(name, "") for name in names}


def field_errors(exc: DomainError) -> dict[str, str]:
    """A domain error as {field: message} for the form macros ('_form' when no field is named)."""
    return {exc.field or "_form": exc.message}


def audited(action: str, target: Any, detail: Optional[dict[str, Any]], to: str, message: str):
    """Finish a successful change: audit entry, commit (both or neither), a flash message, redirect to `to`."""
    from service.console import audit as audit_log  # the name `audit` is this package's view module

    audit_log.record(db(), current_admin(), action, target, detail)
    db().commit()
    flash(message, "ok")
    return redirect(to)


def render(template: str, http_status: int = 200, **context: Any):
    return render_template(f"admin/{template}", **context), http_status


@bp.app_template_filter("localtime")
def localtime(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return clock.local(value).strftime(fmt)


@bp.app_context_processor
def console_context() -> dict[str, Any]:
    user = g.get("admin")
    return {"admin_user": user, "role_names": ROLES, "is_admin": bool(user and user.role == ROLE_ADMIN),
            "view_endpoints": current_app.view_functions, "password_rule": PASSWORD_RULE}


@bp.errorhandler(CSRFError)
def csrf_failed(exc: CSRFError):
    return render("error.html", 400, title="页面已过期", message="表单已过期或来源无效，请返回刷新页面后重试。")


@bp.errorhandler(403)
def forbidden(exc):
    return render("error.html", 403, title="没有权限", message="您的账号没有权限访问此页面。")


@bp.errorhandler(404)
def not_found(exc):
    return render("error.html", 404, title="未找到", message="要找的内容不存在或已被删除。")


@bp.errorhandler(413)
def too_large(exc):
    return render("error.html", 413, title="文件太大", message="上传的内容超过了大小限制，请返回选择更小的文件。")


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    db().rollback()
    return render("error.html", exc.status, title="无法完成", message=exc.message)


from handlers.admin import (accounts, announcements, audit, auth, compliance,  # noqa: E402,F401; views join `bp`
                            dashboard, home, messages, policy, reports, status, units)
