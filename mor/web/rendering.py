"""Jinja2 templates, one environment per language so concurrent requests in different
languages never share a translation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from mor.web.dates import ERA_COOKIE, era_of
from mor.web.i18n import LANGUAGE_COOKIE, LANGUAGE_NAMES, language_of, translations

_TEMPLATES = Path(__file__).parent / "templates"
_YEAR: Final = 365 * 24 * 3600


@cache
def environment(language: str) -> Environment:
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(request: Request, template: str, status: int = 200, **context: Any
           ) -> HTMLResponse:
    language = language_of(request)
    era = era_of(request, language)
    settings = getattr(request.app.state, "settings", None)
    defaults = {"lang_url": _switch_url(request, "lang"), "era_url": _switch_url(request, "era"),
                "era": era, "emergency_number": settings.emergency_number if settings
                else "1669"}
    page = environment(language).get_template(template).render(
        lang=language, languages=LANGUAGE_NAMES, path=request.url.path,
        query=request.url.query, **(defaults | context))
    response = HTMLResponse(page, status)
    if request.query_params.get("lang") == language:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=_YEAR, samesite="lax",
                            httponly=True)
    if request.query_params.get("era") == era:
        response.set_cookie(ERA_COOKIE, era, max_age=_YEAR, samesite="lax", httponly=True)
    return response


def _switch_url(request: Request, name: str) -> Callable[[str], str]:
    """This page's address with ``name`` (``lang`` or ``era``) set to a value."""
    def url(value: str) -> str:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != name]
        return request.url.path + "?" + urlencode([*query, (name, value)])
    return url


def gettext(request: Request, message: str) -> str:
    return str(translations(language_of(request)).gettext(message))


def formatted(text: str, params: Mapping[str, str]) -> str:
    """A translated message with its ``{name}`` fields filled in."""
    try:
        return text.format(**params)
    except (KeyError, IndexError, ValueError):
        return text  # a translation that lost a field still reads
