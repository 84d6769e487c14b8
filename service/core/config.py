"""Settings read once from the environment (and an optional .env); the only reader of os.environ."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_API_BASE = "https://api.weixin.qq.com/cgi-bin/"
DEFAULT_SEED = ROOT / "service" / "policy" / "data" / "policy_seed.txt"


class SettingsError(ValueError):
    """An environment variable holds a value its setting cannot take; the message names the variable."""


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _openids(value: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in value.split(",") if o.strip())


ENCRYPT_MODES = ("plain", "compatible", "safe")  # WeChat's 明文模式, 兼容模式, 安全模式


def _encrypt_mode(value: str) -> str:
    mode = value.strip().lower()
    if mode not in ENCRYPT_MODES:
        raise ValueError(value)
    return mode


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(value)
    return number


@dataclass(frozen=True)
class Settings:
    wechat_token: str = "qijin-dev-token"
    wechat_appid: str = "wx0000000000000000"
    wechat_secret: str = ""
    wechat_aes_key: str = ""  # EncodingAESKey
    wechat_aes_key_previous: str = ""  # the key before the last change: still accepted, answered with itself
    # plain | compatible | safe; empty: safe when an EncodingAESKey is set, else plain (see `encrypt_mode`)
    wechat_encrypt_mode: str = ""
    # A signed request whose timestamp is further than this from our clock is refused; within it, a nonce that
    # comes back with another message is refused too (service/wechat/protocol.py, inbox.py)
    wechat_replay_window_seconds: int = 300
    wechat_api_base: str = DEFAULT_API_BASE
    wechat_template_id: str = ""  # template used for notices outside the 48 h window
    wechat_mass_send_all: bool = False  # whether "all followers" goes through mass send
    database_url: str = f"sqlite:///{ROOT / 'instance' / 'qijin.db'}"
    redis_url: str = ""
    secret_key: str = "dev-secret-key-change-me"
    admin_username: str = ""
    admin_password: str = ""
    production: bool = False
    simulator_enabled: bool = True
    media_dir: str = str(ROOT / "instance" / "media")
    message_retention_days: int = 180
    api_timeout: float = 5.0
    compliance_quarter_min: int = 1  # approved activities each unit must report per quarter (督查考核)
    wechat_mass_monthly_limit: int = 4  # mass messages a follower may receive per month (service account)
    notify_concurrency: int = 32  # WeChat calls in flight at once per scheduler process
    notify_lease_seconds: float = 120.0  # a claimed delivery not finished by then was interrupted by a crash
    notify_max_attempts: int = 10  # retryable failures (-1, 45009, HTTP 5xx, network) before giving up
    notify_backoff_seconds: float = 5.0  # first retry delay; doubles per attempt, capped at 30 min
    scheduler_poll_seconds: float = 5.0  # how often the scheduler looks for due announcements
    scheduler_misfire_grace: int = 3600  # a run missed by less than this (downtime) still runs once
    scheduler_in_web: bool = True  # `python wsgi.py` also runs the scheduler in the background (development)
    admin_openids: tuple[str, ...] = ()  # administrators' openids for the weekly digest
    message_sla_hours: int = 48  # working hours (Mon–Fri) within which a resident's message should be answered
    message_reply_template_id: str = ""  # template telling a resident outside the 48 h window that staff replied
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.wechat_encrypt_mode not in ("", *ENCRYPT_MODES):
            raise SettingsError(f"WECHAT_ENCRYPT_MODE must be one of {', '.join(ENCRYPT_MODES)}, "
                                f"not {self.wechat_encrypt_mode!r}")
        if self.wechat_encrypt_mode in ("compatible", "safe") and not self.wechat_aes_key:
            raise SettingsError(f"WECHAT_ENCRYPT_MODE={self.wechat_encrypt_mode} needs WECHAT_AES_KEY "
                                "(the EncodingAESKey of the WeChat console)")

    @property
    def encrypt_mode(self) -> str:
        """Which messages /wechat accepts: 'plain' (plaintext only), 'compatible' (both, each answered in its own
        form) or 'safe' (AES-encrypted only: anything else is refused)."""
        return self.wechat_encrypt_mode or ("safe" if self.wechat_aes_key else "plain")

    @property
    def safe_mode(self) -> bool:
        """Whether WeChat encrypts what it sends us (safe and compatible modes): the simulator and tests do too."""
        return self.encrypt_mode != "plain"

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: bool = True,
                 dev_server: bool = False) -> "Settings":
        """`dev_server`: the caller is `python wsgi.py`, the only server that serves the simulator by default;
        anything else (gunicorn, the CLI, the scheduler) serves it only when SIMULATOR_ENABLED asks for it."""
        if environ is None:
            if dotenv:
                from dotenv import load_dotenv

                load_dotenv(ROOT / ".env", override=False)
            environ = os.environ
        env = environ.get
        production = env("FLASK_ENV", "").lower() == "production" or _flag(env("PRODUCTION") or "")
        values: dict[str, object] = {"production": production, "simulator_enabled": dev_server and not production}
        for name, attr, parse in ENV_SETTINGS:
            raw = env(name)
            if raw:  # unset or empty: the field's default above
                try:
                    values[attr] = parse(raw)
                except ValueError:
                    kind = {int: "a whole number", float: "a number", _positive_int: "a positive whole number",
                            _encrypt_mode: "plain, compatible or safe"}.get(parse, "a valid value")
                    raise SettingsError(f"environment variable {name} must be {kind}, not {raw!r}") from None
        settings = cls(**values)
        if production:
            settings.check_production(environ)
        return settings

    def check_production(self, environ: Mapping[str, str]) -> None:
        """Production refuses to start on a missing secret, a development default or the simulator."""
        missing = [name for name in ("SECRET_KEY", "WECHAT_TOKEN", "DATABASE_URL") if not environ.get(name)]
        if missing:
            raise SettingsError(f"production needs these environment variables: {', '.join(missing)}")
        defaults = Settings()
        development = [name for name, attr in (("SECRET_KEY", "secret_key"), ("WECHAT_TOKEN", "wechat_token"))
                       if getattr(self, attr) == getattr(defaults, attr)]
        if development:
            raise SettingsError(f"production refuses the development value of {', '.join(development)}: "
                                "set a secret of your own")
        if self.simulator_enabled:
            raise SettingsError("production refuses SIMULATOR_ENABLED: the simulator is for development only")


# Environment variable → Settings field and the parser of its text. An unset or empty variable leaves the field's
# dataclass default (SIMULATOR_ENABLED: on for `python wsgi.py` outside production, otherwise off; the dataclass
# default, on, is for apps built in code such as the tests); FLASK_ENV/PRODUCTION decide `production`.
ENV_SETTINGS: tuple[tuple[str, str, Callable[[str], object]], ...] = (
    ("WECHAT_TOKEN", "wechat_token", str),
    ("WECHAT_APPID", "wechat_appid", str),
    ("WECHAT_SECRET", "wechat_secret", str),
    ("WECHAT_AES_KEY", "wechat_aes_key", str),
    ("WECHAT_AES_KEY_PREVIOUS", "wechat_aes_key_previous", str),
    ("WECHAT_ENCRYPT_MODE", "wechat_encrypt_mode", _encrypt_mode),
    ("WECHAT_REPLAY_WINDOW_SECONDS", "wechat_replay_window_seconds", _positive_int),
    ("WECHAT_API_BASE", "wechat_api_base", str),
    ("WECHAT_TEMPLATE_ID", "wechat_template_id", str),
    ("WECHAT_MASS_SEND_ALL", "wechat_mass_send_all", _flag),
    ("DATABASE_URL", "database_url", str),
    ("REDIS_URL", "redis_url", str),
    ("SECRET_KEY", "secret_key", str),
    ("ADMIN_USERNAME", "admin_username", str),
    ("ADMIN_PASSWORD", "admin_password", str),
    ("SIMULATOR_ENABLED", "simulator_enabled", _flag),
    ("MEDIA_DIR", "media_dir", str),
    ("MESSAGE_RETENTION_DAYS", "message_retention_days", int),
    ("WECHAT_API_TIMEOUT", "api_timeout", float),
    ("COMPLIANCE_QUARTER_MIN", "compliance_quarter_min", int),
    ("WECHAT_MASS_MONTHLY_LIMIT", "wechat_mass_monthly_limit", int),
    ("NOTIFY_CONCURRENCY", "notify_concurrency", int),
    ("NOTIFY_LEASE_SECONDS", "notify_lease_seconds", float),
    ("NOTIFY_MAX_ATTEMPTS", "notify_max_attempts", int),
    ("NOTIFY_BACKOFF_SECONDS", "notify_backoff_seconds", float),
    ("SCHEDULER_POLL_SECONDS", "scheduler_poll_seconds", float),
    ("SCHEDULER_MISFIRE_GRACE", "scheduler_misfire_grace", int),
    ("SCHEDULER_IN_WEB", "scheduler_in_web", _flag),
    ("ADMIN_OPENIDS", "admin_openids", _openids),
    ("MESSAGE_SLA_HOURS", "message_sla_hours", _positive_int),
    ("MESSAGE_REPLY_TEMPLATE_ID", "message_reply_template_id", str),
)
