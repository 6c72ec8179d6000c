"""Dates and times on pages, in the page's language, in the city's time zone.

Thai readers count years in the Buddhist Era (year + 543), as Thai official use does;
they may switch to the Common Era, and anyone may switch to the Buddhist Era
(``?era=be`` or ``?era=ce``, remembered in a cookie). Lao official use is Gregorian.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from babel.dates import format_date
from starlette.requests import Request

ERA_COOKIE: Final = "mor_era"
ERAS: Final = ("be", "ce")
BUDDHIST_ERA_OFFSET: Final = 543


def era_of(request: Request, language: str) -> str:
    asked = request.query_params.get("era") or request.cookies.get(ERA_COOKIE)
    if asked in ERAS:
        return asked
    return default_era(language)


def default_era(language: str) -> str:
    return "be" if language == "th" else "ce"


def year(day: date, era: str) -> int:
    return day.year + (BUDDHIST_ERA_OFFSET if era == "be" else 0)


def long_day(day: date, language: str, era: str) -> str:
    """"Wednesday 2 December 2026", "วันพุธ 2 ธันวาคม 2569"."""
    return f"{format_date(day, 'EEEE d MMMM', locale=language)} {year(day, era)}"


def short_day(day: date, language: str, era: str) -> str:
    """"Wed 2 Dec 2026", "พ. 2 ธ.ค. 2569"."""
    return f"{format_date(day, 'EEE d MMM', locale=language)} {year(day, era)}"


def day_in_record(day: date, language: str, era: str) -> str:
    """"2 Dec 2026", "2 ธ.ค. 2569": when something happened, without the weekday."""
    return f"{format_date(day, 'd MMM', locale=language)} {year(day, era)}"


def month_in_record(day: date, language: str, era: str) -> str:
    """"Dec 2026", "ธ.ค. 2569": for a date known only to the month."""
    return f"{format_date(day, 'LLL', locale=language)} {year(day, era)}"


def clock(moment: datetime, zone: ZoneInfo) -> str:
    """The local time of day, 24-hour, as all three languages write it."""
    return moment.astimezone(zone).strftime("%H:%M")
