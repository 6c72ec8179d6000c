"""Index rows that access control reads: whose record a resource is part of, and what a
Consent allows.

They are written with the search index, in the same transaction as the resource, so
the access filter (:mod:`mor.fhir.visibility`) is an indexed SQL condition and never a
look inside JSON. Their parameter names start with ``-``, which no FHIR search
parameter does, so a search can never name them.

- ``-patient`` (reference): the patient whose record holds the resource: the R4 Patient
  CompartmentDefinition, and Task, Device, GuidanceResponse and Contract by their
  ``patient``; a Binary by its ``securityContext``; a Patient points at itself. A
  resource can belong to several patients.
- ``-grantee`` (reference): whom an active, permitting ``patient-privacy`` Consent lets
  see the patient's record (``Consent.provision.actor``), and ``-grant-period`` (date)
  when the provision has a period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Final

from mor.fhir.compartment_definitions import members
from mor.fhir.fhirpath import reference_parts
from mor.fhir.indexing import IndexRow, period_range

PATIENT_PARAM: Final = "-patient"
GRANTEE_PARAM: Final = "-grantee"
GRANT_PERIOD_PARAM: Final = "-grant-period"
CONSENT_SCOPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/consentscope"


# Types the R4 Patient compartment leaves out although they name a patient they are
# about: a Task for a patient (a delivery, a home visit) is part of that patient's record.
_EXTRA_PATIENT_LINKS: Final = {
    "Task": ("patient",),
    "Device": ("patient",),
    "GuidanceResponse": ("patient",),
    "Contract": ("patient",),
}


@cache
def patient_links() -> Mapping[str, frozenset[str]]:
    """Resource types that can be part of a patient's record, with the reference
    parameters that say whose."""
    links = {t: frozenset(params) for t, params in members("Patient").items()}
    links.update({t: frozenset(params) for t, params in _EXTRA_PATIENT_LINKS.items()})
    return links


def access_rows(resource: Mapping[str, Any], rows: Sequence[IndexRow]) -> list[IndexRow]:
    """The access rows of a resource, given its search-index rows."""
    resource_type = resource.get("resourceType")
    found: list[IndexRow] = []
    patients: set[str] = set()
    if resource_type == "Patient" and isinstance(resource.get("id"), str):
        patients.add(resource["id"])
    if resource_type == "Binary":
        patients.update(_security_context_patient(resource))
    links = patient_links().get(str(resource_type), frozenset())
    for row in rows:
        if row.table == "reference" and row.param in links and row.group is None:
            columns = row.columns
            # A patient of another server (an absolute URL) has no record here.
            if (columns.get("target_type") == "Patient" and columns.get("target_id")
                    and columns.get("target_url") is None):
                patients.add(row.columns["target_id"])
    found += [IndexRow("reference", PATIENT_PARAM,
                       {"target_type": "Patient", "target_id": patient, "target_url": None})
              for patient in sorted(patients)]
    if resource_type == "Consent":
        found += _grant_rows(resource)
    return found


def _security_context_patient(binary: Mapping[str, Any]) -> list[str]:
    """A Binary is in the record of the patient its ``securityContext`` names (a photo
    sent in a consult, a visit's PDF): R4 gives Binary no search parameter to say so."""
    context = binary.get("securityContext")
    reference = context.get("reference") if isinstance(context, dict) else None
    if not isinstance(reference, str):
        return []
    kind, _, patient_id = reference.partition("/")
    return [patient_id] if kind == "Patient" and patient_id and "/" not in patient_id else []


def _grant_rows(consent: Mapping[str, Any]) -> list[IndexRow]:
    if consent.get("status") != "active" or not _is_privacy_consent(consent):
        return []
    provision = consent.get("provision")
    if not isinstance(provision, dict) or provision.get("type") != "permit":
        return []
    grantees: list[tuple[str, str]] = []
    for actor in provision.get("actor") or ():
        reference = actor.get("reference") if isinstance(actor, dict) else None
        literal = reference.get("reference") if isinstance(reference, dict) else None
        parts = reference_parts(literal) if isinstance(literal, str) else None
        if parts is not None:
            grantees.append(parts)
    if not grantees:
        return []
    rows = [IndexRow("reference", GRANTEE_PARAM,
                     {"target_type": t, "target_id": i, "target_url": None})
            for t, i in sorted(set(grantees))]
    try:
        span = period_range(provision.get("period"))
    except ValueError:
        return []  # a period mor cannot read grants nothing
    if span is not None:
        rows.append(IndexRow("date", GRANT_PERIOD_PARAM, {"low": span[0], "high": span[1]}))
    return rows


def _is_privacy_consent(consent: Mapping[str, Any]) -> bool:
    scope = consent.get("scope")
    codings = scope.get("coding") if isinstance(scope, dict) else None
    return any(isinstance(c, dict) and c.get("system") == CONSENT_SCOPE_SYSTEM
               and c.get("code") == "patient-privacy" for c in codings or ())
