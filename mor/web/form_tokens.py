"""CSRF tokens of the forms shown before anyone is signed in (sign-in, registration):
a random token in a cookie, sent back in the form and compared (double submit). Once
signed in, forms carry the session's own token instead (mor.auth.sessions)."""

from __future__ import annotations

import secrets
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

CSRF_COOKIE: Final = "mor_csrf"


def form_token(request: Request) -> str:
    """The browser's token, or a new one for a browser that has none."""
    return request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)


def keep_form_token(response: Response, token: str, *, secure: bool) -> Response:
    # Path "/": the sign-in and registration pages share it, and two cookies of one name
    # on different paths would reach /auth in an order browsers do not promise.
    response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure,
                        path="/")
    return response


def form_token_matches(request: Request, sent: Any) -> bool:
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie) and isinstance(sent, str) and secrets.compare_digest(cookie or "", sent)
