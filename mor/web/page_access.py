"""Who may open a page: the signed-in person, as the caller every service acts for, if
their role is one the page is for; else the sign-in page, or a page saying whom it is
for."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.web.rendering import gettext, render
from mor.web.signin import SignIn


async def person_for(request: Request, store: Store, sign_in: SignIn,
                     roles: Collection[Role], *, heading: str, text: str
                     ) -> tuple[Principal, str] | Response:
    """The caller and their session's form token; ``heading`` and ``text`` (msgids) say
    whom the page is for, to anyone signed in with another role."""
    session, account = await sign_in.signed_in(request)
    if session is None or account is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/auth/login?" + urlencode({"next": here}), 303)
    if account.role not in roles:
        return render(request, "message.html", 403, signed_in=True,
                      csrf_token=session.csrf_token, heading=gettext(request, heading),
                      text=gettext(request, text))
    caller = await person_caller(store, account,
                                 address=request.client.host if request.client else None)
    return caller, session.csrf_token


async def checked_form(request: Request, csrf: str) -> FormData | Response:
    """The form posted, if it carries the session's token; else the page saying so."""
    form = await request.form()
    if str(form.get("csrf_token", "")) != csrf:
        return render(request, "message.html", 400, signed_in=True, csrf_token=csrf,
                      heading=gettext(request, "The form expired"),
                      text=gettext(request, "The form expired; please try again."))
    return form
