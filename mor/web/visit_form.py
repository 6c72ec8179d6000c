"""The consultation screen's form, read into a :class:`VisitNote` and written back into
its fields. Field names are the note's (``rx-0-dose`` is the first medicine's dose); a
page shows a few empty rows of each list beyond those filled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo

from starlette.datastructures import FormData

from mor.services.records.visit_note import (
    AllergyFound,
    Diagnosis,
    HomeCollection,
    Prescribed,
    Referral,
    VisitNote,
    Vitals,
)
from mor.web.i18n import N_

TEXTS: Final = ("subjective", "objective", "assessment", "plan", "advice")
VITALS: Final = ("systolic", "diastolic", "heart_rate", "respiratory_rate", "temperature",
                 "spo2", "weight", "height")
# Empty rows shown after the filled ones.
SPARE_ROWS: Final = {"diagnosis": 2, "allergy": 1, "rx": 2}
_MOST_ROWS: Final = 20
_MOST_TEXT: Final = 20_000
_T = TypeVar("_T")


class FormProblem(ValueError):
    """A field that cannot be read: ``message`` is a msgid with ``{field}``."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


_NOT_A_NUMBER: Final = N_("Write a number in “{field}”, like 36.8")
_NOT_A_WHOLE_NUMBER: Final = N_("Write a whole number in “{field}”, like 3")
_NOT_A_TIME: Final = N_("Give a date and time in “{field}”")


def note_from_form(form: FormData, zone: ZoneInfo,
                   problems: list[FormProblem] | None = None) -> VisitNote:
    """The note as the form holds it; rows left empty are left out. A field that cannot
    be read raises :class:`FormProblem`, or, when ``problems`` is given (a draft keeps
    all else typed), is added to it and left out."""
    def text(name: str) -> str:
        return str(form.get(name, ""))[:_MOST_TEXT].strip()

    def _number(value: str, name: str) -> float | None:
        return _kept(_read_number, value, name)

    def _whole(value: str, name: str) -> int | None:
        return _kept(_read_whole, value, name)

    def _moment(value: str, name: str, zone: ZoneInfo) -> datetime | None:
        return _kept(lambda v, n: _read_moment(v, n, zone), value, name)

    def _kept(read: Callable[[str, str], _T | None], value: str, name: str) -> _T | None:
        try:
            return read(value, name)
        except FormProblem as problem:
            if problems is None:
                raise
            problems.append(problem)
            return None

    vitals = Vitals(**{name: _number(text(name), name) for name in VITALS})
    diagnoses = tuple(
        Diagnosis(code.upper(), provisional=bool(form.get(f"diagnosis-{i}-provisional")))
        for i in range(_MOST_ROWS) for code in [text(f"diagnosis-{i}")] if code)
    allergies = tuple(
        AllergyFound(medicine=text(f"allergy-{i}-medicine") or None,
                     text=text(f"allergy-{i}"), reaction=text(f"allergy-{i}-reaction"),
                     category=text(f"allergy-{i}-category") or "medication",
                     high_risk=bool(form.get(f"allergy-{i}-high")))
        for i in range(_MOST_ROWS)
        if text(f"allergy-{i}") or text(f"allergy-{i}-medicine"))
    prescribed = tuple(
        Prescribed(medicine, dose=_number(text(f"rx-{i}-dose"), f"rx-{i}-dose"),
                   per_day=_whole(text(f"rx-{i}-per-day"), f"rx-{i}-per-day") or 1,
                   days=_whole(text(f"rx-{i}-days"), f"rx-{i}-days"),
                   quantity=_number(text(f"rx-{i}-quantity"), f"rx-{i}-quantity"),
                   as_needed=bool(form.get(f"rx-{i}-as-needed")),
                   warnings_acknowledged=bool(form.get(f"rx-{i}-acknowledged")))
        for i in range(_MOST_ROWS) for medicine in [text(f"rx-{i}-medicine")] if medicine)
    labs = tuple(dict.fromkeys(str(code) for code in form.getlist("lab") if code))
    home = None
    if form.get("home-collection"):
        start = _moment(text("home-start"), "home-start", zone)
        end = _moment(text("home-end"), "home-end", zone)
        if start is not None and end is not None:
            home = HomeCollection(start, end)
    referral = None
    if text("referral-hospital"):
        referral = Referral(text("referral-hospital"), text("referral-reason"),
                            urgent=bool(form.get("referral-urgent")))
    return VisitNote(**{name: text(name) for name in TEXTS}, vitals=vitals,
                     diagnoses=diagnoses, allergies=allergies, prescribed=prescribed,
                     labs=labs, home_collection=home, referral=referral)


@dataclass(frozen=True, slots=True)
class Rows:
    """The note's lists as the form's rows: the filled ones, then empty ones."""

    diagnoses: list[Diagnosis | None]
    allergies: list[AllergyFound | None]
    prescribed: list[Prescribed | None]


def rows_of(note: VisitNote) -> Rows:
    def padded(items: tuple[Any, ...], kind: str) -> list[Any]:
        return [*items, *[None] * SPARE_ROWS[kind]]

    return Rows(padded(note.diagnoses, "diagnosis"), padded(note.allergies, "allergy"),
                padded(note.prescribed, "rx"))


def field_value(value: float | int | None) -> str:
    """A number as a field shows it: 37.0 as 37."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def local_input(moment: datetime | None, zone: ZoneInfo) -> str:
    """A moment as a ``datetime-local`` field holds it, in the city's time."""
    return moment.astimezone(zone).strftime("%Y-%m-%dT%H:%M") if moment else ""


def _read_number(text: str, field: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise FormProblem(_NOT_A_NUMBER, field) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise FormProblem(_NOT_A_NUMBER, field)
    return value


def _read_whole(text: str, field: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise FormProblem(_NOT_A_WHOLE_NUMBER, field) from None


def _read_moment(text: str, field: str, zone: ZoneInfo) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FormProblem(_NOT_A_TIME, field) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
