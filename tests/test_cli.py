"""Operator commands: module-level click commands, each registered once on the app's `flask` group."""
from __future__ import annotations

from sqlalchemy import select

from handlers import cli
from models.admin import AdminUser
from service.console.accounts import user_for_token
from service.core import clock

NAMES = {"upgrade-db", "bootstrap", "sync-menu", "create-api-token", "revoke-api-token", "create-admin",
         "import-policy"}


def test_every_command_is_registered_under_its_name(app):
    assert {c.name for c in cli.COMMANDS} == NAMES
    assert NAMES <= set(app.cli.commands)
    assert all(app.cli.commands[c.name] is c for c in cli.COMMANDS)


def test_options_are_unchanged(app):
    params = {c.name: sorted(p.name for p in c.params) for c in cli.COMMANDS}
    assert params["create-admin"] == ["password", "role", "username"]
    assert params["create-api-token"] == ["days", "name", "username"]
    assert params["revoke-api-token"] == ["token"]
    assert params["import-policy"] == ["path", "title"]
    assert params["upgrade-db"] == params["bootstrap"] == params["sync-menu"] == []


def test_create_admin_then_a_token_for_it(app, session):
    runner = app.test_cli_runner()
    created = runner.invoke(args=["create-admin", "li", "--role", "reviewer"], input="pass-word-123\npass-word-123\n")
    assert created.exit_code == 0, created.output
    assert created.output.endswith("created reviewer li\n")
    assert session.scalar(select(AdminUser).where(AdminUser.username == "li")).role == "reviewer"
    issued = runner.invoke(args=["create-api-token", "li", "--name", "报表"])
    assert issued.exit_code == 0, issued.output
    assert user_for_token(session, issued.output.strip(), clock.now()).username == "li"
    refused = runner.invoke(args=["create-admin", "wang", "--role", "owner", "--password", "x"])
    assert refused.exit_code == 2 and "owner" in refused.output
