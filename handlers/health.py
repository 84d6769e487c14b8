"""/healthz: 200 when the database answers, 503 otherwise (for load balancers and monitoring)."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from service.app import db

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db().execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return jsonify(status="error", database=str(exc.__class__.__name__)), 503
    return jsonify(status="ok", database="ok")
