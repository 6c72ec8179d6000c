"""R4 structural validation: what it refuses, what it accepts, and what it says."""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path
from typing import Any

import pytest

from mor.fhir.structure_validation import StructureIssue, validate_structure

_STRUCTURE = Path(__file__).parents[2] / "mor" / "fhir" / "data" / "r4_structure.json"


def _messages(resource: dict[str, Any]) -> list[str]:
    return [f"{issue.path}: {issue.message}" for issue in validate_structure(resource)]


def _observation(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "glucose"},
            **elements}


# -- valid resources ---------------------------------------------------------------------

def test_a_valid_thai_patient_passes() -> None:
    patient = {
        "resourceType": "Patient", "id": "bkk-1",
        "meta": {"lastUpdated": "2024-05-01T09:30:00.000+07:00"},
        "text": {"status": "generated",
                 "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">นายสมชาย ใจดี</div>"},
        "identifier": [{"system": "https://bora.dopa.go.th/citizen-id", "value": "1101700203451"}],
        "active": True,
        "name": [{"use": "official", "family": "ใจดี", "given": ["สมชาย"],
                  "prefix": ["นาย"], "text": "นายสมชาย ใจดี"}],
        "telecom": [{"system": "phone", "value": "+66 2 123 4567", "rank": 1}],
        "gender": "male", "birthDate": "1980-04-01", "deceasedBoolean": False,
        "address": [{"line": ["99/1 ถนนวิภาวดีรังสิต"], "district": "ดินแดง",
                     "city": "กรุงเทพมหานคร", "postalCode": "10400", "country": "TH"}],
        "communication": [{"language": {"coding": [{"system": "urn:ietf:bcp:47",
                                                    "code": "th"}]},
                           "preferred": True}],
    }
    assert _messages(patient) == []


def test_primitive_extensions_travel_in_the_underscore_companion() -> None:
    patient = {
        "resourceType": "Patient",
        "birthDate": "1980-04-01",
        "_birthDate": {"extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
            "valueDateTime": "1980-04-01T06:30:00+07:00"}]},
        "name": [{"given": ["Somchai", None, "Mali"],
                  "_given": [None, {"extension": [{"url": "http://example.org/x",
                                                   "valueCode": "unknown"}]}, None]}],
        "_gender": {"id": "g1"},
    }
    assert _messages(patient) == []


def test_a_required_primitive_may_be_given_by_its_companion_alone() -> None:
    observation = {
        "resourceType": "Observation", "code": {"text": "glucose"},
        "_status": {"extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
            "valueCode": "unknown"}]},
    }
    assert _messages(observation) == []


def test_a_contained_resource_is_valid() -> None:
    observation = _observation(
        contained=[{"resourceType": "Patient", "id": "p1", "gender": "female"}],
        subject={"reference": "#p1"},
    )
    assert _messages(observation) == []


def test_r4_only_resource_types_are_known() -> None:
    # MedicinalProduct exists in R4 but not in R4B, whose models fhir.resources ships.
    product = {"resourceType": "MedicinalProduct",
               "name": [{"productName": "Paracetamol 500 mg tablets",
                         "namePart": [{"part": "Paracetamol",
                                       "type": {"code": "INN"}}]}]}
    assert _messages(product) == []


def test_simple_quantity_profiles_are_quantities() -> None:
    request = {
        "resourceType": "MedicationRequest", "status": "active", "intent": "order",
        "medicationCodeableConcept": {"text": "paracetamol"},
        "subject": {"reference": "Patient/p1"},
        "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {
            "value": 500, "unit": "mg", "system": "http://unitsofmeasure.org",
            "code": "mg"}}]}],
    }
    assert _messages(request) == []


def test_extension_values_may_be_any_type_and_nest() -> None:
    patient = {"resourceType": "Patient", "extension": [
        {"url": "http://example.org/a", "valueQuantity": {"value": 1.5}},
        {"url": "http://example.org/b", "valueHumanName": {"family": "ใจดี"}},
        {"url": "http://example.org/c", "extension": [
            {"url": "inner", "valueBoolean": True}]},
    ], "modifierExtension": [{"url": "http://example.org/m", "valueCode": "x"}]}
    assert _messages(patient) == []


