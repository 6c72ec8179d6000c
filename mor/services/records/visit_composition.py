"""The visit's note as an R4 ``Composition`` (a consult note in SOAP sections, each with
the resources it is about), and the clinician's signature over everything the visit
wrote (``Provenance``)."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from html import escape, unescape
from typing import Any, Final

from mor.services.records.lab_tests import LOINC
from mor.services.records.visit_clinical import Visit, new_id
from mor.services.records.visit_note import VisitNote

CONSULT_NOTE: Final = ("11488-4", "Consult note")
# LOINC's SOAP note sections, and the patient's instructions.
SUBJECTIVE: Final = ("61150-9", "Subjective")
OBJECTIVE: Final = ("61149-1", "Objective")
ASSESSMENT: Final = ("51848-0", "Assessment")
PLAN: Final = ("18776-5", "Plan")
ADVICE: Final = ("69730-0", "Instructions")
# ASTM E1762 signature types, as R4's Provenance.signature.type names them.
AUTHOR_SIGNATURE: Final = {"system": "urn:iso-astm:E1762-95:2013",
                           "code": "1.2.840.10065.1.12.1.1", "display": "Author's Signature"}


def composition(note: VisitNote, visit: Visit, *, composition_id: str, title: str,
                entries: Mapping[tuple[str, str], Sequence[str]]) -> dict[str, Any]:
    """The signed note; ``entries`` are the references each section lists, by section."""
    texts = {SUBJECTIVE: note.subjective, OBJECTIVE: note.objective,
             ASSESSMENT: note.assessment, PLAN: note.plan, ADVICE: note.advice}
    sections = []
    for section, text in texts.items():
        listed = entries.get(section, ())
        if not text.strip() and not listed:
            continue
        code, display = section
        item: dict[str, Any] = {"title": display, "code": {"coding": [
            {"system": LOINC, "code": code, "display": display}]}}
        if text.strip():
            item["text"] = narrative(text)
        if listed:
            item["entry"] = [{"reference": reference} for reference in listed]
        else:
            item.setdefault("text", narrative(""))
        sections.append(item)
    code, display = CONSULT_NOTE
    return {
        "resourceType": "Composition", "id": composition_id, "status": "final",
        "type": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        **visit.references(), "date": visit.when,
        "author": [{"reference": f"Practitioner/{visit.practitioner_id}"}],
        "title": title,
        "attester": [{"mode": "legal", "time": visit.when,
                      "party": {"reference": f"Practitioner/{visit.practitioner_id}"}}],
        **({"custodian": {"reference": f"Organization/{visit.organization_id}"}}
           if visit.organization_id else {}),
        "section": sections,
    }


def narrative(text: str) -> dict[str, Any]:
    """Text as typed, kept line for line, as XHTML narrative."""
    lines = "<br/>".join(escape(line) for line in text.strip().splitlines())
    return {"status": "additional",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{lines}</div>'}


def plain_text(div: str) -> str:
    """The text :func:`narrative` made the ``div`` of, line for line."""
    lines = re.sub(r"<br\s*/?>", "\n", div)
    return unescape(re.sub(r"<[^>]+>", "", lines)).strip()


def provenance(targets: Sequence[str], visit: Visit) -> dict[str, Any]:
    """The clinician signs what the visit wrote, at the moment it was written."""
    practitioner = {"reference": f"Practitioner/{visit.practitioner_id}"}
    return {
        "resourceType": "Provenance", "id": new_id(),
        "target": [{"reference": reference} for reference in targets],
        "recorded": visit.when, "occurredDateTime": visit.when,
        "agent": [{"type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": "author", "display": "Author"}]}, "who": practitioner,
            **({"onBehalfOf": {"reference": f"Organization/{visit.organization_id}"}}
               if visit.organization_id else {})}],
        "signature": [{"type": [AUTHOR_SIGNATURE], "when": visit.when, "who": practitioner,
                       "sigFormat": "text/plain",
                       "data": _signed_statement(visit)}],
    }


def _signed_statement(visit: Visit) -> str:
    # A signature by the signed-in clinician pressing "sign" (no personal key): the data
    # says what was signed, base64 as Signature.data must be.
    statement = (f"Signed by Practitioner/{visit.practitioner_id} at {visit.when} for "
                 f"Encounter/{visit.encounter_id}")
    return base64.b64encode(statement.encode()).decode()
