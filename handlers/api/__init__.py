"""/api/v1: JSON API authenticated with `Authorization: Bearer <token>`; every error has the shape of
`errors.error_response`: {"error": <code>, "message": <中文说明>, "field": <name or null>}.

Feature modules (units, reports, stats, announcements, messages) attach their routes to `bp`; they are imported at the
bottom of this file, after what they import from it (flaskr/microblog's shape).
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import Blueprint, current_app, g, jsonify, request

from handlers.api.errors import domain_error_response, error_response
from models.admin import ROLE_ADMIN, ROLE_RECEPTION
from service.app import db
from service.console import audit
from service.console.accounts import user_for_token
from service.core import clock
from service.core.errors import DomainError, Forbidden, InvalidInput, refuse_nul
from service.core.paging import Page

bp = Blueprint("api", __name__, url_prefix="/api/v1")

@bp.before_request
def authenticate():
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return error_response(401, "unauthorized", "缺少或无效的 Authorization: Bearer 令牌")
    user = user_for_token(db(), secret.strip(), clock.now())
    if user is None:
        return error_response(401, "unauthorized", "令牌无效、已过期或已吊销")
    g.api_user = user
    db().commit()  # records last_used_at
    view = current_app.view_functions.get(request.endpoint or "")
    if user.role == ROLE_RECEPTION and not getattr(view, "reception_allowed", False):
        return error_response(403, "forbidden", "接待员令牌只能处理群众留言（/api/v1/messages）")
    refuse_nul(request.args.items(multi=True))  # a 422 naming the parameter (the blueprint's DomainError handler)


def admin_only(view: Callable) -> Callable:
    """Reviewers (审核员) may only work on reports; everything else needs the 管理员 role."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.api_user.role != ROLE_ADMIN:
            raise Forbidden("需要管理员权限")
        return view(*args, **kwargs)
    return wrapper


def reception_allowed(view: Callable) -> Callable:
    """Marks a view that 接待员 (reception) tokens may call: the residents' messages; every other route refuses them."""
    view.reception_allowed = True  # type: ignore[attr-defined]
    return view


def saved(payload: Any, status: int, action: str, target: audit.Target, detail: dict[str, Any] | None = None):
    """Finish a change made through the API: its audit entry (the token's owner as actor, as the console records
    its user) and the change are committed together; answers `payload` as JSON."""
    audit.record(db(), g.api_user, action, target, {**(detail or {}), "via": "api"})
    db().commit()
    return jsonify(payload), status


def paged(items: list[Any], page: Page) -> dict[str, Any]:
    """A page of any list in the one shape every list answers with."""
    return {"items": items, "total": page.total, "page": page.page, "per_page": page.per_page, "pages": page.pages}


def json_body() -> dict[str, Any]:
    # A JSON body that does not parse is a 400 (Werkzeug's BadRequest); valid JSON that is not an object is a 422.
    data = request.get_json() if request.is_json else None
    if not isinstance(data, dict):
        raise InvalidInput("请求体必须是 JSON 对象", "body")
    refuse_nul(data.items())
    return data


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    db().rollback()
    return domain_error_response(exc)


@bp.get("/me")
def me():
    user = g.api_user
    return jsonify(username=user.username, role=user.role)


from handlers.api import announcements, messages, reports, stats, units  # noqa: E402,F401  (their routes join `bp`)