def test_non_breaking_spaces_in_text_are_allowed() -> None:
    # The spec's regexes use XML-Schema \s (space, tab, CR, LF), not Unicode whitespace.
    assert _messages({"resourceType": "Patient", "name": [{"text": "Dr\u00a0Somchai"}]}) == []


# -- resourceType ------------------------------------------------------------------------

def test_resource_type_must_be_present_and_known() -> None:
    assert _messages({"id": "x"}) == [
        "resource: missing 'resourceType'; a resource must name its type, e.g. "
        "\"resourceType\": \"Patient\""]
    assert _messages({"resourceType": "Patinet"}) == [
        "resource: 'Patinet' is not an R4 resource type; did you mean 'Patient'?"]
    assert _messages({"resourceType": "DomainResource"}) == [
        "resource: 'DomainResource' is not an R4 resource type"]


def test_resource_type_does_not_belong_inside_a_datatype() -> None:
    assert _messages({"resourceType": "Patient",
                      "maritalStatus": {"resourceType": "CodeableConcept", "text": "x"}}) == [
        "Patient.maritalStatus.resourceType: unknown element; 'resourceType' only belongs at "
        "the top of a resource"]


# -- unknown elements --------------------------------------------------------------------

def test_unknown_elements_are_named_with_a_suggestion() -> None:
    assert _messages({"resourceType": "Patient", "birthdate": "1990-01-01"}) == [
        "Patient.birthdate: unknown element; did you mean 'birthDate'?"]
    assert _messages({"resourceType": "Patient", "adress": [{"city": "Vientiane"}]}) == [
        "Patient.adress: unknown element; did you mean 'address'?"]


def test_unknown_elements_without_a_close_match_say_so() -> None:
    assert _messages({"resourceType": "Patient", "favouriteColour": "blue"}) == [
        "Patient.favouriteColour: unknown element; a Patient has no element "
        "'favouriteColour'"]


def test_unknown_elements_are_found_in_nested_objects() -> None:
    assert _messages({"resourceType": "Patient", "contact": [{"nmae": {"family": "x"}}]}) == [
        "Patient.contact[0].nmae: unknown element; did you mean 'name'?"]


def test_a_choice_needs_its_type_in_the_name() -> None:
    assert _messages({"resourceType": "Patient", "deceased": True}) == [
        "Patient.deceased: unknown element; deceased[x] is a choice, so the name must carry "
        "the type, e.g. 'deceasedBoolean' or 'deceasedDateTime'"]
    assert _messages(_observation(valueDate="2020-01-01")) == [
        "Observation.valueDate: unknown element; did you mean 'valueDateTime'?"]


# -- cardinality -------------------------------------------------------------------------

def test_a_single_valued_element_must_not_be_an_array() -> None:
    assert _messages({"resourceType": "Patient", "gender": ["male"]}) == [
        "Patient.gender: expected a single value, not an array (this element cannot repeat)"]


def test_a_repeating_element_must_be_an_array() -> None:
    assert _messages({"resourceType": "Patient", "name": {"family": "x"}}) == [
        "Patient.name: expected an array, because this element can repeat; got an object "
        "(wrap it in [ ])"]


def test_required_elements_must_be_present() -> None:
    assert _messages({"resourceType": "Observation", "code": {"text": "glucose"}}) == [
        "Observation: missing required element 'status'"]
    assert _messages({"resourceType": "Observation"}) == [
        "Observation: missing required element 'status'",
        "Observation: missing required element 'code'"]


def test_required_elements_of_backbone_and_reused_elements() -> None:
    questionnaire = {"resourceType": "Questionnaire", "status": "draft", "item": [
        {"linkId": "1", "type": "group", "item": [{"type": "string"}]}]}
    assert _messages(questionnaire) == [
        "Questionnaire.item[0].item[0]: missing required element 'linkId'"]


