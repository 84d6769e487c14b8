"""Schema management through Alembic, so a deployed database can be upgraded in place."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Optional

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from models.base import Base
from service.core.config import ROOT

MIGRATIONS = ROOT / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to `revision`."""
    with engine.begin() as conn:
        cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


BOOTSTRAP_COMMAND = "flask --app wsgi bootstrap"


@dataclass(frozen=True)
class SchemaState:
    """The revision the database is at (None: never upgraded) against the newest one this code has."""

    current: Optional[str]
    head: str

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head

    def problem(self) -> str:
        """One line for an operator: what is wrong and the command that fixes it."""
        at = f"at revision {self.current}" if self.current else "never upgraded"
        return f"the database schema is behind ({at}, this code needs {self.head}): run `{BOOTSTRAP_COMMAND}` first"


@cache
def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head() or ""


def state(conn: Connection) -> SchemaState:
    """Where the database behind `conn` is, read from Alembic's version table (absent: never upgraded)."""
    return SchemaState(MigrationContext.configure(conn).get_current_revision(), head_revision())


def engine_state(engine: Engine) -> SchemaState:
    with engine.connect() as conn:
        return state(conn)


def pending_changes(engine: Engine) -> list:
    """Differences between the migrated schema and the models (empty when the migrations are complete)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False, "include_object": include_object})
        return compare_metadata(context, Base.metadata)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """APScheduler owns its job table; migrations leave it alone."""
    return not (type_ == "table" and name == "apscheduler_jobs")
