"""The one shape of every /api/v1 error: {"error": <code>, "message": <中文说明>, "field": <name or null>}.

`error_response` builds all of them: the blueprint's own answers (401 from the bearer check, domain errors) and
the app-wide handlers for /api/ paths (404/405 from routing, 413 from the body limit, 500).
"""
from __future__ import annotations

import re

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

from service.core.errors import DomainError

INTERNAL_ERROR = ("internal_error", "服务器内部错误，请稍后再试")

# HTTP status → (code, message) for the errors Flask and Werkzeug raise themselves.
HTTP_ERRORS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthorized", "需要有效的访问令牌"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "请求的资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    409: ("conflict", "与现有数据冲突"),
    413: ("payload_too_large", "请求体超过大小限制"),
    415: ("unsupported_media_type", "不支持的请求内容类型"),
    422: ("invalid_input", "提交的数据无效"),
    429: ("too_many_requests", "请求过于频繁，请稍后再试"),
    500: INTERNAL_ERROR,
}


def error_response(status: int, code: str, message: str, field: str | None = None) -> tuple[Response, int]:
    return jsonify(error=code, message=message, field=field), status


def domain_error_response(exc: DomainError) -> tuple[Response, int]:
    return error_response(exc.status, exc.code, exc.message, exc.field)


def http_error_response(exc: HTTPException) -> tuple[Response, int]:
    status = exc.code or 500
    code, message = HTTP_ERRORS.get(status) or (re.sub(r"[^a-z]+", "_", exc.name.lower()).strip("_"), "请求无法处理")
    response, status = error_response(status, code, message)
    valid_methods = getattr(exc, "valid_methods", None)  # 405 says what is allowed
    if valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response, status


def internal_error_response() -> tuple[Response, int]:
    return error_response(500, *INTERNAL_ERROR)
