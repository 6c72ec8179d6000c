"""The prescribing warnings: allergies (by code, by class, by text in three languages),
duplicate therapy and the curated interactions, each firing where it should and only
there."""

from __future__ import annotations

from typing import Any

import pytest

from mor.fhir.structure_validation import validate_structure
from mor.services.prescribing.formulary import FORMULARY_SYSTEM, Formulary
from mor.services.prescribing.interactions import INTERACTIONS
from mor.services.prescribing.model import ATC_SYSTEM, SNOMED_SYSTEM, Entry, classes_of_atc
from mor.services.prescribing.warnings import SEVERITIES, PrescribingWarning, check

FORMULARY = Formulary()
CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"


def medicine(entry_id: str) -> Entry:
    entry = FORMULARY.get(entry_id)
    assert entry is not None, entry_id
    return entry


def allergy(*, snomed: str | None = None, text: str | None = None,
            clinical: str = "active", verification: str = "confirmed") -> dict[str, Any]:
    code: dict[str, Any] = {}
    if snomed:
        code["coding"] = [{"system": SNOMED_SYSTEM, "code": snomed}]
    if text:
        code["text"] = text
    resource = {"resourceType": "AllergyIntolerance", "id": "a1",
                "clinicalStatus": {"coding": [{"system": CLINICAL, "code": clinical}]},
                "verificationStatus": {"coding": [{"system": VERIFICATION,
                                                   "code": verification}]},
                "category": ["medication"], "code": code,
                "patient": {"reference": "Patient/p"}}
    if verification == "entered-in-error":
        del resource["clinicalStatus"]  # R4: no clinical status for an error
    assert validate_structure(resource) == []
    return resource


def request(entry_id: str, status: str = "active") -> dict[str, Any]:
    entry = medicine(entry_id)
    resource = {"resourceType": "MedicationRequest", "status": status, "intent": "order",
                "subject": {"reference": "Patient/p"},
                "medicationCodeableConcept": {
                    "coding": [{"system": ATC_SYSTEM, "code": entry.atc}],
                    "text": entry.names.en}}
    assert validate_structure(resource) == []
    return resource


def warnings_for(entry_id: str, **kwargs: Any) -> list[PrescribingWarning]:
    return check(medicine(entry_id), formulary=FORMULARY, **kwargs)


def only(warnings: list[PrescribingWarning], kind: str) -> list[PrescribingWarning]:
    return [w for w in warnings if w.kind == kind]


# -- allergies ------------------------------------------------------------------------

@pytest.mark.parametrize("entry_id", ["amoxicillin-500-cap",
                                      "amoxicillin-clavulanate-500-125-tab",
                                      "dicloxacillin-250-cap"])
def test_penicillin_allergy_warns_high_for_every_penicillin(entry_id: str) -> None:
    found = warnings_for(entry_id, allergies=[allergy(snomed="91936005")])
    assert [(w.kind, w.severity) for w in found] == [("allergy", "high")]
    assert found[0].allergy == "a1"


def test_penicillin_allergy_warns_moderately_for_a_cephalosporin() -> None:
    found = warnings_for("cefalexin-500-cap", allergies=[allergy(snomed="91936005")])
    assert [(w.kind, w.severity) for w in found] == [("allergy", "moderate")]


def test_an_amoxicillin_allergy_is_a_penicillin_allergy() -> None:
    found = warnings_for("dicloxacillin-250-cap", allergies=[allergy(snomed="294505008")])
    assert [w.severity for w in found] == ["high"]


@pytest.mark.parametrize("text", ["Penicillin", "penicillin allergy", "Allergy to penicillins",
                                  "แพ้ยาเพนิซิลลิน", "ແພ້ຢາເພນີຊີລລິນ", "Amoxicillin",
                                  "อะม็อกซีซิลลิน"])
def test_allergies_written_in_words_match_in_three_languages(text: str) -> None:
    found = warnings_for("amoxicillin-500-cap", allergies=[allergy(text=text)])
    assert [(w.kind, w.severity) for w in found] == [("allergy", "high")], text


@pytest.mark.parametrize(("verification", "clinical"), [
    ("refuted", "active"), ("entered-in-error", "active"), ("confirmed", "resolved"),
    ("confirmed", "inactive")])
def test_allergies_that_no_longer_count_give_no_warning(verification: str,
                                                        clinical: str) -> None:
    found = warnings_for("amoxicillin-500-cap", allergies=[
        allergy(snomed="91936005", verification=verification, clinical=clinical)])
    assert found == []


def test_an_unconfirmed_allergy_still_warns() -> None:
    found = warnings_for("amoxicillin-500-cap",
                         allergies=[allergy(snomed="91936005", verification="unconfirmed")])
    assert [w.severity for w in found] == ["high"]


