"""The patient's own record: what their health centres keep about them (problems,
medicines, allergies, vital signs with their trends, immunisations, visits) and who
accessed it and when (from the audit trail).

Everything is read as the patient (or the family member acting for them, with
``?patient=``): the same access rules as the FHIR API, and each reading is recorded in
the patient's own audit trail, which the second page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.store import Store
from mor.services.fhir_calls import search
from mor.services.records.immunizations import immunizations
from mor.services.records.record_access import RecordAccess, accesses, acts_for
from mor.services.records.summary import RecordNotShared, RecordSummary, record_summary
from mor.services.records.vital_signs import (
    LOINC,
    VITAL_KINDS,
    VitalKind,
    VitalSign,
    vital_sign_of,
)
from mor.web.charts import COLOURS
from mor.web.dates import clock
from mor.web.i18n import N_
from mor.web.record_summary import RecordView
from mor.web.rendering import gettext, render
from mor.web.signin import SignIn

RECORD_PATH: Final = "/my/record"
ACCESS_PATH: Final = "/my/record/access"
# Each chart shows the latest measurements of its kind, oldest on the left.
TREND_POINTS: Final = 12
# Enough for a dozen of each kind measured at every visit.
_MOST_VITALS: Final = 200
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
# The second line of a blood-pressure chart: dashed as well as coloured, so the two are
# told apart without colour.
_COMPONENT_NAMES: Final = {"8480-6": N_("Systolic"), "8462-4": N_("Diastolic")}


@dataclass(frozen=True, slots=True)
class Trend:
    """One kind of vital sign measured more than once: the chart and its numbers."""

    kind: VitalKind
    signs: tuple[VitalSign, ...]  # oldest first
    chart: Markup  # inline SVG, a picture of the table of ``signs`` beside it


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
        trends = await self._trends(caller, patient_id, view) if summary else []
        return render(request, "my_record.html", signed_in=True, csrf_token=csrf,
                      summary=summary, record=view, immunizations=shots, trends=trends,
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

    async def _trends(self, caller: Principal, patient_id: str, view: RecordView
                      ) -> list[Trend]:
        """The patient's vital signs over time, one chart per kind measured twice or
        more, in one search (so one audit record). Read here rather than in the record
        summary, which holds only the latest of each kind for the clinician."""
        codes = [code for kind in VITAL_KINDS for code in kind.codes]
        found = await search(self.store, caller, "Observation", [
            ("patient", f"Patient/{patient_id}"),
            ("code", ",".join(f"{LOINC}|{code}" for code in codes)),
            ("status:not", "entered-in-error,cancelled"), ("_sort", "-date"),
            ("_count", str(_MOST_VITALS))])
        trends = []
        for kind in VITAL_KINDS:
            signs = [sign for observation in found
                     if _is_of(observation, kind)
                     and (sign := vital_sign_of(kind, observation)) is not None
                     and sign.effective is not None][:TREND_POINTS]
            if len(signs) >= 2:
                oldest_first = tuple(reversed(signs))
                trends.append(Trend(kind, oldest_first, _trend_chart(kind, oldest_first,
                                                                     view)))
        return trends


def _is_of(observation: dict[str, object], kind: VitalKind) -> bool:
    code = observation.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    return any(isinstance(c, dict) and c.get("system") == LOINC and c.get("code") in
               kind.codes for c in codings or ())


def _trend_chart(kind: VitalKind, signs: tuple[VitalSign, ...], view: RecordView,
                 *, width: int = 480, height: int = 180) -> Markup:
    """A line per value of the kind (two for blood pressure, the second dashed), points
    marked, first and last day below: drawn on the server as inline SVG like
    mor.web.charts, no chart library on a slow phone. The table beside it has the
    numbers, for screen readers and for reading exact values."""
    lines = len(kind.components) or 1
    values = [v.value for sign in signs for v in sign.values if v is not None]
    low, high = min(values), max(values)
    if high == low:
        low, high = low - 1, high + 1
    left, right, top, bottom = 44, 12, 10, height - 40
    step = (width - left - right) / max(len(signs) - 1, 1)

    def y(value: float) -> float:
        return bottom - (value - low) / (high - low) * (bottom - top)

    title = view.vital_name(signs[0])
    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f'<line x1="{left}" y1="{bottom}" x2="{width - right}" y2="{bottom}" '
             'stroke="#3d4b59"/>']
    for bound in (low, high):
        parts.append(f'<text x="{left - 6}" y="{y(bound) + 4:.1f}" font-size="12" '
                     f'text-anchor="end" fill="#1b2733">{escape(_short(bound))}</text>')
    for line in range(lines):
        points = [(left + i * step, y(value.value)) for i, sign in enumerate(signs)
                  if (value := sign.values[line]) is not None]
        dash = ' stroke-dasharray="6 4"' if line else ""
        colour = COLOURS[line % len(COLOURS)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} '
                     f'points="{" ".join(f"{x:.1f},{py:.1f}" for x, py in points)}"/>')
        for x, py in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{py:.1f}" r="3" fill="{colour}"/>')
    for i in (0, len(signs) - 1):
        anchor = "start" if i == 0 else "end"
        parts.append(f'<text x="{left + i * step:.1f}" y="{bottom + 16}" font-size="12" '
                     f'text-anchor="{anchor}" fill="#1b2733">'
                     f'{escape(view.day(signs[i].effective))}</text>')
    if kind.components:
        x = float(left)
        for line, code in enumerate(kind.components):
            dash = ' stroke-dasharray="6 4"' if line else ""
            label = view.text(_COMPONENT_NAMES.get(code, code))
            parts.append(f'<line x1="{x:.1f}" y1="{height - 10}" x2="{x + 24:.1f}" '
                         f'y2="{height - 10}" stroke="{COLOURS[line]}" stroke-width="2"'
                         f'{dash}/><text x="{x + 30:.1f}" y="{height - 6}" font-size="12" '
                         f'fill="#1b2733">{escape(label)}</text>')
            x += 40 + 8 * len(label)
    parts.append("</svg>")
    # Every text in it was escaped above.
    return Markup("".join(parts))


def _short(value: float) -> str:
    return f"{value:g}"


def _with_patient(path: str, caller: Principal, patient_id: str) -> str:
    """The other page of the pair, for the same patient."""
    own = caller.account.fhir_user_id if caller.account else None
    return path if patient_id == own else f"{path}?" + urlencode({"patient": patient_id})


__all__ = ["ACCESS_PATH", "RECORD_PATH", "MyRecordPages"]