def test_a_required_choice_needs_one_variant() -> None:
    request = {"resourceType": "MedicationRequest", "status": "active", "intent": "order",
               "subject": {"reference": "Patient/p1"}}
    assert _messages(request) == [
        "MedicationRequest: missing required element 'medication[x]'"]


def test_only_one_variant_of_a_choice() -> None:
    assert _messages({"resourceType": "Patient", "deceasedBoolean": True,
                      "deceasedDateTime": "2020-01-01"}) == [
        "Patient.deceasedDateTime: only one of deceased[x] may be present, but "
        "'deceasedBoolean' is there too; keep one of them"]


# -- primitive values --------------------------------------------------------------------

def test_primitive_values_have_the_right_json_type() -> None:
    assert _messages({"resourceType": "Patient", "gender": 5}) == [
        "Patient.gender: expected a string (a code), got a number"]
    assert _messages({"resourceType": "Patient", "active": "yes"}) == [
        "Patient.active: expected true or false (a boolean), got a string"]
    assert _messages({"resourceType": "Patient", "multipleBirthInteger": "2"}) == [
        "Patient.multipleBirthInteger: expected a whole number (an integer), got a string"]
    assert _messages({"resourceType": "Patient", "multipleBirthInteger": 1.5}) == [
        "Patient.multipleBirthInteger: expected a whole number (an integer), got 1.5"]
    assert _messages(_observation(valueQuantity={"value": "7.2"})) == [
        "Observation.valueQuantity.value: expected a number (a decimal), got a string"]
    assert _messages({"resourceType": "Patient", "birthDate": {"value": "1990"}}) == [
        "Patient.birthDate: expected a string (a date), got an object"]


@pytest.mark.parametrize(("element", "type_name", "value"), [
    ("date", "date", "01/02/1990"),
    ("date", "date", "1990-13-01"),
    ("dateTime", "dateTime", "2020-01-01T10:00:00"),
    ("instant", "instant", "2020-01-01"),
    ("time", "time", "25:00:00"),
    ("id", "id", "has space"),
    ("code", "code", " leading"),
    ("uri", "uri", "http://example.org/a b"),
    ("oid", "oid", "1.2.3"),
    ("uuid", "uuid", "urn:uuid:NOT-A-UUID"),
    ("base64Binary", "base64Binary", "abc"),
])
def test_primitive_strings_match_the_spec_regex(element: str, type_name: str,
                                                value: str) -> None:
    messages = _messages(_observation(extension=[
        {"url": "http://example.org", f"value{element[0].upper()}{element[1:]}": value}]))
    assert len(messages) == 1
    assert messages[0].startswith(
        f"Observation.extension[0].value{element[0].upper()}{element[1:]}: "
        f"{value!r} is not a valid {type_name}")


@pytest.mark.parametrize(("element", "value"), [
    ("valueDate", "2020"), ("valueDate", "2020-02"), ("valueDateTime", "2020-01-01"),
    ("valueDateTime", "2020-01-01T10:00:00+07:00"), ("valueInstant", "2020-01-01T03:00:00Z"),
    ("valueTime", "08:30:00"), ("valueId", "a-1.b"), ("valueCode", "two words"),
    ("valueOid", "urn:oid:2.16.764"), ("valueBase64Binary", "aGVsbG8="),
    ("valueUuid", "urn:uuid:c757873d-ec9a-4326-a141-556f43239520"),
    ("valuePositiveInt", 1), ("valueUnsignedInt", 0), ("valueInteger", -2147483648),
    ("valueDecimal", 0.1), ("valueDecimal", 3),
])
def test_valid_primitive_values_pass(element: str, value: Any) -> None:
    assert _messages(_observation(extension=[{"url": "http://example.org",
                                              element: value}])) == []


