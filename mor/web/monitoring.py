"""The nurse's pages for patients followed from home: the worklist of the centre's open
alerts, most urgent first, and each patient's page with their readings against the
plan's targets, where the nurse acknowledges, escalates to a doctor, messages the
patient, books a video consultation, enrols a patient or changes a plan's thresholds."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from markupsafe import Markup
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.errors import NotFound
from mor.fhir.store import Store
from mor.services.monitoring import actions
from mor.services.monitoring.codes import (
    PROGRAMME_NAMES,
    PROGRAMMES,
    READING_KINDS,
    RULES,
    kind_of_rule,
)
from mor.services.monitoring.plans import PlanRefused, change_thresholds, enrol
from mor.services.monitoring.readings import Reading
from mor.services.monitoring.thresholds import BadThreshold, Thresholds, parse
from mor.services.monitoring.worklist import (
    HISTORY_DAYS,
    AlertView,
    PatientAlerts,
    WorklistRefused,
    patient_alerts,
    worklist,
)
from mor.services.scheduling.booking import BookingRefused, FreeTime, book, free_times
from mor.services.scheduling.offered import services_of
from mor.web.dates import clock, era_of, short_day
from mor.web.i18n import N_, language_of
from mor.web.page_access import checked_form, person_for
from mor.web.reading_charts import reading_chart
from mor.web.rendering import formatted, gettext, render
from mor.web.signin import SignIn

PATH: Final = "/staff/monitoring"
_ROLES: Final = frozenset({Role.NURSE, Role.DOCTOR})
_HEADING: Final = N_("This page is for health-centre nurses and doctors")
_TEXT: Final = N_("Nurses and doctors follow their patients' home readings here.")
BOOK_DAYS: Final = 3
_MOST_TIMES: Final = 8
# The thresholds a nurse changes on a plan, with their labels.
THRESHOLD_LABELS: Final = {
    "target_systolic": N_("Target: systolic below"),
    "target_diastolic": N_("Target: diastolic below"),
    "bp_high_systolic": N_("Out of range: systolic from"),
    "bp_high_diastolic": N_("Out of range: diastolic from"),
    "bp_urgent_systolic": N_("Urgent: systolic from"),
    "bp_urgent_diastolic": N_("Urgent: diastolic from"),
    "bp_low_systolic": N_("Urgent: systolic below"),
    "target_glucose_low": N_("Target: fasting blood sugar from"),
    "target_glucose_high": N_("Target: fasting blood sugar up to"),
    "glucose_fasting_high": N_("Out of range: fasting blood sugar above"),
    "glucose_urgent_low": N_("Urgent: blood sugar below"),
    "glucose_urgent_high": N_("Urgent: blood sugar from"),
    "missing_days": N_("Alert after this many days without readings"),
}
_UNITS: Final = {"bp": "mmHg", "glucose": "mg/dL", "weight": "kg"}


class MonitoringPages:
    def __init__(self, store: Store, sign_in: SignIn, zone: ZoneInfo) -> None:
        self.store = store
        self.sign_in = sign_in
        self.zone = zone

    # --- pages -------------------------------------------------------------------

    async def worklist_page(self, request: Request) -> Response:
        found = await self._staff(request)
        if isinstance(found, Response):
            return found
        staff, csrf = found
        centre_id = self._centre_id(request, staff)
        if centre_id is None:
            return self._no_centre(request, csrf)
        now = datetime.now(self.zone)
        try:
            listed = await worklist(self.store, staff, centre_id, now=now)
        except WorklistRefused as refused:
            return render(request, "message.html", 403, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, _HEADING),
                          text=gettext(request, refused.message))
        return render(request, "monitoring_worklist.html", signed_in=True, csrf_token=csrf,
                      worklist=listed, centre_id=centre_id,
                      alert_text=lambda alert: self._alert_text(request, alert),
                      when=lambda moment: self._when(request, moment),
                      sparkline=lambda row: _sparkline(row.trend, kind_of_rule(row.first.rule)),
                      rules=_rules(request))

    async def patient_page(self, request: Request) -> Response:
        found = await self._staff(request)
        if isinstance(found, Response):
            return found
        staff, csrf = found
        return await self._patient_page(request, staff, csrf)

    # --- actions -----------------------------------------------------------------

    async def acknowledge(self, request: Request) -> Response:
        return await self._act(request, "acknowledge")

    async def escalate(self, request: Request) -> Response:
        return await self._act(request, "escalate")

    async def message(self, request: Request) -> Response:
        return await self._act(request, "message")

    async def book_video(self, request: Request) -> Response:
        return await self._act(request, "book")

    async def enrol_patient(self, request: Request) -> Response:
        return await self._act(request, "enrol")

    async def thresholds(self, request: Request) -> Response:
        return await self._act(request, "thresholds")

    async def _act(self, request: Request, what: str) -> Response:
        found = await self._staff(request)
        if isinstance(found, Response):
            return found
        staff, csrf = found
        form = await checked_form(request, csrf)
        if isinstance(form, Response):
            return form
        centre_id = self._centre_id(request, staff)
        if centre_id is None:
            return self._no_centre(request, csrf)
        patient_id = request.path_params["patient"]
        now = datetime.now(self.zone)
        try:
            done = await self._do(request, staff, what, form, centre_id, patient_id, now)
        except (actions.ActionRefused, WorklistRefused, PlanRefused) as refused:
            return await self._patient_page(request, staff, csrf, status=409,
                                            error=gettext(request, refused.message))
        except BookingRefused as refused:
            return await self._patient_page(request, staff, csrf, status=409,
                                            error=gettext(request, str(refused)))
        except BadThreshold as bad:
            return await self._patient_page(request, staff, csrf, status=400, error=formatted(
                gettext(request, "{field}: write a number, such as 140"),
                {"field": gettext(request, THRESHOLD_LABELS.get(str(bad), str(bad)))}))
        if what == "acknowledge" and form.get("back") == "worklist":
            return RedirectResponse(f"{PATH}?" + urlencode({"centre": centre_id}), 303)
        return RedirectResponse(self._patient_url(centre_id, patient_id, done), 303)

    async def _do(self, request: Request, staff: Principal, what: str, form: FormData,
                  centre_id: str, patient_id: str, now: datetime) -> str:
        """Does the action; returns what the page then says (a msgid key of _DONE)."""
        task_id = str(form.get("task", ""))
        version = str(form.get("version", ""))
        note = str(form.get("note", ""))
        if what == "acknowledge":
            await actions.acknowledge(self.store, staff, centre_id, task_id,
                                      version=version, note=note, now=now)
        elif what == "escalate":
            await actions.escalate(self.store, staff, centre_id, task_id, version=version,
                                   note=note, now=now)
        elif what == "message":
            await actions.message_patient(self.store, staff, centre_id, patient_id,
                                          str(form.get("text", "")), now=now,
                                          task_id=task_id or None)
        elif what == "book":
            await book(self.store, staff, patient_id, str(form.get("slot", "")), video=True)
        elif what == "enrol":
            await enrol(self.store, staff, patient_id,
                        [str(p) for p in form.getlist("programme")], now=now)
        else:
            plan_id = str(form.get("plan", ""))
            current = await patient_alerts(self.store, staff, centre_id, patient_id, now=now)
            if current.plan is None or current.plan.id != plan_id:
                raise PlanRefused(N_("This patient follows no home monitoring plan"))
            changes = {name: parse(name, str(form.get(name, "")))
                       for name in THRESHOLD_LABELS}
            defaults = {f.name: getattr(current.plan.thresholds, f.name)
                        for f in fields(Thresholds)}
            await change_thresholds(self.store, staff, plan_id,
                                    Thresholds(**(defaults | changes)),
                                    version=str(form.get("version", "")))
        return what

    # --- the patient's page ------------------------------------------------------

    async def _patient_page(self, request: Request, staff: Principal, csrf: str, *,
                            status: int = 200, error: str | None = None) -> Response:
        centre_id = self._centre_id(request, staff)
        if centre_id is None:
            return self._no_centre(request, csrf)
        now = datetime.now(self.zone)
        patient_id = request.path_params["patient"]
        try:
            seen = await patient_alerts(self.store, staff, centre_id, patient_id, now=now)
        except WorklistRefused as refused:
            return render(request, "message.html", 403, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, _HEADING),
                          text=gettext(request, refused.message))
        except NotFound:
            return render(request, "message.html", 404, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, "Not found"),
                          text=gettext(request, "There is no such patient, or their record "
                                                "is not shared with you"))
        times = await self._free_times(centre_id, now) if seen.plan else []
        done = request.query_params.get("done")
        return render(
            request, "monitoring_patient.html", status, signed_in=True, csrf_token=csrf,
            seen=seen, centre_id=centre_id, error=error,
            done=gettext(request, _DONE[done]) if done in _DONE else None,
            alert_text=lambda alert: self._alert_text(request, alert),
            when=lambda moment: self._when(request, moment),
            reading_text=_reading_text, rules=_rules(request),
            charts=_charts(request, seen, self.zone, now), times=times,
            programmes={k: gettext(request, v) for k, v in PROGRAMME_NAMES.items()
                        if k in PROGRAMMES},
            thresholds=[(name, gettext(request, label), _number(getattr(
                seen.plan.thresholds, name))) for name, label in THRESHOLD_LABELS.items()]
            if seen.plan else [],
            back=f"{PATH}?" + urlencode({"centre": centre_id}))

    async def _free_times(self, centre_id: str, now: datetime) -> list[FreeTime]:
        found: list[FreeTime] = []
        for service in await services_of(self.store, centre_id):
            found += await free_times(self.store, service.id, now,
                                      now + timedelta(days=BOOK_DAYS))
        return sorted(found, key=lambda t: t.start)[:_MOST_TIMES]

    # --- helpers -----------------------------------------------------------------

    async def _staff(self, request: Request) -> tuple[Principal, str] | Response:
        return await person_for(request, self.store, self.sign_in, _ROLES, heading=_HEADING,
                                text=_TEXT)

    def _centre_id(self, request: Request, staff: Principal) -> str | None:
        centres = staff.account.organizations if staff.account else ()
        asked = request.query_params.get("centre")
        if asked in centres:
            return asked
        return centres[0] if centres else None

    def _no_centre(self, request: Request, csrf: str) -> Response:
        return render(request, "message.html", 403, signed_in=True, csrf_token=csrf,
                      heading=gettext(request, "You work at no health centre yet"),
                      text=gettext(request, "Ask your health centre's administrator to add "
                                            "you to its staff."))

    def _patient_url(self, centre_id: str, patient_id: str, done: str) -> str:
        return f"{PATH}/{patient_id}?" + urlencode({"centre": centre_id, "done": done})

    def _when(self, request: Request, moment: datetime | None) -> str:
        if moment is None:
            return ""
        language = language_of(request)
        local = moment.astimezone(self.zone)
        return f"{short_day(local.date(), language, era_of(request, language))} " \
               f"{clock(local, self.zone)}"

    def _alert_text(self, request: Request, alert: AlertView) -> str:
        """The rule in the page's language, and the reading that raised it."""
        text = gettext(request, RULES.get(alert.rule, alert.rule))
        if alert.focus is None:
            return text
        return f"{text}: {_reading_text(alert.focus)} · {self._when(request, alert.focus.taken)}"


