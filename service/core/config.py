"""Settings read once from the environment (and an optional .env); the only reader of os.environ."""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_API_BASE = "https://api.weixin.qq.com/cgi-bin/"
DEFAULT_SEED = ROOT / "service" / "policy" / "data" / "policy_seed.txt"


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    wechat_token: str = "qijin-dev-token"
    wechat_appid: str = "wx0000000000000000"
    wechat_secret: str = ""
    wechat_aes_key: str = ""  # EncodingAESKey; set means safe mode
    wechat_aes_key_previous: str = ""  # the key before the last change: still accepted, answered with itself
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
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def safe_mode(self) -> bool:
        return bool(self.wechat_aes_key)

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, dotenv: bool = True) -> "Settings":
        if environ is None:
            if dotenv:
                from dotenv import load_dotenv

                load_dotenv(ROOT / ".env", override=False)
            environ = os.environ
        env = environ.get
        production = env("FLASK_ENV", "").lower() == "production" or _bool(env("PRODUCTION"), False)
        defaults = cls()
        settings = cls(
            wechat_token=env("WECHAT_TOKEN") or defaults.wechat_token,
            wechat_appid=env("WECHAT_APPID") or defaults.wechat_appid,
            wechat_secret=env("WECHAT_SECRET", ""),
            wechat_aes_key=env("WECHAT_AES_KEY", ""),
            wechat_aes_key_previous=env("WECHAT_AES_KEY_PREVIOUS", ""),
            wechat_api_base=env("WECHAT_API_BASE") or DEFAULT_API_BASE,
            wechat_template_id=env("WECHAT_TEMPLATE_ID", ""),
            wechat_mass_send_all=_bool(env("WECHAT_MASS_SEND_ALL"), False),
            database_url=env("DATABASE_URL") or defaults.database_url,
            redis_url=env("REDIS_URL", ""),
            secret_key=env("SECRET_KEY") or defaults.secret_key,
            admin_username=env("ADMIN_USERNAME", ""),
            admin_password=env("ADMIN_PASSWORD", ""),
            production=production,
            simulator_enabled=_bool(env("SIMULATOR_ENABLED"), not production),
            media_dir=env("MEDIA_DIR") or defaults.media_dir,
            message_retention_days=int(env("MESSAGE_RETENTION_DAYS") or 180),
            api_timeout=float(env("WECHAT_API_TIMEOUT") or 5.0),
            compliance_quarter_min=int(env("COMPLIANCE_QUARTER_MIN") or 1),
            wechat_mass_monthly_limit=int(env("WECHAT_MASS_MONTHLY_LIMIT") or 4),
            notify_concurrency=int(env("NOTIFY_CONCURRENCY") or 32),
            notify_lease_seconds=float(env("NOTIFY_LEASE_SECONDS") or 120),
            notify_max_attempts=int(env("NOTIFY_MAX_ATTEMPTS") or 10),
            notify_backoff_seconds=float(env("NOTIFY_BACKOFF_SECONDS") or 5),
            scheduler_poll_seconds=float(env("SCHEDULER_POLL_SECONDS") or 5),
            scheduler_misfire_grace=int(env("SCHEDULER_MISFIRE_GRACE") or 3600),
            scheduler_in_web=_bool(env("SCHEDULER_IN_WEB"), True),
            admin_openids=tuple(o.strip() for o in env("ADMIN_OPENIDS", "").split(",") if o.strip()),
        )
        if production:
            missing = [name for name, value in (("SECRET_KEY", env("SECRET_KEY")), ("WECHAT_TOKEN", env("WECHAT_TOKEN")),
                                                 ("DATABASE_URL", env("DATABASE_URL"))) if not value]
            if missing:
                raise RuntimeError(f"production needs these environment variables: {', '.join(missing)}")
        return settings