def test_sulfonamide_allergy_warns_for_co_trimoxazole_only() -> None:
    sulfa = [allergy(snomed="91939003")]
    assert [w.severity for w in warnings_for("co-trimoxazole-400-80-tab",
                                             allergies=sulfa)] == ["high"]
    assert warnings_for("amoxicillin-500-cap", allergies=sulfa) == []
    assert warnings_for("hydrochlorothiazide-25-tab", allergies=sulfa) == []


@pytest.mark.parametrize("entry_id", ["ibuprofen-400-tab", "diclofenac-25-tab",
                                      "naproxen-250-tab", "aspirin-81-tab"])
@pytest.mark.parametrize("code", ["293610009", "293586001"])  # NSAID, aspirin allergy
def test_nsaid_or_aspirin_allergy_warns_for_nsaids_and_aspirin(entry_id: str,
                                                               code: str) -> None:
    found = warnings_for(entry_id, allergies=[allergy(snomed=code)])
    assert [w.severity for w in found] == ["high"]


def test_an_allergy_to_something_else_gives_no_warning() -> None:
    assert warnings_for("paracetamol-500-tab", allergies=[
        allergy(snomed="91936005"), allergy(text="Shellfish"), allergy(text="NSAIDs")]) == []


def test_the_r4_example_penicillin_g_allergy_warns_by_its_text() -> None:
    # hl7.fhir.r4.examples AllergyIntolerance/medication: RxNorm-coded, which mor does not
    # read, so it goes by the display.
    example = {"resourceType": "AllergyIntolerance", "category": ["medication"],
               "verificationStatus": {"coding": [{"system": VERIFICATION,
                                                  "code": "unconfirmed"}]},
               "code": {"coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                                    "code": "7980", "display": "Penicillin G"}]},
               "patient": {"reference": "Patient/example"}}
    found = warnings_for("amoxicillin-500-cap", allergies=[example])
    assert [(w.severity, w.parameters("en")["allergy"]) for w in found] == [
        ("high", "Penicillin G")]


# -- duplicates -----------------------------------------------------------------------

def test_ibuprofen_while_on_naproxen_is_a_duplicate_nsaid() -> None:
    found = warnings_for("ibuprofen-400-tab", current=[request("naproxen-250-tab")])
    duplicates = only(found, "duplicate")
    assert [(w.severity, w.medicines) for w in duplicates] == [
        ("moderate", ("ibuprofen-400-tab", "naproxen-250-tab"))]
    assert duplicates[0].parameters("th") == {"medicine": "ไอบูโพรเฟน", "other": "นาพรอกเซน"}


def test_the_same_ingredient_twice_is_a_high_duplicate() -> None:
    found = warnings_for("amoxicillin-clavulanate-500-125-tab",
                         current=[medicine("amoxicillin-500-cap")])
    assert [(w.kind, w.severity) for w in found] == [("duplicate", "high")]


def test_an_ace_inhibitor_with_an_arb_is_a_duplicate() -> None:
    found = warnings_for("losartan-50-tab", current=[request("enalapril-5-tab")])
    assert [(w.kind, w.severity) for w in found] == [("duplicate", "moderate")]


def test_aspirin_with_clopidogrel_is_not_a_duplicate() -> None:
    assert warnings_for("clopidogrel-75-tab", current=[request("aspirin-81-tab")]) == []


@pytest.mark.parametrize("status", ["stopped", "completed", "cancelled", "draft",
                                    "entered-in-error"])
def test_requests_no_longer_taken_do_not_count(status: str) -> None:
    assert warnings_for("ibuprofen-400-tab",
                        current=[request("naproxen-250-tab", status)]) == []


def test_an_on_hold_request_counts() -> None:
    found = warnings_for("ibuprofen-400-tab", current=[request("naproxen-250-tab",
                                                               "on-hold")])
    assert only(found, "duplicate")


def test_a_referenced_formulary_medication_is_recognised() -> None:
    current = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "subject": {"reference": "Patient/p"},
               "medicationReference": {"reference": "Medication/m1"}}
    medication = {"resourceType": "Medication", "id": "m1",
                  "identifier": [{"system": FORMULARY_SYSTEM, "value": "naproxen-250-tab"}]}
    found = check(medicine("ibuprofen-400-tab"), current=[current], formulary=FORMULARY,
                  medications={"Medication/m1": medication})
    assert only(found, "duplicate")


def test_a_medicine_from_outside_the_formulary_is_compared_by_its_atc_code() -> None:
    # Rosuvastatin (C10AA07) is not in the formulary; it is a statin all the same.
    outside = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "subject": {"reference": "Patient/p"},
               "medicationCodeableConcept": {"coding": [{"system": ATC_SYSTEM,
                                                         "code": "C10AA07"}],
                                             "text": "Rosuvastatin"}}
    found = warnings_for("simvastatin-20-tab", current=[outside])
    assert [(w.kind, w.severity) for w in found] == [("duplicate", "moderate")]


