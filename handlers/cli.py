"""`flask --app wsgi <command>`: operator commands (schema upgrade, custom menu push, ...).

Each command is a module-level click command run inside the app context; `register_commands` adds them all.
"""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from service.app import runtime
from service.chat import menu
from service.console import accounts as admin_accounts, audit
from service.core import clock, runlog, schema
from service.core.config import SettingsError
from service.core.db import session_scope
from service.core.errors import DomainError, WeChatAPIError, WeChatUnavailable
from service.core.redact import redact
from service.notices import announcements
from service.policy import importer as policy_import


def _unit_of_work():
    """A session on the app's database, committed when the block succeeds and rolled back when it raises."""
    return session_scope(runtime().session_factory)


@click.command("upgrade-db")
@with_appcontext
def upgrade_db() -> None:
    """Create or upgrade the database schema (Alembic head)."""
    schema.upgrade(runtime().engine)
    click.echo("database is at the latest schema")


@click.command("bootstrap")
@with_appcontext
def bootstrap_cmd() -> None:
    """Upgrade the schema and load the defaults (policy seed, first administrator)."""
    from service.bootstrap import bootstrap

    rt = runtime()
    try:
        for line in bootstrap(rt.engine, rt.session_factory, rt.settings):
            click.echo(line)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.command("sync-menu")
@with_appcontext
def sync_menu() -> None:
    """Validate the custom menu (service/chat/menu.py) against WeChat's limits and push it."""
    problems = menu.validate_menu(menu.CUSTOM_MENU)
    if problems:
        raise click.ClickException("menu is invalid:\n" + "\n".join(problems))
    rt = runtime()
    try:
        rt.wechat_client().create_menu(menu.CUSTOM_MENU)
    except WeChatUnavailable as exc:
        runlog.record(rt.session_factory, runlog.SYNC_MENU, False, redact(f"微信接口不可用：{exc}"))
        raise click.ClickException(redact(f"WeChat API unavailable: {exc}")) from exc
    except WeChatAPIError as exc:
        runlog.record(rt.session_factory, runlog.SYNC_MENU, False, redact(f"微信拒绝了菜单：{exc}"))
        raise click.ClickException(redact(f"WeChat refused the menu: {exc}")) from exc
    runlog.record(rt.session_factory, runlog.SYNC_MENU, True)
    click.echo("custom menu pushed")


@click.command("create-api-token")
@with_appcontext
@click.argument("username")
@click.option("--name", default="", help="what the token is for")
@click.option("--days", default=admin_accounts.TOKEN_DAYS, show_default=True, type=int,
              help="days until the token expires")
def create_api_token_cmd(username: str, name: str, days: int) -> None:
    """Issue a bearer token for the JSON API; it is printed once and stored hashed."""
    try:
        with _unit_of_work() as session:
            secret = admin_accounts.create_api_token(session, username, name, days)
            token = admin_accounts.find_api_token(session, secret)
            audit.record(session, None, "api_token.create", token, admin_accounts.token_detail(token))
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(secret)


@click.command("revoke-api-token")
@with_appcontext
@click.argument("token")
def revoke_api_token_cmd(token: str) -> None:
    """Revoke a bearer token, named by the whole token or by its prefix as the console lists it."""
    try:
        with _unit_of_work() as session:
            revoked = admin_accounts.revoke_api_token(session, admin_accounts.find_api_token(session, token))
            audit.record(session, None, "api_token.revoke", revoked, admin_accounts.token_detail(revoked))
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"revoked token {revoked.prefix}… of {revoked.user.username}")


@click.command("create-admin")
@with_appcontext
@click.argument("username")
@click.option("--role", default="admin", type=click.Choice(["admin", "reviewer", "reception"]))
@click.password_option()
def create_admin_cmd(username: str, role: str, password: str) -> None:
    """Create a console user (管理员 admin / 审核员 reviewer / 接待员 reception)."""
    try:
        with _unit_of_work() as session:
            admin_accounts.create_admin(session, username, password, role)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"created {role} {username}")


@click.command("import-policy")
@with_appcontext
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--title", default=None, help="document title (default: the file name)")
def import_policy_cmd(path: str, title: str | None) -> None:
    """Import a policy document (.txt/.md/.docx) into the knowledge base; the same text again changes nothing."""
    draft_id = None
    try:
        with _unit_of_work() as session:
            result = policy_import.import_file(session, path, title)
            if result.status != "unchanged":  # as after an upload in the console: a notice, scheduled by hand
                draft = announcements.draft_policy_update(session, result.title, result.version,
                                                          result.clause_count, clock.now())
                audit.record(session, None, "announcement.create", draft,
                             {"title": draft.title, "audience": draft.audience})
                draft_id = draft.id
    except policy_import.PolicyParseError as exc:
        raise click.ClickException(f"nothing imported: {exc}") from exc
    click.echo(f"{result.status}: document {result.document_id} version {result.version}, "
               f"{result.clause_count} clauses")
    if draft_id is not None:
        click.echo(f"drafted announcement {draft_id} for the 政策更新 subscribers: review and schedule it in the "
                   "console (通知) to send it")


COMMANDS = (upgrade_db, bootstrap_cmd, sync_menu, create_api_token_cmd, revoke_api_token_cmd, create_admin_cmd,
            import_policy_cmd)


def register_commands(app: Flask) -> None:
    for command in COMMANDS:
        app.cli.add_command(command)
