"""What a clinician records of one visit, as typed on the consultation screen: the notes,
vital signs, diagnoses, allergies found, the medicines prescribed, lab requests and a
referral. Plain data, so a draft can be kept as JSON and read back as it was typed."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Vitals:
    """Each as measured, None when not taken; units as the form shows them."""

    systolic: float | None = None  # mm[Hg]
    diastolic: float | None = None  # mm[Hg]
    heart_rate: float | None = None  # /min
    respiratory_rate: float | None = None  # /min
    temperature: float | None = None  # Cel
    spo2: float | None = None  # %
    weight: float | None = None  # kg
    height: float | None = None  # cm

    @property
    def bmi(self) -> float | None:
        """Weight over height squared, in kg/m2, to one decimal, when both were taken."""
        if not self.weight or not self.height:
            return None
        return round(self.weight / (self.height / 100) ** 2, 1)

    @property
    def empty(self) -> bool:
        return all(value is None for value in asdict(self).values())


@dataclass(frozen=True, slots=True)
class Diagnosis:
    code: str  # ICD-10, e.g. "I10"
    provisional: bool = False


@dataclass(frozen=True, slots=True)
class AllergyFound:
    """An allergy the patient tells of at the visit: to a formulary medicine, or named in
    words (a food, a medicine not in the formulary)."""

    medicine: str | None = None  # a formulary id
    text: str = ""
    reaction: str = ""
    category: str = "medication"  # R4 allergy-intolerance-category: or food, environment
    high_risk: bool = False  # criticality high: a serious reaction before


@dataclass(frozen=True, slots=True)
class Prescribed:
    medicine: str  # a formulary id
    dose: float | None  # of the formulary entry's dose unit; None: applied thinly
    per_day: int
    days: int | None  # None: long-term
    quantity: float | None = None  # None: from the dose, the times a day and the days
    as_needed: bool = False
    # The prescriber saw this medicine's warnings and prescribes it all the same.
    warnings_acknowledged: bool = False

    @property
    def quantity_needed(self) -> float | None:
        if self.quantity is not None:
            return self.quantity
        if self.dose is None or self.days is None:
            return None
        return self.dose * self.per_day * self.days


@dataclass(frozen=True, slots=True)
class HomeCollection:
    """A nurse comes to draw the samples at home, within this window."""

    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Referral:
    hospital: str  # an Organization id of the directory
    reason: str
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class VisitNote:
    subjective: str = ""
    objective: str = ""
    assessment: str = ""
    plan: str = ""
    # What the patient is told to do, in words they read on their visit summary.
    advice: str = ""
    vitals: Vitals = field(default_factory=Vitals)
    diagnoses: tuple[Diagnosis, ...] = ()
    allergies: tuple[AllergyFound, ...] = ()
    prescribed: tuple[Prescribed, ...] = ()
    labs: tuple[str, ...] = ()  # LOINC codes of the lab catalogue
    home_collection: HomeCollection | None = None
    referral: Referral | None = None

    def as_json(self) -> dict[str, Any]:
        """The note as JSON values, read back by :func:`note_from_json`."""
        data = asdict(self)
        if self.home_collection is not None:
            data["home_collection"] = {"start": self.home_collection.start.isoformat(),
                                       "end": self.home_collection.end.isoformat()}
        return data


def note_from_json(data: dict[str, Any]) -> VisitNote:
    home = data.get("home_collection")
    referral = data.get("referral")
    return VisitNote(
        subjective=data.get("subjective", ""), objective=data.get("objective", ""),
        assessment=data.get("assessment", ""), plan=data.get("plan", ""),
        advice=data.get("advice", ""),
        vitals=Vitals(**data.get("vitals") or {}),
        diagnoses=tuple(Diagnosis(**d) for d in data.get("diagnoses") or ()),
        allergies=tuple(AllergyFound(**a) for a in data.get("allergies") or ()),
        prescribed=tuple(Prescribed(**p) for p in data.get("prescribed") or ()),
        labs=tuple(data.get("labs") or ()),
        home_collection=HomeCollection(datetime.fromisoformat(home["start"]),
                                       datetime.fromisoformat(home["end"])) if home else None,
        referral=Referral(**referral) if referral else None)
