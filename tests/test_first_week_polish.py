"""Small things a new district trips over in its first week: a favicon, the login page saying how the first
administrator is made, and start-up logs without the libraries' routine chatter."""
import logging

from tests.console import make_console_user


def test_every_page_has_a_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"<svg" in response.data
    assert 'rel="icon"' in client.get("/admin/login").get_data(as_text=True)


def test_the_login_page_says_how_the_first_administrator_is_made_until_there_is_one(client, session_factory):
    page = client.get("/admin/login").get_data(as_text=True)
    assert 'id="first-admin"' in page and "ADMIN_USERNAME" in page and "flask --app wsgi bootstrap" in page
    make_console_user(session_factory, "first", "admin")
    assert 'id="first-admin"' not in client.get("/admin/login").get_data(as_text=True)


def test_schema_checks_and_jobs_log_nothing_routine_at_info(client, caplog):
    caplog.set_level(logging.INFO)
    from scheduler import build_scheduler  # noqa: F401 - the scheduler's loggers as the web process has them

    client.get("/healthz")
    chatter = [r for r in caplog.records if r.name.startswith(("alembic", "apscheduler")) and r.levelno < logging.WARNING]
    assert chatter == []
    assert logging.getLogger("alembic").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("apscheduler.scheduler").getEffectiveLevel() == logging.WARNING