def test_base64_is_checked_exactly_as_the_spec_regex_says() -> None:
    # The validator checks base64Binary without the (slow) regex; it must agree with it.
    structure = json.loads(_STRUCTURE.read_bytes())
    spec = re.compile(structure["primitives"]["base64Binary"]["regex"], re.ASCII)
    generator = random.Random(4)
    for _ in range(3000):
        text = "".join(generator.choice("aZ09+/= \n\t-\u00e9") for _ in range(
            generator.randint(1, 14)))
        binary = {"resourceType": "Binary", "contentType": "text/plain", "data": text}
        assert (not _messages(binary)) == (spec.fullmatch(text) is not None), repr(text)


def test_integer_kinds_have_their_ranges() -> None:
    def check(element: str, value: int) -> list[str]:
        return _messages(_observation(extension=[{"url": "u", element: value}]))

    assert check("valuePositiveInt", 0) == [
        "Observation.extension[0].valuePositiveInt: 0 is not a valid positiveInt (the "
        "smallest allowed is 1)"]
    assert check("valueUnsignedInt", -1) == [
        "Observation.extension[0].valueUnsignedInt: -1 is not a valid unsignedInt (the "
        "smallest allowed is 0)"]
    assert check("valueInteger", 2**31) == [
        "Observation.extension[0].valueInteger: 2147483648 is too large for an integer (at "
        "most 2147483647)"]


def test_resource_ids_follow_the_id_pattern() -> None:
    assert _messages({"resourceType": "Patient", "id": "x" * 65}) == [
        f"Patient.id: '{'x' * 57}...' is not a valid id (1 to 64 letters, digits, '-' or "
        "'.')"]
    assert _messages({"resourceType": "Patient", "id": "a_b"}) == [
        "Patient.id: 'a_b' is not a valid id (1 to 64 letters, digits, '-' or '.')"]


# -- empty values and nulls --------------------------------------------------------------

def test_empty_values_are_refused() -> None:
    assert _messages({"resourceType": "Patient", "name": []}) == [
        "Patient.name: must not be an empty array; leave the element out instead"]
    assert _messages({"resourceType": "Patient", "gender": ""}) == [
        "Patient.gender: must not be an empty string; leave the element out instead"]
    assert _messages({"resourceType": "Patient", "maritalStatus": {}}) == [
        "Patient.maritalStatus: must not be an empty object; leave the element out instead"]
    assert _messages({"resourceType": "Patient", "name": [{"given": [""]}]}) == [
        "Patient.name[0].given[0]: must not be an empty string; leave the element out "
        "instead"]


def test_null_is_refused_outside_aligned_arrays() -> None:
    assert _messages({"resourceType": "Patient", "gender": None}) == [
        "Patient.gender: null is not allowed here; leave the element out instead"]
    assert _messages({"resourceType": "Patient", "name": [{"given": ["a", None]}]}) == [
        "Patient.name[0].given[1]: null is only allowed where '_given' has an id or "
        "extension at the same position"]
    assert _messages({"resourceType": "Patient", "name": [None]}) == [
        "Patient.name[0]: expected an object (a HumanName), got null"]


# -- '_name' companions ------------------------------------------------------------------

def test_companion_arrays_must_line_up_with_their_values() -> None:
    patient = {"resourceType": "Patient", "name": [{
        "given": ["a", "b"], "_given": [None, None, {"id": "x"}]}]}
    assert _messages(patient) == [
        "Patient.name[0].given: 'given' has 2 items but '_given' has 3; they must line up, "
        "with null where one side has nothing"]
    patient = {"resourceType": "Patient", "name": [{"given": ["a", None],
                                                    "_given": [{"id": "x"}, None]}]}
    assert _messages(patient) == [
        "Patient.name[0].given[1]: '_given' and 'given' are both null at position 1; "
        "remove that position from both"]
    patient = {"resourceType": "Patient", "name": [{"_given": [{"id": "x"}, None]}]}
    assert _messages(patient) == [
        "Patient.name[0].given[1]: null is only allowed where 'given' has a value at the "
        "same position"]


