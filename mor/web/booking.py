"""The patient's pages: choose a health centre (by district, or nearest), a service and
a free time, book it; see, move and cancel appointments, and on the day one's place in
the queue. Free times are public like the directory; booking needs a signed-in patient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mor.auth.accounts import Account
from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.auth.sessions import Session
from mor.fhir.store import Store
from mor.services.scheduling import booking
from mor.services.scheduling.booking import Booking, BookingRefused, FreeTime, SlotTaken
from mor.services.scheduling.centres import (
    Centre,
    CentreNotFound,
    all_centres,
    districts,
    get_centre,
    home_centre,
    nearest_first,
)
from mor.services.scheduling.codes import SERVICE_KINDS
from mor.services.scheduling.offered import Service, ServiceNotFound, get_service, services_of
from mor.services.scheduling.slots import DEFAULT_HORIZON_DAYS
from mor.web.dates import clock, era_of, long_day, short_day
from mor.web.i18n import N_, language_of
from mor.web.rendering import gettext, render
from mor.web.signin import SignIn

# Days on one page of free times: on a phone, a busy centre's three days are already
# a hundred times to choose from (and a search of a few thousand slots).
DAYS_SHOWN: Final = 3
# Pages a patient can go through: the four weeks of slots made ahead (slots.py).
PAGES: Final = -(-DEFAULT_HORIZON_DAYS // DAYS_SHOWN)
# How a patient is told what became of an appointment (FHIR Appointment.status).
_STATUSES: Final = {"booked": N_("Booked"), "arrived": N_("Arrived"),
                    "checked-in": N_("Checked in"), "fulfilled": N_("Attended"),
                    "cancelled": N_("Cancelled"), "noshow": N_("Missed"),
                    "proposed": N_("Proposed"), "pending": N_("Waiting for the centre"),
                    "entered-in-error": N_("Entered in error"), "waitlist": N_("Waiting list")}


@dataclass(frozen=True, slots=True)
class Day:
    label: str
    times: list[tuple[str, str]]  # (time of day, a free slot's id)


@dataclass(frozen=True, slots=True)
class Shown:
    """An appointment as its page shows it."""

    booking: Booking
    day: str
    time: str
    service: str
    centre: str
    queue: int | None
    changeable: bool


class BookingPages:
    def __init__(self, store: Store, sign_in: SignIn, zone: ZoneInfo) -> None:
        self.store = store
        self.sign_in = sign_in
        self.zone = zone

    async def home(self, request: Request) -> Response:
        session, account = await self.sign_in.signed_in(request)
        return render(request, "home.html", account=account, signed_in=session is not None,
                      csrf_token=session.csrf_token if session else "")

    async def centres(self, request: Request) -> Response:
        language = language_of(request)
        every = await all_centres(self.store)
        centres = every
        district = request.query_params.get("district", "")
        near = _point(request.query_params.get("near", ""))
        if near is not None:
            centres = nearest_first(every, *near)
        elif district:
            centres = [c for c in every if c.district(language) == district]
        return render(request, "centres.html", centres=centres,
                      districts=districts(every, language),
                      district=district, near=near is not None)

    async def services(self, request: Request) -> Response:
        centre = await self._centre(request)
        if centre is None:
            return _not_found(request)
        offered = await services_of(self.store, centre.id)
        return render(request, "services.html", centre=centre, services=offered,
                      kinds={k: gettext(request, v) for k, v in SERVICE_KINDS.items()})

    async def times(self, request: Request) -> Response:
        found = await self._centre_and_service(request)
        if found is None:
            return _not_found(request)
        session, account = await self.sign_in.signed_in(request)
        return await self._times(request, *found, session=session, account=account)

    async def book(self, request: Request) -> Response:
        found = await self._centre_and_service(request)
        if found is None:
            return _not_found(request)
        centre, service = found
        session, account, form = await self._patient_form(request)
        if session is None or account is None:
            return _to_sign_in(request.url.path)
        caller = await self._caller(request, account)
        try:
            how = "video" if form.get("how") == "video" else "centre"
            made = await booking.book(self.store, caller, account.fhir_user_id or "",
                                      str(form.get("slot", "")), video=how == "video")
        except SlotTaken as taken:
            return await self._times(request, centre, service, session=session,
                                     account=account, status=409,
                                     error=gettext(request, taken.reason),
                                     next_free=taken.next_free, how=how)
        except BookingRefused as refused:
            return await self._times(request, centre, service, session=session,
                                     account=account, status=400,
                                     error=gettext(request, refused.reason), how=how)
        return RedirectResponse("/appointments?" + urlencode({"booked": made.appointment_id}),
                                303)

    async def appointments(self, request: Request) -> Response:
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None or account.role is not Role.PATIENT:
            return _to_sign_in("/appointments")
        return await self._appointments(request, session, account)

    async def reschedule_page(self, request: Request) -> Response:
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None or account.role is not Role.PATIENT:
            return _to_sign_in(request.url.path)
        mine = await self._mine(request, account, request.path_params["appointment"])
        if mine is None or mine.service_id is None:
            return _not_found(request)
        service = await get_service(self.store, mine.service_id)
        centre = await get_centre(self.store, service.centre_id)
        return await self._times(request, centre, service, session=session, account=account,
                                 moving=mine)

    async def reschedule(self, request: Request) -> Response:
        session, account, form = await self._patient_form(request)
        if session is None or account is None:
            return _to_sign_in("/appointments")
        appointment_id = request.path_params["appointment"]
        mine = await self._mine(request, account, appointment_id)
        if mine is None or mine.service_id is None:
            return _not_found(request)
        service = await get_service(self.store, mine.service_id)
        centre = await get_centre(self.store, service.centre_id)
        caller = await self._caller(request, account)
        try:
            await booking.reschedule(self.store, caller, account.fhir_user_id or "",
                                     appointment_id, str(form.get("slot", "")))
        except SlotTaken as taken:
            return await self._times(request, centre, service, session=session,
                                     account=account, status=409, moving=mine,
                                     error=gettext(request, taken.reason),
                                     next_free=taken.next_free)
        except BookingRefused as refused:
            return await self._times(request, centre, service, session=session,
                                     account=account, status=400, moving=mine,
                                     error=gettext(request, refused.reason))
        return RedirectResponse("/appointments?" + urlencode({"moved": appointment_id}), 303)

    async def cancel(self, request: Request) -> Response:
        session, account, _ = await self._patient_form(request)
        if session is None or account is None:
            return _to_sign_in("/appointments")
        caller = await self._caller(request, account)
        try:
            await booking.cancel(self.store, caller, account.fhir_user_id or "",
                                 request.path_params["appointment"])
        except BookingRefused as refused:
            return await self._appointments(request, session, account, status=400,
                                            error=gettext(request, refused.reason))
        return RedirectResponse("/appointments?cancelled=1", 303)

    # -- pieces -------------------------------------------------------------------

    async def _times(self, request: Request, centre: Centre, service: Service, *,
                     session: Session | None, account: Account | None, status: int = 200,
                     error: str | None = None, next_free: list[FreeTime] | None = None,
                     moving: Booking | None = None, how: str = "centre") -> Response:
        language = language_of(request)
        era = era_of(request, language)
        shown = _page(request)
        today = datetime.now(self.zone).date()
        start = max(datetime.now(self.zone), datetime.combine(
            today + timedelta(days=DAYS_SHOWN * shown), datetime.min.time(), self.zone))
        end = datetime.combine(today + timedelta(days=DAYS_SHOWN * (shown + 1)),
                               datetime.min.time(), self.zone)
        free = await booking.free_times(self.store, service.id, start, end)
        days: dict[date, list[tuple[str, str]]] = {}
        for time in free:
            local = time.start.astimezone(self.zone)
            days.setdefault(local.date(), []).append((clock(local, self.zone), time.slot_id))
        patient = account is not None and account.role is Role.PATIENT
        return render(
            request, "times.html", status, centre=centre, service=service,
            kind=gettext(request, SERVICE_KINDS[service.kind]),
            days=[Day(long_day(d, language, era), t) for d, t in sorted(days.items())],
            page=shown, pages=PAGES, error=error,
            next_free=[(short_day(t.start.astimezone(self.zone).date(), language, era),
                        clock(t.start, self.zone), t.slot_id) for t in next_free or ()],
            patient=patient, signed_in=session is not None,
            csrf_token=session.csrf_token if session else "",
            moving=self._shown(moving, request, centre, service) if moving else None,
            action=(f"/appointments/{moving.appointment_id}/reschedule" if moving
                    else request.url.path),
            sign_in_url="/auth/login?" + urlencode({"next": request.url.path}), how=how)

    async def _appointments(self, request: Request, session: Session, account: Account, *,
                            status: int = 200, error: str | None = None) -> Response:
        caller = await self._caller(request, account)
        mine = await booking.appointments_of(self.store, caller, account.fhir_user_id or "")
        now = datetime.now(self.zone)
        places: dict[str, tuple[Service | None, Centre | None]] = {}
        shown = [await self._show(request, b, places) for b in mine]
        upcoming = sorted((s for s in shown if s.booking.end >= now
                           and s.booking.status in booking.ACTIVE_STATUSES),
                          key=lambda s: s.booking.start)
        past = [s for s in shown if s not in upcoming]
        notice = None
        if request.query_params.get("booked"):
            notice = gettext(request, "Booked. We will remind you the day before.")
        elif request.query_params.get("moved"):
            notice = gettext(request, "Your appointment has been moved.")
        elif request.query_params.get("cancelled"):
            notice = gettext(request, "Your appointment has been cancelled; the time is "
                                      "free for someone else.")
        home = await home_centre(self.store, account.fhir_user_id or "")
        return render(request, "appointments.html", status, upcoming=upcoming, past=past,
                      notice=notice, error=error, signed_in=True, home_centre=home,
                      statuses={k: gettext(request, v) for k, v in _STATUSES.items()},
                      csrf_token=session.csrf_token, verified=account.verified)

    async def _show(self, request: Request, made: Booking,
                    places: dict[str, tuple[Service | None, Centre | None]]) -> Shown:
        """One appointment as shown; ``places`` keeps the services and centres already
        read, as a patient's appointments are mostly at one centre."""
        service = centre = None
        if made.service_id and made.service_id not in places:
            try:
                service = await get_service(self.store, made.service_id)
                centre = await get_centre(self.store, service.centre_id)
            except (ServiceNotFound, CentreNotFound):
                pass
            places[made.service_id] = (service, centre)
        if made.service_id:
            service, centre = places[made.service_id]
        return self._shown(made, request, centre, service,
                           await booking.queue_position(self.store, made, self.zone))

    def _shown(self, made: Booking, request: Request, centre: Centre | None,
               service: Service | None, queue: int | None = None) -> Shown:
        language = language_of(request)
        era = era_of(request, language)
        local = made.start.astimezone(self.zone)
        return Shown(made, long_day(local.date(), language, era), clock(local, self.zone),
                     gettext(request, SERVICE_KINDS.get(made.kind or "", "")) if made.kind
                     else "", centre.name(language) if centre else "", queue,
                     made.status == "booked" and made.start > datetime.now(self.zone))

    async def _mine(self, request: Request, account: Account, appointment_id: str
                    ) -> Booking | None:
        caller = await self._caller(request, account)
        mine = await booking.appointments_of(self.store, caller, account.fhir_user_id or "")
        return next((b for b in mine if b.appointment_id == appointment_id), None)

    async def _patient_form(self, request: Request
                            ) -> tuple[Session | None, Account | None, Any]:
        """The signed-in patient who sent this form with their session's CSRF token."""
        session, account = await self.sign_in.signed_in(request)
        form = await request.form()
        if session is None or account is None or account.role is not Role.PATIENT or (
                not session.csrf_matches(str(form.get("csrf_token", "")))):
            return None, None, form
        return session, account, form

    async def _caller(self, request: Request, account: Account) -> Principal:
        return await person_caller(self.store, account,
                                   address=request.client.host if request.client else None)

    async def _centre(self, request: Request) -> Centre | None:
        try:
            return await get_centre(self.store, request.path_params["centre"])
        except CentreNotFound:
            return None

    async def _centre_and_service(self, request: Request) -> tuple[Centre, Service] | None:
        centre = await self._centre(request)
        if centre is None:
            return None
        try:
            service = await get_service(self.store, request.path_params["service"])
        except ServiceNotFound:
            return None
        return (centre, service) if service.centre_id == centre.id else None


def _page(request: Request) -> int:
    raw = request.query_params.get("page", "0")
    return min(int(raw), PAGES - 1) if raw.isdigit() else 0


def _point(text: str) -> tuple[float, float] | None:
    latitude, _, longitude = text.partition(",")
    try:
        point = float(latitude), float(longitude)
    except ValueError:
        return None
    return point if -90 <= point[0] <= 90 and -180 <= point[1] <= 180 else None


def _to_sign_in(next_url: str) -> Response:
    return RedirectResponse("/auth/login?" + urlencode({"next": next_url}), 303)


def _not_found(request: Request) -> Response:
    return render(request, "message.html", 404,
                  heading=gettext(request, "Not found"),
                  text=gettext(request, "This health centre or service is not offered "
                                        "(any more). Choose again from the list."))
