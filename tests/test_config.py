"""Settings.from_env: one table of variables, each default declared once on the dataclass, clear errors."""
from __future__ import annotations

from dataclasses import fields

import pytest

from service.core.config import ENV_SETTINGS, Settings, SettingsError

PRODUCTION = {"FLASK_ENV": "production", "SECRET_KEY": "s", "WECHAT_TOKEN": "t", "DATABASE_URL": "sqlite://"}


def test_unset_or_empty_variables_leave_the_dataclass_defaults():
    # the simulator alone: served by default by the development server (`python wsgi.py`) only
    assert Settings.from_env({}, dev_server=True) == Settings()
    assert Settings.from_env({name: "" for name, _, _ in ENV_SETTINGS}, dev_server=True) == Settings()
    assert Settings.from_env({}) == Settings(simulator_enabled=False)


def test_every_field_but_production_has_exactly_one_variable():
    attrs = [attr for _, attr, _ in ENV_SETTINGS]
    assert len(attrs) == len(set(attrs))
    assert set(attrs) == {f.name for f in fields(Settings)} - {"production", "extra"}


def test_values_are_parsed_by_their_field_type():
    settings = Settings.from_env({"MESSAGE_RETENTION_DAYS": "30", "WECHAT_API_TIMEOUT": "2.5",
                                  "NOTIFY_LEASE_SECONDS": "60", "WECHAT_MASS_SEND_ALL": "yes",
                                  "SCHEDULER_IN_WEB": "0", "ADMIN_OPENIDS": " o-1, ,o-2 ,", "WECHAT_SECRET": "x"})
    assert settings.message_retention_days == 30 and settings.api_timeout == 2.5
    assert settings.notify_lease_seconds == 60.0 and isinstance(settings.notify_lease_seconds, float)
    assert settings.wechat_mass_send_all is True and settings.scheduler_in_web is False
    assert settings.admin_openids == ("o-1", "o-2") and settings.wechat_secret == "x"


def test_production_turns_the_simulator_off_and_needs_its_secrets():
    assert Settings.from_env(PRODUCTION).production is True
    assert Settings.from_env(PRODUCTION, dev_server=True).simulator_enabled is False
    assert Settings.from_env({"PRODUCTION": "true"} | PRODUCTION).production is True
    assert Settings.from_env({"SIMULATOR_ENABLED": "off"}, dev_server=True).simulator_enabled is False
    assert Settings.from_env({"SIMULATOR_ENABLED": "1"}).simulator_enabled is True
    with pytest.raises(SettingsError, match="SECRET_KEY, DATABASE_URL"):
        Settings.from_env({"PRODUCTION": "1", "WECHAT_TOKEN": "t"})


@pytest.mark.parametrize("env, named", [
    ({"SECRET_KEY": Settings().secret_key}, "SECRET_KEY"),
    ({"WECHAT_TOKEN": Settings().wechat_token}, "WECHAT_TOKEN"),
    ({"SECRET_KEY": Settings().secret_key, "WECHAT_TOKEN": Settings().wechat_token}, "SECRET_KEY, WECHAT_TOKEN"),
    ({"SIMULATOR_ENABLED": "1"}, "SIMULATOR_ENABLED"),
])
def test_production_refuses_development_values_and_the_simulator(env, named):
    with pytest.raises(SettingsError, match=named) as caught:
        Settings.from_env(PRODUCTION | env)
    assert "\n" not in str(caught.value)


def _served_paths(tmp_path, env: dict[str, str], run_as_main: bool) -> str:
    """Load wsgi.py in a fresh interpreter as gunicorn does (import) or as `python wsgi.py` does (run as
    __main__, with the server's `run` replaced by one request) and give /simulator's status code; on a
    refusal to start, the last line of stderr."""
    import subprocess
    import sys

    from service.core.config import ROOT

    probe = "print(app.test_client().get('/simulator').status_code)"
    code = (f"import flask; flask.Flask.run = lambda app, **kw: {probe}\n"
            "import runpy; runpy.run_path('wsgi.py', run_name='__main__')" if run_as_main else
            f"from wsgi import app; {probe}")
    if not run_as_main:  # a served app refuses a database that was never upgraded (wsgi.py)
        from service.core import schema
        from service.core.db import make_engine

        schema.upgrade(make_engine(f"sqlite:///{tmp_path / 'w.db'}"))
    environment = {"PATH": "/usr/bin:/bin", "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
                   "SCHEDULER_IN_WEB": "0", "HOME": str(tmp_path), "MEDIA_DIR": str(tmp_path)} | env
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=120)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip().splitlines()[-1]


def test_only_the_development_server_serves_the_simulator_by_default(tmp_path):
    assert _served_paths(tmp_path, {}, run_as_main=False) == "404"  # gunicorn wsgi:app
    assert _served_paths(tmp_path, {}, run_as_main=True) == "200"  # python wsgi.py
    assert _served_paths(tmp_path, {"SIMULATOR_ENABLED": "1"}, run_as_main=False) == "200"
    refused = _served_paths(tmp_path, dict(PRODUCTION, SIMULATOR_ENABLED="1", DATABASE_URL="sqlite://"),
                            run_as_main=False)
    assert refused.startswith("cannot start:") and "SIMULATOR_ENABLED" in refused


@pytest.mark.parametrize("name, value", [("NOTIFY_CONCURRENCY", "abc"), ("WECHAT_API_TIMEOUT", "5s"),
                                         ("SCHEDULER_MISFIRE_GRACE", "1.5")])
def test_a_bad_number_names_its_variable(name, value):
    with pytest.raises(SettingsError, match=f"{name} must be .*'{value}'") as caught:
        Settings.from_env({name: value})
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
