"""`flask --app wsgi <command>`: operator commands (schema upgrade, custom menu push, ...)."""
from __future__ import annotations

import click
from flask import Flask

from service import schema
from service.app import runtime


def register_commands(app: Flask) -> None:
    @app.cli.command("upgrade-db")
    def upgrade_db() -> None:
        """Create or upgrade the database schema (Alembic head)."""
        schema.upgrade(runtime().engine)
        click.echo("database is at the latest schema")

    @app.cli.command("bootstrap")
    def bootstrap_cmd() -> None:
        """Upgrade the schema and load the defaults (policy seed, first administrator)."""
        from service.bootstrap import bootstrap

        rt = runtime()
        for line in bootstrap(rt.engine, rt.session_factory, rt.settings):
            click.echo(line)
