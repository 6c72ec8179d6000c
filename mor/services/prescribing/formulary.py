"""The city formulary: finding a medicine by name in Thai, Lao or English, and the same
medicines as FHIR R4 ``Medication`` resources in the city's store, so any FHIR client
reads the formulary a prescription was written from.

Each Medication carries the formulary id as an identifier in ``FORMULARY_SYSTEM``; that
identifier, not the resource id, is what makes seeding idempotent."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.prescribing.dosage import usual_dosage
from mor.services.prescribing.formulary_data import FORMULARY
from mor.services.prescribing.model import (
    ATC_SYSTEM,
    DOSE_FORMS,
    SNOMED_SYSTEM,
    UCUM_SYSTEM,
    Amount,
    Entry,
    Ingredient,
)
from mor.services.scheduling.lookup import find
from mor.services.scheduling.texts import with_translations

__all__ = ["FORMULARY_SYSTEM", "Formulary", "Seeded", "as_medication", "seed",
           "usual_dosage"]

FORMULARY_SYSTEM: Final = "urn:mor:formulary"

# Thai and Lao are written without spaces between words: a name matches anywhere in it.
_UNSPACED_SCRIPTS: Final = re.compile("[\u0e00-\u0eff]")
_WORD_START: Final = re.compile(r"(?:^|[\s/(),-])(\w)")


class Formulary:
    """The medicines a city prescribes from, in the order the formulary lists them."""

    def __init__(self, entries: Iterable[Entry] = FORMULARY) -> None:
        self._entries = tuple(entries)
        self._by_id = {entry.id: entry for entry in self._entries}
        if len(self._by_id) != len(self._entries):
            raise ValueError("two formulary entries share an id; each id names one product")

    def all(self) -> tuple[Entry, ...]:
        return self._entries

    def get(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id)

    def with_ingredient(self, atc: str) -> list[Entry]:
        """The entries whose product or ingredient has this ATC code."""
        return [e for e in self._entries if atc == e.atc or atc in e.ingredient_codes]

    def search(self, text: str, language: str) -> list[Entry]:
        """Entries whose name in ``language`` or in English matches ``text``: a word of
        the name starting with it (any case), or for Thai and Lao text, anywhere in it."""
        wanted = text.strip().casefold()
        if not wanted:
            return []
        found = [e for e in self._entries
                 if any(_matches(name, wanted)
                        for name in {e.names.in_language(language), e.names.en})]
        return sorted(found, key=lambda e: e.names.in_language(language).casefold())


def _matches(name: str, wanted: str) -> bool:
    folded = name.casefold()
    if _UNSPACED_SCRIPTS.search(wanted):
        return wanted in folded
    return any(folded.startswith(wanted, m.start(1)) for m in _WORD_START.finditer(folded))


def label(entry: Entry, language: str) -> str:
    """The name and strength a prescription shows: "Amlodipine 5 mg"."""
    strengths = [i.strength for i in entry.ingredients if i.strength is not None]
    if not strengths:
        return entry.names.in_language(language)
    units = {s.unit for s in strengths}
    if len(units) == 1:
        text = "/".join(_number(s.value) for s in strengths) + f" {_unit(strengths[0])}"
    else:
        text = "/".join(f"{_number(s.value)} {_unit(s)}" for s in strengths)
    if not entry.per.unit.startswith("{"):
        text += f"/{_amount(entry.per)}" if entry.per.value != 1 else f"/{_unit(entry.per)}"
    return f"{entry.names.in_language(language)} {text}"


def as_medication(entry: Entry) -> dict[str, Any]:
    """The entry as an R4 ``Medication``: ATC-coded, its name in English with Thai and
    Lao translations, its SNOMED CT dose form and each ingredient's strength in UCUM."""
    code: dict[str, Any] = {"coding": [{"system": ATC_SYSTEM, "code": entry.atc,
                                        "display": entry.names.en}]}
    with_translations(code, "text", {lang: label(entry, lang) for lang in ("en", "th", "lo")},
                      "en")
    form_code, form_display = DOSE_FORMS[entry.form]
    return {
        "resourceType": "Medication",
        "identifier": [{"system": FORMULARY_SYSTEM, "value": entry.id}],
        "code": code,
        "status": "active",
        "form": {"coding": [{"system": SNOMED_SYSTEM, "code": form_code,
                             "display": form_display}]},
        "ingredient": [_ingredient(i, entry.per) for i in entry.ingredients],
    }


def _ingredient(ingredient: Ingredient, per: Amount) -> dict[str, Any]:
    item: dict[str, Any] = {"text": ingredient.name}
    if ingredient.atc:
        item["coding"] = [{"system": ATC_SYSTEM, "code": ingredient.atc,
                           "display": ingredient.name}]
    result: dict[str, Any] = {"itemCodeableConcept": item, "isActive": True}
    if ingredient.strength is not None:
        result["strength"] = {"numerator": _quantity(ingredient.strength),
                              "denominator": _quantity(per)}
    return result


def _quantity(amount: Amount) -> dict[str, Any]:
    return {"value": amount.value, "unit": _unit(amount), "system": UCUM_SYSTEM,
            "code": amount.unit}


def _unit(amount: Amount) -> str:
    # UCUM annotations ({tablet}) mean "one"; people read the word inside.
    return {"[iU]": "units", "ug": "mcg"}.get(amount.unit, amount.unit.strip("{}"))


def _amount(amount: Amount) -> str:
    return f"{_number(amount.value)} {_unit(amount)}"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


@dataclass(frozen=True, slots=True)
class Seeded:
    created: int
    updated: int
    unchanged: int


async def seed(store: Store, formulary: Formulary | None = None) -> Seeded:
    """Write each formulary medicine into the store once: a Medication already holding
    its formulary identifier is updated in place if the formulary changed, never copied.
    New ones get the formulary id as their resource id, so ``Medication/amlodipine-5-tab``
    reads the same in every city."""
    entries = (formulary or Formulary()).all()
    created = updated = 0
    async with store.writing(EVERYTHING) as tx:
        # Two processes starting at once must not both create the formulary.
        await tx.lock_criteria("Medication", f"identifier={FORMULARY_SYSTEM}|")
        existing = await find(tx, "Medication", [("identifier", f"{FORMULARY_SYSTEM}|")])
        by_entry = {i["value"]: m for m in existing for i in m.get("identifier") or ()
                    if i.get("system") == FORMULARY_SYSTEM and "value" in i}
        for entry in entries:
            wanted = as_medication(entry)
            found = by_entry.get(entry.id)
            if found is None:
                await tx.update("Medication", entry.id, wanted)
                created += 1
            elif {k: v for k, v in found.items() if k not in ("id", "meta")} != wanted:
                await tx.update("Medication", found["id"], {**wanted, "id": found["id"]})
                updated += 1
    return Seeded(created, updated, len(entries) - created - updated)
