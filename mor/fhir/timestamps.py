"""Server time as stored (integer microseconds, UTC) and as FHIR instants."""

from __future__ import annotations

import time
from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_micros() -> int:
    return time.time_ns() // 1000


def instant_from_micros(micros: int) -> str:
    """Render as a FHIR instant with microsecond precision, e.g. 2026-11-23T04:05:06.123456Z."""
    seconds, fraction = divmod(micros, 1_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{fraction:06d}Z"


def http_date_from_micros(micros: int) -> str:
    """Render for the HTTP Last-Modified header (RFC 9110 IMF-fixdate)."""
    moment = datetime.fromtimestamp(micros // 1_000_000, UTC)
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
