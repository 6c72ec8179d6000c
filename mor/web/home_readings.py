"""The patient's home readings: enrolling in home monitoring, what is due today, a form
per kind of reading (blood pressure, blood sugar, weight), a meter's CSV export, and the
last 30 days drawn against the plan's targets.

The forms are sent by ``readings.js``: each reading gets its key (a ``urn:uuid:``) when
the patient taps save and waits in the phone's storage until mor answered, so a reading
taken without a connection is sent later, and one sent twice (the answer lost) is
stored once. Without JavaScript the forms post as usual, with a key the page made.

Everything is read and written as the patient (or the family member acting for them,
with ``?patient=``), under the same access rules as the FHIR API.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import orjson
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.errors import FhirError
from mor.fhir.store import Store
from mor.services import fhir_calls
from mor.services.monitoring.actions import messages_to
from mor.services.monitoring.alerts import evaluate_plan
from mor.services.monitoring.codes import (
    LOINC,
    MEAL_CONTEXTS,
    PROGRAMME_NAMES,
    PROGRAMMES,
    READING_KINDS,
)
from mor.services.monitoring.due import due_today
from mor.services.monitoring.meter_csv import MAX_BYTES, BadFile, Rejected, parse_meter_csv
from mor.services.monitoring.plans import Plan, PlanRefused, active_plan, enrol
from mor.services.monitoring.readings import (
    LIMITS,
    UNIT_TEXT,
    BadReading,
    Reading,
    reading_of,
    record,
)
from mor.services.records.record_access import acts_for
from mor.web.dates import clock
from mor.web.i18n import N_
from mor.web.page_access import checked_form, person_for
from mor.web.reading_charts import OFF_TARGET, off_target, reading_chart
from mor.web.record_summary import RecordView
from mor.web.rendering import formatted, gettext, render
from mor.web.signin import SignIn

READINGS_PATH: Final = "/my/readings"
ENROL_PATH: Final = "/my/readings/enrol"
UPLOAD_PATH: Final = "/my/readings/upload"
CSRF_HEADER: Final = "X-CSRF-Token"
CHART_DAYS: Final = 30
RECENT: Final = 10
_MOST_READINGS: Final = 1000
# The keys the page's script makes (crypto.randomUUID); meter lines have urn:sha256 ones.
_PAGE_KEY: Final = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# A phone's clock a little ahead is no reason to refuse a reading.
_CLOCK_SLACK: Final = timedelta(minutes=10)
_MULTIPART_SLACK: Final = 64 * 1024
_NOT_FOR_STAFF: Final = N_("Patients send their home blood pressure, blood sugar and "
                           "weight readings here. Staff see them on the home monitoring "
                           "worklist.")


@dataclass(frozen=True, slots=True)
class Imported:
    """What a meter file added, for the page to say."""

    added: int
    known: int  # already stored: the same file, or an overlapping one, sent before
    rejected: tuple[Rejected, ...]


class HomeReadingPages:
    def __init__(self, store: Store, sign_in: SignIn, zone: ZoneInfo) -> None:
        self.store = store
        self.sign_in = sign_in
        self.zone = zone

    async def page(self, request: Request) -> Response:
        found = await self._patient(request)
        if isinstance(found, Response):
            return found
        caller, csrf, patient_id = found
        saved = request.query_params.get("saved")
        return await self._page(request, caller, csrf, patient_id,
                                saved=saved in READING_KINDS)

    async def enrol(self, request: Request) -> Response:
        found = await self._patient(request)
        if isinstance(found, Response):
            return found
        caller, csrf, patient_id = found
        form = await checked_form(request, csrf)
        if isinstance(form, Response):
            return form
        chosen = [str(p) for p in form.getlist("programme")]
        try:
            await enrol(self.store, caller, patient_id, chosen,
                        now=datetime.now(self.zone))
        except PlanRefused as refused:
            return await self._page(request, caller, csrf, patient_id, status=400,
                                    error=gettext(request, refused.message),
                                    chosen=chosen)
        return RedirectResponse(_with_patient(READINGS_PATH, caller, patient_id), 303)

    async def save(self, request: Request) -> Response:
        """One reading: JSON from the page's script (the form token in a header), which
        answers ``{id, new}``, 201 when stored now and 200 when it was already; or the
        form itself, posted without JavaScript."""
        if request.headers.get("content-type", "").startswith("application/json"):
            return await self._save_json(request)
        found = await self._patient(request)
        if isinstance(found, Response):
            return found
        caller, csrf, patient_id = found
        form = await checked_form(request, csrf)
        if isinstance(form, Response):
            return form
        try:
            reading = _reading(_form_fields(form), now=datetime.now(self.zone))
            plan = await active_plan(self.store, caller, patient_id)
            await self._record(caller, patient_id, plan, reading)
        except BadReading as bad:
            return await self._page(request, caller, csrf, patient_id, status=400,
                                    error=formatted(gettext(request, bad.message),
                                                    bad.params))
        query = {"saved": reading.kind}
        if patient_id != (caller.account.fhir_user_id if caller.account else None):
            query["patient"] = patient_id
        return RedirectResponse(f"{READINGS_PATH}?{urlencode(query)}", 303)

    async def upload(self, request: Request) -> Response:
        found = await self._patient(request)
        if isinstance(found, Response):
            return found
        caller, csrf, patient_id = found
        declared = request.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) > MAX_BYTES + _MULTIPART_SLACK:
            return await self._page(request, caller, csrf, patient_id, status=413,
                                    error=gettext(request, _TOO_BIG).format(
                                        size=f"{MAX_BYTES // (1024 * 1024)}"))
        form = await checked_form(request, csrf)
        if isinstance(form, Response):
            return form
        sent = form.get("file")
        if not isinstance(sent, UploadFile) or not sent.filename:
            return await self._page(request, caller, csrf, patient_id, status=400,
                                    error=gettext(request, "Choose the file your meter's "
                                                           "app exported"))
        data = await sent.read(MAX_BYTES + 1)
        try:
            parsed = parse_meter_csv(data, patient_id=patient_id, zone=self.zone,
                                     file_name=sent.filename)
        except BadFile as bad:
            return await self._page(request, caller, csrf, patient_id, status=400,
                                    error=formatted(gettext(request, bad.message),
                                                    bad.params))
        plan = await active_plan(self.store, caller, patient_id)
        added = known = 0
        rejected = list(parsed.rejected)
        for reading in parsed.readings:
            try:
                stored = await record(self.store, caller, patient_id, reading,
                                      plan.id if plan else None)
            except BadReading as bad:
                rejected.append(Rejected(0, bad.message, bad.params))
                continue
            added, known = (added + 1, known) if stored.new else (added, known + 1)
        if plan and added:
            await evaluate_plan(self.store, plan.id, now=datetime.now(self.zone))
        return await self._page(request, caller, csrf, patient_id,
                                imported=Imported(added, known, tuple(rejected)))

    async def _save_json(self, request: Request) -> Response:
        found = await self._json_patient(request)
        if isinstance(found, Response):
            return found
        caller, patient_id = found
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            return _json_error(request, N_("The reading could not be read; reload the "
                                           "page and enter it again"), {}, 400)
        try:
            reading = _reading(body, now=datetime.now(self.zone), from_script=True)
            plan = await active_plan(self.store, caller, patient_id)
            stored = await self._record(caller, patient_id, plan, reading)
        except BadReading as bad:
            return _json_error(request, bad.message, bad.params, 400)
        return JSONResponse({"id": stored.id, "new": stored.new}, 201 if stored.new else 200,
                            headers={"Cache-Control": "no-store"})

    async def _record(self, caller: Principal, patient_id: str, plan: Plan | None,
                      reading: Reading) -> _Stored:
        recorded = await record(self.store, caller, patient_id, reading,
                                plan.id if plan else None)
        if plan is not None and recorded.new:
            await evaluate_plan(self.store, plan.id, now=datetime.now(self.zone))
        return _Stored(recorded.reading.id or "", recorded.new)

    async def _page(self, request: Request, caller: Principal, csrf: str, patient_id: str,
                    *, status: int = 200, error: str | None = None,
                    chosen: list[str] | None = None, imported: Imported | None = None,
                    saved: bool = False) -> Response:
        view = RecordView(request, self.zone)
        context: dict[str, Any] = {
            "signed_in": True, "csrf_token": csrf, "error": error,
            "acting_for": caller.account is not None
            and patient_id != caller.account.fhir_user_id,
            "verified": caller.account is not None and caller.account.verified,
            "programmes": [(p, gettext(request, PROGRAMME_NAMES[p])) for p in PROGRAMMES],
            "chosen": chosen or [], "enrol_url": _with_patient(ENROL_PATH, caller, patient_id),
            "post_url": _with_patient(READINGS_PATH, caller, patient_id),
            "upload_url": _with_patient(UPLOAD_PATH, caller, patient_id),
            "patient_id": patient_id, "plan": None, "imported": imported, "saved": saved,
            "max_size": f"{MAX_BYTES // (1024 * 1024)}",
            "reason": lambda line: formatted(gettext(request, line.reason), line.params),
        }
        if not context["verified"]:
            return render(request, "my_readings.html", status, **context)
        plan = await active_plan(self.store, caller, patient_id)
        if plan is None:
            return render(request, "my_readings.html", status, **context)
        now = datetime.now(self.zone)
        since = now - timedelta(days=CHART_DAYS)
        readings = await self._readings(caller, patient_id, since)
        due = due_today(plan, readings, now.date(), self.zone)
        charts = []
        for kind in plan.kinds:
            of_kind = sorted((r for r in readings if r.kind == kind), key=lambda r: r.taken)
            chart = reading_chart(kind, of_kind, plan.thresholds, since=since, until=now,
                                  text=view.text, day=view.day) if of_kind else None
            charts.append((kind, of_kind, chart))

        def when(moment: datetime) -> str:
            return f"{view.day(moment)} {clock(moment, self.zone)}"

        def judged(reading: Reading) -> str:
            found = off_target(reading, plan.thresholds)
            return gettext(request, OFF_TARGET[found]) if found else ""

        # The nurse's messages of the last weeks, newest first.
        messages = [m for m in await messages_to(self.store, caller, patient_id, most=5)
                    if (m.sent or datetime.min.replace(tzinfo=self.zone)) >= since]
        context |= {
            "plan": plan, "due": due, "charts": charts, "when": when, "judged": judged,
            "messages": messages,
            "value": lambda r: _value(request, r), "kinds": READING_KINDS,
            "recent": sorted(readings, key=lambda r: r.taken, reverse=True)[:RECENT],
            "contexts": MEAL_CONTEXTS, "units": UNIT_TEXT, "limits": LIMITS,
            "key": lambda: f"urn:uuid:{uuid.uuid4()}",
            "plan_names": [gettext(request, PROGRAMME_NAMES[p]) for p in plan.programmes],
        }
        return render(request, "my_readings.html", status, **context)

    async def _readings(self, caller: Principal, patient_id: str, since: datetime
                        ) -> list[Reading]:
        """The patient's readings since ``since``, from any source, read as the caller."""
        codes = ",".join(f"{LOINC}|{kind.loinc}" for kind in READING_KINDS.values())
        try:
            found = await fhir_calls.search(self.store, caller, "Observation", [
                ("patient", f"Patient/{patient_id}"), ("code", codes),
                ("date", f"ge{since.isoformat(timespec='seconds')}"), ("_sort", "-date"),
                ("_count", str(_MOST_READINGS))])
        except FhirError:
            return []
        return [r for o in found if (r := reading_of(o)) is not None]

    async def _patient(self, request: Request) -> tuple[Principal, str, str] | Response:
        """The signed-in patient, and whose readings: their own, or with ``?patient=``
        those of a family member who lets them act for them (anyone else's: 403)."""
        found = await person_for(request, self.store, self.sign_in, (Role.PATIENT,),
                                 heading=N_("This page is for patients"),
                                 text=_NOT_FOR_STAFF)
        if isinstance(found, Response):
            return found
        caller, csrf = found
        own = caller.account.fhir_user_id if caller.account else None
        patient_id = request.query_params.get("patient") or own or ""
        if not acts_for(caller, patient_id):
            return render(request, "message.html", 403, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, "These readings are not yours to see"),
                          text=gettext(request, "You see your own readings, and those of "
                                                "the family members who let you act for "
                                                "them."))
        return caller, csrf, patient_id

    async def _json_patient(self, request: Request) -> tuple[Principal, str] | Response:
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None:
            return _json_error(request, N_("Sign in again to send the readings saved on "
                                           "this phone"), {}, 401)
        if not session.csrf_matches(request.headers.get(CSRF_HEADER)):
            return _json_error(request, N_("The form expired; reload the page."), {}, 403)
        if account.role is not Role.PATIENT:
            return _json_error(request, N_("This page is for patients"), {}, 403)
        caller = await person_caller(self.store, account, address=request.client.host
                                     if request.client else None)
        patient_id = request.query_params.get("patient") or account.fhir_user_id or ""
        if not acts_for(caller, patient_id):
            return _json_error(request, N_("These readings are not yours to see"), {}, 403)
        return caller, patient_id


