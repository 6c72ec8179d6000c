"""Who accessed a patient's record and when, for the patient: their audit trail (the
``AuditEvent`` resources naming them, see :mod:`mor.auth.audit`) told as a person reads
it: "Dr Somchai, doctor, read your record, 2 Mar 2026 09:12".

Read as the caller through the FHIR interactions, in one transaction
(:func:`mor.services.fhir_calls.reading`). mor's policy lets a patient see the
AuditEvents in their own compartment (``AuditEvent.patient``; see
:meth:`mor.auth.policy.Principal._visibility` and :mod:`mor.fhir.visibility`), and a
family member those of a patient whose Consent permits them; so no reading beyond the
caller's own reach is needed here. The people and apps named are looked up in the
directory (Practitioner, PractitionerRole, Organization) and the patient's record
(RelatedPerson), in the same transaction; the reading is itself recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import urlencode

from mor.auth.policy import Principal
from mor.auth.roles import Role
from mor.fhir.errors import Forbidden, Gone, NotFound
from mor.fhir.permissions import Access
from mor.fhir.store import Store
from mor.messages import N_
from mor.services.fhir_calls import Reads, reading
from mor.services.person_names import display_name

# The agent types mor writes (mor.auth.audit): a person, a family member acting as a
# proxy, and an app or backend service.
_PERSON: Final = "humanuser"
_PROXY: Final = "PROV"
_APP: Final = "dataprocessor"
_BREAK_THE_GLASS: Final = ("http://terminology.hl7.org/CodeSystem/v3-ActReason", "BTG")
_DICOM: Final = "http://dicom.nema.org/resources/ontology/DCM"
# What happened, by DICOM event subtype (sign-in and -out, identity checks) ...
_DICOM_SUBTYPES: Final = {"110122": "signed-in", "110123": "signed-out",
                          "110137": "identity-checked"}
# ... by DICOM event type, when it has no subtype (a page outside the FHIR API showed
# the patient's details, such as a health centre's day list) ...
_DICOM_TYPES: Final = {"110110": "shown"}
# ... and by FHIR RESTful interaction; the rest by the AuditEvent action (C R U D E).
_INTERACTIONS: Final = {
    "read": "read", "vread": "read", "operation": "read", "search-type": "search",
    "search-system": "search", "history-instance": "search", "history-type": "search",
    "history-system": "search", "transaction": "changed", "batch": "changed",
}
_ACTIONS: Final = {"C": "created", "R": "read", "U": "changed", "D": "deleted",
                   "E": "read"}
# PractitionerRole codes (mor.auth.workplaces.ROLE_CODES) of the roles a patient knows.
_CLINICAL_CODES: Final = {Role.DOCTOR.value, Role.NURSE.value, Role.PHARMACIST.value}
# Names for agents that name no one (translated where shown).
AN_APP: Final = N_("an app")
A_FAMILY_MEMBER: Final = N_("a family member")
A_MEMBER_OF_STAFF: Final = N_("a member of staff")
SOMEONE: Final = N_("someone")
MOR: Final = "mor"
# Far more than a page shows; each names a few people at most.
_MOST_NAMED: Final = 100


@dataclass(frozen=True, slots=True)
class RecordAccess:
    """One access to the record, as the patient reads it."""

    event_id: str
    when: datetime  # aware
    # The person's name, the partner city's, or one of AN_APP, A_FAMILY_MEMBER,
    # A_MEMBER_OF_STAFF, SOMEONE (translatable) or "mor" when the record names no one.
    who: str
    # doctor, nurse, pharmacist, staff (another role), patient, family, app, system.
    role: str
    # read, search, created, changed, deleted, signed-in, sign-in-failed, signed-out,
    # identity-checked, shown (the patient's details on a page, such as a day list).
    what: str
    emergency: bool  # the glass was broken: an access without the patient's consent
    emergency_reason: str | None
    outcome: str  # ok, failed
    # The patient themselves (not someone acting for them), successfully: their own reads
    # and sign-ins, which a page may fold away so that others' accesses stand out.
    by_patient: bool


class NotYourRecord(LookupError):
    """The caller is not this patient and does not act for them."""

    def __init__(self, patient_id: str) -> None:
        super().__init__(f"Patient/{patient_id} is not the caller and has not let them "
                         "act for them")


def acts_for(caller: Principal, patient_id: str) -> bool:
    """Whether the caller is this patient, or a family member they let act for them."""
    account = caller.account
    if account is None or account.role is not Role.PATIENT or not patient_id:
        return False
    return patient_id == account.fhir_user_id or patient_id in caller.proxies


async def accesses(store: Store, caller: Principal, patient_id: str, *, limit: int = 100
                   ) -> list[RecordAccess]:
    """The latest ``limit`` accesses to the patient's record, newest first. Raises
    NotYourRecord unless the caller is the patient or acts for them: staff see the
    audit trail through the FHIR API, not through this patient's page."""
    if not acts_for(caller, patient_id):
        raise NotYourRecord(patient_id)
    params = [("patient", f"Patient/{patient_id}"), ("_sort", "-date"),
              ("_count", str(limit))]
    try:
        async with reading(store, caller, Access("GET", "AuditEvent", urlencode(params))
                           ) as reads:
            events = (await reads.search("AuditEvent", params)).matches
            names = await _Names.of(reads, events)
    except (NotFound, Gone, Forbidden):
        # An unverified patient's account sees no record yet, its trail included.
        return []
    found = [access for event in events
             if (access := _access(event, patient_id, names)) is not None]
    return sorted(found, key=lambda access: access.when, reverse=True)


