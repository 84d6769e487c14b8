"""Settings.from_env: one table of variables, each default declared once on the dataclass, clear errors."""
from __future__ import annotations

from dataclasses import fields

import pytest

from service.core.config import ENV_SETTINGS, Settings, SettingsError

PRODUCTION = {"FLASK_ENV": "production", "SECRET_KEY": "s", "WECHAT_TOKEN": "t", "DATABASE_URL": "sqlite://"}


def test_unset_or_empty_variables_leave_the_dataclass_defaults():
    assert Settings.from_env({}) == Settings()
    assert Settings.from_env({name: "" for name, _, _ in ENV_SETTINGS}) == Settings()


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


def test_production_turns_the_simulator_off_unless_asked_and_needs_its_secrets():
    assert Settings.from_env(PRODUCTION).production is True
    assert Settings.from_env(PRODUCTION).simulator_enabled is False
    assert Settings.from_env(PRODUCTION | {"SIMULATOR_ENABLED": "1"}).simulator_enabled is True
    assert Settings.from_env({"PRODUCTION": "true"} | PRODUCTION).production is True
    assert Settings.from_env({"SIMULATOR_ENABLED": "off"}).simulator_enabled is False
    with pytest.raises(RuntimeError, match="SECRET_KEY, DATABASE_URL"):
        Settings.from_env({"PRODUCTION": "1", "WECHAT_TOKEN": "t"})


@pytest.mark.parametrize("name, value", [("NOTIFY_CONCURRENCY", "abc"), ("WECHAT_API_TIMEOUT", "5s"),
                                         ("SCHEDULER_MISFIRE_GRACE", "1.5")])
def test_a_bad_number_names_its_variable(name, value):
    with pytest.raises(SettingsError, match=f"{name} must be .*'{value}'") as caught:
        Settings.from_env({name: value})
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
