"""Signing in to mor, and the SMART authorization page apps send people to.

Password first; staff then give a TOTP code (enrolling an authenticator app the first
time). Every form carries a CSRF token: the session's own once signed in, before that a
random one kept in a cookie and sent back in the form (double submit).
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response

from mor.auth import audit
from mor.auth.accounts import Account, Accounts, SignInRefused
from mor.auth.callers import person_caller
from mor.auth.clients import Client
from mor.auth.policy import Principal
from mor.auth.roles import CLINICAL_ROLES, STAFF_ROLES, Role
from mor.auth.scopes import Scopes
from mor.auth.sessions import Session, Sessions
from mor.auth.smart_server import SmartServer, User
from mor.auth.totp import TotpSecrets, code_is_right, new_secret, provisioning_uri, qr_code_svg
from mor.fhir.store import Store
from mor.services.launch_context import find_patients, may_pick
from mor.web.form_tokens import form_token, form_token_matches, keep_form_token
from mor.web.i18n import LANGUAGES, N_
from mor.web.rendering import gettext, render

SESSION_COOKIE: Final = "mor_session"


class SignIn:
    def __init__(self, store: Store, accounts: Accounts, sessions: Sessions,
                 totp: TotpSecrets, smart: SmartServer, base_url: str | None) -> None:
        self.store = store
        self.accounts = accounts
        self.sessions = sessions
        self.totp_secrets = totp
        self.smart = smart
        self.base_url = base_url

    # -- password -----------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        return self._login_form(request, next_url=_safe_next(request.query_params.get("next")))

    async def login(self, request: Request) -> Response:
        form = await request.form()
        next_url = _safe_next(str(form.get("next", "")))
        if not form_token_matches(request, form.get("csrf_token")):
            return self._login_form(request, next_url=next_url, status=400, error=gettext(
                request, "The form expired; please sign in again."))
        username = str(form.get("username", ""))
        try:
            account = await self.accounts.sign_in(username, str(form.get("password", "")))
        except SignInRefused:
            await self._record(request, audit.SIGN_IN, await self.accounts.find(username),
                               success=False, reason="wrong password, locked or disabled")
            return self._login_form(request, next_url=next_url, status=401, username=username,
                                    error=gettext(request, _REFUSED))
        staff = account.role in STAFF_ROLES
        if not staff:
            await self._record(request, audit.SIGN_IN, account, success=True)
        session = await self.sessions.open(account.id, complete=not staff,
                                           address=_address(request))
        target = next_url
        if staff:
            target = "/auth/totp?" + urlencode({"next": next_url})
        return self._with_session(RedirectResponse(target, 303), request, session)

    def _login_form(self, request: Request, *, next_url: str, status: int = 200,
                    error: str | None = None, username: str = "") -> Response:
        csrf = form_token(request)
        response = render(request, "login.html", status, csrf_token=csrf, next=next_url,
                          error=error, username=username, lang_url=lang_url(request))
        return keep_form_token(response, csrf, secure=self._secure(request))

    # -- second factor ------------------------------------------------------------

    async def totp_page(self, request: Request) -> Response:
        session, account = await self._half_open(request)
        if session is None or account is None:
            return RedirectResponse("/auth/login", 303)
        return await self._totp_form(request, session, account,
                                     _safe_next(request.query_params.get("next")))

    async def totp(self, request: Request) -> Response:
        session, account = await self._half_open(request)
        if session is None or account is None:
            return RedirectResponse("/auth/login", 303)
        form = await request.form()
        next_url = _safe_next(str(form.get("next", "")))
        if not session.csrf_matches(_text(form.get("csrf_token"))):
            return RedirectResponse("/auth/login", 303)
        stored = await self.totp_secrets.get(account.id)
        secret = stored or _text(form.get("secret")) or ""
        code = _text(form.get("code")) or ""
        try:
            await self.accounts.check_second_factor(
                account.id, lambda: bool(secret) and code_is_right(secret, code))
        except SignInRefused:
            await self._record(request, audit.SIGN_IN, account, success=False,
                               reason="wrong second-factor code, or locked")
            return await self._totp_form(request, session, account, next_url, status=401,
                                         secret=None if stored else secret,
                                         error=gettext(request, _WRONG_CODE))
        await self._record(request, audit.SIGN_IN, account, success=True)
        if stored is None:
            await self.totp_secrets.enrol(account.id, secret)
        complete = await self.sessions.complete(session)
        return self._with_session(RedirectResponse(next_url, 303), request, complete)

    async def _totp_form(self, request: Request, session: Session, account: Account,
                         next_url: str, *, status: int = 200, secret: str | None = None,
                         error: str | None = None) -> Response:
        enrol = not account.has_totp
        context: dict[str, Any] = {}
        if enrol:
            secret = secret or new_secret()
            uri = provisioning_uri(secret, account.username)
            context = {"secret": secret, "qr_svg": qr_code_svg(uri)}
        return render(request, "totp.html", status, enrol=enrol, csrf_token=session.csrf_token,
                      next=next_url, action="/auth/totp", error=error,
                      lang_url=lang_url(request), **context)

    async def _half_open(self, request: Request) -> tuple[Session | None, Account | None]:
        session = await self.sessions.find(request.cookies.get(SESSION_COOKIE))
        if session is None or session.complete:
            return None, None
        return session, await self.accounts.get(session.account_id)

    # -- signed in ---------------------------------------------------------------

    async def signed_in_page(self, request: Request) -> Response:
        session = await self.sessions.find(request.cookies.get(SESSION_COOKIE))
        if session is None or not session.complete:
            return RedirectResponse("/auth/login", 303)
        account = await self.accounts.get(session.account_id)
        assert account is not None
        return render(request, "message.html", heading=gettext(request, "You are signed in"),
                      text=account.username, signed_in=True, csrf_token=session.csrf_token,
                      lang_url=lang_url(request))

    async def logout(self, request: Request) -> Response:
        session = await self.sessions.find(request.cookies.get(SESSION_COOKIE))
        form = await request.form()
        if session is not None and not session.csrf_matches(_text(form.get("csrf_token"))):
            # Not from mor's own page: another site must not sign people out either.
            return RedirectResponse("/auth/signed-in", 303)
        if session is not None:
            await self.sessions.revoke(session.token)
            await self._record(request, audit.SIGN_OUT,
                               await self.accounts.get(session.account_id), success=True)
        response = render(request, "message.html", heading=gettext(request, "Signed out"),
                          text=gettext(request, "You are signed out."), signed_in=False,
                          lang_url=lang_url(request))
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- SMART authorization ------------------------------------------------------

    async def authorize_page(self, request: Request) -> Response:
        session, account = await self.signed_in(request)
        if session is None or account is None:
            here = request.url.path + "?" + request.url.query
            return RedirectResponse("/auth/login?" + urlencode({"next": here}), 303)
        try:
            grant = await self.smart.check_authorization(request, self._base(request))
        except OAuth2Error as error:
            return _app_refused(request, session, error)
        return await self._authorize_form(request, session, account, grant.client.client)

    async def authorize(self, request: Request) -> Response:
        session, account = await self.signed_in(request)
        form = await request.form()
        if session is None or account is None or not session.csrf_matches(
                _text(form.get("csrf_token"))):
            return RedirectResponse("/auth/login", 303)
        user = None
        if form.get("decision") == "allow":
            patient = _launch_patient(account, request)
            if _picks_patient(account, request):
                patient = _text(form.get("patient")) or ""
                if not await may_pick(self.store, await self._caller(request, account),
                                      patient):
                    try:
                        grant = await self.smart.check_authorization(request,
                                                                     self._base(request))
                    except OAuth2Error as oauth_error:
                        return _app_refused(request, session, oauth_error)
                    return await self._authorize_form(
                        request, session, account, grant.client.client, status=400,
                        error=gettext(request, "Choose the patient the app is for, from "
                                               "the patients you may see."))
            user = User(account.id, patient)
        try:
            return await self.smart.authorization_response(request, self._base(request), user)
        except OAuth2Error as error:
            return _app_refused(request, session, error)

    async def _authorize_form(self, request: Request, session: Session, account: Account,
                              client: Client, *, status: int = 200,
                              error: str | None = None) -> Response:
        picking = _picks_patient(account, request)
        find = request.query_params.get("find", "")
        patients = (await find_patients(self.store, await self._caller(request, account), find)
                    if picking else [])
        oauth_params = [(k, v) for k, v in request.query_params.multi_items()
                        if k not in ("find", "lang")]
        return render(request, "authorize.html", status, app_name=client.name,
                      username=account.username, csrf_token=session.csrf_token,
                      scopes=(request.query_params.get("scope") or client.scope).split(),
                      picking=picking, patients=patients, find=find,
                      oauth_params=oauth_params, error=error, lang_url=lang_url(request))

    async def _caller(self, request: Request, account: Account) -> Principal:
        return await person_caller(self.store, account, address=_address(request))

    async def signed_in(self, request: HTTPConnection
                        ) -> tuple[Session | None, Account | None]:
        """The session and account of a fully signed-in person, or (None, None); for a
        page's request or a WebSocket's."""
        session = await self.sessions.find(request.cookies.get(SESSION_COOKIE))
        if session is None or not session.complete:
            return None, None
        return session, await self.accounts.get(session.account_id)

    # -- helpers ------------------------------------------------------------------

    async def _record(self, request: Request, event: tuple[str, str], account: Account | None,
                      *, success: bool, reason: str | None = None) -> None:
        """The sign-in or sign-out as an AuditEvent. A name that is no account is not
        recorded: people type their password into the name field by mistake."""
        if account is not None:
            agent = audit.person_agent(account.fhir_user, account.username, _address(request))
        else:
            agent = audit.person_agent(None, "(no such account)", _address(request))
        await self.store.append(audit.sign_in_event(event, success=success, agent=agent,
                                                    reason=reason))

    def _base(self, request: Request) -> str:
        return self.base_url or str(request.base_url).rstrip("/")

    def _secure(self, request: Request) -> bool:
        return self._base(request).startswith("https://")

    def _with_session(self, response: Response, request: Request, session: Session
                      ) -> Response:
        response.set_cookie(SESSION_COOKIE, session.token, httponly=True, samesite="lax",
                            secure=self._secure(request), path="/")
        return response


_REFUSED: Final = N_("The name or password is wrong, or the account is locked after too "
                     "many attempts (wait 15 minutes) or disabled (ask your administrator).")
_WRONG_CODE: Final = N_("That code is not right; enter the code the app shows now.")


def _app_refused(request: Request, session: Session, error: OAuth2Error) -> Response:
    return render(request, "message.html", 400,
                  heading=gettext(request, "This app's request cannot be accepted"),
                  text=f"{error.error}: {error.description or ''}", signed_in=True,
                  csrf_token=session.csrf_token, lang_url=lang_url(request))


def _picks_patient(account: Account, request: Request) -> bool:
    """A clinician launching an app standalone with launch/patient picks the patient."""
    scopes = Scopes.parse(request.query_params.get("scope", ""))
    return "launch/patient" in scopes.other and account.role in CLINICAL_ROLES


def _launch_patient(account: Account, request: Request) -> str | None:
    """A patient launching an app standalone has themselves in context."""
    scopes = Scopes.parse(request.query_params.get("scope", ""))
    if "launch/patient" in scopes.other and account.role is Role.PATIENT and account.verified:
        return account.fhir_user_id
    return None


def _safe_next(value: str | None) -> str:
    """Only a path on this server: never send a signed-in person to another site."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/auth/signed-in"
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else "/auth/signed-in"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def lang_url(request: Request) -> Any:
    """For the language switcher: this page, in another language."""
    def url(code: str) -> str:
        assert code in LANGUAGES
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        return request.url.path + "?" + urlencode([*params, ("lang", code)])
    return url
