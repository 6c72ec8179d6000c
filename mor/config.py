"""Settings, read from the environment once at start-up.

| variable | meaning | default |
| --- | --- | --- |
| MOR_DATABASE_URL | sqlite:///path or postgresql://user@host/db | sqlite:///./mor-data/mor.db |
| MOR_BASE_URL | public address, used in fullUrl and links | taken from each request |
| MOR_MAX_BODY_BYTES | largest request body accepted | 16 MiB |
| MOR_DB_POOL_SIZE | database connections per server process | 20 |
| MOR_EXPORT_DIR | where bulk exports ($export) write their NDJSON files | ./mor-data/exports |
| MOR_RATE_LIMIT | requests a minute per client (access token, or address); 0: no limit | 6000 |
| MOR_SMTP_HOST | mail server for one-time codes and reminders; unset: the outbox | (none) |
| MOR_SMTP_PORT, MOR_SMTP_FROM | its port, and the sender address | 25, mor@localhost |
| MOR_SMTP_USER, MOR_SMTP_PASSWORD | its login, if it needs one | (none) |
| MOR_SMTP_STARTTLS | 1 to switch to TLS before logging in | 0 |
| MOR_OUTBOX_DIR | where messages go when no mail server or SMS gateway is set | ./mor-data/outbox |
| MOR_SECRET_KEY_FILE | key sealing staff TOTP secrets (made if missing) | ./mor-data/secret.key |
| MOR_TIME_ZONE | the city's time zone (IANA name), for slots and the day's lists | Asia/Bangkok |
| MOR_EMERGENCY_NUMBER | the city's emergency medical number, on every page | 1669 |
| MOR_LANGUAGE | pages' language when the browser asks for none of th, lo, en | en |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_URL = "sqlite:///./mor-data/mor.db"


class ConfigError(ValueError):
    """A setting in the environment has a value mor cannot use."""


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    base_url: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    db_pool_size: int = 20
    export_dir: Path = Path("mor-data/exports")
    rate_limit_per_minute: int = 6000
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "mor@localhost"
    smtp_user: str | None = None
    # Kept out of repr, so it can never be printed or logged with the settings.
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    outbox_dir: Path = Path("mor-data/outbox")
    secret_key_file: Path = Path("mor-data/secret.key")
    time_zone: str = "Asia/Bangkok"
    emergency_number: str = "1669"
    language: str = "en"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        return cls(
            database_url=env.get("MOR_DATABASE_URL") or DEFAULT_DATABASE_URL,
            base_url=(env.get("MOR_BASE_URL") or "").rstrip("/") or None,
            max_body_bytes=_positive_int(env, "MOR_MAX_BODY_BYTES", 16 * 1024 * 1024),
            db_pool_size=_positive_int(env, "MOR_DB_POOL_SIZE", 20),
            export_dir=Path(env.get("MOR_EXPORT_DIR") or "mor-data/exports"),
            rate_limit_per_minute=_whole_number(env, "MOR_RATE_LIMIT", 6000),
            smtp_host=env.get("MOR_SMTP_HOST") or None,
            smtp_port=_positive_int(env, "MOR_SMTP_PORT", 25),
            smtp_from=env.get("MOR_SMTP_FROM") or "mor@localhost",
            smtp_user=env.get("MOR_SMTP_USER") or None,
            smtp_password=env.get("MOR_SMTP_PASSWORD") or None,
            smtp_starttls=env.get("MOR_SMTP_STARTTLS") == "1",
            outbox_dir=Path(env.get("MOR_OUTBOX_DIR") or "mor-data/outbox"),
            secret_key_file=Path(env.get("MOR_SECRET_KEY_FILE") or "mor-data/secret.key"),
            time_zone=_time_zone(env.get("MOR_TIME_ZONE") or "Asia/Bangkok"),
            emergency_number=_phone_number(env.get("MOR_EMERGENCY_NUMBER") or "1669"),
            language=_language(env.get("MOR_LANGUAGE") or "en"),
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        """The database file of an SQLite URL, or None for PostgreSQL and in-memory SQLite."""
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[-1]
        return None if path in ("", ":memory:") else Path(path)


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"MOR_TIME_ZONE must name a time zone such as Asia/Bangkok or "
                          f"Asia/Vientiane, not {name!r}") from None
    return name


def _phone_number(number: str) -> str:
    if not number.replace(" ", "").isdigit():
        raise ConfigError(f"MOR_EMERGENCY_NUMBER must be a phone number of digits, such as "
                          f"1669, not {number!r}")
    return number.replace(" ", "")


def _language(code: str) -> str:
    if code not in ("th", "lo", "en"):
        raise ConfigError(f"MOR_LANGUAGE must be th, lo or en, not {code!r}")
    return code


def _positive_int(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero, not {value}")
    return value


def _whole_number(env: dict[str, str], name: str, default: int) -> int:
    """A setting that may be 0 (meaning: off)."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise ConfigError(f"{name} must be a whole number (0 for none), not {raw!r}")
    return int(raw)