def test_companion_shape_follows_the_element() -> None:
    assert _messages({"resourceType": "Patient", "_birthDate": [{"id": "x"}]}) == [
        "Patient.birthDate: '_birthDate' must be an object holding the id and/or extension "
        "of 'birthDate', got an array"]
    assert _messages({"resourceType": "Patient", "name": [{"_given": {"id": "x"}}]}) == [
        "Patient.name[0].given: '_given' must be an array, because 'given' can repeat; got "
        "an object"]
    assert _messages({"resourceType": "Patient", "_birthDate": {}}) == [
        "Patient.birthDate: '_birthDate' must not be an empty object; give an id or "
        "extension, or leave it out"]


def test_companion_contents_are_validated() -> None:
    patient = {"resourceType": "Patient", "birthDate": "1980-04-01",
               "_birthDate": {"extension": [{"valueString": "x"}], "colour": "red"}}
    assert _messages(patient) == [
        "Patient.birthDate.extension[0]: missing required element 'url'",
        "Patient.birthDate.colour: unknown element; an Element has no element 'colour'"]


def test_companions_belong_only_to_primitives() -> None:
    assert _messages({"resourceType": "Patient", "_name": [{"id": "x"}]}) == [
        "Patient._name: '_name' is only allowed next to a primitive element, and 'name' is "
        "a HumanName; put its extensions inside 'name'"]
    assert _messages({"resourceType": "Patient", "_birthdate": {"id": "x"}}) == [
        "Patient._birthdate: unknown element; did you mean '_birthDate'?"]
    assert _messages({"resourceType": "Patient", "extension": [
        {"url": "http://example.org", "_url": {"id": "x"}, "valueString": "x"}]}) == [
        "Patient.extension[0]._url: 'url' cannot have an id or extensions, so '_url' is not "
        "allowed"]


def test_a_companion_counts_as_its_choice_variant() -> None:
    extension = {"url": "http://example.org", "_valueString": {"id": "s"}, "valueCode": "c"}
    assert _messages({"resourceType": "Patient", "extension": [extension]}) == [
        "Patient.extension[0].valueCode: only one of value[x] may be present, but "
        "'valueString' is there too; keep one of them"]


# -- extensions --------------------------------------------------------------------------

def test_extensions_need_a_url_at_every_level() -> None:
    patient = {"resourceType": "Patient", "extension": [
        {"valueString": "x"},
        {"url": "http://example.org", "extension": [{"valueInteger": 1}]},
    ], "modifierExtension": [{"valueBoolean": True}]}
    assert _messages(patient) == [
        "Patient.extension[0]: missing required element 'url'",
        "Patient.extension[1].extension[0]: missing required element 'url'",
        "Patient.modifierExtension[0]: missing required element 'url'"]


def test_extension_values_are_checked_against_their_type() -> None:
    assert _messages({"resourceType": "Patient", "extension": [
        {"url": "http://example.org", "valueBoolean": "true"}]}) == [
        "Patient.extension[0].valueBoolean: expected true or false (a boolean), got a string"]


# -- resources inside resources ----------------------------------------------------------

def test_contained_resources_are_validated_as_resources() -> None:
    observation = _observation(contained=[
        {"resourceType": "Patient", "id": "p", "gender": 1},
        {"id": "nameless"},
    ])
    assert _messages(observation) == [
        "Observation.contained[0].gender: expected a string (a code), got a number",
        "Observation.contained[1]: missing 'resourceType'; a resource must name its type, "
        "e.g. \"resourceType\": \"Patient\""]


