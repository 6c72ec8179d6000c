"""Audit records: every read, search, write and export as a FHIR ``AuditEvent``.

The record names who (the person, by their Practitioner or Patient, and the app),
what (each resource shown or changed, and the query of a search), whose record (each
patient, so the patient finds it in their own compartment), when, from where (the
network address) and the outcome. Codes follow the FHIR R4 AuditEvent value sets and
the IHE Basic Audit Log Patterns (BALP): type ``rest`` with the RESTful interaction as
subtype. See :func:`mor.fhir.interactions.dispatch` for when records are written.
"""

from __future__ import annotations

import base64
from typing import Any, Final

from mor.auth.proxies import ACCOUNT_SYSTEM
from mor.fhir.permissions import Access
from mor.fhir.timestamps import instant_from_micros, now_micros

_OBJECT_ROLE: Final = "http://terminology.hl7.org/CodeSystem/object-role"
_AGENT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
_CLIENT_ID_SYSTEM: Final = "urn:ietf:params:oauth:client-id"


def interaction_of(access: Access) -> tuple[str, str]:
    """The FHIR restful-interaction code and the AuditEvent action (C R U D E)."""
    segments = [s for s in access.path.split("/") if s]
    method = access.method
    if method == "POST" and not segments:
        return "transaction", "E"
    if method in ("GET", "HEAD") or segments[-1:] == ["_search"]:
        if not segments or segments == ["_search"]:
            return "search-system", "E"
        if "_history" in segments:
            position = segments.index("_history")
            if position == len(segments) - 2:
                return "vread", "R"
            return ("history-system" if position == 0 else
                    "history-type" if position == 1 else "history-instance"), "R"
        if segments[-1].startswith("$"):
            return "operation", "E"
        if len(segments) == 2 and segments[1] != "_search":
            return "read", "R"
        return "search-type", "E"
    if method == "POST":
        creates = len(segments) == 1 and not segments[0].startswith("$")
        return ("create", "C") if creates else ("operation", "E")
    if method == "PUT":
        return ("create", "C") if access.status == 201 else ("update", "U")
    if method == "PATCH":
        return "patch", "U"
    return "delete", "D"


def audit_event(access: Access, *, agents: list[dict[str, Any]]) -> dict[str, Any]:
    subtype, action = interaction_of(access)
    outcome = "0" if access.status < 400 else ("4" if access.status < 500 else "8")
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                 "code": "rest", "display": "RESTful Operation"},
        "subtype": [{"system": "http://hl7.org/fhir/restful-interaction", "code": subtype}],
        "action": action,
        "recorded": instant_from_micros(now_micros()),
        "outcome": outcome,
        "agent": agents,
        "source": _source(),
    }
    if access.failure:
        event["outcomeDesc"] = access.failure
    entities: list[dict[str, Any]] = [
        {"what": {"reference": f"Patient/{patient}"},
         "role": {"system": _OBJECT_ROLE, "code": "1", "display": "Patient"}}
        for patient in sorted(access.patients)]
    entities += [{"what": {"reference": reference},
                  "role": {"system": _OBJECT_ROLE, "code": "4", "display": "Domain Resource"}}
                 for reference in dict.fromkeys(access.resources.values())]
    if action == "E" and access.path:
        query = f"{access.path}?{access.query}" if access.query else access.path
        entities.append({"role": {"system": _OBJECT_ROLE, "code": "24", "display": "Query"},
                         "query": base64.b64encode(query.encode()).decode()})
    if entities:
        event["entity"] = entities
    return event


def person_agent(fhir_user: str | None, username: str, address: str | None) -> dict[str, Any]:
    who: dict[str, Any] = ({"reference": fhir_user, "display": username} if fhir_user
                           else {"display": username})
    return _agent("humanuser", "human user", who, address)


def proxy_agent(related_person: str, patient: str) -> dict[str, Any]:
    """The person acted as a family member's proxy: the action was taken for them."""
    return {"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                           "v3-RoleCode",
                                 "code": "PROV", "display": "proxy"}]},
            "who": {"reference": f"RelatedPerson/{related_person}"},
            "requestor": False,
            "purposeOfUse": [{"text": f"on behalf of Patient/{patient}"}]}