# -- interactions ---------------------------------------------------------------------

def test_simvastatin_with_clarithromycin_is_reported_once_whichever_comes_first() -> None:
    one = warnings_for("simvastatin-20-tab", current=[request("clarithromycin-500-tab")])
    other = warnings_for("clarithromycin-500-tab", current=[request("simvastatin-20-tab")])
    for found in (one, other):
        assert [(w.kind, w.severity) for w in found] == [("interaction", "high")]
    assert one[0].message == other[0].message


def test_a_pair_named_by_two_requests_is_reported_once() -> None:
    found = warnings_for("simvastatin-20-tab", current=[
        request("clarithromycin-500-tab"), request("clarithromycin-500-tab")])
    assert len(found) == 1


@pytest.mark.parametrize(("prescribed", "taken", "severity"), [
    ("ibuprofen-400-tab", "warfarin-3-tab", "high"),
    ("aspirin-81-tab", "warfarin-3-tab", "high"),
    ("metronidazole-400-tab", "warfarin-3-tab", "high"),
    ("co-trimoxazole-400-80-tab", "warfarin-3-tab", "high"),
    ("ciprofloxacin-500-tab", "warfarin-3-tab", "moderate"),
    ("rifampicin-300-cap", "warfarin-3-tab", "high"),
    ("diclofenac-25-tab", "enalapril-5-tab", "moderate"),
    ("naproxen-250-tab", "losartan-50-tab", "moderate"),
    ("rifampicin-450-cap", "levonorgestrel-ethinylestradiol-150-30-tab", "high"),
    ("tramadol-50-cap", "fluoxetine-20-cap", "high"),
    ("tramadol-50-cap", "sertraline-50-tab", "high"),
    ("omeprazole-20-cap", "clopidogrel-75-tab", "moderate"),
    ("clarithromycin-500-tab", "colchicine-0.6-tab", "high"),
    ("ciprofloxacin-500-tab", "antacid-oral-susp", "moderate"),
    ("calcium-carbonate-1250-tab", "levothyroxine-50-tab", "low"),
])
def test_the_curated_interactions_fire(prescribed: str, taken: str, severity: str) -> None:
    found = only(warnings_for(prescribed, current=[request(taken)]), "interaction")
    assert [w.severity for w in found] == [severity]
    assert found[0].medicines == (prescribed, taken)


@pytest.mark.parametrize(("prescribed", "taken"), [
    ("azithromycin-250-tab", "simvastatin-20-tab"),
    ("paracetamol-500-tab", "warfarin-3-tab"),
    ("amlodipine-5-tab", "metformin-500-tab"),
])
def test_no_interaction_where_none_is_listed(prescribed: str, taken: str) -> None:
    assert only(warnings_for(prescribed, current=[request(taken)]), "interaction") == []


def test_every_side_of_the_interaction_table_names_something_in_the_formulary() -> None:
    tags = {tag for e in FORMULARY.all() for tag in (e.classes | {e.atc})}
    for rule in INTERACTIONS:
        assert rule.one in tags and rule.other in tags, rule
        assert rule.severity in SEVERITIES
        assert "{medicine}" in rule.message and "{other}" in rule.message


def test_warnings_come_most_severe_first() -> None:
    found = warnings_for("ibuprofen-400-tab",
                         allergies=[allergy(snomed="91936005")],
                         current=[request("levothyroxine-50-tab"),
                                  request("naproxen-250-tab"), request("warfarin-3-tab"),
                                  request("enalapril-5-tab")])
    assert [(w.kind, w.severity) for w in found] == [
        ("interaction", "high"), ("duplicate", "moderate"), ("interaction", "moderate")]
    assert [SEVERITIES.index(w.severity) for w in found] == sorted(
        SEVERITIES.index(w.severity) for w in found)


def test_messages_format_with_their_parameters_in_every_language() -> None:
    found = warnings_for("amoxicillin-500-cap", allergies=[allergy(text="Penicillin")],
                         current=[request("warfarin-3-tab"), request("dicloxacillin-250-cap")])
    for warning in found:
        for language in ("en", "th", "lo"):
            assert "{" not in warning.message.format(**warning.parameters(language))


def test_classes_follow_from_atc_groups() -> None:
    assert {"penicillin", "beta-lactam"} <= classes_of_atc("J01CA04")
    assert "cephalosporin" in classes_of_atc("J01DB01")
    assert classes_of_atc("N02BE01") == frozenset()