@dataclass(frozen=True, slots=True)
class _Names:
    """The names (and staff roles) of the people and organisations the events name."""

    names: Mapping[str, str]  # by reference: Practitioner/1, RelatedPerson/2, ...
    roles: Mapping[str, str]  # Practitioner reference: doctor, nurse, pharmacist

    @classmethod
    async def of(cls, reads: Reads, events: list[dict[str, Any]]) -> _Names:
        wanted: dict[str, set[str]] = {}
        for event in events:
            for agent in _agents(event):
                reference = str((agent.get("who") or {}).get("reference", ""))
                kind, _, ident = reference.partition("/")
                if kind in ("Practitioner", "RelatedPerson", "Organization", "Patient") and (
                        ident):
                    wanted.setdefault(kind, set()).add(ident)
        names: dict[str, str] = {}
        roles: dict[str, str] = {}
        practitioners = sorted(wanted.pop("Practitioner", set()))[:_MOST_NAMED]
        if practitioners:
            found = await reads.search("PractitionerRole", [
                ("practitioner", ",".join(f"Practitioner/{p}" for p in practitioners)),
                ("_include", "PractitionerRole:practitioner"),
                ("_count", str(_MOST_NAMED))])
            for role in found.matches:
                who = str((role.get("practitioner") or {}).get("reference", ""))
                code = next(iter(_role_codes(role) & _CLINICAL_CODES), None)
                if code is not None:
                    roles.setdefault(who, code)
            names |= _named(found.included)
            # Practitioners with no role at any centre (a city's own staff).
            missing = [p for p in practitioners if f"Practitioner/{p}" not in names]
            if missing:
                names |= _named((await reads.search("Practitioner", [
                    ("_id", ",".join(missing))])).matches)
        for kind, ids in sorted(wanted.items()):
            names |= _named((await reads.search(kind, [
                ("_id", ",".join(sorted(ids)[:_MOST_NAMED])),
                ("_count", str(_MOST_NAMED))])).matches)
        return cls(names, roles)


def _named(resources: Iterable[dict[str, Any]]) -> dict[str, str]:
    named = {}
    for resource in resources:
        kind = resource.get("resourceType")
        name = str(resource.get("name") or "") if kind == "Organization" else display_name(
            resource)
        if name:
            named[f"{kind}/{resource['id']}"] = name
    return named


