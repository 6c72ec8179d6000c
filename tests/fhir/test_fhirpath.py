"""The FHIRPath subset used by search-parameter expressions."""

from __future__ import annotations

from typing import Any

import pytest

from mor.fhir.fhirpath import (
    FhirPathError,
    choice_value,
    compile_expression,
    element,
    is_type,
    reference_parts,
    reference_target_type,
    root_identifier,
    split_union,
)

QUANTITY = {"value": 72, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}


def evaluate(expression: str, resource: dict[str, Any]) -> list[tuple[str, Any]]:
    return compile_expression(expression, resource["resourceType"])(resource)


def test_paths_flatten_lists_and_tag_each_value_with_its_fhir_type() -> None:
    patient = {"resourceType": "Patient",
               "name": [{"given": ["Ann", "Lee"]}, {"given": ["Bo"], "family": "Kim"}]}
    assert evaluate("Patient.name.given", patient) == [
        ("string", "Ann"), ("string", "Lee"), ("string", "Bo")]
    assert evaluate("Patient.name.family", patient) == [("string", "Kim")]
    assert [t for t, _ in evaluate("Patient.name", patient)] == ["HumanName", "HumanName"]


def test_missing_elements_and_json_nulls_give_nothing() -> None:
    patient = {"resourceType": "Patient", "name": [{"given": ["Ann", None]}]}
    assert evaluate("Patient.name.given", patient) == [("string", "Ann")]
    assert evaluate("Patient.birthDate", patient) == []


def test_choice_elements_are_found_under_their_typed_names() -> None:
    weight = {"resourceType": "Observation", "valueQuantity": QUANTITY}
    note = {"resourceType": "Observation", "valueString": "trace"}
    assert evaluate("Observation.value", weight) == [("Quantity", QUANTITY)]
    assert evaluate("Observation.value", note) == [("string", "trace")]


def test_as_picks_the_choice_of_that_type_in_all_spellings() -> None:
    weight = {"resourceType": "Observation", "valueQuantity": QUANTITY}
    assert evaluate("Observation.value as Quantity", weight) == [("Quantity", QUANTITY)]
    assert evaluate("(Observation.value as Quantity)", weight) == [("Quantity", QUANTITY)]
    assert evaluate("Observation.value.as(Quantity)", weight) == [("Quantity", QUANTITY)]
    assert evaluate("Observation.value.ofType(Quantity)", weight) == [("Quantity", QUANTITY)]
    assert evaluate("Observation.value as CodeableConcept", weight) == []


def test_as_accepts_subtypes_and_system_type_names() -> None:
    condition = {"resourceType": "Condition", "onsetAge": {"value": 40, "unit": "a"},
                 "abatementDateTime": "2020-05"}
    assert evaluate("Condition.onset.as(Age)", condition) == [("Age", {"value": 40, "unit": "a"})]
    assert is_type("Age", "Quantity")
    assert evaluate("Condition.abatement.as(DateTime)", condition) == [("dateTime", "2020-05")]


def test_paths_continue_after_a_parenthesised_as() -> None:
    observation = {"resourceType": "Observation",
                   "valueCodeableConcept": {"text": "positive"}}
    assert evaluate("(Observation.value as CodeableConcept).text", observation) == [
        ("string", "positive")]


def test_backbone_elements_are_typed_by_their_path() -> None:
    patient = {"resourceType": "Patient", "contact": [{"name": {"family": "Lee"}}]}
    assert evaluate("Patient.contact", patient)[0][0] == "Patient.contact"
    assert evaluate("Patient.contact.name.family", patient) == [("string", "Lee")]


def test_content_references_recurse_into_the_referenced_backbone() -> None:
    questionnaire = {"resourceType": "Questionnaire",
                     "item": [{"linkId": "1", "item": [{"linkId": "1.1"}]}]}
    assert evaluate("Questionnaire.item.item.linkId", questionnaire) == [("string", "1.1")]


def test_union_concatenates_both_sides() -> None:
    location = {"resourceType": "Location", "name": "Ward 5", "alias": ["W5", "East"]}
    assert [v for _, v in evaluate("Location.name | Location.alias", location)] == [
        "Ward 5", "W5", "East"]


def test_where_compares_a_field_with_a_literal() -> None:
    patient = {"resourceType": "Patient", "telecom": [
        {"system": "phone", "value": "555"}, {"system": "email", "value": "a@b.c"}]}
    assert evaluate("Patient.telecom.where(system='email')", patient) == [
        ("ContactPoint", {"system": "email", "value": "a@b.c"})]


@pytest.mark.parametrize(("reference", "expected"), [
    ({"reference": "Patient/1"}, True),
    ({"reference": "Patient/1/_history/3"}, True),
    ({"reference": "https://other.example/fhir/Patient/1"}, True),
    ({"type": "Patient", "identifier": {"value": "HN-1"}}, True),
    ({"reference": "#p1"}, True),
    ({"reference": "Group/1"}, False),
    ({"reference": "urn:uuid:1f6ab5d4-8a4c-4bcf-8f3e-0d7c5a4b9f01"}, False),
    ({"display": "somebody"}, False),
])
def test_resolve_is_tests_the_type_a_reference_points_at(
        reference: dict[str, Any], expected: bool) -> None:
    condition = {"resourceType": "Condition", "subject": reference,
                 "contained": [{"resourceType": "Patient", "id": "p1"}]}
    found = evaluate("Condition.subject.where(resolve() is Patient)", condition)
    assert found == ([("Reference", reference)] if expected else [])


