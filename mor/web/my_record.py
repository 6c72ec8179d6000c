"""The patient's own record: what their health centres keep about them (problems,
medicines, allergies, vital signs with their trends, immunisations, visits) and who
accessed it and when (from the audit trail).

Everything is read as the patient (or the family member acting for them, with
``?patient=``): the same access rules as the FHIR API, and each reading is recorded in
the patient's own audit trail, which the second page shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.services.records.immunizations import immunizations
from mor.services.records.record_access import RecordAccess, accesses, acts_for
from mor.services.records.summary import RecordNotShared, RecordSummary, record_summary
from mor.services.records.vital_history import vital_history
from mor.web.dates import clock
from mor.web.i18n import N_
from mor.web.record_summary import RecordView
from mor.web.rendering import gettext, render
from mor.web.signin import SignIn
from mor.web.vital_trends import trends

RECORD_PATH: Final = "/my/record"
ACCESS_PATH: Final = "/my/record/access"
ROLE_NAMES: Final = {
    "doctor": N_("Doctor"), "nurse": N_("Nurse"), "pharmacist": N_("Pharmacist"),
    "staff": N_("Health centre staff"), "patient": N_("Patient"),
    "family": N_("Family member"), "app": N_("App"), "system": N_("mor itself"),
}
WHAT_NAMES: Final = {
    "read": N_("Looked at your record"), "search": N_("Searched your record"),
    "created": N_("Added to your record"), "changed": N_("Changed your record"),
    "deleted": N_("Removed from your record"), "signed-in": N_("Signed in"),
    "sign-in-failed": N_("Tried to sign in"),
    "signed-out": N_("Signed out"), "identity-checked": N_("Checked your identity"),
    "shown": N_("Saw your name on a list"),
}
IMMUNIZATION_STATUSES: Final = {"completed": N_("Given"), "not-done": N_("Not given")}


class MyRecordPages:
    def __init__(self, store: Store, sign_in: SignIn, zone: ZoneInfo) -> None:
        self.store = store
        self.sign_in = sign_in
        self.zone = zone

    async def record(self, request: Request) -> Response:
        found = await self._patient(request)
        if isinstance(found, Response):
            return found
        caller, csrf, patient_id = found
        view = RecordView(request, self.zone)
        summary: RecordSummary | None = None
        try:
            summary = await record_summary(self.store, caller, patient_id,
                                           today=datetime.now(self.zone).date())
        except RecordNotShared:
            summary = None  # not yet verified: the page says when it will be there
        shots = await immunizations(self.store, caller, patient_id) if summary else ()
        history = await vital_history(self.store, caller, patient_id) if summary else []
        return render(request, "my_record.html", signed_in=True, csrf_token=csrf,
                      summary=summary, record=view, immunizations=shots,
                      trends=trends(history, view),
                      statuses=IMMUNIZATION_STATUSES, acting_for=self._acting_for(
                          caller, patient_id), access_url=_with_patient(
                          ACCESS_PATH, caller, patient_id))

    async def access(self, request: Request) -> Response:
        found = await self._patient(request)
        if isinstance(found, Response):
            return found
        caller, csrf, patient_id = found
        view = RecordView(request, self.zone)
        found_accesses = await accesses(self.store, caller, patient_id)
        others = [a for a in found_accesses if not a.by_patient]
        own = [a for a in found_accesses if a.by_patient]

        def when(moment: datetime) -> str:
            return f"{view.day(moment)} {clock(moment, self.zone)}"

        def who(access: RecordAccess) -> str:
            # Names are shown as recorded; the placeholders ("an app") are translated.
            return gettext(request, access.who)

        return render(request, "my_record_access.html", signed_in=True, csrf_token=csrf,
                      others=others, own=own, when=when, who=who,
                      role=lambda access: gettext(request, ROLE_NAMES.get(
                          access.role, ROLE_NAMES["system"])),
                      what=lambda access: gettext(request, WHAT_NAMES.get(
                          access.what, WHAT_NAMES["read"])),
                      acting_for=self._acting_for(caller, patient_id),
                      record_url=_with_patient(RECORD_PATH, caller, patient_id))

    async def _patient(self, request: Request) -> tuple[Principal, str, str] | Response:
        """The signed-in patient, and whose record: their own, or with ``?patient=`` that
        of a family member who lets them act for them (anyone else's: 403)."""
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse("/auth/login?" + urlencode({"next": here}), 303)
        if account.role is not Role.PATIENT:
            return render(request, "message.html", 403, signed_in=True,
                          csrf_token=session.csrf_token,
                          heading=gettext(request, "This page is for patients"),
                          text=gettext(request, "Patients read their own health record "
                                                "and who accessed it here. Staff read "
                                                "records beside the consultation."))
        caller = await person_caller(self.store, account,
                                     address=request.client.host if request.client else None)
        patient_id = request.query_params.get("patient") or account.fhir_user_id or ""
        if not acts_for(caller, patient_id):
            return render(request, "message.html", 403, signed_in=True,
                          csrf_token=session.csrf_token,
                          heading=gettext(request, "This record is not yours to see"),
                          text=gettext(request, "You see your own record, and those of "
                                                "the family members who let you act for "
                                                "them."))
        return caller, session.csrf_token, patient_id

    def _acting_for(self, caller: Principal, patient_id: str) -> bool:
        """Whether the page shows a family member's record rather than the caller's."""
        return caller.account is not None and patient_id != caller.account.fhir_user_id


def _with_patient(path: str, caller: Principal, patient_id: str) -> str:
    """The other page of the pair, for the same patient."""
    own = caller.account.fhir_user_id if caller.account else None
    return path if patient_id == own else f"{path}?" + urlencode({"patient": patient_id})


__all__ = ["ACCESS_PATH", "RECORD_PATH", "MyRecordPages"]
