"""The staff page of the day at a health centre: clinicians see today's appointments
(kept up to date while the page is open) and mark who arrived, was seen or did not
come; the centre's administrator sees the day's figures as charts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from mor.auth.accounts import Account
from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.auth.roles import CLINICAL_ROLES, Role
from mor.fhir.store import Store
from mor.services.records import visits_in_person
from mor.services.records.signing import VisitRefused
from mor.services.records.visit_state import open_questions
from mor.services.scheduling import day_lists
from mor.services.scheduling.centres import CentreNotFound, get_centre
from mor.services.scheduling.codes import SERVICE_KINDS
from mor.services.scheduling.day_lists import NotYourCentre
from mor.services.video.consults import CONSULTING_ROLES
from mor.web.charts import Series, stacked_columns
from mor.web.dates import clock, era_of, long_day, short_day
from mor.web.i18n import N_, language_of
from mor.web.rendering import gettext, render
from mor.web.signin import SignIn

PATH: Final = "/staff/today"
# The figures chart looks back this many days, today included.
FIGURE_DAYS: Final = 14
_ROLES: Final = CLINICAL_ROLES | {Role.CENTRE_ADMIN}
_MARK_NAMES: Final = {"arrived": N_("Arrived"), "fulfilled": N_("Seen"),
                      "noshow": N_("Did not come")}


class DayListPages:
    def __init__(self, store: Store, sign_in: SignIn, zone: ZoneInfo) -> None:
        self.store = store
        self.sign_in = sign_in
        self.zone = zone

    async def page(self, request: Request) -> Response:
        found = await self._staff(request)
        if isinstance(found, Response):
            return found
        staff, csrf = found
        return await self._page(request, staff, csrf)

    async def changes(self, request: Request) -> Response:
        """What changed, for the page's script: a token, and nothing about anyone."""
        found = await self._staff(request)
        if isinstance(found, Response):
            return JSONResponse({"error": "sign in"}, 401)
        staff, _ = found
        centre_id = self._centre_id(request, staff)
        try:
            token = await day_lists.latest_change(self.store, staff, centre_id or "",
                                                  self._today(), self.zone)
        except (NotYourCentre, CentreNotFound):
            return JSONResponse({"error": "not your centre"}, 403)
        return JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})

    async def mark(self, request: Request) -> Response:
        found = await self._posted(request)
        if isinstance(found, Response):
            return found
        staff, csrf, form, centre_id = found
        try:
            await day_lists.mark(self.store, staff, centre_id,
                                 request.path_params["appointment"], str(form.get("status")))
        except (LookupError, ValueError, NotYourCentre) as refused:
            return await self._page(request, staff, csrf, status=400,
                                    error=gettext(request, str(refused)))
        return RedirectResponse(f"{PATH}?" + urlencode({"centre": centre_id}), 303)

    async def open_visit(self, request: Request) -> Response:
        """The visit of an appointment at the centre, to write its note (as beside a
        video call)."""
        found = await self._posted(request)
        if isinstance(found, Response):
            return found
        staff, csrf, _, centre_id = found
        try:
            encounter_id = await visits_in_person.open_visit(
                self.store, staff, centre_id, request.path_params["appointment"])
        except VisitRefused as refused:
            return await self._page(request, staff, csrf, status=409,
                                    error=gettext(request, refused.message))
        return RedirectResponse(f"/visits/{encounter_id}", 303)

    async def _posted(self, request: Request
                      ) -> tuple[Principal, str, FormData, str] | Response:
        """The staff member posting a form of the list, the form and the centre; the
        list again, saying so, when the form's token is not their session's."""
        found = await self._staff(request)
        if isinstance(found, Response):
            return found
        staff, csrf = found
        form = await request.form()
        if str(form.get("csrf_token", "")) != csrf:
            return await self._page(request, staff, csrf, status=400, error=gettext(
                request, "The form expired; please try again."))
        return staff, csrf, form, self._centre_id(request, staff) or ""

    async def _page(self, request: Request, staff: Principal, csrf: str, *,
                    status: int = 200, error: str | None = None) -> Response:
        language = language_of(request)
        era = era_of(request, language)
        centres = day_lists.centres_of(staff)
        centre_id = self._centre_id(request, staff)
        if centre_id is None:
            return render(request, "message.html", 403, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, "You work at no health centre yet"),
                          text=gettext(request, "Ask your health centre's administrator "
                                                "to add you to its staff."))
        try:
            centre = await get_centre(self.store, centre_id)
        except CentreNotFound:
            return render(request, "message.html", 404, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, "Not found"), text=centre_id)
        today = self._today()
        clinician = staff.account is not None and staff.account.role in CLINICAL_ROLES
        visits = await day_lists.day_list(self.store, staff, centre_id, today, self.zone
                                          ) if clinician else []
        days = [today - timedelta(days=n) for n in reversed(range(FIGURE_DAYS))]
        counted = await day_lists.figures(self.store, staff, centre_id, days, self.zone)
        labels = [gettext(request, "Booked"), gettext(request, "Attended"),
                  gettext(request, "Missed"), gettext(request, "Cancelled")]
        series = [Series(label, [getattr(f, field) for f in counted]) for label, field in
                  zip(labels, ("booked", "attended", "no_show", "cancelled"), strict=True)]
        chart = stacked_columns(gettext(request, "Appointments of the last two weeks"),
                                [d.strftime("%d") for d in days], series)
        centre_names = []
        for other in centres:
            try:
                centre_names.append((other, (await get_centre(self.store, other)).name(
                    language)))
            except CentreNotFound:
                continue
        return render(
            request, "day_list.html", status, centre=centre, centres=centre_names,
            today=long_day(today, language, era), visits=visits, clinician=clinician,
            writes_notes=staff.account is not None
            and staff.account.role in CONSULTING_ROLES,
            questions=await open_questions(self.store, staff) if staff.account is not None
            and staff.account.role is Role.DOCTOR else [],
            clock=lambda moment: clock(moment, self.zone),
            kinds={k: gettext(request, v) for k, v in SERVICE_KINDS.items()},
            marks={k: gettext(request, v) for k, v in _MARK_NAMES.items()},
            statuses={k: gettext(request, v) for k, v in {
                "booked": N_("Booked"), "arrived": N_("Arrived"),
                "checked-in": N_("Checked in"), "fulfilled": N_("Seen"),
                "noshow": N_("Did not come")}.items()},
            figures=list(zip([short_day(d, language, era) for d in days], counted,
                             strict=True)),
            # The chart's every text was escaped as it was drawn.
            today_figures=counted[-1], chart=Markup(chart),
            error=error, signed_in=True, csrf_token=csrf)

    async def _staff(self, request: Request) -> tuple[Principal, str] | Response:
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None:
            return RedirectResponse("/auth/login?" + urlencode({"next": PATH}), 303)
        if account.role not in _ROLES:
            return render(request, "message.html", 403, signed_in=True,
                          csrf_token=session.csrf_token,
                          heading=gettext(request, "This page is for health-centre staff"),
                          text=gettext(request, "Doctors, nurses and health-centre admins "
                                                "see the day's appointments here."))
        return await self._caller(request, account), session.csrf_token

    async def _caller(self, request: Request, account: Account) -> Principal:
        return await person_caller(self.store, account,
                                   address=request.client.host if request.client else None)

    def _centre_id(self, request: Request, staff: Principal) -> str | None:
        centres = day_lists.centres_of(staff)
        asked = request.query_params.get("centre")
        if asked in centres:
            return asked
        return centres[0] if centres else None

    def _today(self) -> date:
        return datetime.now(self.zone).date()
