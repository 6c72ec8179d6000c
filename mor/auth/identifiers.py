"""The identity documents a patient registers with, checked and written as FHIR
``Identifier``s.

A Thai national ID (เลขประจำตัวประชาชน) has 13 digits, the last a check digit: each of
the first twelve is weighted 13 down to 2, and the check digit is (11 - sum mod 11) mod
10. Lao ID cards, passports and work permits have no public check digit; their format
is checked. Types are HL7 v2 table 0203 codes (NI national identifier, PPN passport,
WP work permit); passports use the HL7 naming systems ``http://hl7.org/fhir/sid/passport-
[country]``. No national FHIR naming system is published for Thai or Lao ID cards, so
mor names them under ``urn:mor:sid:``; a city can map them when one is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from mor.messages import N_

V2_0203: Final = "http://terminology.hl7.org/CodeSystem/v2-0203"
_PASSPORT_SYSTEM: Final = "http://hl7.org/fhir/sid/passport-"


@dataclass(frozen=True, slots=True)
class DocumentKind:
    code: str  # what mor's forms call it
    type_code: str  # v2-0203
    type_display: str
    system: str | None  # None: depends on the issuing country (passports)


KINDS: Final = {
    "th-national-id": DocumentKind("th-national-id", "NI", "National unique individual "
                                   "identifier", "urn:mor:sid:th-national-id"),
    "la-national-id": DocumentKind("la-national-id", "NI", "National unique individual "
                                   "identifier", "urn:mor:sid:la-national-id"),
    "passport": DocumentKind("passport", "PPN", "Passport number", None),
    "work-permit": DocumentKind("work-permit", "WP", "Work permit", "urn:mor:sid:work-permit"),
}
_COUNTRY: Final = re.compile(r"[A-Z]{3}")
_PASSPORT: Final = re.compile(r"[A-Z0-9]{6,12}")
_LAO_ID: Final = re.compile(r"[A-Z0-9]{6,20}")
_WORK_PERMIT: Final = re.compile(r"[A-Z0-9][A-Z0-9/-]{3,30}")


class IdentifierError(ValueError):
    """A document number that cannot be right, with the reason for a person."""


def thai_id_is_valid(number: str) -> bool:
    if not re.fullmatch(r"\d{13}", number):
        return False
    total = sum(int(digit) * (13 - position) for position, digit in enumerate(number[:12]))
    return (11 - total % 11) % 10 == int(number[12])


def identifier(kind: str, number: str, country: str | None = None) -> dict[str, Any]:
    """The FHIR Identifier of a document, after checking its number."""
    document = KINDS.get(kind)
    if document is None:
        raise IdentifierError(N_("Choose the kind of identity document"))
    value = re.sub(r"[\s-]", "", number).upper() if kind != "work-permit" else \
        number.strip().upper()
    system = document.system
    if kind == "th-national-id":
        if not thai_id_is_valid(value):
            raise IdentifierError(N_("A Thai national ID has 13 digits and the last must "
                                     "match the others; check the number on the card"))
    elif kind == "la-national-id":
        if not _LAO_ID.fullmatch(value):
            raise IdentifierError(N_("A Lao ID card number has 6 to 20 letters and digits"))
    elif kind == "passport":
        if country is None or not _COUNTRY.fullmatch(country.upper()):
            raise IdentifierError(N_("Give the passport's issuing country as its "
                                     "three-letter code (THA, LAO, MMR ...)"))
        if not _PASSPORT.fullmatch(value):
            raise IdentifierError(N_("A passport number has 6 to 12 letters and digits"))
        system = _PASSPORT_SYSTEM + country.upper()
    elif not _WORK_PERMIT.fullmatch(value):
        raise IdentifierError(N_("A work permit number has 4 to 31 letters, digits, - or /"))
    return {"use": "official",
            "type": {"coding": [{"system": V2_0203, "code": document.type_code,
                                 "display": document.type_display}]},
            "system": system, "value": value}


def document_of(found: Any) -> tuple[str, str | None] | None:
    """The kind of identity document an Identifier is (one of :data:`KINDS`), with the
    issuing country of a passport; None for any other identifier (a hospital number)."""
    if not isinstance(found, dict) or not isinstance(found.get("value"), str):
        return None
    system = found.get("system")
    if isinstance(system, str) and system.startswith(_PASSPORT_SYSTEM):
        return "passport", system.removeprefix(_PASSPORT_SYSTEM)
    kind = next((k.code for k in KINDS.values() if k.system and k.system == system), None)
    return None if kind is None else (kind, None)
