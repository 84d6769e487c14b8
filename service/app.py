"""Composition root: builds the Flask app from Settings. Reads like a table of contents.

This is the only module of `service/` that knows Flask; it imports the handlers inside `create_app` (the one
sanctioned handlers ← service edge, as in flaskr).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from flask import Flask, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from service.core.config import ROOT, Settings
from service.core.db import MAX_ROW_ID, make_engine, make_session_factory
from service.core.logs import configure_logging
from service.core.redact import install_log_redaction
from service.reporting.compliance import EvaluationCache

if TYPE_CHECKING:
    from service.wechat_api.client import ApiClient

MAX_BODY = 1024 * 1024  # WeChat bodies are a few KiB; anything over 1 MiB is refused with 413
class RowId(IntegerConverter):
    """`<int:...>` in every route: a row id, so beyond MAX_ROW_ID the URL matches nothing (404) instead of reaching
    the database with a number its column cannot hold."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ROW_ID)
        super().__init__(map, *args, **kwargs)


@dataclass
class Runtime:
    """What the app was built with, for handlers: settings, engine and the session factory."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    _client: Optional["ApiClient"] = None
    # This worker's compliance evaluations, reused while the day and the data they read are unchanged.
    compliance_cache: EvaluationCache = field(default_factory=EvaluationCache)

    def wechat_client(self) -> "ApiClient":
        """The one outbound WeChat client of this process (token shared through the database or Redis)."""
        if self._client is None:
            from service.wechat_api.client import make_client
            from service.wechat_api.token_store import make_token_store

            self._client = make_client(self.settings, make_token_store(self.settings, self.session_factory))
        return self._client


def create_app(settings: Optional[Settings] = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__, root_path=str(ROOT / "handlers"), instance_path=str(ROOT / "instance"))
    configure(app, settings)
    init_database(app, settings)
    register_blueprints(app)
    register_error_handlers(app)
    register_cli(app)
    return app


def configure(app: Flask, settings: Settings) -> None:
    configure_logging()
    install_log_redaction()
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.production,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    app.session_interface = ConsoleOnlySessions()
    app.url_map.converters["int"] = RowId  # before any route is added


class ConsoleOnlySessions(SecureCookieSessionInterface):
    """Cookie sessions exist for the console only: WeChat, the API and health checks carry no cookies, and building
    a signing serializer for every WeChat message was a measurable share of the gateway's time."""

    def open_session(self, app: Flask, request):
        if not request.path.startswith("/admin"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_database(app: Flask, settings: Settings) -> None:
    engine = make_engine(settings.database_url)
    app.extensions["qijin"] = Runtime(settings, engine, make_session_factory(engine))

    @app.teardown_appcontext
    def close_session(exc: Optional[BaseException]) -> None:
        session = g.pop("db", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def runtime() -> Runtime:
    return current_app.extensions["qijin"]


def db() -> Session:
    """The request's one database session (opened lazily, closed on teardown)."""
    if "db" not in g:
        g.db = runtime().session_factory()
    return g.db


def register_blueprints(app: Flask) -> None:
    from handlers import register_blueprints as register

    register(app)


def register_error_handlers(app: Flask) -> None:
    """Under /api/ every error is the API's JSON shape (built by its one `error_response`); elsewhere HTML/text."""
    from handlers.api.errors import http_error_response, internal_error_response

    def wants_json() -> bool:
        return request.path.startswith("/api/")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if wants_json():
            return http_error_response(exc)
        return exc

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if wants_json():
            return internal_error_response()
        return "服务器内部错误，请稍后再试", 500


def register_cli(app: Flask) -> None:
    from handlers.cli import register_commands

    register_commands(app)
