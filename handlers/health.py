"""/favicon.ico for every page, and /healthz: 200 when the database answers and its schema is the one this code needs; 503 otherwise (the database
is unreachable, or was never upgraded or is behind — then every WeChat message would fail), for load balancers and
monitoring."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify, send_from_directory
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


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico on every site; the console and the simulator also link the SVG directly."""
    return send_from_directory(current_app.static_folder, "favicon.svg", mimetype="image/svg+xml", max_age=86400)
