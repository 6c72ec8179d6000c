"""The store shows each reader only the records they may see, in every kind of read, and
lets them write only inside those records: patients their own, staff their health
centre's patients and those who consented, and everyone the directory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from mor.fhir.errors import Forbidden, NotFound
from mor.fhir.interactions import dispatch
from mor.fhir.permissions import UNRESTRICTED, Access, Caller, Interaction
from mor.fhir.requests import FhirRequest, FhirResponse
from mor.fhir.store import Store
from mor.fhir.visibility import Unowned, Visibility

BASE = "http://mor.test/fhir"


@dataclass(frozen=True)
class Reader:
    """A caller allowed every interaction, so only visibility decides."""

    visibility: Visibility

    def check(self, interaction: Interaction, resource_type: str | None) -> None:
        return None

    def audit_event(self, access: Access) -> dict[str, Any] | None:
        return None


PATIENT_A = Reader(Visibility(patients=frozenset({"a"})))
DOCTOR_CENTRE_1 = Reader(Visibility(organizations=frozenset({"centre-1"}),
                                    grantees=frozenset({("Practitioner", "doc-1"),
                                                        ("Organization", "centre-1")}),
                                    unowned=Unowned.ALL))
DOCTOR_CENTRE_2 = Reader(Visibility(organizations=frozenset({"centre-2"}),
                                    grantees=frozenset({("Practitioner", "doc-2"),
                                                        ("Organization", "centre-2")}),
                                    unowned=Unowned.ALL))
CITY_ADMIN = Reader(Visibility())
PATIENT_A_DEMOGRAPHICS_ONLY = Reader(Visibility(patients=frozenset({"a"}),
                                                types=frozenset({"Patient"})))


def consent(consent_id: str, patient: str, actor: str, *, kind: str = "permit",
            status: str = "active", period: dict[str, str] | None = None) -> dict[str, Any]:
    provision: dict[str, Any] = {"type": kind, "actor": [{
        "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                             "code": "IRCP"}]},
        "reference": {"reference": actor}}]}
    if period:
        provision["period"] = period
    return {"resourceType": "Consent", "id": consent_id, "status": status,
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{patient}"},
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                       "code": "OPTIN"}]},
            "provision": provision}


def observation(obs_id: str, patient: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": obs_id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
            "subject": {"reference": f"Patient/{patient}"},
            "valueQuantity": {"value": 120, "unit": "mm[Hg]", "system": "http://unitsofmeasure.org",
                              "code": "mm[Hg]"}}


def patient(patient_id: str, centre: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": patient_id,
            "managingOrganization": {"reference": f"Organization/{centre}"}}


SEED: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "centre-1", "name": "Health centre 1"},
    {"resourceType": "Organization", "id": "centre-2", "name": "Health centre 2"},
    {"resourceType": "Practitioner", "id": "doc-1"},
    {"resourceType": "Practitioner", "id": "doc-2"},
    patient("a", "centre-1"),
    patient("b", "centre-2"),
    patient("c", "centre-2"),
    patient("d", "centre-2"),
    patient("e", "centre-2"),
    observation("obs-a", "a"),
    observation("obs-b", "b"),
    observation("obs-c", "c"),
    observation("obs-d", "d"),
    observation("obs-e", "e"),
    # b shares their record with doc-1; c did, but the period is over; d refused; e's
    # consent is still a draft.
    consent("consent-b", "b", "Practitioner/doc-1"),
    consent("consent-c", "c", "Practitioner/doc-1",
            period={"start": "2020-01-01", "end": "2021-01-01"}),
    consent("consent-d", "d", "Practitioner/doc-1", kind="deny"),
    consent("consent-e", "e", "Practitioner/doc-1", status="draft"),
    # Belongs to no patient: a stock check of the health centre's pharmacy.
    {"resourceType": "Task", "id": "stock-check", "status": "requested", "intent": "order"},
]


@pytest.fixture
async def store(client: httpx.AsyncClient) -> Store:
    store: Store = client.app.state.store  # type: ignore[attr-defined]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
        for r in SEED]}
    response = await ask(store, UNRESTRICTED, "POST", "", body=bundle)
    assert response.status == 200
    return store


async def ask(store: Store, caller: Caller, method: str, url: str, body: Any = None
              ) -> FhirResponse:
    request = FhirRequest.from_url(method, url, caller=caller, body=body, base_url=BASE)
    return await dispatch(store, request)


async def found(store: Store, caller: Caller, url: str) -> set[str]:
    response = await ask(store, caller, "GET", url)
    assert response.body is not None
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}"
            for e in response.body.get("entry", []) if e["search"]["mode"] != "outcome"}


async def test_a_patient_sees_their_own_record_and_the_directory(store: Store) -> None:
    assert await found(store, PATIENT_A, "Observation") == {"Observation/obs-a"}
    assert await found(store, PATIENT_A, "Patient") == {"Patient/a"}
    assert await found(store, PATIENT_A, "Organization") == {
        "Organization/centre-1", "Organization/centre-2"}
    # Someone else's record reads as if it did not exist.
    with pytest.raises(NotFound):
        await ask(store, PATIENT_A, "GET", "Observation/obs-b")
    with pytest.raises(NotFound):
        await ask(store, PATIENT_A, "GET", "Observation/obs-b/_history/1")
    # Resources of no patient outside the directory are staff matters.
    assert await found(store, PATIENT_A, "Task") == set()
    everything = await found(store, PATIENT_A, "?_type=Observation,Patient,Consent,Task")
    assert everything == {"Observation/obs-a", "Patient/a"}


async def test_staff_see_their_centres_patients_and_those_who_consented(store: Store) -> None:
    assert await found(store, DOCTOR_CENTRE_1, "Observation") == {
        "Observation/obs-a", "Observation/obs-b"}
    assert await found(store, DOCTOR_CENTRE_2, "Observation") == {
        "Observation/obs-b", "Observation/obs-c", "Observation/obs-d", "Observation/obs-e"}
    assert await found(store, DOCTOR_CENTRE_1, "Task") == {"Task/stock-check"}
    response = await ask(store, DOCTOR_CENTRE_1, "GET", "Patient/b")
    assert response.stored is not None and response.stored.id == "b"
    with pytest.raises(NotFound):
        await ask(store, DOCTOR_CENTRE_1, "GET", "Patient/c")  # consent expired
    with pytest.raises(NotFound):
        await ask(store, DOCTOR_CENTRE_1, "GET", "Patient/d")  # consent refused
    with pytest.raises(NotFound):
        await ask(store, DOCTOR_CENTRE_1, "GET", "Patient/e")  # consent not yet active


async def test_withdrawing_consent_takes_effect_at_once(store: Store) -> None:
    assert "Observation/obs-b" in await found(store, DOCTOR_CENTRE_1, "Observation")
    withdrawn = consent("consent-b", "b", "Practitioner/doc-1", status="inactive")
    response = await ask(store, UNRESTRICTED, "PUT", "Consent/consent-b", body=withdrawn)
    assert response.status == 200
    assert await found(store, DOCTOR_CENTRE_1, "Observation") == {"Observation/obs-a"}


async def test_includes_counts_and_history_never_reach_past_the_limit(store: Store) -> None:
    # Patient b refers to centre-2; the reverse include of a's record brings only a's.
    url = "Organization?_id=centre-2&_revinclude=Patient:organization"
    assert await found(store, PATIENT_A, url) == {"Organization/centre-2"}
    assert await found(store, PATIENT_A, "Organization?_revinclude:iterate=Patient:organization"
                                         "&_revinclude:iterate=Observation:subject") == {
        "Organization/centre-1", "Organization/centre-2", "Patient/a", "Observation/obs-a"}
    response = await ask(store, PATIENT_A, "GET", "Observation?_total=accurate")
    assert response.body is not None and response.body["total"] == 1
    response = await ask(store, PATIENT_A, "GET", "_history")
    assert response.body is not None
    history = {e["fullUrl"].removeprefix(BASE + "/") for e in response.body["entry"]}
    assert history == {"Organization/centre-1", "Organization/centre-2", "Practitioner/doc-1",
                       "Practitioner/doc-2", "Patient/a", "Observation/obs-a"}


async def test_everything_of_another_patient_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await ask(store, PATIENT_A, "GET", "Patient/b/$everything")
    assert await found(store, PATIENT_A, "Patient/b/Observation") == set()
    assert await found(store, PATIENT_A, "Patient/a/$everything") >= {
        "Patient/a", "Observation/obs-a", "Organization/centre-1"}


async def test_scopes_narrow_the_types(store: Store) -> None:
    assert await found(store, PATIENT_A_DEMOGRAPHICS_ONLY, "Observation") == set()
    assert await found(store, PATIENT_A_DEMOGRAPHICS_ONLY, "Patient") == {"Patient/a"}
    assert await found(store, PATIENT_A_DEMOGRAPHICS_ONLY, "Organization") == set()


async def test_writes_stay_inside_what_the_writer_may_see(store: Store) -> None:
    response = await ask(store, PATIENT_A, "POST", "Observation", body=observation("x", "a"))
    assert response.status == 201
    with pytest.raises(Forbidden, match="Patient/b"):
        await ask(store, PATIENT_A, "POST", "Observation", body=observation("y", "b"))
    # Moving one's own observation into someone else's record is refused too.
    with pytest.raises(Forbidden):
        await ask(store, PATIENT_A, "PUT", "Observation/obs-a", body=observation("obs-a", "b"))
    with pytest.raises(Forbidden):
        await ask(store, PATIENT_A, "DELETE", "Observation/obs-b")
    with pytest.raises(Forbidden):
        await ask(store, PATIENT_A, "POST", "Task",
                  body={"resourceType": "Task", "status": "requested", "intent": "order"})
    # The city administrator keeps the directory and never touches a record.
    response = await ask(store, CITY_ADMIN, "POST", "Organization",
                         body={"resourceType": "Organization", "name": "Health centre 3"})
    assert response.status == 201
    with pytest.raises(Forbidden):
        await ask(store, CITY_ADMIN, "POST", "Observation", body=observation("z", "a"))
    assert await found(store, CITY_ADMIN, "Observation") == set()
    # Nothing of the refused writes was stored.
    stored = await found(store, UNRESTRICTED, "Observation?subject=Patient/b")
    assert stored == {"Observation/obs-b"}
