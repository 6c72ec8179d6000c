"""The administrators' pages for health centres: details and opening hours, services
with their slot length and capacity, the roster, and days the centre is closed.
A health-centre admin manages the centres they work at; the city admin, every centre."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, time
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mor.auth.accounts import Accounts
from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.auth.workplaces import practitioner_role
from mor.fhir.errors import Conflict, FhirError, PreconditionFailed
from mor.fhir.store import Store, new_id
from mor.services.fhir_calls import transaction
from mor.services.scheduling.centres import (
    Centre,
    CentreDetails,
    CentreNotFound,
    OpeningHours,
    all_centres,
    get_centre,
    save_centre,
)
from mor.services.scheduling.closures import (
    booked_on,
    cancel_booked_on,
    close_day,
    reopen_day,
)
from mor.services.scheduling.codes import DAYS_OF_WEEK, SERVICE_KINDS
from mor.services.scheduling.offered import Service, save_service, services_of
from mor.services.scheduling.reminders import Reminders
from mor.services.scheduling.rosters import (
    RosterError,
    Shift,
    clinicians_of,
    end_roster_entry,
    roster_of,
    save_roster_entry,
    staff_of,
)
from mor.services.scheduling.slots import refresh_centre, refresh_slots
from mor.services.staff import add_account
from mor.web.dates import era_of, short_day
from mor.web.i18n import LANGUAGES, N_, language_of
from mor.web.rendering import gettext, render
from mor.web.signin import SignIn

PATH: Final = "/admin/centres"
_ADMINS: Final = frozenset({Role.CENTRE_ADMIN, Role.CITY_ADMIN})
# Whom a centre's administrator adds to its staff, by the form's value.
_STAFF_ROLES: Final = {"doctor": Role.DOCTOR, "nurse": Role.NURSE,
                       "pharmacist": Role.PHARMACIST}
_STAFF_ROLE_NAMES: Final = {"doctor": N_("Doctor"), "nurse": N_("Nurse"),
                            "pharmacist": N_("Pharmacist")}
_USERNAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{2,39}")
_DAY_NAMES: Final = {"mon": N_("Mon"), "tue": N_("Tue"), "wed": N_("Wed"), "thu": N_("Thu"),
                     "fri": N_("Fri"), "sat": N_("Sat"), "sun": N_("Sun")}


class FormError(ValueError):
    """A form that cannot be saved; the message (translatable) says what to fix."""


class CentreAdminPages:
    def __init__(self, store: Store, sign_in: SignIn, zone: ZoneInfo, language: str,
                 notices: Reminders) -> None:
        self.store = store
        self.notices = notices
        self.sign_in = sign_in
        self.zone = zone
        self.city_language = language

    async def list_page(self, request: Request) -> Response:
        found = await self._admin(request)
        if isinstance(found, Response):
            return found
        admin, csrf = found
        centres = [c for c in await all_centres(self.store, include_inactive=True)
                   if _manages(admin, c.id)]
        return render(request, "admin_centres.html", centres=centres, csrf_token=csrf,
                      signed_in=True)

    async def new_page(self, request: Request) -> Response:
        found = await self._admin(request)
        if isinstance(found, Response):
            return found
        _, csrf = found
        return self._details_form(request, csrf, None)

    async def create(self, request: Request) -> Response:
        found = await self._admin(request)
        if isinstance(found, Response):
            return found
        admin, csrf = found
        form = await request.form()
        if form.get("csrf_token") != csrf:
            return self._details_form(request, csrf, None, status=400, error=gettext(
                request, "The form expired; please try again."))
        try:
            details = self._details(form)
            centre = await save_centre(self.store, admin, details)
            await self._work_at(admin, centre.id)
        except (FormError, FhirError) as error:
            return self._details_form(request, csrf, None, status=400,
                                      error=_message(request, error), form=form)
        return RedirectResponse(f"{PATH}/{centre.id}", 303)

    async def centre_page(self, request: Request) -> Response:
        found = await self._centre_admin(request)
        if isinstance(found, Response):
            return found
        admin, csrf, centre = found
        return await self._centre(request, admin, csrf, centre)

    async def change(self, request: Request) -> Response:
        found = await self._centre_admin(request)
        if isinstance(found, Response):
            return found
        admin, csrf, centre = found
        form = await request.form()
        if form.get("csrf_token") != csrf:
            return await self._centre(request, admin, csrf, centre, status=400, error=gettext(
                request, "The form expired; please try again."))
        action = str(form.get("action", ""))
        try:
            done = await self._act(admin, centre, action, form)
        except (FormError, RosterError, FhirError, ValueError) as error:
            return await self._centre(request, admin, csrf, centre, status=400,
                                      error=_message(request, error))
        return RedirectResponse(f"{PATH}/{centre.id}?" + urlencode({"done": done}), 303)

    # -- actions ------------------------------------------------------------------

    async def _act(self, admin: Principal, centre: Centre, action: str, form: FormData
                   ) -> str:
        if action == "details":
            await save_centre(self.store, admin, self._details(form), centre,
                              active=form.get("active") == "on")
            return "details"
        if action == "add-service":
            kind = str(form.get("kind", ""))
            if kind not in SERVICE_KINDS:
                raise FormError(N_("Choose a kind of service"))
            await save_service(self.store, admin, Service(
                "", centre.id, centre.location_id, kind, _number(form, "slot_minutes", 15),
                _number(form, "capacity", 1)))
            return "service"
        if action == "service":
            service = await self._service_of(centre, str(form.get("service", "")))
            await save_service(self.store, admin, replace(
                service, slot_minutes=_number(form, "slot_minutes", service.slot_minutes),
                capacity=_number(form, "capacity", service.capacity),
                active=form.get("active") == "on"))
            await refresh_centre(self.store, centre.id, zone=self.zone)
            return "service"
        if action == "add-roster":
            service = await self._service_of(centre, str(form.get("service", "")))
            shift = Shift(tuple(d for d in DAYS_OF_WEEK if d in form.getlist("days")),
                          _time(form, "start"), _time(form, "end"))
            entry = await save_roster_entry(self.store, admin, service,
                                            str(form.get("clinician", "")), (shift,))
            await refresh_slots(self.store, entry.schedule_id, zone=self.zone)
            return "roster"
        if action == "end-roster":
            ending = next((e for e in await roster_of(self.store, centre.id)
                           if e.schedule_id == form.get("schedule")), None)
            if ending is None:
                raise FormError(N_("This roster entry has ended already"))
            await end_roster_entry(self.store, admin, ending)
            await refresh_slots(self.store, ending.schedule_id, zone=self.zone)
            return "roster"
        if action == "add-staff":
            await self._add_staff(centre, form)
            return "staff"
        if action == "close":
            await close_day(self.store, admin, centre.id, _day(form), str(form.get(
                "reason", "")), self.zone)
            return "closed"
        if action == "cancel-closed":
            day = _day(form)
            reason = next((c.reason for s in await services_of(
                self.store, centre.id, include_inactive=True) for c in s.closed
                if c.day == day and c.reason), "")
            for booking in await cancel_booked_on(self.store, admin, centre.id, day, reason,
                                                  self.zone):
                await self.notices.tell_cancelled(booking, reason)
            return "cancelled"
        if action == "reopen":
            await reopen_day(self.store, admin, centre.id, _day(form), self.zone)
            return "reopened"
        raise FormError(N_("Unknown action"))

    async def _add_staff(self, centre: Centre, form: FormData) -> None:
        """A doctor, nurse or pharmacist of the centre: an account with the first password
        the administrator gives them (they enrol an authenticator app at their first
        sign-in), a Practitioner and a PractitionerRole here."""
        name = str(form.get("name", "")).strip()
        username = str(form.get("username", "")).strip().lower()
        role = _STAFF_ROLES.get(str(form.get("role", "")))
        if not name:
            raise FormError(N_("Give the name of the member of staff"))
        if not _USERNAME.fullmatch(username):
            raise FormError(N_("A sign-in name has 3 to 40 small letters, digits, dots, "
                               "hyphens or underscores, such as doctor.somchai"))
        if role is None:
            raise FormError(N_("Choose whether they are a doctor, a nurse or a pharmacist"))
        if await Accounts(self.store.engine).find(username) is not None:
            raise FormError(N_("That sign-in name is taken; choose another"))
        await add_account(self.store, username, str(form.get("password", "")), role,
                          name=name, organizations=(centre.id,), verified=True)

    # -- pages --------------------------------------------------------------------

    async def _centre(self, request: Request, admin: Principal, csrf: str, centre: Centre,
                      *, status: int = 200, error: str | None = None) -> Response:
        language = language_of(request)
        era = era_of(request, language)
        offered = await services_of(self.store, centre.id, include_inactive=True)
        roster = await roster_of(self.store, centre.id)
        closed = sorted({c.day for s in offered for c in s.closed if c.day >= date.today()})
        affected = {day: await booked_on(self.store, centre.id, day, self.zone)
                    for day in closed}
        service_names = {s.id: gettext(request, SERVICE_KINDS[s.kind]) for s in offered}
        return render(
            request, "admin_centre.html", status, centre=centre, services=offered,
            roster=roster, clinicians=await clinicians_of(self.store, centre.id),
            staff_roles={k: gettext(request, v) for k, v in _STAFF_ROLE_NAMES.items()},
            staff=await staff_of(self.store, centre.id),
            kinds={k: gettext(request, v) for k, v in SERVICE_KINDS.items()},
            service_names=service_names,
            day_names={k: gettext(request, v) for k, v in _DAY_NAMES.items()},
            closed=[(d.isoformat(), short_day(d, language, era), len(affected[d]),
                     next((c.reason for s in offered for c in s.closed if c.day == d), ""))
                    for d in closed],
            done=request.query_params.get("done"), error=error, csrf_token=csrf,
            signed_in=True, languages_for_names=LANGUAGES,
            form=_details_values(centre.details), centre_language=centre.details.language)

    def _details_form(self, request: Request, csrf: str, centre: Centre | None, *,
                      status: int = 200, error: str | None = None,
                      form: FormData | None = None) -> Response:
        values: dict[str, Any] = dict(form) if form is not None else (
            _details_values(centre.details) if centre else {
                "days": ["mon", "tue", "wed", "thu", "fri"], "opens": "08:00",
                "closes": "16:00"})
        if form is not None:
            values["days"] = [str(d) for d in form.getlist("days")]
        return render(request, "admin_centre_new.html", status, form=values, error=error,
                      csrf_token=csrf, signed_in=True, languages_for_names=LANGUAGES,
                      day_names={k: gettext(request, v) for k, v in _DAY_NAMES.items()})

    # -- helpers ------------------------------------------------------------------

    def _details(self, form: FormData) -> CentreDetails:
        names = {lang: str(form.get(f"name_{lang}", "")).strip() for lang in LANGUAGES}
        if not any(names.values()):
            raise FormError(N_("Give the health centre a name"))
        districts = {lang: str(form.get(f"district_{lang}", "")).strip()
                     for lang in LANGUAGES}
        if not any(districts.values()):
            raise FormError(N_("Give the district the health centre is in"))
        days = tuple(d for d in DAYS_OF_WEEK if d in form.getlist("days"))
        opens, closes = _time(form, "opens"), _time(form, "closes")
        if closes <= opens:
            raise FormError(N_("The centre must close after it opens"))
        latitude, longitude = _coordinate(form, "latitude", 90), _coordinate(
            form, "longitude", 180)
        return CentreDetails(
            names=names, districts=districts, address=str(form.get("address", "")).strip(),
            city=str(form.get("city", "")).strip(), country=str(form.get("country", "")
                                                              ).strip().upper(),
            language=str(form.get("language") or self.city_language),
            phone=str(form.get("phone", "")).strip(), latitude=latitude, longitude=longitude,
            hours=(OpeningHours(days, opens, closes),) if days else ())

    async def _work_at(self, admin: Principal, centre_id: str) -> None:
        """A health-centre admin who adds a centre runs it: a PractitionerRole there."""
        account = admin.account
        if account is None or account.role is not Role.CENTRE_ADMIN or not (
                account.fhir_user or "").startswith("Practitioner/"):
            return
        practitioner = (account.fhir_user or "").removeprefix("Practitioner/")
        await transaction(self.store, admin, [(f"PractitionerRole/{new_id()}",
                                               practitioner_role(practitioner, centre_id,
                                                                 Role.CENTRE_ADMIN))])

    async def _service_of(self, centre: Centre, service_id: str) -> Service:
        offered = {s.id: s for s in await services_of(self.store, centre.id,
                                                      include_inactive=True)}
        if service_id not in offered:
            raise FormError(N_("Choose one of this centre's services"))
        return offered[service_id]

    async def _admin(self, request: Request) -> tuple[Principal, str] | Response:
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None:
            return RedirectResponse("/auth/login?" + urlencode({"next": request.url.path}),
                                    303)
        if account.role not in _ADMINS:
            return render(request, "message.html", 403, signed_in=True,
                          csrf_token=session.csrf_token,
                          heading=gettext(request, "This page is for administrators"),
                          text=gettext(request, "Health-centre and city administrators "
                                                "set up centres, services and rosters "
                                                "here."))
        caller = await person_caller(self.store, account, address=request.client.host
                                     if request.client else None)
        return caller, session.csrf_token

    async def _centre_admin(self, request: Request
                            ) -> tuple[Principal, str, Centre] | Response:
        found = await self._admin(request)
        if isinstance(found, Response):
            return found
        admin, csrf = found
        centre_id = request.path_params["centre"]
        try:
            centre = await get_centre(self.store, centre_id)
        except CentreNotFound:
            centre = None
        if centre is None or not _manages(admin, centre_id):
            return render(request, "message.html", 404, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, "Not found"),
                          text=gettext(request, "You manage no health centre of this "
                                                "address."))
        return admin, csrf, centre


def _manages(admin: Principal, centre_id: str) -> bool:
    account = admin.account
    return account is not None and (account.role is Role.CITY_ADMIN
                                    or centre_id in account.organizations)


def _details_values(details: CentreDetails) -> dict[str, Any]:
    hours = details.hours[0] if details.hours else None
    values: dict[str, Any] = {f"name_{k}": v for k, v in details.names.items()}
    values |= {f"district_{k}": v for k, v in details.districts.items()}
    return values | {
        "address": details.address, "city": details.city, "country": details.country,
        "phone": details.phone, "language": details.language,
        "latitude": "" if details.latitude is None else details.latitude,
        "longitude": "" if details.longitude is None else details.longitude,
        "days": list(hours.days) if hours else [],
        "opens": hours.opens.strftime("%H:%M") if hours else "08:00",
        "closes": hours.closes.strftime("%H:%M") if hours else "16:00"}


def _time(form: FormData, name: str) -> time:
    try:
        return time.fromisoformat(str(form.get(name, "")))
    except ValueError:
        raise FormError(N_("Give times as hours and minutes, such as 08:30")) from None


def _day(form: FormData) -> date:
    try:
        return date.fromisoformat(str(form.get("day", "")))
    except ValueError:
        raise FormError(N_("Choose the day")) from None


def _number(form: FormData, name: str, default: int) -> int:
    raw = str(form.get(name, "")).strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise FormError(N_("Slot length and capacity are whole numbers"))
    return int(raw)


def _coordinate(form: FormData, name: str, limit: float) -> float | None:
    raw = str(form.get(name, "")).strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise FormError(N_("Latitude and longitude are numbers, such as 13.7262 and "
                           "100.5234")) from None
    if not -limit <= value <= limit:
        raise FormError(N_("Latitude and longitude are numbers, such as 13.7262 and "
                           "100.5234"))
    return value


def _message(request: Request, error: Exception) -> str:
    if isinstance(error, PreconditionFailed | Conflict):
        return gettext(request, "Someone else changed this centre at the same moment. "
                                "Reload the page, check it and try again.")
    if isinstance(error, FhirError):
        # The form's own checks come first; what the FHIR engine still refuses is told in
        # the page's language, with its own (English) words for whoever fixes it.
        return gettext(request, "A value in the form is not accepted. Check the fields "
                                "and try again. Details for support: {reason}").format(
            reason=error.diagnostics)
    return gettext(request, str(error))