def _access(event: dict[str, Any], patient_id: str, names: _Names) -> RecordAccess | None:
    try:
        when = datetime.fromisoformat(str(event.get("recorded", "")))
    except ValueError:
        return None
    if when.tzinfo is None:
        return None
    who, role, own = _who(event, patient_id, names)
    reason = _emergency_reason(event)
    succeeded = event.get("outcome") == "0"
    what = _what(event)
    if what == "signed-in" and not succeeded:
        what = "sign-in-failed"
    # A failed attempt in the patient's name is not folded away with their own visits:
    # it may be someone else trying their password.
    return RecordAccess(
        event_id=str(event.get("id", "")), when=when, who=who, role=role, what=what,
        emergency=reason is not None, emergency_reason=reason or None,
        outcome="ok" if succeeded else "failed", by_patient=own and succeeded)


def _who(event: dict[str, Any], patient_id: str, names: _Names) -> tuple[str, str, bool]:
    """The name shown, the role, and whether it was the patient themselves."""
    agents = _agents(event)
    proxy = next((a for a in agents if _agent_type(a) == _PROXY), None)
    person = next((a for a in agents if _agent_type(a) == _PERSON), None)
    app = next((a for a in agents if _agent_type(a) == _APP), None)
    if proxy is not None:
        reference = str((proxy.get("who") or {}).get("reference", ""))
        return names.names.get(reference, A_FAMILY_MEMBER), "family", False
    if person is not None:
        who = person.get("who") or {}
        reference = str(who.get("reference", ""))
        if reference.startswith("Practitioner/"):
            # The sign-in name recorded beside the reference, when the directory has no
            # name: staff sign-in names are work names (dr.malee), never phone numbers.
            name = names.names.get(reference) or str(who.get("display") or "") or (
                A_MEMBER_OF_STAFF)
            return name, names.roles.get(reference, "staff"), False
        if reference.startswith("Patient/"):
            own = reference == f"Patient/{patient_id}"
            # Another patient's sign-in name is often their phone number: not shown.
            return names.names.get(reference, SOMEONE), "patient", own
        return A_MEMBER_OF_STAFF, "staff", False
    if app is not None:
        reference = str((app.get("who") or {}).get("reference", ""))
        # A partner city's instance names its Organization: the patient reads the city.
        return names.names.get(reference, AN_APP), "app", False
    return MOR, "system", False


def _what(event: dict[str, Any]) -> str:
    event_type = event.get("type") or {}
    subtypes = [s for s in event.get("subtype") or () if isinstance(s, dict)]
    if event_type.get("system") == _DICOM:
        for subtype in subtypes:
            if subtype.get("code") in _DICOM_SUBTYPES:
                return _DICOM_SUBTYPES[subtype["code"]]
        if event_type.get("code") in _DICOM_TYPES:
            return _DICOM_TYPES[event_type["code"]]
    for subtype in subtypes:
        if subtype.get("code") in _INTERACTIONS:
            return _INTERACTIONS[subtype["code"]]
    return _ACTIONS.get(str(event.get("action", "")), "read")


def _emergency_reason(event: dict[str, Any]) -> str | None:
    """The reason given for breaking the glass ("" if none was written); None if the
    access did not need it (see mor.auth.audit.with_emergency)."""
    for purpose in event.get("purposeOfEvent") or ():
        if not isinstance(purpose, dict):
            continue
        codings = [c for c in purpose.get("coding") or () if isinstance(c, dict)]
        if any((c.get("system"), c.get("code")) == _BREAK_THE_GLASS for c in codings):
            return str(purpose.get("text") or "")
    return None


def _agents(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in event.get("agent") or () if isinstance(a, dict)]


def _agent_type(agent: dict[str, Any]) -> str | None:
    codings = (agent.get("type") or {}).get("coding") or ()
    return next((str(c.get("code")) for c in codings if isinstance(c, dict)), None)


def _role_codes(role: dict[str, Any]) -> set[str]:
    return {str(c.get("code")) for concept in role.get("code") or ()
            if isinstance(concept, dict)
            for c in concept.get("coding") or () if isinstance(c, dict)}
