"""Console accounts (administrators only): list, create 管理员/审核员/接待员, deactivate and reactivate; each account's API
tokens (listed, revocable)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from handlers.admin import admin_required, audited, bp, current_admin, field_errors, form_values, render
from models.admin import AdminUser, ApiToken
from service.app import db
from service.console import accounts as admin_accounts, texts
from service.core import clock
from service.core.errors import DomainError

FIELDS = ["username", "display_name", "role"]


def _page(values=None, errors=None, status=200):
    return render("accounts.html", status, users=admin_accounts.list_admins(db()),
                  roles=list(admin_accounts.ROLES.items()), values=values or {"role": "reviewer"},
                  errors=errors or {})


@bp.get("/accounts")
@admin_required
def accounts():
    return _page()


@bp.post("/accounts")
@admin_required
def create_account():
    values = form_values(FIELDS)
    try:
        user = admin_accounts.create_admin(db(), values["username"], request.form.get("password", ""),
                                           values["role"], values["display_name"].strip(), must_change_password=True)
    except DomainError as exc:
        db().rollback()
        return _page(values, field_errors(exc), 422)
    return audited("admin.create", user, {"username": user.username, "role": user.role}, url_for("admin.accounts"),
                   texts.SAVED)


@bp.post("/accounts/<int:user_id>/active")
@admin_required
def set_account_active(user_id: int):
    active = request.form.get("active") == "1"
    try:
        user = admin_accounts.set_active(db(), user_id, active, current_admin())
    except DomainError as exc:
        db().rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin.accounts"))
    return audited("admin.activate" if active else "admin.deactivate", user, None, url_for("admin.accounts"),
                   texts.SAVED)


@bp.get("/accounts/<int:user_id>/tokens")
@admin_required
def account_tokens(user_id: int):
    user = db().get(AdminUser, user_id) or abort(404)
    now = clock.now()
    tokens = [(token, admin_accounts.token_state(token, now)) for token in admin_accounts.list_api_tokens(db(), user.id)]
    return render("api_tokens.html", owner=user, tokens=tokens, valid=admin_accounts.TOKEN_VALID)


@bp.post("/accounts/<int:user_id>/tokens/<int:token_id>/revoke")
@admin_required
def revoke_account_token(user_id: int, token_id: int):
    token = db().get(ApiToken, token_id)
    if token is None or token.user_id != user_id:
        abort(404)
    to = url_for("admin.account_tokens", user_id=user_id)
    try:
        admin_accounts.revoke_api_token(db(), token)
    except DomainError as exc:
        db().rollback()
        flash(exc.message, "error")
        return redirect(to)
    return audited("api_token.revoke", token, admin_accounts.token_detail(token), to, texts.TOKEN_REVOKED)
