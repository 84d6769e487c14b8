"""Sign-in (with lockout), sign-out and password change."""
from __future__ import annotations

from flask import flash, redirect, request, session, url_for

from handlers.admin import bp, current_admin, field_errors, form_values, login_required, render, safe_next, sign_in
from service.app import db
from service.console import accounts as admin_accounts, audit, texts
from service.core import clock
from service.core.errors import InvalidInput


@bp.route("/login", methods=["GET", "POST"])
def login():
    target = safe_next(request.values.get("next"))
    if current_admin() is not None and request.method == "GET":
        return redirect(target or url_for("admin.home"))
    values, errors = form_values(["username"]), {}
    if request.method == "POST":
        username, password = values["username"].strip(), request.form.get("password", "")
        try:
            if not username or not password:
                raise InvalidInput(texts.LOGIN_REQUIRED, "_form")
            user = admin_accounts.authenticate(db(), username, password, clock.now())
            if user is None:
                raise InvalidInput(texts.LOGIN_FAILED, "_form")
        except InvalidInput as exc:
            if username:
                audit.record(db(), username, "auth.login_failed", None, {"reason": exc.message})
            db().commit()  # keep the failure count and the audit entry
            errors = field_errors(exc)
        else:
            audit.record(db(), user, "auth.login", user)
            db().commit()
            sign_in(user)
            return redirect(target or url_for("admin.home"))
    return render("login.html", 200 if not errors else 401, values=values, errors=errors, next=target or "",
                  first_admin_needed=not admin_accounts.has_admin(db()))


@bp.post("/logout")
@login_required
def logout():
    """Ends this session on the server too: a copy of the cookie no longer signs in (nor the user's others)."""
    admin_accounts.end_sessions(current_admin())
    audit.record(db(), current_admin(), "auth.logout", current_admin())
    db().commit()
    session.clear()
    flash(texts.SIGNED_OUT, "ok")
    return redirect(url_for("admin.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    errors: dict[str, str] = {}
    if request.method == "POST":
        user = current_admin()
        new = request.form.get("new_password", "")
        try:
            if new != request.form.get("confirm_password", ""):
                raise InvalidInput(texts.PASSWORD_MISMATCH, "confirm_password")
            admin_accounts.change_password(db(), user, request.form.get("old_password", ""), new)
        except InvalidInput as exc:
            errors = field_errors(exc)
        else:
            audit.record(db(), user, "auth.password_change", user)
            db().commit()
            sign_in(user)  # this session stays valid; the others ended with the old session generation
            flash(texts.PASSWORD_CHANGED, "ok")
            return redirect(url_for("admin.home"))
    return render("password.html", 200 if not errors else 422, errors=errors,
                  forced=current_admin().must_change_password, forced_message=texts.PASSWORD_CHANGE_REQUIRED)
