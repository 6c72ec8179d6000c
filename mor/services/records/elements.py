"""FHIR data types as a record shows them to a clinician: a CodeableConcept as its name, a
Quantity as a number and a unit, and dates as precise as they were written."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

ICD_10_SYSTEMS: Final = frozenset({"http://hl7.org/fhir/sid/icd-10",
                                   "http://hl7.org/fhir/sid/icd-10-cm",
                                   "http://hl7.org/fhir/sid/icd-10-tm"})
_PARTIAL_DATE: Final = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass(frozen=True, slots=True)
class Concept:
    """A code as a person reads it: its coding's display as given (ICD-10 and SNOMED
    names are not translated), else the concept's text, else the code itself."""

    text: str
    system: str | None = None
    code: str | None = None

    @property
    def icd_10(self) -> str | None:
        """The ICD-10 code, which clinicians read beside the name."""
        return self.code if self.system in ICD_10_SYSTEMS else None


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A FHIR date as precise as it was written: a year, a month or a day (birth dates
    and onsets are often known only to the year)."""

    year: int
    month: int | None = None
    day: int | None = None

    def as_date(self) -> date | None:
        if self.month is None or self.day is None:
            return None
        return date(self.year, self.month, self.day)


@dataclass(frozen=True, slots=True)
class Quantity:
    value: float
    unit: str  # the UCUM code, else the unit as written


def concept_of(codeable: Any) -> Concept | None:
    if not isinstance(codeable, dict):
        return None
    codings = [c for c in codeable.get("coding") or () if isinstance(c, dict)]
    shown = next((c for c in codings if c.get("display")), None)
    first = shown or next((c for c in codings if c.get("code")), None)
    text = (shown or {}).get("display") or codeable.get("text") or (first or {}).get("code")
    if not text:
        return None
    return Concept(str(text), first.get("system") if first else None,
                   first.get("code") if first else None)


def codes_of(codeable: Any) -> set[tuple[str | None, str]]:
    """The (system, code) pairs of a CodeableConcept."""
    if not isinstance(codeable, dict):
        return set()
    return {(c.get("system"), c["code"]) for c in codeable.get("coding") or ()
            if isinstance(c, dict) and isinstance(c.get("code"), str)}


def partial_date_of(text: Any) -> PartialDate | None:
    """The date part of a FHIR date or dateTime, as written (not moved to any time zone:
    a birth date or an onset is a day in the patient's life, not an instant)."""
    found = _PARTIAL_DATE.match(text) if isinstance(text, str) else None
    if found is None:
        return None
    year, month, day = found.groups()
    try:
        if day is not None:
            date(int(year), int(month), int(day))
    except ValueError:
        return None
    return PartialDate(int(year), int(month) if month else None, int(day) if day else None)


def moment_of(text: Any) -> datetime | date | None:
    """A FHIR dateTime or instant with its time (a datetime with its zone), or a date
    given to the day; None for less precise ones, which say nothing of when on the day
    a measurement was taken."""
    if not isinstance(text, str) or len(text) < 10:
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    # FHIR requires the zone with a time; without one the day is all that is sure.
    return moment if moment.tzinfo is not None else moment.date()


def first_moment(*texts: Any) -> datetime | date | None:
    """The first of several candidate elements that holds a usable moment."""
    return next((m for m in map(moment_of, texts) if m is not None), None)


def quantity_of(element: Any) -> Quantity | None:
    if not isinstance(element, dict) or not isinstance(element.get("value"), int | float):
        return None
    unit = element.get("code") if element.get("system") == "http://unitsofmeasure.org" \
        else None
    return Quantity(float(element["value"]), str(unit or element.get("unit") or
                                                 element.get("code") or ""))
