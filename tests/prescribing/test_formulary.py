"""The city formulary: its medicines as valid R4 Medications, named in Thai, Lao and
English in the right scripts, found by name in each language, and seeded into a city's
store once."""

from __future__ import annotations

import re

import httpx
import pytest

from mor.fhir.store import Store
from mor.fhir.structure_validation import validate_structure
from mor.fhir.visibility import EVERYTHING
from mor.services.prescribing.formulary import (
    FORMULARY_SYSTEM,
    Formulary,
    as_medication,
    seed,
    usual_dosage,
)
from mor.services.prescribing.model import ATC_SYSTEM, DOSE_UNITS, ROUTES
from mor.services.scheduling.lookup import find
from mor.services.scheduling.texts import texts_of

FORMULARY = Formulary()
THAI = re.compile("[\u0e00-\u0e7f]")
LAO = re.compile("[\u0e80-\u0eff]")
ATC_PRODUCT = re.compile(r"^[A-Z]\d\d[A-Z]{2}(\d\d)?$")


def test_the_formulary_holds_the_essential_medicines() -> None:
    assert 50 <= len(FORMULARY.all()) <= 75
    for wanted in ("amlodipine-5-tab", "metformin-500-tab", "amoxicillin-500-cap",
                   "co-trimoxazole-400-80-tab", "rifampicin-300-cap", "salbutamol-100-inh",
                   "levothyroxine-50-tab"):
        assert FORMULARY.get(wanted) is not None, wanted


def test_every_medication_is_valid_r4() -> None:
    for entry in FORMULARY.all():
        assert validate_structure(as_medication(entry)) == [], entry.id


def test_every_usual_dosage_is_valid_r4_in_every_language() -> None:
    for entry in FORMULARY.all():
        for language in ("en", "th", "lo"):
            dosage = usual_dosage(entry, language)
            # A Dosage is a backbone type: check it where R4 puts one.
            request = {"resourceType": "MedicationRequest", "status": "active",
                       "intent": "order", "subject": {"reference": "Patient/p"},
                       "medicationCodeableConcept": {"text": entry.names.en},
                       "dosageInstruction": [dosage]}
            assert validate_structure(request) == [], (entry.id, language)
            assert dosage["route"]["coding"][0]["code"] in {c for c, _ in ROUTES.values()}


def test_names_exist_in_three_languages_in_their_own_scripts() -> None:
    for entry in FORMULARY.all():
        names = entry.names
        assert names.en.isascii(), entry.id
        assert THAI.search(names.th) and not LAO.search(names.th), entry.id
        assert LAO.search(names.lo) and not THAI.search(names.lo), entry.id
        medication = as_medication(entry)
        texts = texts_of(medication["code"], "text", "en")
        assert set(texts) == {"en", "th", "lo"}
        assert not THAI.search(texts["lo"]) and not LAO.search(texts["th"])


def test_dosage_texts_use_the_right_scripts() -> None:
    for entry in FORMULARY.all():
        assert not LAO.search(usual_dosage(entry, "th")["text"])
        assert not THAI.search(usual_dosage(entry, "lo")["text"])
    for _code, words in DOSE_UNITS.values():
        assert not LAO.search(words.th) and not THAI.search(words.lo)


def test_atc_codes_are_well_formed() -> None:
    for entry in FORMULARY.all():
        assert ATC_PRODUCT.match(entry.atc), entry.id
        for ingredient in entry.ingredients:
            assert ingredient.atc is None or ATC_PRODUCT.match(ingredient.atc), entry.id
        coding = as_medication(entry)["code"]["coding"][0]
        assert coding == {"system": ATC_SYSTEM, "code": entry.atc,
                          "display": entry.names.en}


def test_ids_are_unique_and_valid_fhir_ids() -> None:
    ids = [entry.id for entry in FORMULARY.all()]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", i) for i in ids)


