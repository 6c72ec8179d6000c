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
| MOR_ICE_URLS | video calls' STUN/TURN servers, comma-separated stun:/turn:/turns: URLs | (none) |
| MOR_TURN_SECRET_FILE | file holding coturn's static-auth-secret; needed with turn: URLs | (none) |
| MOR_TURN_TTL | seconds a browser's TURN credentials can start a relay | 3600 |
| MOR_ICE_RELAY_ONLY | 1: calls' media only through the TURN servers, never direct | 0 |
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_URL = "sqlite:///./mor-data/mor.db"


class ConfigError(ValueError):
    """A setting in the environment has a value mor cannot use."""


@dataclass(frozen=True, slots=True)
class IceSettings:
    """The STUN and TURN servers a video call's browsers use (mor.services.video.ice)."""

    urls: tuple[str, ...] = ()
    # Kept out of repr, so it can never be printed or logged with the settings.
    turn_secret: str | None = field(default=None, repr=False)
    turn_ttl: int = 3600
    # Media only through the TURN servers (iceTransportPolicy "relay"): neither browser
    # learns the other's addresses, at the cost of a relay for every call.
    relay_only: bool = False

    @property
    def has_turn(self) -> bool:
        return any(_is_turn(url) for url in self.urls)


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
    ice: IceSettings = field(default_factory=IceSettings)

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
            ice=_ice(env),
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


# RFC 7064 and 7065: scheme, host (a name, an IPv4 address or a bracketed IPv6 one), an
# optional port, and for TURN an optional transport.
_ICE_URL = re.compile(
    r"(?P<scheme>stun|turns?):(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?(?P<query>\?transport=(?:udp|tcp))?")


def _ice(env: dict[str, str]) -> IceSettings:
    urls = tuple(url.strip() for url in (env.get("MOR_ICE_URLS") or "").split(",")
                 if url.strip())
    for url in urls:
        _check_ice_url(url)
    ttl = _positive_int(env, "MOR_TURN_TTL", 3600)
    relay_only = env.get("MOR_ICE_RELAY_ONLY") == "1"
    if not any(_is_turn(url) for url in urls):
        if relay_only:
            raise ConfigError("MOR_ICE_RELAY_ONLY=1 sends every call through a TURN server, "
                              "so MOR_ICE_URLS must name at least one turn: or turns: URL")
        return IceSettings(urls=urls, turn_ttl=ttl)
    return IceSettings(urls=urls, turn_secret=_turn_secret(env.get("MOR_TURN_SECRET_FILE")),
                       turn_ttl=ttl, relay_only=relay_only)


def _check_ice_url(url: str) -> None:
    match = _ICE_URL.fullmatch(url)
    if match is None or (match["scheme"] == "stun" and match["query"]) or (
            match["port"] and not 0 < int(match["port"]) < 65536):
        raise ConfigError(f"MOR_ICE_URLS must list stun:, turn: or turns: URLs such as "
                          f"stun:turn.example.org:3478 or turns:turn.example.org:5349, "
                          f"not {url!r}")


def _is_turn(url: str) -> bool:
    return url.startswith(("turn:", "turns:"))


def _turn_secret(path: str | None) -> str:
    if not path:
        raise ConfigError("MOR_ICE_URLS names a TURN server, so MOR_TURN_SECRET_FILE must "
                          "name the file holding the secret coturn has as static-auth-secret")
    try:
        secret = Path(path).read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(f"MOR_TURN_SECRET_FILE {path} cannot be read "
                          f"({error.strerror}); it must hold the secret coturn has as "
                          f"static-auth-secret") from None
    except UnicodeDecodeError:
        raise ConfigError(f"MOR_TURN_SECRET_FILE {path} is not UTF-8 text; put the secret "
                          f"coturn has as static-auth-secret in it, as text") from None
    if not secret:
        raise ConfigError(f"MOR_TURN_SECRET_FILE {path} is empty; put the secret coturn "
                          f"has as static-auth-secret in it")
    return secret


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