def app_agent(client_id: str, address: str | None, *, requestor: bool,
              organization: str | None = None) -> dict[str, Any]:
    """The app or service; ``organization``: the partner city it stands for, so the
    patient reads which city saw their record."""
    who: dict[str, Any] = {"identifier": {"system": _CLIENT_ID_SYSTEM, "value": client_id}}
    if organization is not None:
        who["reference"] = f"Organization/{organization}"
    agent = _agent("dataprocessor", "data processor", who, address if requestor else None)
    agent["requestor"] = requestor
    return agent


def _agent(code: str, display: str, who: dict[str, Any], address: str | None
           ) -> dict[str, Any]:
    agent: dict[str, Any] = {
        "type": {"coding": [{"system": _AGENT_TYPE, "code": code, "display": display}]},
        "who": who, "requestor": True}
    if address:
        agent["network"] = {"address": address, "type": "2"}  # 2: IP address
    return agent


def with_emergency(event: dict[str, Any], reason: str | None) -> dict[str, Any]:
    """Mark an AuditEvent as an access that needed the glass broken, with the reason."""
    if reason is not None:
        event["purposeOfEvent"] = [break_the_glass(reason)]
    return event


def break_the_glass(reason: str) -> dict[str, Any]:
    return {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        "code": "BTG", "display": "break the glass"}], "text": reason}


_DICOM: Final = "http://dicom.nema.org/resources/ontology/DCM"
SIGN_IN: Final = ("110122", "Login")
SIGN_OUT: Final = ("110123", "Logout")


def sign_in_event(event: tuple[str, str], *, success: bool, agent: dict[str, Any],
                  reason: str | None = None) -> dict[str, Any]:
    """A sign-in or sign-out, successful or not (DICOM 110114 User Authentication)."""
    audit: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": {"system": _DICOM, "code": "110114", "display": "User Authentication"},
        "subtype": [{"system": _DICOM, "code": event[0], "display": event[1]}],
        "action": "E",
        "recorded": instant_from_micros(now_micros()),
        "outcome": "0" if success else "4",
        "agent": [agent],
        "source": _source(),
    }
    if reason:
        audit["outcomeDesc"] = reason
    return audit


# A patient account's reach changed because staff checked the person's identity document.
SECURITY_ALERT: Final = ("110113", "Security Alert")
IDENTITY_CHECK: Final = ("110137", "User Security Attributes Changed")
PATIENT_RECORD: Final = ("110110", "Patient Record")


def identity_check_event(*, agent: dict[str, Any], patient: str, username: str,
                         document: str | None, success: bool) -> dict[str, Any]:
    """A member of staff checked the identity document of the person of a patient account
    (``username``); on success the account was verified. In the patient's compartment, so
    the patient sees who checked them. ``document`` is the kind checked, never its number."""
    event = _event(SECURITY_ALERT, IDENTITY_CHECK, "U", success=success, agents=[agent])
    account_entity: dict[str, Any] = {
        "what": {"identifier": {"system": ACCOUNT_SYSTEM, "value": username}},
        "role": {"system": _OBJECT_ROLE, "code": "11", "display": "Security User Entity"}}
    if document is not None:
        account_entity["detail"] = [{"type": "identity-document", "valueString": document}]
    event["entity"] = [_patient_entity(patient), account_entity]
    if not success:
        event["outcomeDesc"] = "the number typed is not that of the document registered"
    return event


def patients_shown_event(*, agent: dict[str, Any], patients: list[str]) -> dict[str, Any]:
    """Patients' details shown on one of mor's pages outside the FHIR API (which records
    its own reads), so each patient still finds who saw them."""
    event = _event(PATIENT_RECORD, None, "R", success=True, agents=[agent])
    event["entity"] = [_patient_entity(patient) for patient in patients]
    return event


def _patient_entity(patient: str) -> dict[str, Any]:
    return {"what": {"reference": f"Patient/{patient}"},
            "role": {"system": _OBJECT_ROLE, "code": "1", "display": "Patient"}}


def _event(event_type: tuple[str, str], subtype: tuple[str, str] | None, action: str, *,
           success: bool, agents: list[dict[str, Any]]) -> dict[str, Any]:
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "type": {"system": _DICOM, "code": event_type[0], "display": event_type[1]},
        "action": action,
        "recorded": instant_from_micros(now_micros()),
        "outcome": "0" if success else "4",
        "agent": agents,
        "source": _source(),
    }
    if subtype is not None:
        event["subtype"] = [{"system": _DICOM, "code": subtype[0], "display": subtype[1]}]
    return event


def _source() -> dict[str, Any]:
    return {"observer": {"display": "mor"},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                      "code": "4", "display": "Application Server"}]}
