"""Readings from a home meter's CSV export: the file a blood-pressure monitor's or a
glucose meter's app writes (Omron Connect, Accu-Chek, OneTouch, Contour and the like).

What is understood: a header line (perhaps after a few lines of preamble) in English,
matched case-insensitively and without the units in brackets; a blood-pressure export
has systolic and diastolic columns (pulse if there is one), a glucose export a value
column, its unit (mg/dL or mmol/L, in a column or in the header) and a meal marker;
the date and time in one column or two, ISO (2026-11-30) or day first (30/11/2026, as
Thai and Lao meters write it; a Buddhist Era year is understood too). A time without an
offset is in the city's time zone.

Each line's reading gets a key made of the patient, the kind of export, the moment and
the values: importing the same file twice, or a later export that repeats last month's
lines, stores each reading once. A line that is not understood is returned with its
number and why, for the page to show; the rest of the file is still read.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Final
from zoneinfo import ZoneInfo

from mor.messages import N_
from mor.services.monitoring.readings import BadReading, Reading, checked, key_of

MAX_BYTES: Final = 1024 * 1024  # years of readings; a meter's export is far smaller
MAX_LINES: Final = 20_000
MMOL_TO_MG_DL: Final = 18.016
_PREAMBLE_LINES: Final = 20  # where the header line may be, at most

# Header names, without units in brackets and with spaces collapsed.
_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "datetime": ("date/time", "date time", "datetime", "date and time", "timestamp",
                 "measured at", "measurement date/time", "reading date/time"),
    "date": ("date", "measurement date", "measured date", "reading date", "test date"),
    "time": ("time", "measurement time", "measured time", "reading time", "test time"),
    "systolic": ("systolic", "sys", "sbp", "systolic pressure", "systolic blood pressure"),
    "diastolic": ("diastolic", "dia", "dbp", "diastolic pressure",
                  "diastolic blood pressure"),
    "pulse": ("pulse", "pul", "pulse rate", "heart rate", "hr", "bpm"),
    "glucose": ("glucose", "blood glucose", "glucose value", "blood sugar", "bg",
                "bg value", "value", "result", "reading", "glucose reading"),
    "unit": ("unit", "units", "glucose unit", "unit of measure"),
    "meal": ("meal", "meal marker", "marker", "meal tag", "tag", "meal context",
             "before/after meal", "meal flag", "event", "flag"),
}
_FASTING: Final = ("fasting", "before meal", "before a meal", "pre meal", "pre-meal",
                   "before breakfast", "before lunch", "before dinner", "ac", "fast",
                   "before")
_AFTER_MEAL: Final = ("after meal", "after a meal", "post meal", "post-meal", "pc",
                      "after breakfast", "after lunch", "after dinner", "after",
                      "postprandial")
_DATE_FORMATS: Final = ("%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y",
                        "%d %b %Y", "%d %B %Y", "%b %d %Y", "%b %d, %Y", "%d/%m/%y")
_TIME_FORMATS: Final = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M:%S %p", "%H.%M")
_BUDDHIST_ERA: Final = 543


class BadFile(ValueError):
    """A file that holds no readings mor understands; ``message`` is a msgid."""

    def __init__(self, message: str, **params: str) -> None:
        super().__init__(message)
        self.message = message
        self.params = params


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int  # as an editor numbers it, the header line counted
    reason: str  # msgid
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MeterFile:
    kind: str  # bp, glucose
    readings: tuple[Reading, ...]
    rejected: tuple[Rejected, ...]


def parse_meter_csv(data: bytes, *, patient_id: str, zone: ZoneInfo,
                    file_name: str = "") -> MeterFile:
    """The readings of an export file, and the lines not understood; raises BadFile."""
    if len(data) > MAX_BYTES:
        raise BadFile(N_("The file is bigger than a meter's export ({size} MB at most); "
                         "export a shorter period"), size=f"{MAX_BYTES // (1024 * 1024)}")
    text = _decoded(data)
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise BadFile(N_("The file has more than {count} lines; export a shorter period"),
                      count=str(MAX_LINES))
    header_at, columns = _header(lines)
    if "systolic" in columns and "diastolic" in columns:
        kind = "bp"
    elif "glucose" in columns:
        kind = "glucose"
    else:
        raise BadFile(N_("The file is not a blood pressure or blood sugar export mor "
                         "knows: it needs a header line with the date and systolic and "
                         "diastolic columns, or a glucose value column"))
    if "datetime" not in columns and "date" not in columns:
        raise BadFile(N_("The file has no date column"))
    dialect = _dialect(lines[header_at])
    header_cells = next(csv.reader([lines[header_at]], dialect), [])
    header_unit = _unit(header_cells[columns["glucose"]]) if kind == "glucose" else None
    readings: list[Reading] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    rows = csv.reader(lines[header_at + 1:], dialect)
    for number, row in enumerate(rows, start=header_at + 2):
        if not any(cell.strip() for cell in row):
            continue
        try:
            reading = _reading(kind, row, columns, zone, patient_id, file_name, header_unit)
            checked(reading)
        except BadReading as bad:
            rejected.append(Rejected(number, bad.message, bad.params))
            continue
        if reading.key not in seen:  # a line repeated within the file counts once
            seen.add(reading.key)
            readings.append(reading)
    return MeterFile(kind, tuple(readings), tuple(rejected))


def _decoded(data: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" not in text:
            return text
    return data.decode("latin-1")


def _dialect(line: str) -> type[csv.Dialect]:
    counts = {d: line.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d])

    class Export(csv.excel):
        pass

    Export.delimiter = delimiter
    return Export


def _name(cell: str) -> str:
    without_units = re.sub(r"[\(\[].*?[\)\]]", " ", cell.lower())
    return " ".join(without_units.replace("_", " ").split()).strip(" :.")


def _header(lines: Sequence[str]) -> tuple[int, dict[str, int]]:
    """Where the header line is, and the column of each thing it names."""
    for at, line in enumerate(lines[:_PREAMBLE_LINES]):
        cells = next(csv.reader([line], _dialect(line)), [])
        columns: dict[str, int] = {}
        for index, cell in enumerate(cells):
            name = _name(cell)
            for what, names in _COLUMNS.items():
                if name in names and what not in columns:
                    columns[what] = index
                    break
        if ("date" in columns or "datetime" in columns) and (
                {"systolic", "diastolic"} <= columns.keys() or "glucose" in columns):
            return at, columns
    raise BadFile(N_("The file is not a blood pressure or blood sugar export mor knows: "
                     "it needs a header line with the date and systolic and diastolic "
                     "columns, or a glucose value column"))


def _unit(text: str) -> str | None:
    """mg/dL or mmol/L, as a unit column or a header ("Glucose (mmol/L)") writes it."""
    squeezed = text.lower().replace(" ", "")
    if "mmol/l" in squeezed or squeezed == "mmol":
        return "mmol/L"
    if "mg/dl" in squeezed or squeezed == "mg":
        return "mg/dL"
    return None


def _cell(row: Sequence[str], columns: Mapping[str, int], what: str) -> str:
    index = columns.get(what)
    if index is None or index >= len(row):
        return ""
    return row[index].strip()


def _reading(kind: str, row: Sequence[str], columns: Mapping[str, int], zone: ZoneInfo,
             patient_id: str, file_name: str, header_unit: str | None) -> Reading:
    taken = _moment(_cell(row, columns, "datetime"), _cell(row, columns, "date"),
                    _cell(row, columns, "time"), zone)
    values: dict[str, float] = {}
    context = None
    if kind == "bp":
        values["systolic"] = _number(_cell(row, columns, "systolic"))
        values["diastolic"] = _number(_cell(row, columns, "diastolic"))
        if pulse := _cell(row, columns, "pulse"):
            values["pulse"] = _number(pulse)
    else:
        raw = _cell(row, columns, "glucose")
        if raw.upper() in ("LO", "HI", "LOW", "HIGH"):
            raise BadReading(N_("The meter showed {value}, not a number: a reading out of "
                                "its range; if you feel unwell, call your health centre"),
                             value=raw.upper())
        value = _number(raw)
        written = _cell(row, columns, "unit")
        unit = _unit(written) if written else header_unit or "mg/dL"
        if unit is None:
            raise BadReading(N_("The unit {unit} is not one mor knows; use mg/dL or "
                                "mmol/L"), unit=written)
        values["glucose"] = float(round(value * MMOL_TO_MG_DL)) if unit == "mmol/L" \
            else value
        context = _meal(_cell(row, columns, "meal"))
    moment = taken.isoformat(timespec="seconds")
    key = key_of(patient_id, f"meter-csv-{kind}", moment[:10], moment[11:],
                 *(f"{name}={values[name]:g}" for name in sorted(values)), context or "")
    return Reading(kind, taken, values, context, key,
                   source=file_name or "meter export")


def _number(text: str) -> float:
    cleaned = text.replace(",", ".").strip()
    if not cleaned:
        raise BadReading(N_("Fill in every number of the reading"))
    try:
        return float(cleaned)
    except ValueError:
        raise BadReading(N_("{value} is not a number"), value=text) from None


def _meal(text: str) -> str:
    name = " ".join(text.lower().replace("_", " ").split())
    if name in _FASTING or name.startswith(("before", "fasting", "pre")):
        return "fasting"
    if name in _AFTER_MEAL or name.startswith(("after", "post")):
        return "after-meal"
    return "random"


def _moment(both: str, day_text: str, time_text: str, zone: ZoneInfo) -> datetime:
    if both:
        try:
            moment = datetime.fromisoformat(both.replace("Z", "+00:00"))
        except ValueError:
            day_part, _, time_part = both.replace("T", " ").partition(" ")
            moment = datetime.combine(_day(day_part), _time(time_part.strip()))
        return moment if moment.tzinfo else moment.replace(tzinfo=zone)
    if not day_text:
        raise BadReading(N_("The line has no date"))
    return datetime.combine(_day(day_text), _time(time_text), zone)


def _day(text: str) -> date:
    for form in _DATE_FORMATS:
        try:
            day = datetime.strptime(text.strip(), form).date()
        except ValueError:
            continue
        if day.year > 2400:  # a Buddhist Era year, as Thai meters may write it
            day = day.replace(year=day.year - _BUDDHIST_ERA)
        return day
    raise BadReading(N_("{value} is not a date mor understands; write it as 2026-11-30 "
                        "or 30/11/2026"), value=text)


def _time(text: str) -> time:
    if not text:
        raise BadReading(N_("The line has no time"))
    for form in _TIME_FORMATS:
        try:
            return datetime.strptime(text.strip().upper(), form).time()
        except ValueError:
            continue
    raise BadReading(N_("{value} is not a time mor understands; write it as 07:30"),
                     value=text)
