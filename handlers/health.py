"""/healthz: 200 when the database answers and its schema is the one this code needs; 503 otherwise (the database
is unreachable, or was never upgraded or is behind — then every WeChat message would fail), for load balancers and
monitoring."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.app import db
from service.core import schema

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db().execute(text("SELECT 1"))
        current = schema.state(db().connection())
    except SQLAlchemyError as exc:
        return jsonify(status="error", database=str(exc.__class__.__name__)), 503
    body = {"database": "ok", "schema": "ok" if current.up_to_date else "behind", "revision": current.current,
            "expected_revision": current.head}
    if not current.up_to_date:
        return jsonify(status="error", **body, hint=schema.BOOTSTRAP_COMMAND), 503
    return jsonify(status="ok", **body)
