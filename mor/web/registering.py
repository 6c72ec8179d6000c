"""The registration pages of patients: details, then the one-time code."""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mor.services.messaging import SendFailed
from mor.services.registration import Details, Message, RegistrationError, Registrations
from mor.web.form_tokens import form_token, form_token_matches, keep_form_token
from mor.web.i18n import N_, language_of
from mor.web.rendering import gettext, render
from mor.web.signin import lang_url

_DOCUMENTS: Final = [
    ("th-national-id", N_("Thai national ID card")),
    ("la-national-id", N_("Lao ID card")),
    ("passport", N_("Passport")),
    ("work-permit", N_("Work permit")),
]
_FIELDS: Final = ("given", "family", "birth_date", "contact", "document_kind",
                  "document_number", "document_country")
# Shown to the person in their language; {code} is replaced by the code.
_SUBJECT: Final = N_("Your mor code")
_TEXT: Final = N_("Your mor code is {code}. It works for 15 minutes. No one from mor or your "
                  "health centre will ever ask you for it.")


class Registering:
    def __init__(self, registrations: Registrations) -> None:
        self.registrations = registrations

    async def page(self, request: Request) -> Response:
        return self._form(request, {})

    async def submit(self, request: Request) -> Response:
        form = await request.form()
        values = {name: str(form.get(name, "")).strip() for name in _FIELDS}
        if not form_token_matches(request, form.get("csrf_token")):
            return self._form(request, values, 400, gettext(
                request, "The form expired; please sign in again."))
        details = Details(values["given"], values["family"], values["birth_date"],
                          values["contact"], values["document_kind"],
                          values["document_number"], values["document_country"] or None,
                          language_of(request))
        message = Message(gettext(request, _SUBJECT), gettext(request, _TEXT))
        try:
            registration_id = await self.registrations.start(
                details, str(form.get("password", "")), message)
        except RegistrationError as error:
            return self._form(request, values, 400, gettext(request, str(error)))
        except SendFailed:
            return self._form(request, values, 503, gettext(
                request, "The code could not be sent just now; please try again later."))
        return self._confirm_form(request, registration_id)

    async def confirm(self, request: Request) -> Response:
        form = await request.form()
        registration_id = str(form.get("registration", ""))
        if not form_token_matches(request, form.get("csrf_token")):
            return RedirectResponse("/register", 303)
        try:
            await self.registrations.confirm(registration_id, str(form.get("code", "")))
        except RegistrationError as error:
            return self._confirm_form(request, registration_id, 400,
                                      gettext(request, str(error)))
        return render(request, "message.html",
                      heading=gettext(request, "Your account is ready"),
                      text=gettext(request, "Sign in with your phone number or e-mail "
                                            "address. To see your health records, show your "
                                            "ID card once at your health centre."),
                      signed_in=False, lang_url=lang_url(request))

    def _form(self, request: Request, values: dict[str, str], status: int = 200,
              error: str | None = None) -> Response:
        csrf = form_token(request)
        documents = [(code, gettext(request, name)) for code, name in _DOCUMENTS]
        response = render(request, "register.html", status, csrf_token=csrf, error=error,
                          form={name: values.get(name, "") for name in _FIELDS},
                          documents=documents, lang_url=lang_url(request))
        return keep_form_token(response, csrf, secure=request.url.scheme == "https")

    def _confirm_form(self, request: Request, registration_id: str, status: int = 200,
                      error: str | None = None) -> Response:
        return render(request, "register_confirm.html", status,
                      csrf_token=form_token(request), error=error,
                      registration=registration_id, lang_url=lang_url(request))

