"""Schema management through Alembic, so a deployed database can be upgraded in place."""
from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.autogenerate import compare_metadata
from sqlalchemy.engine import Engine

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


def pending_changes(engine: Engine) -> list:
    """Differences between the migrated schema and the models (empty when the migrations are complete)."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False, "include_object": include_object})
        return compare_metadata(context, Base.metadata)


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """APScheduler owns its job table; migrations leave it alone."""
    return not (type_ == "table" and name == "apscheduler_jobs")
