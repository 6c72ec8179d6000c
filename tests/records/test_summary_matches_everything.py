"""What the patient reads of their record and of a visit is what a FHIR client reads of
them with ``Patient/$everything``: the summary leaves nothing out that stands, and shows
nothing the record does not hold. The client is fhirpy, written by others, talking to
mor over HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import httpx
from fhirpy import AsyncFHIRClient

from mor.fhir.store import Store
from mor.services.documents.visit_documents import write_visit_documents
from mor.services.prescribing.formulary import Formulary, seed
from mor.services.records.lab_tests import LOINC
from mor.services.records.signing import sign
from mor.services.records.summary import LAST_VISITS, NO_KNOWN_ALLERGY_CODES, record_summary
from mor.services.records.visit_summary import visit_summary
from mor.services.records.vital_signs import VITAL_KINDS
from mor.services.video.consults import admit, walk_in
from tests.conftest import auth_headers
from tests.records.patient_record import make_record
from tests.records.test_signing import full_note, hospital
from tests.video.conftest import Centre

STANDING_PROBLEM = {"active", "recurrence", "relapse"}
NOT_SO = {"entered-in-error", "refuted"}


async def everything(client: httpx.AsyncClient, live_server: str, patient_id: str
                     ) -> list[dict[str, Any]]:
    """Every resource of the patient's record, page after page, as fhirpy reads it."""
    fhir = AsyncFHIRClient(live_server, authorization=auth_headers(client)["Authorization"])
    resources: list[dict[str, Any]] = []
    path: str | None = f"Patient/{patient_id}/$everything"
    params: dict[str, Any] | None = {"_count": 100}
    while path is not None:
        page = await fhir.execute(path, method="get", params=params)
        resources += [e["resource"] for e in page.get("entry", [])]
        following = next((link["url"] for link in page.get("link", [])
                          if link["relation"] == "next"), None)
        path = following.removeprefix(live_server.rstrip("/") + "/") if following else None
        params = None
    return resources


def of_type(resources: list[dict[str, Any]], resource_type: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["resourceType"] == resource_type]


def codes(concept: Mapping[str, Any] | None) -> set[str]:
    return {str(c.get("code")) for c in (concept or {}).get("coding") or ()}


def when(observation: Mapping[str, Any]) -> str:
    return str(observation.get("effectiveDateTime")
               or (observation.get("effectivePeriod") or {}).get("start") or "")


async def test_the_patients_summaries_are_what_patient_everything_holds(
        client: httpx.AsyncClient, live_server: str, store: Store, centre: Centre) -> None:
    await seed(store)
    booked = await centre.booking(store)
    patient_id = booked.patient.id
    await make_record(store, centre.id, patient_id=patient_id)
    consult = await walk_in(store, booked.patient.caller, patient_id, centre.id)
    await admit(store, centre.doctor.caller, consult.encounter_id)
    await sign(store, centre.doctor.caller, consult.encounter_id,
               full_note(await hospital(store)), formulary=Formulary(), language="en")
    written = await write_visit_documents(store, centre.doctor.caller,
                                          consult.encounter_id, "en")

    record = await everything(client, live_server, patient_id)
    summary = await record_summary(store, booked.patient.caller, patient_id,
                                   today=date.today())

    standing = {c["id"] for c in of_type(record, "Condition")
                if codes(c.get("clinicalStatus")) & STANDING_PROBLEM
                and not codes(c.get("verificationStatus")) & NOT_SO}
    assert {p.condition_id for p in summary.problems} == standing
    assert standing  # the record has problems, and the visit's diagnoses among them

    taken = {f"{r['resourceType']}/{r['id']}"
             for r in of_type(record, "MedicationRequest") + of_type(
                 record, "MedicationStatement") if r.get("status") == "active"}
    assert {m.reference for m in summary.medicines} == taken

    allergies = {a["id"] for a in of_type(record, "AllergyIntolerance")
                 if not codes(a.get("clinicalStatus")) & {"inactive", "resolved"}
                 and not codes(a.get("verificationStatus")) & NOT_SO
                 and not codes(a.get("code")) & NO_KNOWN_ALLERGY_CODES}
    assert {a.allergy_id for a in summary.allergies} == allergies

    observations = [o for o in of_type(record, "Observation")
                    if o.get("status") not in ("entered-in-error", "cancelled")]
    for kind in VITAL_KINDS:
        measured = [o for o in observations if codes(o.get("code")) & set(kind.codes)]
        shown = [v for v in summary.vital_signs if v.kind == kind]
        if not measured:
            assert shown == []
            continue
        latest = max(measured, key=lambda o: datetime.fromisoformat(when(o)))
        assert [v.observation_id for v in shown] == [latest["id"]]

    encounters = sorted((e for e in of_type(record, "Encounter")
                         if e.get("status") not in ("planned", "cancelled",
                                                    "entered-in-error")),
                        key=lambda e: (e.get("period") or {}).get("start", ""), reverse=True)
    assert [v.encounter_id for v in summary.visits] == \
        [e["id"] for e in encounters[:LAST_VISITS]]

    # The visit's own summary: its diagnoses, medicines, lab tests, referral, documents.
    visit = await visit_summary(store, booked.patient.caller, consult.encounter_id, "en")
    of_visit = [r for r in record
                if (r.get("encounter") or r.get("context") or {}).get("reference")
                == f"Encounter/{consult.encounter_id}"]
    assert sorted(code for code, _ in visit.diagnoses) == sorted(
        c for r in of_type(of_visit, "Condition") for c in codes(r["code"]))
    assert len(visit.medicines) == len(of_type(of_visit, "MedicationRequest")) == 2
    lab_codes = {c for r in of_type(of_visit, "ServiceRequest") for coding in
                 r["code"].get("coding", []) if coding.get("system") == LOINC
                 for c in [coding["code"]]}
    assert len(visit.labs) == len(lab_codes) == 2
    referrals = [r for r in of_type(of_visit, "ServiceRequest")
                 if "3457005" in codes(r["category"][0])]
    assert visit.referral is not None and len(referrals) == 1
    assert visit.referral.reason == referrals[0]["reasonCode"][0]["text"]
    assert visit.home_collection is not None
    documents = {d["id"] for d in of_type(record, "DocumentReference")
                 if {"reference": f"Encounter/{consult.encounter_id}"}
                 in (d.get("context") or {}).get("encounter", [])}
    assert {id for id, _ in visit.documents} == documents == set(written)
