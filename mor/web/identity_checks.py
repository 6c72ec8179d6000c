"""The staff page where a patient's identity document is checked at the health centre's
desk, verifying their account (see mor.services.identity_checks)."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mor.auth.accounts import Account
from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.auth.sessions import Session
from mor.fhir.store import Store
from mor.services.identity_checks import CHECKING_ROLES, CheckFailed, IdentityChecks
from mor.web.i18n import N_
from mor.web.rendering import gettext, render
from mor.web.signin import SignIn, lang_url

PATH: Final = "/staff/identity-checks"
_DOCUMENT_NAMES: Final = {
    "th-national-id": N_("Thai national ID card"),
    "la-national-id": N_("Lao ID card"),
    "passport": N_("Passport"),
    "work-permit": N_("Work permit"),
}


class IdentityCheckPages:
    def __init__(self, checks: IdentityChecks, sign_in: SignIn) -> None:
        self.checks = checks
        self.sign_in = sign_in

    async def page(self, request: Request) -> Response:
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None:
            return _to_sign_in()
        if account.role not in CHECKING_ROLES:
            return _refused(request, session)
        return await self._page(request, session, account)

    async def verify(self, request: Request) -> Response:
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None:
            return _to_sign_in()
        if account.role not in CHECKING_ROLES:
            return _refused(request, session)
        form = await request.form()
        if not session.csrf_matches(str(form.get("csrf_token", ""))):
            return await self._page(request, session, account, status=400, error=gettext(
                request, "The form expired; please try again."))
        patient_account = str(form.get("account", ""))
        try:
            staff = await _caller(self.checks.store, request, account)
            verified = await self.checks.verify(staff, patient_account,
                                                str(form.get("number", "")))
        except CheckFailed as error:
            return await self._page(request, session, account, status=400,
                                    error=gettext(request, str(error)),
                                    error_for=patient_account)
        return await self._page(request, session, account, done=gettext(
            request, "Verified: the patient can now see their health record with their "
                     "account {account}.").format(account=verified.username))

    async def _page(self, request: Request, session: Session, account: Account, *,
                    status: int = 200, error: str | None = None, error_for: str = "",
                    done: str | None = None) -> Response:
        waiting = await self.checks.waiting(await _caller(self.checks.store, request, account))
        names = {code: gettext(request, name) for code, name in _DOCUMENT_NAMES.items()}
        if error is not None and error_for not in {w.account_id for w in waiting}:
            error_for = ""  # no longer in the list: shown above it instead
        return render(request, "identity_checks.html", status, waiting=waiting,
                      document_names=names, error=error, error_for=error_for, done=done,
                      csrf_token=session.csrf_token, lang_url=lang_url(request))


async def _caller(store: Store, request: Request, account: Account) -> Principal:
    return await person_caller(store, account,
                               address=request.client.host if request.client else None)


def _to_sign_in() -> Response:
    return RedirectResponse("/auth/login?" + urlencode({"next": PATH}), 303)


def _refused(request: Request, session: Session) -> Response:
    return render(request, "message.html", 403,
                  heading=gettext(request, "This page is for health-centre staff"),
                  text=gettext(request, "Doctors, nurses and health-centre admins check "
                                        "patients' identity documents here."),
                  signed_in=True, csrf_token=session.csrf_token, lang_url=lang_url(request))

