"""Start-up duties shared by `python wsgi.py`, `python -m scheduler` and `flask bootstrap`: schema, defaults; and the
check a served app (`gunicorn wsgi:app`) makes instead of upgrading."""
from __future__ import annotations

from typing import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from service.console import accounts as admin_accounts
from service.core import schema
from service.core.config import Settings
from service.core.db import session_scope
from service.policy import importer as policy_import

# Each step loads one kind of default data and returns a line for the log; the steps are idempotent.
STEPS: list[Callable[[Session, Settings], str]] = [
    admin_accounts.ensure_first_admin,
    policy_import.bootstrap_seed,
]


class StartupRefused(Exception):
    """The process must not start; the message is one line for the operator, naming what to run."""


def require_current_schema(engine: Engine) -> None:
    """Refuse to serve a database that was never upgraded or is behind (every WeChat message would fail)."""
    current = schema.engine_state(engine)
    if not current.up_to_date:
        raise StartupRefused(current.problem())


def bootstrap(engine: Engine, session_factory: sessionmaker[Session], settings: Settings) -> list[str]:
    schema.upgrade(engine)
    lines = ["schema upgraded"]
    for step in STEPS:
        with session_scope(session_factory) as session:
            lines.append(step(session, settings))
    return lines
