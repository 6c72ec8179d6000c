"""What a document prints, as plain values: the documents are drawn from these alone, so
each one can be made (and tested) without a FHIR store. Texts are in the document's
language where the record has them in it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class Centre:
    """The health centre the document comes from: its letterhead."""

    name: str
    address: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class PatientDetails:
    name: str
    identifier: str = ""  # the national ID, or the centre's number for them
    birth_date: date | None = None
    allergies: tuple[str, ...] = ()  # active ones, each as recorded


@dataclass(frozen=True, slots=True)
class Clinician:
    name: str
    licence: str | None = None  # the licence number of their profession, when recorded


@dataclass(frozen=True, slots=True)
class Medicine:
    name: str  # in the document's language
    generic: str  # the English generic name, which every pharmacist reads
    strength: str  # "500 mg", "" when the product has no single figure
    dose: str  # how to take it, in the document's language
    quantity: str  # to dispense, with its unit: "21 แคปซูล"


@dataclass(frozen=True, slots=True)
class Prescription:
    language: str  # th, lo or en
    centre: Centre
    patient: PatientDetails
    prescriber: Clinician
    signed: date
    medicines: tuple[Medicine, ...]


@dataclass(frozen=True, slots=True)
class VitalSign:
    loinc: str
    name: str  # as recorded (English), for a code the documents have no name for
    value: str  # with its unit: "152/94 mmHg"


@dataclass(frozen=True, slots=True)
class ReferralLetter:
    language: str
    centre: Centre
    patient: PatientDetails
    clinician: Clinician
    signed: date
    hospital: str
    reason: str
    urgent: bool
    diagnoses: tuple[str, ...] = ()
    vitals: tuple[VitalSign, ...] = ()
    current_medicines: tuple[str, ...] = ()
    assessment: str = ""
    plan: str = ""


@dataclass(frozen=True, slots=True)
class DispensingLabel:
    language: str
    centre: Centre
    patient_name: str
    medicine: Medicine
    prescriber: str
    day: date  # dispensed, or prescribed when not dispensed yet