def test_bundle_and_parameters_resources_are_validated() -> None:
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Gadget"}},
        {"resource": {"resourceType": "Observation", "code": {"text": "x"}}},
        {"resource": {"resourceType": "MedicinalProduct", "name": [{"productName": "x"}]}},
    ]}
    assert _messages(bundle) == [
        "Bundle.entry[0].resource: 'Gadget' is not an R4 resource type",
        "Bundle.entry[1].resource: missing required element 'status'"]
    parameters = {"resourceType": "Parameters", "parameter": [
        {"name": "p", "resource": {"resourceType": "Patient", "birthdate": "2000"}},
        {"name": "q", "part": [{"name": "r", "resource": "Patient/1"}]},
    ]}
    assert _messages(parameters) == [
        "Parameters.parameter[0].resource.birthdate: unknown element; did you mean "
        "'birthDate'?",
        "Parameters.parameter[1].part[0].resource: expected a resource (a JSON object), got "
        "a string"]


# -- limits ------------------------------------------------------------------------------

def test_a_flood_of_problems_is_cut_short() -> None:
    issues = validate_structure({"resourceType": "Patient",
                                 "name": [{"given": [1] * 500}]})
    assert len(issues) == 101
    assert issues[-1] == StructureIssue(
        "Patient", "400 more problems not listed; fix the ones above and validate again")


def test_absurd_nesting_is_reported_not_crashed_on() -> None:
    questionnaire: dict[str, Any] = {"resourceType": "Questionnaire", "status": "draft"}
    parent = questionnaire
    for _ in range(2000):
        child = {"linkId": "x", "type": "group"}
        parent["item"] = [child]
        parent = child
    issues = validate_structure(questionnaire)
    assert [issue.message for issue in issues] == ["nested more than 120 levels deep"]


# -- the official R4 examples ------------------------------------------------------------

# Official R4 examples that really are invalid R4, and why. Each was checked by hand
# against the R4 StructureDefinitions.
KNOWN_INVALID_EXAMPLES: dict[str, str] = {
    # ImplementationGuide.name and .status are 1..1; the package's own IG (published
    # twice, under two file names) has neither.
    "ImplementationGuide-fhir.json": "ImplementationGuide: missing required element 'name'",
    "ig-r4.json": "ImplementationGuide: missing required element 'name'",
    # Questionnaire.item.linkId is 1..1; 32 nested items of this example have none.
    "Questionnaire-qs1.json": "Questionnaire.item[0].item[0]: missing required element "
                              "'linkId'",
    # The id has 67 characters; FHIR ids have at most 64.
    "SearchParameter-questionnaireresponse-extensions-QuestionnaireResponse-item-subject.json":
        "SearchParameter.id: 'questionnaireresponse-extensions-QuestionnaireResponse-it...' "
        "is not a valid id",
    # SearchParameter.base is 1..*; these generated extension search parameters have none.
    **{f"SearchParameter-{family}-extensions-{kind}-{name}.json":
       "SearchParameter: missing required element 'base'"
       for family, kind in (("codesystem", "CodeSystem"), ("valueset", "ValueSet"))
       for name in ("author", "effective", "end", "keyword", "workflow")},
}


def _example_files(directory: Path) -> list[Path]:
    return [path for path in sorted(directory.glob("*.json"))
            if path.name not in ("package.json", ".index.json")]


@pytest.mark.slow
def test_official_examples_are_valid_except_the_known_invalid_ones() -> None:
    directory = os.environ.get("MOR_FHIR_EXAMPLES_DIR")
    if not directory:
        pytest.fail("MOR_FHIR_EXAMPLES_DIR does not name the unpacked hl7.fhir.r4.examples; "
                    "run the suite with scripts/test")
    validated = 0
    rejected: dict[str, list[str]] = {}
    for path in _example_files(Path(directory)):
        resource = json.loads(path.read_bytes())
        if not isinstance(resource, dict) or "resourceType" not in resource:
            continue
        validated += 1
        messages = _messages(resource)
        if messages:
            rejected[path.name] = messages
    assert validated > 5000
    assert set(rejected) == set(KNOWN_INVALID_EXAMPLES), {
        name: messages[:3] for name, messages in rejected.items()
        if name not in KNOWN_INVALID_EXAMPLES}
    for name, expected in KNOWN_INVALID_EXAMPLES.items():
        assert any(message.startswith(expected) for message in rejected[name]), rejected[name]