def test_reference_helpers_ignore_base_urls_and_versions() -> None:
    assert reference_parts("Patient/1/_history/2") == ("Patient", "1")
    assert reference_parts("http://x.org/fhir/Observation/o.1") == ("Observation", "o.1")
    assert reference_parts("Patient") is None
    assert reference_parts("Unknown/1") is None
    assert reference_target_type(
        {"type": "http://hl7.org/fhir/StructureDefinition/Device"}, None) == "Device"


def test_extension_finds_extensions_by_url() -> None:
    url = "http://hl7.org/fhir/StructureDefinition/DiagnosticReport-geneticsAssessedCondition"
    report = {"resourceType": "DiagnosticReport", "extension": [
        {"url": url, "valueReference": {"reference": "Condition/c1"}},
        {"url": "http://example.org/other", "valueString": "x"}]}
    found = evaluate(f"DiagnosticReport.extension('{url}')", report)
    assert [t for t, _ in found] == ["Extension"]
    assert choice_value(found[0][1], "Extension", "value") == (
        "Reference", {"reference": "Condition/c1"})


def test_has_extension_filters_items() -> None:
    url = "http://hl7.org/fhir/StructureDefinition/questionnaireresponse-isSubject"
    response = {"resourceType": "QuestionnaireResponse", "item": [
        {"linkId": "a", "extension": [{"url": url, "valueBoolean": True}],
         "answer": [{"valueReference": {"reference": "Patient/1"}}]},
        {"linkId": "b", "answer": [{"valueReference": {"reference": "Patient/2"}}]}]}
    expression = (f"QuestionnaireResponse.item.where(hasExtension('{url}'))"
                  ".answer.value.ofType(Reference)")
    assert evaluate(expression, response) == [("Reference", {"reference": "Patient/1"})]


@pytest.mark.parametrize(("deceased", "expected"), [
    ({}, [("boolean", False)]),
    ({"deceasedBoolean": False}, [("boolean", False)]),
    ({"deceasedBoolean": True}, [("boolean", True)]),
    ({"deceasedDateTime": "2020-01-01"}, [("boolean", True)]),
])
def test_boolean_logic_follows_fhirpath_three_valued_rules(
        deceased: dict[str, Any], expected: list[tuple[str, Any]]) -> None:
    patient = {"resourceType": "Patient", **deceased}
    assert evaluate("Patient.deceased.exists() and Patient.deceased != false", patient) == \
        expected


def test_indexer_and_first_take_one_item_and_inline_resources_get_their_own_type() -> None:
    composition = {"resourceType": "Composition", "id": "c1"}
    bundle = {"resourceType": "Bundle", "type": "document", "entry": [
        {"resource": composition}, {"resource": {"resourceType": "Patient", "id": "p"}}]}
    assert evaluate("Bundle.entry[0].resource", bundle) == [("Composition", composition)]
    assert evaluate("Bundle.entry.resource.first()", bundle) == [("Composition", composition)]


def test_resource_root_applies_to_any_resource_type() -> None:
    patient = {"resourceType": "Patient", "meta": {"tag": [{"code": "vip"}]}}
    assert evaluate("Resource.meta.tag", patient) == [("Coding", {"code": "vip"})]


def test_resource_variable_reaches_the_resource_from_a_component() -> None:
    variant = {"start": 5}
    sequence = {"resourceType": "MolecularSequence", "variant": [variant],
                "referenceSeq": {"chromosome": {"text": "1"}}}
    compiled = compile_expression("%resource.referenceSeq.chromosome",
                                  "MolecularSequence.variant", "MolecularSequence")
    assert compiled(variant, sequence) == [("CodeableConcept", {"text": "1"})]
    assert compile_expression("start", "MolecularSequence.variant")(variant) == [
        ("integer", 5)]


def test_compiling_is_cached() -> None:
    assert compile_expression("Patient.name", "Patient") is \
        compile_expression("Patient.name", "Patient")


@pytest.mark.parametrize(("expression", "context"), [
    ("Patient.nickname", "Patient"),                   # no such element
    ("Patient.name.substring(1)", "Patient"),          # function outside the subset
    ("Patient.name.given + 'x'", "Patient"),           # operator outside the subset
    ("Observation.value as Foo", "Observation"),       # unknown type
    ("Patient.birthDate as Quantity", "Patient"),      # can never be that type
    ("Observation.status", "Patient"),                 # rooted at another type
    ("Patient.name.where(", "Patient"),                # malformed
    ("%ucum", "Patient"),                              # unsupported variable
    ("Patient.name", "NotAType"),                      # unknown context
])
def test_unsupported_or_wrong_expressions_fail_when_compiled(expression: str,
                                                             context: str) -> None:
    with pytest.raises(FhirPathError):
        compile_expression(expression, context)


def test_split_union_ignores_bars_inside_parentheses_and_strings() -> None:
    assert split_union("A.b | (C.d as E) | F.where(x='|')") == [
        "A.b", "(C.d as E)", "F.where(x='|')"]
    assert root_identifier("(Observation.value as Quantity)") == "Observation"
    assert root_identifier("'literal'") is None


def test_element_lookup_expands_choices_and_inherits_from_bases() -> None:
    assert element("Patient", "deceased") == (
        ("deceasedBoolean", "boolean"), ("deceasedDateTime", "dateTime"))
    assert element("Patient", "id") == (("id", "string"),)
    assert element("HumanName", "extension") == (("extension", "Extension"),)
    assert element("Patient", "nickname") is None
