"""Languages: Thai, Lao and English, from gettext catalogues (``locale/*/mor.po``).

English is the source language: messages are written in English in the code and the
templates, and ``locale/th`` and ``locale/lo`` translate every one (a test fails on any
that is missing). The catalogues are compiled in memory when first used, so no
generated ``.mo`` file is kept in the repository.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Final

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.requests import Request

from mor.messages import N_

LANGUAGES: Final = ("th", "lo", "en")
# Each language named in itself, for the switcher on every page.
LANGUAGE_NAMES: Final = {"th": "ไทย", "lo": "ລາວ", "en": "English"}
DEFAULT_LANGUAGE: Final = "en"
LANGUAGE_COOKIE: Final = "mor_lang"
LOCALE_DIR: Final = Path(__file__).parent / "locale"

__all__ = ["LANGUAGES", "N_", "language_of", "translations"]


@cache
def translations(language: str) -> NullTranslations:
    if language == "en":
        return NullTranslations()
    with (LOCALE_DIR / language / "LC_MESSAGES" / "mor.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def language_of(request: Request) -> str:
    """The language to answer in: ``?lang=``, else the cookie the switcher set, else the
    browser's Accept-Language, else the city's (MOR_LANGUAGE; English if unset)."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    cookie = request.cookies.get(LANGUAGE_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    settings = getattr(request.app.state, "settings", None) if "app" in request.scope else None
    return _from_accept_language(request.headers.get("accept-language", ""),
                                 settings.language if settings else DEFAULT_LANGUAGE)


def _from_accept_language(header: str, default: str) -> str:
    choices: list[tuple[float, str]] = []
    for item in header.split(","):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES:
            choices.append((quality, primary))
    return max(choices, default=(0.0, default), key=lambda c: c[0])[1]

