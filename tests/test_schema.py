"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
from sqlalchemy import inspect, text

from models.base import Base
from service.core import schema
from service.core.db import make_engine


def test_migrations_upgrade_an_empty_database_to_the_models(database_url, tmp_path):
    if database_url.startswith("postgresql"):
        admin = make_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS qijin_migration_check"))
            conn.execute(text("CREATE DATABASE qijin_migration_check"))
        admin.dispose()
        url = database_url.rsplit("/", 1)[0] + "/qijin_migration_check"
    else:
        url = f"sqlite:///{tmp_path / 'migrated.db'}"
    engine = make_engine(url)
    try:
        schema.upgrade(engine)
        assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
        assert schema.pending_changes(engine) == []
        schema.upgrade(engine)  # idempotent
    finally:
        engine.dispose()
