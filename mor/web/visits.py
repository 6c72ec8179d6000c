"""The consultation screen's note: the form beside the call (and on its own page once the
call is over), saved as a draft while the clinician types, then signed into the record
(:mod:`mor.services.records.signing`)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from mor.auth.callers import person_caller
from mor.auth.policy import Principal
from mor.fhir.store import Store
from mor.services.documents.fonts import FontMissing
from mor.services.documents.visit_documents import write_visit_documents
from mor.services.pharmacy import verification
from mor.services.pharmacy.prescription import PharmacyRefused
from mor.services.prescribing.formulary import Formulary, label
from mor.services.records import signing
from mor.services.records.drafts import Drafts
from mor.services.records.hospitals import hospitals
from mor.services.records.lab_tests import LAB_TESTS
from mor.services.records.signing import ItemWarnings, VisitRefused, WarningsNotAcknowledged
from mor.services.records.summary import RecordNotShared, RecordSummary, record_summary
from mor.services.records.visit_note import VisitNote
from mor.services.records.visit_state import may_write_note, patient_of_visit, signed_note
from mor.services.records.vital_history import vital_history
from mor.services.terminology import icd10
from mor.services.video.consults import CONSULTING_ROLES
from mor.web.dates import clock
from mor.web.i18n import N_, language_of
from mor.web.page_access import checked_form, person_for
from mor.web.record_summary import RecordView
from mor.web.rendering import formatted, gettext, render
from mor.web.signin import SignIn
from mor.web.visit_form import (
    VITALS,
    FormProblem,
    field_value,
    local_input,
    note_from_form,
    rows_of,
)
from mor.web.vital_trends import trends

_MOST_SUGGESTIONS: Final = 12
_log = logging.getLogger(__name__)


class VisitPages:
    def __init__(self, store: Store, sign_in: SignIn, zone: ZoneInfo,
                 formulary: Formulary | None = None) -> None:
        self.store = store
        self.sign_in = sign_in
        self.zone = zone
        self.formulary = formulary or Formulary()
        self.drafts = Drafts(store.engine)

    async def page(self, request: Request) -> Response:
        """The visit's note, as the clinician left it, on a page of its own; once
        signed, what was signed and its documents."""
        found = await self._clinician(request)
        if isinstance(found, Response):
            return found
        caller, csrf = found
        encounter_id = request.path_params["encounter"]
        if not await may_write_note(self.store, caller, encounter_id):
            return self._not_yours(request, csrf)
        signed = await signed_note(self.store, caller, encounter_id)
        # Made when signing; again here only where that failed (no fonts then).
        if signed is not None and signed.has_documents_to_make and not signed.documents \
                and await self._documents(request, caller, encounter_id):
            signed = await signed_note(self.store, caller, encounter_id)
        if signed is not None:
            return render(request, "visit_signed.html", signed_in=True, csrf_token=csrf,
                          encounter_id=encounter_id, signed=signed,
                          signed_at=signed.signed_at and " ".join((
                              RecordView(request, self.zone).day(signed.signed_at),
                              clock(signed.signed_at, self.zone))))
        record = await self._record(caller, encounter_id)
        context = await self.form_context(request, caller, encounter_id)
        if isinstance(record, RecordSummary):
            context["trends"] = trends(await vital_history(
                self.store, caller, record.patient.patient_id), RecordView(request, self.zone))
        return render(request, "visit.html", signed_in=True, csrf_token=csrf,
                      summary=record if isinstance(record, RecordSummary) else None,
                      record_refusal=gettext(request, record.reason)
                      if isinstance(record, RecordNotShared) else None,
                      record=RecordView(request, self.zone), **context)

    async def form_context(self, request: Request, caller: Principal, encounter_id: str,
                           *, note: VisitNote | None = None,
                           warnings: Sequence[ItemWarnings] = (),
                           problem: str | None = None, problem_field: str | None = None
                           ) -> dict[str, Any]:
        """What ``_visit_note.html`` shows: the note (the draft when none is given), the
        lists to choose from, and the warnings and problem to point out."""
        language = language_of(request)
        saved = None
        if note is None:
            account_id = caller.account.id if caller.account else ""
            draft = await self.drafts.get(encounter_id, account_id)
            note = draft.note if draft else VisitNote()
            saved = draft and clock(datetime.fromtimestamp(draft.saved / 1e6, self.zone),
                                    self.zone)
        home = note.home_collection
        return {
            "encounter_id": encounter_id, "note": note, "rows": rows_of(note),
            "vitals": {name: field_value(getattr(note.vitals, name)) for name in VITALS},
            "bmi": field_value(note.vitals.bmi),
            "home_start": local_input(home.start if home else None, self.zone),
            "home_end": local_input(home.end if home else None, self.zone),
            "diagnosis_names": {d.code: _diagnosis_name(d.code, language)
                                for d in note.diagnoses},
            "medicines": [(e.id, label(e, language)) for e in self.formulary.all()],
            "lab_tests": [(t.loinc, t.names.in_language(language), t.fasting)
                          for t in LAB_TESTS],
            "hospitals": await hospitals(self.store, language),
            "warnings": self._warning_texts(request, warnings),
            "problem": problem, "problem_field": problem_field, "saved": saved,
            "shown": field_value,
        }

    async def save_draft(self, request: Request) -> Response:
        """Keep what the form holds as the clinician's draft (the page calls this as
        they type, and when it is left); answers with when it was saved and the
        prescription's warnings, for the form to show."""
        caller = await self._json_clinician(request)
        if isinstance(caller, Response):
            return caller
        encounter_id = request.path_params["encounter"]
        form = await request.form()
        if not await self._csrf_matches(request, form.get("csrf_token")):
            return JSONResponse({"error": gettext(
                request, "The form expired; reload the page.")}, 400)
        if not await may_write_note(self.store, caller, encounter_id):
            return JSONResponse({"error": gettext(
                request, "Only a clinician who saw the patient in this visit can write its "
                         "note")}, 403)
        problems: list[FormProblem] = []
        note = note_from_form(form, self.zone, problems)
        account_id = caller.account.id if caller.account else ""
        before = await self.drafts.get(encounter_id, account_id)
        saved = await self.drafts.save(encounter_id, account_id, note)
        answer: dict[str, Any] = {
            "saved": clock(datetime.fromtimestamp(saved / 1e6, self.zone), self.zone),
            "problems": [{"field": p.field, "message": self._problem_text(request, p)}
                         for p in problems]}
        # The warnings read the patient's record (an audited read): only when the
        # prescription changed, not on every keystroke of the notes.
        if note.prescribed and (before is None or before.note.prescribed != note.prescribed
                                or form.get("warnings") == "all"):
            try:
                found = await signing.prescribing_warnings(self.store, caller, encounter_id,
                                                           note, self.formulary)
            except VisitRefused:
                found = []
            answer["warnings"] = self._warning_texts(request, found)
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    async def sign(self, request: Request) -> Response:
        found = await self._clinician(request)
        if isinstance(found, Response):
            return found
        caller, csrf = found
        encounter_id = request.path_params["encounter"]
        form = await checked_form(request, csrf)
        if isinstance(form, Response):
            return form
        if not await may_write_note(self.store, caller, encounter_id):
            return self._not_yours(request, csrf)
        try:
            note = note_from_form(form, self.zone)
        except FormProblem as problem:
            return await self._again(request, caller, csrf, encounter_id, form,
                                     problem=self._problem_text(request, problem),
                                     problem_field=problem.field)
        account_id = caller.account.id if caller.account else ""
        await self.drafts.save(encounter_id, account_id, note)
        try:
            await signing.sign(self.store, caller, encounter_id, note,
                               formulary=self.formulary, language=language_of(request))
        except WarningsNotAcknowledged as unacknowledged:
            return await self._again(request, caller, csrf, encounter_id, form, note=note,
                                     warnings=unacknowledged.unacknowledged,
                                     problem=self._refusal_text(request, unacknowledged))
        except VisitRefused as refused:
            return await self._again(request, caller, csrf, encounter_id, form, note=note,
                                     problem=self._refusal_text(request, refused))
        await self.drafts.discard(encounter_id, account_id)
        # The printable prescription and referral letter, in the reader's language
        # (the patient's, who reads them, is the same at a centre of their city).
        await self._documents(request, caller, encounter_id)
        return RedirectResponse(f"/visits/{encounter_id}", 303)

    async def _documents(self, request: Request, caller: Principal, encounter_id: str
                         ) -> list[str]:
        """The signed visit's printable prescription and referral letter, in the
        reader's language; made once (again when the page opens, if they are not)."""
        try:
            return await write_visit_documents(self.store, caller, encounter_id,
                                               language_of(request),
                                               formulary=self.formulary, zone=self.zone)
        except FontMissing as missing:
            # Signed all the same: the record is whole, and the documents are made
            # when the note is next opened, once the fonts are installed.
            _log.error("the visit's documents were not made: %s", missing)
            return []

    async def answer(self, request: Request) -> Response:
        """The prescriber's answer to the pharmacist's question about this visit's
        prescription."""
        found = await self._clinician(request)
        if isinstance(found, Response):
            return found
        caller, csrf = found
        encounter_id = request.path_params["encounter"]
        form = await checked_form(request, csrf)
        if isinstance(form, Response):
            return form
        try:
            await verification.answer(self.store, caller, str(form.get("task", "")),
                                      str(form.get("answer", "")))
        except PharmacyRefused as refused:
            return render(request, "message.html", 409, signed_in=True, csrf_token=csrf,
                          heading=gettext(request, "That could not be done"),
                          text=formatted(gettext(request, refused.message), refused.params))
        return RedirectResponse(f"/visits/{encounter_id}", 303)

    async def diagnoses(self, request: Request) -> Response:
        """ICD-10 codes whose code or name starts with what is typed, in the reader's
        language where there is a name in it (search as you type)."""
        caller = await self._json_clinician(request)
        if isinstance(caller, Response):
            return caller
        language = language_of(request)
        query = request.query_params.get("q", "")[:100]
        found = icd10.search(query, language, limit=_MOST_SUGGESTIONS) if query.strip() \
            else []
        return JSONResponse({"diagnoses": [{"code": d.code, "name": d.name(language)}
                                           for d in found]},
                            headers={"Cache-Control": "private, max-age=3600"})

    # -- helpers ------------------------------------------------------------------------

    async def _again(self, request: Request, caller: Principal, csrf: str,
                     encounter_id: str, form: FormData, *, note: VisitNote | None = None,
                     warnings: Sequence[ItemWarnings] = (), problem: str,
                     problem_field: str | None = None) -> Response:
        """The form once more, as it was sent, with what stopped the signing."""
        if note is None:
            problems: list[FormProblem] = []
            note = note_from_form(form, self.zone, problems)
        record = await self._record(caller, encounter_id)
        context = await self.form_context(request, caller, encounter_id, note=note,
                                          warnings=warnings, problem=problem,
                                          problem_field=problem_field)
        return render(request, "visit.html", 409 if warnings else 400, signed_in=True,
                      csrf_token=csrf,
                      summary=record if isinstance(record, RecordSummary) else None,
                      record_refusal=gettext(request, record.reason)
                      if isinstance(record, RecordNotShared) else None,
                      record=RecordView(request, self.zone), **context)

    async def _record(self, caller: Principal, encounter_id: str
                      ) -> RecordSummary | RecordNotShared | None:
        patient_id = await patient_of_visit(self.store, encounter_id)
        if patient_id is None:
            return None
        try:
            return await record_summary(
                self.store, caller, patient_id,
                today=datetime.now(self.zone).date(), current_encounter=encounter_id)
        except RecordNotShared as refused:
            return refused

    def _warning_texts(self, request: Request, found: Sequence[ItemWarnings]
                       ) -> dict[int, list[str]]:
        language = language_of(request)
        return {item.index: [formatted(gettext(request, w.message), w.parameters(language))
                             for w in item.warnings]
                for item in found}

    def _refusal_text(self, request: Request, refused: VisitRefused) -> str:
        language = language_of(request)
        params = dict(refused.params)
        what = params.get("what")
        if what is not None:
            params["what"] = gettext(request, what)
        if "medicine" in params:
            entry = self.formulary.get(params["medicine"])
            params["medicine"] = label(entry, language) if entry else params["medicine"]
        return formatted(gettext(request, refused.message), params)

    def _problem_text(self, request: Request, problem: FormProblem) -> str:
        return formatted(gettext(request, problem.message),
                          {"field": gettext(request, _FIELD_NAMES.get(
                              _field_kind(problem.field), problem.field))})

    async def _clinician(self, request: Request) -> tuple[Principal, str] | Response:
        return await person_for(
            request, self.store, self.sign_in, CONSULTING_ROLES,
            heading=N_("This page is for doctors and nurses"),
            text=N_("Doctors and nurses write the notes of the visits they see here."))

    async def _json_clinician(self, request: Request) -> Principal | Response:
        session, account = await self.sign_in.signed_in(request)
        if session is None or account is None:
            return JSONResponse({"error": gettext(request, "Sign in again.")}, 401)
        if account.role not in CONSULTING_ROLES:
            return JSONResponse({"error": gettext(
                request, "This page is for doctors and nurses")}, 403)
        return await person_caller(self.store, account, address=_address(request))

    async def _csrf_matches(self, request: Request, token: Any) -> bool:
        session, _ = await self.sign_in.signed_in(request)
        return session is not None and isinstance(token, str) and \
            secrets.compare_digest(token, session.csrf_token)

    def _not_yours(self, request: Request, csrf: str) -> Response:
        return render(request, "message.html", 403, signed_in=True, csrf_token=csrf,
                      heading=gettext(request, "This visit is not yours to write"),
                      text=gettext(request, "Only a clinician who saw the patient in this "
                                            "visit can write its note"))


# The form's fields as a problem names them (the row's number left out).
_FIELD_NAMES: Final[Mapping[str, str]] = {
    "systolic": N_("Systolic"), "diastolic": N_("Diastolic"), "heart_rate": N_("Heart rate"),
    "respiratory_rate": N_("Breathing rate"), "temperature": N_("Temperature"),
    "spo2": N_("Oxygen saturation"), "weight": N_("Weight"), "height": N_("Height"),
    "rx-dose": N_("Dose"), "rx-per-day": N_("Times a day"), "rx-days": N_("Days"),
    "rx-quantity": N_("Quantity"), "home-start": N_("From"), "home-end": N_("Until"),
}


def _field_kind(field: str) -> str:
    """``rx-0-dose`` → ``rx-dose``; other names as they are."""
    parts = field.split("-")
    if len(parts) >= 3 and parts[1].isdigit():
        return "-".join([parts[0], *parts[2:]])
    return field


def _diagnosis_name(code: str, language: str) -> str:
    found = icd10.lookup(code)
    return found.name(language) if found else ""


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


__all__ = ["VisitPages"]
