"""R4 structural validation: what it refuses, what it accepts, and what it says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mor.fhir.structure_validation import validate_structure
from tests.conftest import examples_dir


def _messages(resource: dict[str, Any]) -> list[str]:
    return [f"{issue.path}: {issue.message}" for issue in validate_structure(resource)]


def test_a_valid_thai_patient_passes() -> None:
    patient = {
        "resourceType": "Patient", "id": "bkk-1",
        "identifier": [{"system": "https://bora.dopa.go.th/citizen-id", "value": "1101700203451"}],
        "name": [{"family": "ใจดี", "given": ["สมชาย"], "text": "นายสมชาย ใจดี"}],
        "gender": "male", "birthDate": "1980-04-01", "deceasedBoolean": False,
        "address": [{"city": "กรุงเทพมหานคร", "district": "ดินแดง"}],
    }
    assert _messages(patient) == []


def test_unknown_elements_are_named_with_a_suggestion() -> None:
    assert _messages({"resourceType": "Patient", "birthdate": "1990-01-01"}) == [
        "Patient.birthdate: unknown element; did you mean 'birthDate'?"]


def test_required_elements_must_be_present() -> None:
    messages = _messages({"resourceType": "Observation", "code": {"text": "glucose"}})
    assert messages == ["Observation: missing required element 'status'"]


def test_cardinality_single_versus_array() -> None:
    assert _messages({"resourceType": "Patient", "gender": ["male"]}) == [
        "Patient.gender: expected a single value, not an array"]
    assert _messages({"resourceType": "Patient", "name": {"family": "x"}}) == [
        "Patient.name: expected an array (this element repeats)"]


def test_primitive_json_types_and_patterns() -> None:
    assert _messages({"resourceType": "Patient", "active": "yes"}) == [
        "Patient.active: expected true or false, got a string"]
    assert _messages({"resourceType": "Patient", "gender": 5}) == [
        "Patient.gender: expected a string (code), got a number"]
    assert _messages({"resourceType": "Patient", "birthDate": "01/02/1990"}) == [
        "Patient.birthDate: '01/02/1990' is not a valid date (use YYYY, YYYY-MM or YYYY-MM-DD)"]
    assert _messages({"resourceType": "Patient", "multipleBirthInteger": 1.5}) == [
        "Patient.multipleBirthInteger: expected a whole number (integer), got a number"]


def test_only_one_variant_of_a_choice() -> None:
    messages = _messages({"resourceType": "Patient", "deceasedBoolean": True,
                          "deceasedDateTime": "2020-01-01"})
    assert len(messages) == 1
    assert "only one of deceased[x]" in messages[0]


def test_empty_values_are_refused() -> None:
    assert _messages({"resourceType": "Patient", "name": []}) == [
        "Patient.name: must not be an empty array"]
    assert _messages({"resourceType": "Patient", "gender": ""}) == [
        "Patient.gender: must not be empty"]
    assert _messages({"resourceType": "Patient", "maritalStatus": {}}) == [
        "Patient.maritalStatus: must not be an empty object"]


def test_primitive_extensions_travel_in_the_underscore_companion() -> None:
    patient = {"resourceType": "Patient", "birthDate": "1980-04-01",
               "_birthDate": {"extension": [{
                   "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                   "valueDateTime": "1980-04-01T06:30:00+07:00"}]},
               "name": [{"given": ["A", None], "_given": [None, {"id": "g2"}]}]}
    assert _messages(patient) == []
    assert _messages({"resourceType": "Patient", "_name": {}}) == [
        "Patient._name: '_name' can only accompany a primitive element, and 'name' is not "
        "one here"]


def test_extensions_need_a_url() -> None:
    messages = _messages({"resourceType": "Patient", "extension": [{"valueString": "x"}]})
    assert messages == ["Patient.extension[0]: missing required element 'url'"]


def test_contained_and_bundled_resources_are_validated_too() -> None:
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "contained": [{"resourceType": "Patient", "id": "p", "gender": 1}]}
    assert _messages(observation) == [
        "Observation.contained[0].gender: expected a string (code), got a number"]
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": {"resourceType": "Nonsense"}}]}
    assert _messages(bundle) == [
        "Bundle.entry[0].resource: 'Nonsense' is not an R4 resource type"]


def test_r4_only_types_are_known() -> None:
    # MedicinalProduct exists in R4 but not in R4B, whose models fhir.resources ships.
    assert _messages({"resourceType": "MedicinalProduct",
                      "name": [{"productName": "Paracetamol 500 mg"}]}) == []


def test_resource_ids_follow_the_id_pattern() -> None:
    assert _messages({"resourceType": "Patient", "id": "x" * 65}) == [
        f"Patient.id: '{'x' * 65}' is not a valid id (1 to 64 letters, digits, '-' or '.')"]


def test_no_break_spaces_in_text_are_allowed() -> None:
    assert _messages({"resourceType": "Patient", "name": [{"text": "Dr\u00a0Somchai"}]}) == []


@pytest.mark.slow
def test_official_examples_are_valid_except_the_known_broken_ones() -> None:
    from tests.api.test_official_examples import KNOWN_REJECTIONS

    directory = examples_dir()
    if directory is None:
        pytest.fail("MOR_FHIR_EXAMPLES_DIR is not set; run the suite with scripts/test")
    refused = set()
    for path in sorted(Path(directory).glob("*.json")):
        resource = json.loads(path.read_bytes())
        if "resourceType" in resource and validate_structure(resource):
            refused.add(path.name)
    # The failed transaction is refused for its If-Match, not its structure.
    assert refused == set(KNOWN_REJECTIONS) - {"Bundle-bundle-transaction.json"}
