"""Jinja2 templates, one environment per language so concurrent requests in different
languages never share a translation."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from mor.web.i18n import LANGUAGE_COOKIE, LANGUAGE_NAMES, language_of, translations

_TEMPLATES = Path(__file__).parent / "templates"


@cache
def environment(language: str) -> Environment:
    env = Environment(loader=FileSystemLoader(_TEMPLATES), autoescape=select_autoescape(),
                      extensions=["jinja2.ext.i18n"])
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def render(request: Request, template: str, status: int = 200, **context: Any
           ) -> HTMLResponse:
    language = language_of(request)
    page = environment(language).get_template(template).render(
        lang=language, languages=LANGUAGE_NAMES, path=request.url.path,
        query=request.url.query, **context)
    response = HTMLResponse(page, status)
    if request.query_params.get("lang") == language:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 24 * 3600,
                            samesite="lax", httponly=True)
    return response


def gettext(request: Request, message: str) -> str:
    return str(translations(language_of(request)).gettext(message))
