"""The visit's documents as downloads: the prescription and the referral letter (stored
with the record) for the patient and their clinicians, and the dispensing label the
pharmacist prints."""

from __future__ import annotations

from urllib.parse import quote
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mor.auth.callers import person_caller
from mor.auth.roles import Role
from mor.fhir.errors import FhirError
from mor.fhir.store import Store
from mor.services.documents.visit_documents import (
    DocumentNotFound,
    dispensing_label,
    document_for,
)
from mor.web.i18n import language_of
from mor.web.rendering import gettext, render
from mor.web.signin import SignIn


class DocumentPages:
    def __init__(self, store: Store, sign_in: SignIn, zone: ZoneInfo) -> None:
        self.store = store
        self.sign_in = sign_in
        self.zone = zone

    async def document(self, request: Request) -> Response:
        """A stored document (``DocumentReference`` id), to whoever may read the
        patient's record."""
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None:
            return RedirectResponse(f"/auth/login?next={quote(request.url.path)}", 303)
        caller = await person_caller(self.store, account,
                                     address=request.client.host if request.client else None)
        try:
            data, filename, _title = await document_for(
                self.store, caller, request.path_params["document"], zone=self.zone)
        except (DocumentNotFound, FhirError):
            return self._missing(request, session.csrf_token)
        return _pdf(data, filename)

    async def label(self, request: Request) -> Response:
        """The dispensing label of one prescribed medicine, for the pharmacist."""
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None:
            return RedirectResponse(f"/auth/login?next={quote(request.url.path)}", 303)
        if account.role is not Role.PHARMACIST:
            return self._missing(request, session.csrf_token)
        caller = await person_caller(self.store, account,
                                     address=request.client.host if request.client else None)
        path = f"MedicationRequest/{request.path_params['request']}"
        try:
            data = await dispensing_label(self.store, caller, path, language_of(request),
                                          zone=self.zone)
        except (DocumentNotFound, FhirError):
            return self._missing(request, session.csrf_token)
        return _pdf(data, f"label-{request.path_params['request'][:12]}.pdf")

    def _missing(self, request: Request, csrf: str) -> Response:
        return render(request, "message.html", 404, signed_in=True, csrf_token=csrf,
                      heading=gettext(request, "There is no such document"),
                      text=gettext(request, "Or it is in a record not shared with you."))


def _pdf(data: bytes, filename: str) -> Response:
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-store"})


__all__ = ["DocumentPages"]