def test_strength_is_a_ucum_ratio() -> None:
    medication = as_medication(FORMULARY.get("amlodipine-5-tab"))  # type: ignore[arg-type]
    assert medication["ingredient"][0]["strength"] == {
        "numerator": {"value": 5, "unit": "mg", "system": "http://unitsofmeasure.org",
                      "code": "mg"},
        "denominator": {"value": 1, "unit": "tablet", "system": "http://unitsofmeasure.org",
                        "code": "{tablet}"}}
    assert medication["form"]["coding"][0]["code"] == "385055001"
    assert medication["identifier"] == [{"system": FORMULARY_SYSTEM,
                                         "value": "amlodipine-5-tab"}]


def test_usual_dosage_says_how_much_how_often_and_how_long() -> None:
    entry = FORMULARY.get("amoxicillin-500-cap")
    assert entry is not None
    dosage = usual_dosage(entry, "en")
    assert dosage["text"] == "1 capsule 3 times a day for 7 days"
    assert dosage["timing"]["repeat"]["frequency"] == 3
    assert dosage["timing"]["repeat"]["boundsDuration"]["value"] == 7
    assert dosage["doseAndRate"][0]["doseQuantity"]["value"] == 1
    assert usual_dosage(entry, "th")["text"] == "ครั้งละ 1 แคปซูล วันละ 3 ครั้ง นาน 7 วัน"
    assert usual_dosage(entry, "lo")["text"] == \
        "ເທື່ອລະ 1 ແຄບຊູນ ມື້ລະ 3 ເທື່ອ ເປັນເວລາ 7 ມື້"
    paracetamol = FORMULARY.get("paracetamol-500-tab")
    assert paracetamol is not None
    assert usual_dosage(paracetamol, "en")["asNeededBoolean"] is True


@pytest.mark.parametrize(("text", "language", "expected"), [
    ("amox", "en", "amoxicillin-500-cap"),
    ("AMLO", "en", "amlodipine-5-tab"),
    ("clavul", "en", "amoxicillin-clavulanate-500-125-tab"),
    ("sulfameth", "en", "co-trimoxazole-400-80-tab"),
    ("แอมโล", "th", "amlodipine-5-tab"),
    ("ซิลลิน", "th", "dicloxacillin-250-cap"),
    ("ອາມໂລ", "lo", "amlodipine-5-tab"),
    ("ເມັດຟໍ", "lo", "metformin-500-tab"),
    ("metf", "lo", "metformin-500-tab"),  # English names work in every language
])
def test_search_finds_by_name_in_each_language(text: str, language: str,
                                               expected: str) -> None:
    assert expected in [entry.id for entry in FORMULARY.search(text, language)]


def test_search_matches_the_start_of_words_only() -> None:
    assert FORMULARY.search("oxicillin", "en") == []
    assert FORMULARY.search("  ", "en") == []
    # Thai text is not searched among Lao names, nor the other way round.
    assert FORMULARY.search("แอมโล", "lo") == []


async def _formulary_medications(store: Store) -> list[dict[str, object]]:
    async with store.reading(EVERYTHING) as tx:
        return await find(tx, "Medication", [("identifier", f"{FORMULARY_SYSTEM}|")])


@pytest.fixture
def store(client: httpx.AsyncClient) -> Store:
    found: Store = client.app.state.store  # type: ignore[attr-defined]
    return found


async def test_seeding_twice_writes_each_medication_once(store: Store) -> None:
    first = await seed(store)
    second = await seed(store)
    assert second.created == 0 and second.updated == 0
    assert second.unchanged == len(FORMULARY.all())
    assert first.created + first.updated + first.unchanged == len(FORMULARY.all())
    medications = await _formulary_medications(store)
    assert len(medications) == len(FORMULARY.all())
    amlodipine = next(m for m in medications if m["id"] == "amlodipine-5-tab")
    assert validate_structure(amlodipine) == []


async def test_seeding_updates_a_changed_medication_in_place(store: Store) -> None:
    await seed(store)
    entry = FORMULARY.get("warfarin-3-tab")
    assert entry is not None
    async with store.writing(EVERYTHING) as tx:
        stale = {**as_medication(entry), "status": "inactive"}
        await tx.update("Medication", entry.id, stale)
    seeded = await seed(store)
    assert seeded.updated == 1
    medications = [m for m in await _formulary_medications(store)
                   if m["id"] == entry.id]
    assert len(medications) == 1 and medications[0]["status"] == "active"
