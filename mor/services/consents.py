"""What a patient shares, as FHIR ``Consent`` resources they manage from their account.

- Sharing their record with a health centre (an Organization) or a named clinician (a
  Practitioner): scope ``patient-privacy``, provision ``permit`` with that actor, which
  the access condition honours at once (:mod:`mor.fhir.visibility`).
- Whether their data may be used for research and open data: scope ``research``,
  provision ``permit`` or ``deny``; one such Consent, updated when they change their mind.

Every change goes through the FHIR interactions as the patient, so the same rules and
the same audit records apply as to any client of the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from mor.fhir.permissions import Caller
from mor.fhir.store import Store
from mor.fhir.timestamps import instant_from_micros, now_micros
from mor.services.fhir_calls import read, search, write

_SCOPE: Final = "http://terminology.hl7.org/CodeSystem/consentscope"
_CATEGORY: Final = {"coding": [{"system": "http://loinc.org", "code": "59284-0",
                                "display": "Patient Consent"}]}


@dataclass(frozen=True, slots=True)
class Sharing:
    consent_id: str
    actor: str  # Organization/x or Practitioner/y
    actor_name: str


async def sharing_of(store: Store, caller: Caller, patient: str) -> list[Sharing]:
    bundle = await search(store, caller, "Consent", [
        ("patient", f"Patient/{patient}"), ("status", "active"),
        ("scope", f"{_SCOPE}|patient-privacy")])
    found: list[Sharing] = []
    for consent in bundle:
        for actor in (consent.get("provision") or {}).get("actor") or ():
            reference = (actor.get("reference") or {}).get("reference", "")
            found.append(Sharing(consent["id"], reference,
                                 (actor.get("reference") or {}).get("display", reference)))
    return found


async def share(store: Store, caller: Caller, patient: str, actor: str, name: str) -> None:
    consent = _consent(patient, "patient-privacy", "permit")
    consent["provision"]["actor"] = [{
        "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                       "v3-ParticipationType", "code": "IRCP",
                             "display": "information recipient"}]},
        "reference": {"reference": actor, "display": name}}]
    await write(store, caller, "POST", "Consent", consent)


async def withdraw(store: Store, caller: Caller, consent_id: str) -> None:
    current = await read(store, caller, f"Consent/{consent_id}")
    current["status"] = "inactive"
    await write(store, caller, "PUT", f"Consent/{consent_id}", current)


async def research_choice(store: Store, caller: Caller, patient: str) -> bool | None:
    found = await search(store, caller, "Consent", [
        ("patient", f"Patient/{patient}"), ("status", "active"),
        ("scope", f"{_SCOPE}|research")])
    if not found:
        return None
    return bool((found[0].get("provision") or {}).get("type") == "permit")


async def choose_research(store: Store, caller: Caller, patient: str, allow: bool) -> None:
    found = await search(store, caller, "Consent", [
        ("patient", f"Patient/{patient}"), ("status", "active"),
        ("scope", f"{_SCOPE}|research")])
    consent = _consent(patient, "research", "permit" if allow else "deny")
    if found:
        consent["id"] = found[0]["id"]
        await write(store, caller, "PUT", f"Consent/{found[0]['id']}", consent)
    else:
        await write(store, caller, "POST", "Consent", consent)


async def directory(store: Store, caller: Caller) -> list[dict[str, Any]]:
    """The health centres and doctors a patient can share with."""
    return [*await search(store, caller, "Organization", [("_count", "200")]),
            *await search(store, caller, "Practitioner", [("_count", "200")])]


def _consent(patient: str, scope: str, kind: str) -> dict[str, Any]:
    return {"resourceType": "Consent", "status": "active",
            "scope": {"coding": [{"system": _SCOPE, "code": scope}]},
            "category": [_CATEGORY], "patient": {"reference": f"Patient/{patient}"},
            "dateTime": instant_from_micros(now_micros()),
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                                 "v3-ActCode",
                                       "code": "OPTIN" if kind == "permit" else "OPTOUT"}]},
            "provision": {"type": kind}}
