"""The patient's record summary as a page shows it (``_record_summary.html``): names of
what mor's own codes mean in the reader's language, values with their units, and dates
as the reader counts years."""

from __future__ import annotations

from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from starlette.requests import Request

from mor.services.records.elements import Concept, PartialDate, Quantity
from mor.services.records.summary import Visit
from mor.services.records.vital_signs import VitalSign
from mor.services.scheduling.codes import SERVICE_KINDS, SERVICE_KINDS_SYSTEM
from mor.web.dates import day_in_record, era_of, month_in_record, year
from mor.web.i18n import N_, language_of
from mor.web.rendering import gettext

# By the LOINC code of each kind's FHIR profile (mor.services.records.vital_signs).
VITAL_NAMES: Final = {
    "85354-9": N_("Blood pressure"), "8867-4": N_("Heart rate"),
    "9279-1": N_("Breathing rate"), "8310-5": N_("Temperature"),
    "59408-5": N_("Oxygen saturation"), "29463-7": N_("Weight"), "8302-2": N_("Height"),
    "39156-5": N_("Body mass index"),
}
GENDERS: Final = {"male": N_("Male"), "female": N_("Female"), "other": N_("Other"),
                  "unknown": N_("Unknown")}
# Encounter.class (HL7 v3 ActCode).
VISIT_CLASSES: Final = {
    "AMB": N_("Visit at the health centre"), "VR": N_("Video consultation"),
    "HH": N_("Home visit"), "IMP": N_("Hospital stay"), "EMER": N_("Emergency visit"),
    "SS": N_("Short stay"),
}
# SNOMED CT statements that nothing is known (mor.services.records.summary).
NO_KNOWN_ALLERGIES: Final = {
    "716186003": N_("No known allergies"), "409137002": N_("No known drug allergies"),
    "429625007": N_("No known food allergies"),
    "428607008": N_("No known environmental allergies"),
}
# UCUM codes as clinicians write them; the others are shown as they are.
_UNITS: Final = {"mm[Hg]": "mmHg", "Cel": "°C", "[degF]": "°F", "kg/m2": "kg/m²",
                 "[lb_av]": "lb", "[in_i]": "in"}


class RecordView:
    """What the template asks to have written in the request's language and era."""

    def __init__(self, request: Request, zone: ZoneInfo) -> None:
        self.request = request
        self.language = language_of(request)
        self.era = era_of(request, self.language)
        self.zone = zone

    def text(self, message: str) -> str:
        return gettext(self.request, message)

    def day(self, moment: date | datetime | None) -> str:
        if moment is None:
            return ""
        return day_in_record(self._local(moment), self.language, self.era)

    def machine(self, when: PartialDate) -> str:
        """For ``<time datetime>``: "2015", "2015-06", "2015-06-02"."""
        return "-".join([f"{when.year:04d}", *(f"{part:02d}" for part in (
            when.month, when.day) if part is not None)])

    def partial(self, when: PartialDate) -> str:
        if when.month is None:
            return str(year(date(when.year, 1, 1), self.era))
        if when.day is None:
            return month_in_record(date(when.year, when.month, 1), self.language, self.era)
        return day_in_record(date(when.year, when.month, when.day), self.language, self.era)

    def gender(self, code: str | None) -> str:
        return self.text(GENDERS[code]) if code in GENDERS else ""

    def vital_name(self, sign: VitalSign) -> str:
        return self.text(VITAL_NAMES.get(sign.kind.key, sign.kind.key))

    def vital_value(self, sign: VitalSign) -> str:
        """"132/84 mmHg", "36.6 °C": a panel's values together, with their unit once."""
        values = [self.number(v) if v is not None else "\N{EN DASH}" for v in sign.values]
        units = list(dict.fromkeys(self.unit(v) for v in sign.values if v is not None))
        return " ".join(["/".join(values), *units]).strip()

    def number(self, quantity: Quantity) -> str:
        return format_decimal(quantity.value, locale=self.language)

    def unit(self, quantity: Quantity) -> str:
        return _UNITS.get(quantity.unit, quantity.unit)

    def concept(self, concept: Concept) -> str:
        """mor's own service kinds in the reader's language; other codes as given."""
        if concept.system == SERVICE_KINDS_SYSTEM and concept.code in SERVICE_KINDS:
            return self.text(SERVICE_KINDS[concept.code])
        return concept.text

    def visit_kind(self, visit: Visit) -> str:
        parts = [self.text(VISIT_CLASSES[visit.class_code])] if (
            visit.class_code in VISIT_CLASSES) else []
        if visit.kind is not None:
            parts.append(self.concept(visit.kind))
        return " · ".join(parts)

    def no_known_allergy(self, code: str) -> str:
        return self.text(NO_KNOWN_ALLERGIES[code])

    def _local(self, moment: date | datetime) -> date:
        return moment.astimezone(self.zone).date() if isinstance(moment, datetime) \
            else moment