@dataclass(frozen=True, slots=True)
class _Stored:
    id: str
    new: bool


_TOO_BIG: Final = N_("The file is bigger than a meter's export ({size} MB at most); "
                     "export a shorter period")
_NUMBERS: Final = ("systolic", "diastolic", "pulse", "glucose", "weight")


def _form_fields(form: FormData) -> dict[str, Any]:
    return {name: str(value) for name, value in form.items() if isinstance(value, str)}


def _reading(fields: Mapping[str, Any], *, now: datetime, from_script: bool = False
             ) -> Reading:
    """The reading a form or the script sent; raises BadReading. A form posted without
    the script was taken now; the script says when."""
    kind = str(fields.get("kind") or "")
    if kind not in READING_KINDS:
        raise BadReading(N_("Choose what you measured"))
    key = str(fields.get("key") or "")
    if not _PAGE_KEY.fullmatch(key):
        raise BadReading(N_("The reading could not be read; reload the page and enter it "
                            "again"))
    taken = now
    if from_script:
        try:
            taken = datetime.fromisoformat(str(fields.get("taken") or ""))
        except ValueError:
            raise BadReading(N_("Say when the reading was taken")) from None
        if taken.tzinfo is None:
            raise BadReading(N_("Say when the reading was taken"))
        if taken > now + _CLOCK_SLACK:
            raise BadReading(N_("The reading's time is in the future; check the phone's "
                                "clock"))
    wanted = {"bp": ("systolic", "diastolic", "pulse"), "glucose": ("glucose",),
              "weight": ("weight",)}[kind]
    values: dict[str, float] = {}
    for name in wanted:
        number = _number(fields.get(name))
        if number is not None:
            values[name] = number
    context = str(fields.get("context") or "") or None if kind == "glucose" else None
    return Reading(kind, taken, values, context, key)


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        raise BadReading(N_("Fill in every number of the reading"))
    if isinstance(value, int | float):
        return float(value)
    text = str(value or "").strip().replace(",", ".")
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise BadReading(N_("{value} is not a number"), value=text) from None


