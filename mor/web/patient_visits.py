"""The patient's visits after they are signed: the list, and each visit's summary in
their language (diagnoses, advice, medicines and how to take them, lab tests, the
referral, documents) with where their medicines are on the way home."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.errors import FhirError
from mor.fhir.store import Store
from mor.services.pharmacy.delivery import STEP_NAMES, delivery_story
from mor.services.records.visit_state import patient_of_visit
from mor.services.records.visit_summary import (
    VisitNotFound,
    change_token,
    signed_visits,
    visit_summary,
)
from mor.web.dates import clock
from mor.web.i18n import N_, language_of
from mor.web.page_access import person_for
from mor.web.record_summary import RecordView
from mor.web.rendering import gettext, render
from mor.web.signin import SignIn


class PatientVisitPages:
    def __init__(self, store: Store, sign_in: SignIn, zone: ZoneInfo) -> None:
        self.store = store
        self.sign_in = sign_in
        self.zone = zone

    async def visits(self, request: Request) -> Response:
        found = await self._patient(request)
        if isinstance(found, Response):
            return found
        caller, csrf, patient_id = found
        visits = await signed_visits(self.store, caller, patient_id)
        return render(request, "my_visits.html", signed_in=True, csrf_token=csrf,
                      visits=visits, when=self._when(request))

    async def visit(self, request: Request) -> Response:
        found = await self._patient(request)
        if isinstance(found, Response):
            return found
        caller, csrf, _ = found
        try:
            summary = await visit_summary(self.store, caller,
                                          request.path_params["encounter"],
                                          language_of(request))
        except VisitNotFound:
            return render(request, "message.html", 404, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, "There is no such visit"),
                          text=gettext(request, "Your visits are listed on the page "
                                                "“My visits”."))
        story = []
        if summary.delivery is not None:
            try:
                story = await delivery_story(self.store, caller, summary.delivery.task_id)
            except FhirError:
                story = []
        def step_name(status: str) -> str:
            return gettext(request, STEP_NAMES.get(status) or status)

        return render(request, "my_visit.html", signed_in=True, csrf_token=csrf,
                      summary=summary, when=self._when(request),
                      story=[(step_name(step.status), datetime.fromisoformat(step.when))
                             for step in story], step_name=step_name)

    async def changes(self, request: Request) -> Response:
        """A token that changes when the visit's medicines move on, for the page to
        refresh their delivery's steps; nothing about anyone."""
        found = await self._patient(request)
        if isinstance(found, Response):
            return JSONResponse({"error": gettext(request, "Sign in again.")}, 401)
        caller, _, _ = found
        encounter_id = request.path_params["encounter"]
        patient_id = await patient_of_visit(self.store, encounter_id)
        own = caller.account.fhir_user_id if caller.account else None
        if patient_id is None or patient_id not in (own, *caller.proxies):
            return JSONResponse({"error": gettext(request, "There is no such visit")}, 404)
        return JSONResponse({"token": await change_token(self.store, encounter_id)},
                            headers={"Cache-Control": "no-store"})

    def _when(self, request: Request) -> Callable[[datetime | None], str]:
        view = RecordView(request, self.zone)

        def when(moment: datetime | None) -> str:
            if moment is None:
                return ""
            return f"{view.day(moment)} {clock(moment, self.zone)}"
        return when

    async def _patient(self, request: Request) -> tuple[Principal, str, str] | Response:
        """The signed-in patient (or a family member, for ``?patient=`` they act for)."""
        found = await person_for(
            request, self.store, self.sign_in, {Role.PATIENT},
            heading=N_("This page is for patients"),
            text=N_("Patients read the summaries of their visits here."))
        if isinstance(found, Response):
            return found
        caller, csrf = found
        own = caller.account.fhir_user_id if caller.account else None
        wanted = request.query_params.get("patient")
        patient_id = wanted if wanted and wanted in caller.proxies else own or ""
        return caller, csrf, patient_id


__all__ = ["PatientVisitPages"]
