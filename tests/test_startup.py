"""Starting the service as an operator does: a weak ADMIN_PASSWORD or a database that was never upgraded stops the
start with one line naming the fix, never a traceback; `/healthz` says whether the schema is current."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from service import create_app
from service.core import schema
from service.core.db import make_engine

ROOT = Path(__file__).resolve().parent.parent


def run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run a start-up command on its own SQLite database in `tmp_path` (never the test database)."""
    environ = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "SCHEDULER_IN_WEB": "0",
               "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}", "MEDIA_DIR": str(tmp_path / "media"), **env}
    return subprocess.run(args, cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120)


def test_a_weak_admin_password_stops_the_start_with_one_line(tmp_path):
    started = run([sys.executable, "wsgi.py"], tmp_path, ADMIN_USERNAME="admin", ADMIN_PASSWORD="123456")
    assert started.returncode == 1
    assert "Traceback" not in started.stderr
    assert started.stderr.strip().splitlines()[-1].startswith("cannot start: ADMIN_PASSWORD is too weak")
    booted = run([sys.executable, "-m", "flask", "--app", "wsgi", "bootstrap"], tmp_path,
                 ADMIN_USERNAME="admin", ADMIN_PASSWORD="123456")
    assert booted.returncode == 1 and "Traceback" not in booted.stderr
    assert booted.stderr.strip().splitlines()[-1].startswith("Error: ADMIN_PASSWORD is too weak")


def test_gunicorn_refuses_a_database_that_was_never_upgraded_then_serves_it_once_bootstrapped(tmp_path):
    served = run(["gunicorn", "--no-control-socket", "--bind", "127.0.0.1:0", "--workers", "1", "wsgi:app"],
                 tmp_path)
    assert served.returncode == 4  # gunicorn's "App failed to load": it stops instead of restarting workers
    assert "Traceback" not in served.stderr
    refusal = [line for line in served.stderr.splitlines() if line.startswith("cannot start:")]
    assert len(refusal) == 1 and "`flask --app wsgi bootstrap`" in refusal[0] and "never upgraded" in refusal[0]

    booted = run([sys.executable, "-m", "flask", "--app", "wsgi", "bootstrap"], tmp_path,
                 ADMIN_USERNAME="admin", ADMIN_PASSWORD="a-good-pass-1")
    assert booted.returncode == 0, booted.stderr
    imported = run([sys.executable, "-c", "import wsgi"], tmp_path)  # what the server does with wsgi:app
    assert imported.returncode == 0 and "cannot start" not in imported.stderr


def test_healthz_reports_the_schema_state(settings, tmp_path):
    url = f"sqlite:///{tmp_path / 'health.db'}"
    app = create_app(settings.with_(database_url=url))
    client = app.test_client()
    behind = client.get("/healthz")
    assert behind.status_code == 503
    assert behind.get_json() == {"status": "error", "database": "ok", "schema": "behind", "revision": None,
                                 "expected_revision": schema.head_revision(),
                                 "hint": "flask --app wsgi bootstrap"}
    engine = make_engine(url)
    try:
        schema.upgrade(engine)
    finally:
        engine.dispose()
    current = client.get("/healthz")
    app.extensions["qijin"].engine.dispose()
    assert current.status_code == 200
    assert current.get_json() == {"status": "ok", "database": "ok", "schema": "ok",
                                  "revision": schema.head_revision(), "expected_revision": schema.head_revision()}