def _value(request: Request, reading: Reading) -> str:
    """"132/84 mmHg, pulse 72", "110 mg/dL, fasting", "68.5 kg"."""
    values = reading.values
    if reading.kind == "bp":
        shown = f"{values['systolic']:g}/{values['diastolic']:g} mmHg"
        if "pulse" in values:
            shown += ", " + gettext(request, "pulse {pulse}/min").format(
                pulse=f"{values['pulse']:g}")
        return shown
    if reading.kind == "glucose":
        shown = f"{values['glucose']:g} mg/dL"
        if reading.context in MEAL_CONTEXTS:
            shown += ", " + gettext(request, MEAL_CONTEXTS[reading.context]).lower()
        return shown
    return f"{values['weight']:g} kg"


def _json_error(request: Request, message: str, params: Mapping[str, str], status: int
                ) -> JSONResponse:
    return JSONResponse({"error": formatted(gettext(request, message), params)}, status,
                        headers={"Cache-Control": "no-store"})


def _with_patient(path: str, caller: Principal, patient_id: str) -> str:
    own = caller.account.fhir_user_id if caller.account else None
    return path if patient_id == own else f"{path}?" + urlencode({"patient": patient_id})


__all__ = ["ENROL_PATH", "READINGS_PATH", "UPLOAD_PATH", "HomeReadingPages"]
