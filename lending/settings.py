"""Configuration, read from the environment or a `.env` file (docs/operations.md lists them)."""

import re
import secrets
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

SECRET_FILE = Path(".lending-secret")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LENDING_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///lending.db"
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    timezone: str = "Europe/London"
    organisation: str = "Digital Lending"
    sms_provider: Literal["log", "notify", "twilio"] = "log"
    notify_api_key: str = ""
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_template_id: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from: str = ""
    twilio_base_url: str = "https://api.twilio.com"
    # Notify posts delivery receipts and received texts with this bearer token (set it
    # when creating the callbacks in Notify's settings).
    notify_callback_token: str = ""
    scheduler: Literal["on", "off"] = "on"
    # Texts are sent only inside these local hours, never on Sundays or bank holidays.
    quiet_hours: str = "09:00-20:00"
    # How often the scheduler queues due texts and sends what is queued.
    sms_interval_seconds: float = Field(default=60, ge=1, le=3600)
    policy_file: str = ""
    # The starter sheet's resources (TOML); empty: the packaged neutral defaults.
    starter_sheet_file: str = ""
    max_body_bytes: int = 5 * 1024 * 1024
    # How long an instance trusts a token it has just looked up; a revocation made through
    # another instance takes effect within this many seconds (0: look up every request).
    auth_cache_seconds: float = 5.0
    max_labels_per_request: int = 2000
    # How long a change waits for SQLite's write lock (held by a long import, say) before
    # it answers 503 with Retry-After; reads never wait for it.
    write_wait_seconds: float = 10.0
    # When the scheduler writes the weekly report ("mon 07:00", local time), or "off".
    weekly_report: str = "mon 07:00"
    # Where the weekly reports are kept; empty: a `reports` folder beside the SQLite
    # database file, or in the working directory for PostgreSQL.
    reports_dir: str = ""
    # Per-template printer calibration, e.g. LENDING_LABEL_OFFSETS='{"avery-l7160": [0.5, -1]}'
    label_offsets: dict[str, tuple[float, float]] = {}
    # Months after a recipient's last loan closed (or, if they never borrowed, after their
    # record was made) before their personal values are removed.
    retention_months: int = Field(default=12, ge=1, le=1200)
    # Failed sign-ins allowed per account, and per client address, within the window
    # before further tries are refused (429 with Retry-After) until the window has passed.
    login_failures_per_account: int = Field(default=5, ge=1)
    login_failures_per_address: int = Field(default=30, ge=1)
    login_window_minutes: int = Field(default=15, ge=1)
    # Addresses of the load balancers or proxies whose X-Forwarded-For and
    # X-Forwarded-Proto are believed (comma-separated IPs or networks, or "*"); empty:
    # none, and the client's address is the connection's.
    trusted_proxies: str = ""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone, naming it
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _sending_window(cls, value: str) -> str:
        from notifications.timing import parse_sending_window
        parse_sending_window(value)  # raises naming what is wrong
        return value

    @field_validator("weekly_report")
    @classmethod
    def _weekly_time(cls, value: str) -> str:
        parse_weekly_time(value)  # raises naming what is wrong
        return value.strip().lower()

    @field_validator("base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def weekly_report_time(self) -> tuple[str, int, int] | None:
        """(day, hour, minute) the weekly report is written, or None when it is off."""
        return parse_weekly_time(self.weekly_report)

    @property
    def reports_folder(self) -> Path:
        if self.reports_dir:
            return Path(self.reports_dir)
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(url.database).parent / "reports"
        return Path("reports")

    def today(self) -> date:
        """Today where the service is (a loan is due on a local date, not a UTC one)."""
        return datetime.now(self.zone).date()


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_weekly_time(value: str) -> tuple[str, int, int] | None:
    """"mon 07:00" -> ("mon", 7, 0); "off" -> None; anything else raises ValueError."""
    text = value.strip().lower()
    if text == "off":
        return None
    match = re.fullmatch(r"([a-z]{3})\s+([01]?\d|2[0-3]):([0-5]\d)", text)
    if match is None or match[1] not in WEEKDAYS:
        raise ValueError(f"{value!r} is not a day and a time such as \"mon 07:00\" (days: "
                         f"{', '.join(WEEKDAYS)}), nor \"off\"")
    return match[1], int(match[2]), int(match[3])


def _kept_secret() -> str:
    """A secret generated on first run and kept, so that sessions survive restarts."""
    if SECRET_FILE.exists():
        return SECRET_FILE.read_text().strip()
    secret = secrets.token_urlsafe(48)
    SECRET_FILE.write_text(secret)
    SECRET_FILE.chmod(0o600)
    return secret


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    if not settings.secret_key:
        settings.secret_key = _kept_secret()
    return settings
