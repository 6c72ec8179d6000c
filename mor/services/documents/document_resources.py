"""A document as R4 resources: the PDF as a ``Binary``, and the ``DocumentReference``
that says what it is, whose, from whom and of which visit (docs/consultation-record.md,
"Documents"). Pure functions: the caller gives the ids and the moment."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any, Final

from mor.services.records.lab_tests import LOINC

PDF: Final = "application/pdf"
# Fixed, so the id of a visit's document follows from the visit (see document_id).
_DOCUMENT_IDS: Final = uuid.UUID("6a1d3c52-8f0e-4a57-9a51-0c3f4f1d2e7b")


@dataclass(frozen=True, slots=True)
class DocumentKind:
    loinc: str
    display: str  # LOINC's name
    title: str  # the English label of documents.texts, which names it in each language
    file_stem: str


PRESCRIPTION: Final = DocumentKind("57833-6", "Prescription for medication", "Prescription",
                                   "prescription")
REFERRAL: Final = DocumentKind("57133-1", "Referral note", "Referral letter", "referral")
LABEL: Final = DocumentKind("69730-0", "Instructions", "Medicine label", "medicine-label")
KINDS: Final = {kind.loinc: kind for kind in (PRESCRIPTION, REFERRAL, LABEL)}


@dataclass(frozen=True, slots=True)
class Authorship:
    """Who and what a document of a visit is about, and when it was made."""

    patient_id: str
    encounter_id: str
    practitioner_id: str | None
    organization_id: str | None
    when: str  # FHIR instant


def document_id(encounter_id: str, kind: DocumentKind) -> str:
    """The id of the visit's document of this kind: the same for every writer, so two
    at once update one DocumentReference instead of adding two."""
    return str(uuid.uuid5(_DOCUMENT_IDS, f"Encounter/{encounter_id}/{kind.loinc}"))


def attachment_hash(data: bytes) -> str:
    """R4's Attachment.hash: the SHA-1 of the data, base64."""
    return base64.b64encode(hashlib.sha1(data).digest()).decode("ascii")


def binary(binary_id: str, data: bytes, patient_id: str) -> dict[str, Any]:
    # The patient stands for the document's sensitivity: whoever may see their record
    # may see it.
    return {"resourceType": "Binary", "id": binary_id, "contentType": PDF,
            "securityContext": {"reference": f"Patient/{patient_id}"},
            "data": base64.b64encode(data).decode("ascii")}


def document_reference(reference_id: str, binary_id: str, data: bytes, kind: DocumentKind,
                       title: str, language: str, by: Authorship) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference", "id": reference_id, "status": "current",
        "docStatus": "final",
        "type": {"coding": [{"system": LOINC, "code": kind.loinc, "display": kind.display}],
                 "text": title},
        "subject": {"reference": f"Patient/{by.patient_id}"},
        "date": by.when,
        "description": title,
        "content": [{"attachment": {
            "contentType": PDF, "language": language, "url": f"Binary/{binary_id}",
            "size": len(data), "hash": attachment_hash(data), "title": title,
            "creation": by.when}}],
        "context": {"encounter": [{"reference": f"Encounter/{by.encounter_id}"}]},
    }
    if by.practitioner_id:
        resource["author"] = [{"reference": f"Practitioner/{by.practitioner_id}"}]
    if by.organization_id:
        resource["custodian"] = {"reference": f"Organization/{by.organization_id}"}
    return resource


def kind_of(reference: dict[str, Any]) -> DocumentKind | None:
    codes = {c.get("code") for c in (reference.get("type") or {}).get("coding") or ()
             if c.get("system") == LOINC}
    return next((KINDS[code] for code in codes if code in KINDS), None)