_DONE: Final = {
    "acknowledge": N_("The alert is acknowledged and off the worklist."),
    "escalate": N_("The doctors of the centre see this alert first now."),
    "message": N_("The message is sent; the patient sees it on their readings page."),
    "book": N_("The video consultation is booked; the patient sees it in their "
               "appointments."),
    "enrol": N_("The patient follows a home monitoring plan now."),
    "thresholds": N_("The plan's thresholds are changed."),
}


def _rules(request: Request) -> dict[str, str]:
    return {rule: gettext(request, name) for rule, name in RULES.items()}


def _number(value: float) -> str:
    return f"{value:g}"


def _reading_text(reading: Reading) -> str:
    v = reading.values
    if reading.kind == "bp":
        pulse = f" · {v['pulse']:g}/min" if "pulse" in v else ""
        return f"{v['systolic']:g}/{v['diastolic']:g} mmHg{pulse}"
    if reading.kind == "glucose":
        return f"{v['glucose']:g} mg/dL"
    return f"{v['weight']:g} kg"


def _main_value(reading: Reading) -> float:
    v = reading.values
    return v.get("systolic") or v.get("glucose") or v.get("weight") or 0.0


def _sparkline(readings: tuple[Reading, ...], kind: str, *, width: int = 160,
               height: int = 40) -> Markup:
    """The trend behind an alert, small enough for a worklist row: systolic pressure or
    blood sugar over the last two weeks. The numbers are on the patient's page."""
    shown = [r for r in readings if r.kind == kind]
    if len(shown) < 2:
        return Markup("")
    values = [_main_value(r) for r in shown]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1, high + 1
    start, end = shown[0].taken.timestamp(), shown[-1].taken.timestamp()
    span = max(end - start, 1.0)
    points = " ".join(
        f"{2 + (r.taken.timestamp() - start) / span * (width - 4):.1f},"
        f"{height - 2 - (value - low) / (high - low) * (height - 4):.1f}"
        for r, value in zip(shown, values, strict=True))
    return Markup(f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
                  f'aria-hidden="true" xmlns="http://www.w3.org/2000/svg">'
                  f'<polyline points="{points}" fill="none" stroke="#0b5f7a" '
                  f'stroke-width="2"/></svg>')


def _charts(request: Request, seen: PatientAlerts, zone: ZoneInfo, now: datetime
            ) -> list[tuple[str, Markup]]:
    """A chart per kind of reading of the last weeks, against the plan's targets, drawn
    as the patient's own page draws it."""
    if seen.plan is None:
        return []
    language = language_of(request)
    era = era_of(request, language)
    since = now - timedelta(days=HISTORY_DAYS)
    charts = []
    for kind in seen.plan.kinds:
        readings = [r for r in seen.readings if r.kind == kind]
        if readings:
            charts.append((gettext(request, READING_KINDS[kind].name), reading_chart(
                kind, readings, seen.plan.thresholds, since=since, until=now,
                text=lambda message: gettext(request, message),
                day=lambda moment: short_day(moment.astimezone(zone).date(), language,
                                             era))))
    return charts
