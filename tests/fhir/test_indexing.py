"""Turning resources into search-index rows."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mor.db.schema import INDEX_TABLES
from mor.fhir.indexing import (
    MAX_MICROS,
    MIN_MICROS,
    IndexRow,
    date_range,
    index_rows,
    normalize_string,
)
from mor.fhir.resource_types import RESOURCE_TYPES

OWN_COLUMNS = {name: [c.name for c in table.columns
                      if c.name not in ("resource_pk", "resource_type", "param", "grp")]
               for name, table in INDEX_TABLES.items()}


def micros(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // datetime.resolution


def rows_of(resource: dict[str, Any], param: str, table: str | None = None
            ) -> list[dict[str, Any]]:
    return [row.columns for row in index_rows(resource)
            if row.param == param and (table is None or row.table == table)]


def values(resource: dict[str, Any], param: str, column: str) -> list[Any]:
    return [columns[column] for columns in rows_of(resource, param)]


PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [
        {"system": "urn:oid:2.16.764.1", "value": "1-1015-00001-23-4",
         "type": {"text": "Thai national ID"}},
        {"system": "http://hospital.example/hn", "value": "HN-42"},
    ],
    "active": True,
    "name": [
        {"use": "official", "family": "Dupré", "given": ["José", "María"], "prefix": ["Dr"]},
        {"text": "สมชาย ใจดี", "family": "ใจดี", "given": ["สมชาย"]},
    ],
    "telecom": [{"system": "phone", "value": "+66 2 123 4567"},
                {"system": "email", "value": "somchai@example.org"}],
    "gender": "male",
    "birthDate": "1974-12-25",
    "address": [{"line": ["12 Sukhumvit Rd"], "city": "Bangkok", "postalCode": "10110",
                 "country": "TH"}],
    "managingOrganization": {"reference": "Organization/org-1"},
}


def test_names_are_indexed_part_by_part_with_a_normalized_form() -> None:
    assert ("dupre", "Dupré") in [(c["value_norm"], c["value_exact"])
                                  for c in rows_of(PATIENT, "family")]
    assert values(PATIENT, "given", "value_norm") == ["jose", "maria", "สมชาย"]
    assert set(values(PATIENT, "name", "value_exact")) == {
        "Dupré", "José", "María", "Dr", "สมชาย ใจดี", "ใจดี", "สมชาย"}


def test_addresses_are_indexed_line_by_line_and_by_part() -> None:
    assert set(values(PATIENT, "address", "value_exact")) == {
        "12 Sukhumvit Rd", "Bangkok", "10110", "TH"}
    assert values(PATIENT, "address-city", "value_norm") == ["bangkok"]


def test_identifiers_are_tokens_with_system_value_and_type_text() -> None:
    assert rows_of(PATIENT, "identifier") == [
        {"system": "urn:oid:2.16.764.1", "code": "1-1015-00001-23-4",
         "text": "Thai national ID"},
        {"system": "http://hospital.example/hn", "code": "HN-42", "text": None}]


def test_codes_booleans_and_contact_points_are_tokens() -> None:
    assert rows_of(PATIENT, "gender") == [{"system": None, "code": "male", "text": None}]
    assert values(PATIENT, "active", "code") == ["true"]
    assert values(PATIENT, "deceased", "code") == ["false"]
    assert values(PATIENT, "phone", "code") == ["+66 2 123 4567"]
    assert values(PATIENT, "email", "code") == ["somchai@example.org"]
    assert sorted(values(PATIENT, "telecom", "code")) == ["+66 2 123 4567",
                                                          "somchai@example.org"]


def test_birth_date_covers_the_whole_day() -> None:
    assert rows_of(PATIENT, "birthdate") == [
        {"low": micros("1974-12-25T00:00:00Z"), "high": micros("1974-12-25T23:59:59.999999Z")}]


def test_relative_references_become_type_and_id() -> None:
    assert rows_of(PATIENT, "organization") == [
        {"target_type": "Organization", "target_id": "org-1", "target_url": None}]


def test_id_and_last_updated_are_left_to_the_resource_table() -> None:
    params = {row.param for row in index_rows({**PATIENT, "meta": {
        "lastUpdated": "2024-01-01T00:00:00Z"}})}
    assert not {"_id", "_lastUpdated"} & params


def test_rows_have_exactly_the_columns_of_their_table() -> None:
    for row in index_rows(PATIENT) + index_rows(OBSERVATION):
        assert isinstance(row, IndexRow)
        assert list(row.columns) == OWN_COLUMNS[row.table], row


OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "bp",
    "status": "final",
    "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                        "observation-category", "code": "vital-signs"}]}],
    "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7",
                         "display": "Body weight"}], "text": "Weight"},
    "subject": {"reference": "Patient/p1/_history/2"},
    "effectiveDateTime": "2024-03-01T09:30:00+07:00",
    "valueQuantity": {"value": 72.5, "unit": "kg", "system": "http://unitsofmeasure.org",
                      "code": "kg"},
}


def test_codeable_concepts_give_a_row_per_coding_and_one_for_the_text() -> None:
    assert rows_of(OBSERVATION, "code") == [
        {"system": "http://loinc.org", "code": "29463-7", "text": "Body weight"},
        {"system": None, "code": None, "text": "Weight"}]


def test_quantity_values_keep_system_code_and_unit_and_ucum_base_units() -> None:
    assert rows_of(OBSERVATION, "value-quantity") == [
        {"value": 72.5, "system": "http://unitsofmeasure.org", "code": "kg", "unit": "kg",
         "canonical_value": 72500.0, "canonical_code": "g"}]


def test_quantities_outside_ucum_or_in_arbitrary_units_have_no_base_units() -> None:
    def canonical(quantity: dict[str, Any]) -> list[Any]:
        observation = {**OBSERVATION, "valueQuantity": quantity}
        return [(row["canonical_value"], row["canonical_code"])
                for row in rows_of(observation, "value-quantity")]

    ucum = "http://unitsofmeasure.org"
    assert canonical({"value": 5, "system": ucum, "code": "[IU]"}) == [(None, None)]
    assert canonical({"value": 5, "system": ucum, "code": "{score}"}) == [(None, None)]
    assert canonical({"value": 5, "system": "http://example.org/units", "code": "mg"}) == [
        (None, None)]
    assert canonical({"value": 5, "unit": "mg"}) == [(None, None)]
    assert canonical({"value": 5, "system": ucum, "code": "mg"}) == [(0.005, "g")]


def test_effective_date_time_with_seconds_covers_that_second_in_utc() -> None:
    low = micros("2024-03-01T02:30:00Z")
    assert rows_of(OBSERVATION, "date") == [{"low": low, "high": low + 999_999}]


def test_reference_versions_are_stripped_and_patient_follows_subject() -> None:
    expected = [{"target_type": "Patient", "target_id": "p1", "target_url": None}]
    assert rows_of(OBSERVATION, "subject") == expected
    assert rows_of(OBSERVATION, "patient") == expected


def test_an_effective_period_is_a_range_open_where_it_has_no_end() -> None:
    observation = {**OBSERVATION, "effectiveDateTime": None,
                   "effectivePeriod": {"start": "2024-03"}}
    assert rows_of(observation, "date") == [
        {"low": micros("2024-03-01T00:00:00Z"), "high": MAX_MICROS}]
    observation["effectivePeriod"] = {"end": "2024"}
    assert rows_of(observation, "date") == [
        {"low": MIN_MICROS, "high": micros("2024-12-31T23:59:59.999999Z")}]


def test_clinical_patient_only_takes_subjects_that_are_patients() -> None:
    condition = {"resourceType": "Condition", "id": "c1",
                 "subject": {"reference": "Patient/p1"},
                 "code": {"text": "Hypertension"}, "onsetDateTime": "2019"}
    assert rows_of(condition, "patient") == [
        {"target_type": "Patient", "target_id": "p1", "target_url": None}]
    group_condition = {**condition, "subject": {"reference": "Group/g1"}}
    assert rows_of(group_condition, "patient") == []
    assert values(group_condition, "subject", "target_type") == ["Group"]
    assert rows_of(condition, "onset-date") == [
        {"low": micros("2019-01-01T00:00:00Z"), "high": micros("2019-12-31T23:59:59.999999Z")}]


def test_reference_identifiers_go_to_the_token_table() -> None:
    condition = {"resourceType": "Condition", "subject": {
        "type": "Patient", "identifier": {"system": "urn:oid:2.16.764.1", "value": "123"}}}
    assert rows_of(condition, "subject", "reference") == []
    assert rows_of(condition, "subject:identifier", "token") == [
        {"system": "urn:oid:2.16.764.1", "code": "123", "text": None}]
    assert rows_of(condition, "patient:identifier", "token") == [
        {"system": "urn:oid:2.16.764.1", "code": "123", "text": None}]


@pytest.mark.parametrize(("reference", "expected"), [
    ("https://other.example/fhir/Patient/9",
     [{"target_type": "Patient", "target_id": "9",
       "target_url": "https://other.example/fhir/Patient/9"}]),
    ("urn:uuid:1f6ab5d4-8a4c-4bcf-8f3e-0d7c5a4b9f01",
     [{"target_type": None, "target_id": None,
       "target_url": "urn:uuid:1f6ab5d4-8a4c-4bcf-8f3e-0d7c5a4b9f01"}]),
    ("#contained-1", []),
])
def test_absolute_uuid_and_contained_references(reference: str,
                                                expected: list[dict[str, Any]]) -> None:
    observation = {"resourceType": "Observation", "subject": {"reference": reference},
                   "contained": [{"resourceType": "Patient", "id": "contained-1"}]}
    assert rows_of(observation, "subject") == expected


def test_canonical_references_drop_their_version() -> None:
    response = {"resourceType": "QuestionnaireResponse", "status": "completed",
                "questionnaire": "http://example.org/Questionnaire/phq-9|2.0"}
    assert rows_of(response, "questionnaire") == [
        {"target_type": None, "target_id": None,
         "target_url": "http://example.org/Questionnaire/phq-9"}]


def test_uris_are_indexed_as_they_are() -> None:
    value_set = {"resourceType": "ValueSet", "url": "http://example.org/ValueSet/x",
                 "version": "1"}
    assert rows_of(value_set, "url") == [{"value": "http://example.org/ValueSet/x"}]
    assert rows_of(value_set, "version") == [{"system": None, "code": "1", "text": None}]


def test_money_is_a_quantity_in_iso_4217() -> None:
    invoice = {"resourceType": "Invoice", "status": "issued",
               "totalGross": {"value": 1500, "currency": "THB"}}
    assert rows_of(invoice, "totalgross") == [
        {"value": 1500.0, "system": "urn:iso:std:iso:4217", "code": "THB", "unit": "THB",
         "canonical_value": None, "canonical_code": None}]


def test_a_range_gives_its_low_and_high_quantities() -> None:
    definition = {"resourceType": "ActivityDefinition", "status": "active", "useContext": [
        {"code": {"code": "age"}, "valueRange": {"low": {"value": 18, "unit": "a"},
                                                  "high": {"value": 65, "unit": "a"}}}]}
    assert values(definition, "context-quantity", "value") == [18.0, 65.0]


def test_timing_events_and_bounds_are_dates() -> None:
    care_plan = {"resourceType": "CarePlan", "activity": [{"detail": {"status": "scheduled",
        "scheduledTiming": {"event": ["2024-05-01"],
                            "repeat": {"boundsPeriod": {"start": "2024-06-01",
                                                        "end": "2024-06-30"}}}}}]}
    assert rows_of(care_plan, "activity-date") == [
        {"low": micros("2024-05-01T00:00:00Z"), "high": micros("2024-05-01T23:59:59.999999Z")},
        {"low": micros("2024-06-01T00:00:00Z"), "high": micros("2024-06-30T23:59:59.999999Z")}]


def test_numbers_are_floats() -> None:
    assessment = {"resourceType": "RiskAssessment", "status": "final",
                  "prediction": [{"probabilityDecimal": 0.25},
                                 {"probabilityRange": {"low": {"value": 1}}}]}
    assert rows_of(assessment, "probability") == [{"value": 0.25}]


def test_parameters_on_extensions_index_the_extension_value() -> None:
    url = "http://hl7.org/fhir/StructureDefinition/DiagnosticReport-geneticsAssessedCondition"
    report = {"resourceType": "DiagnosticReport", "status": "final", "code": {"text": "x"},
              "extension": [{"url": url, "valueReference": {"reference": "Condition/c9"}}]}
    assert rows_of(report, "assessed-condition") == [
        {"target_type": "Condition", "target_id": "c9", "target_url": None}]


def test_identical_values_reached_twice_are_indexed_once() -> None:
    observation = {**OBSERVATION, "code": {"coding": [
        {"system": "http://loinc.org", "code": "29463-7"},
        {"system": "http://loinc.org", "code": "29463-7"}]}}
    assert len(rows_of(observation, "code")) == 1


def test_malformed_values_are_skipped_without_failing_the_resource() -> None:
    patient = {"resourceType": "Patient", "birthDate": "25/12/1974", "name": "not a list",
               "gender": {"wrong": "shape"}, "identifier": [42, None, {"value": "ok"}],
               "telecom": [{"system": "phone", "value": 5}],
               "managingOrganization": "Organization/1"}
    rows = index_rows(patient)
    assert rows_of(patient, "birthdate") == []
    assert rows_of(patient, "identifier") == [{"system": None, "code": "ok", "text": None}]
    assert all(row.param not in ("name", "gender", "organization") for row in rows)


@pytest.mark.parametrize("resource", [{}, {"resourceType": "NotAType"},
                                      {"resourceType": 7}, {"resourceType": "Resource"}])
def test_things_that_are_not_resources_have_no_rows(resource: dict[str, Any]) -> None:
    assert index_rows(resource) == []


# --- normalize_string --------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("Chalmers", "chalmers"),
    ("José Dupré", "jose dupre"),
    ("Straße", "strasse"),
    ("ÅSA Øberg", "asa øberg"),
    ("\uff26\uff55\uff4c\uff4c", "full"),  # full-width letters fold to ASCII
    ("Đặng", "đang"),
])
def test_latin_text_is_case_folded_and_stripped_of_accents(text: str, expected: str) -> None:
    assert normalize_string(text) == expected


@pytest.mark.parametrize("text", ["สมชาย", "ที่", "น้ำ", "ปู่", "ໝໍ", "ນ້ຳ", "ຫຼວງພະບາງ"])
def test_thai_and_lao_marks_are_kept(text: str) -> None:
    assert normalize_string(text) == text


def test_thai_words_that_differ_only_by_a_tone_mark_stay_different() -> None:
    assert normalize_string("ปา") != normalize_string("ป่า")  # "throw" vs "forest"


def test_mixed_scripts_fold_only_the_latin_part() -> None:
    assert normalize_string("Dr José สมชาย") == "dr jose สมชาย"


def test_decomposed_input_normalizes_like_composed_input() -> None:
    assert normalize_string("Jose\u0301") == normalize_string("José") == "jose"


def test_normalized_strings_are_cut_to_200_characters() -> None:
    assert len(normalize_string("a" * 300)) == 200
    assert len(normalize_string("é" * 300)) == 200
    long_name = {"resourceType": "Patient", "name": [{"family": "X" * 300}]}
    (row,) = rows_of(long_name, "family")
    assert len(row["value_exact"]) == 300 and len(row["value_norm"]) == 200


# --- date_range ---------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "low", "high"), [
    ("2020", "2020-01-01T00:00:00Z", "2020-12-31T23:59:59.999999Z"),
    ("2020-02", "2020-02-01T00:00:00Z", "2020-02-29T23:59:59.999999Z"),
    ("2021-02", "2021-02-01T00:00:00Z", "2021-02-28T23:59:59.999999Z"),
    ("2020-12-31", "2020-12-31T00:00:00Z", "2020-12-31T23:59:59.999999Z"),
    ("2020-06-15T10:20", "2020-06-15T10:20:00Z", "2020-06-15T10:20:59.999999Z"),
    ("2020-06-15T10:20:30", "2020-06-15T10:20:30Z", "2020-06-15T10:20:30.999999Z"),
    ("2020-06-15T10:20:30Z", "2020-06-15T10:20:30Z", "2020-06-15T10:20:30.999999Z"),
    ("2020-06-15T10:20:30+07:00", "2020-06-15T03:20:30Z", "2020-06-15T03:20:30.999999Z"),
    ("2020-06-15T22:20:30-05:30", "2020-06-16T03:50:30Z", "2020-06-16T03:50:30.999999Z"),
    ("2020-06-15T10:20:30.5Z", "2020-06-15T10:20:30.5Z", "2020-06-15T10:20:30.599999Z"),
    ("2020-06-15T10:20:30.123Z", "2020-06-15T10:20:30.123Z", "2020-06-15T10:20:30.123999Z"),
    ("2020-06-15T10:20:30.1234567Z", "2020-06-15T10:20:30.123456Z",
     "2020-06-15T10:20:30.123456Z"),
    ("1969-12-31", "1969-12-31T00:00:00Z", "1969-12-31T23:59:59.999999Z"),
])
def test_date_range_covers_the_precision_given(value: str, low: str, high: str) -> None:
    assert date_range(value) == (micros(low), micros(high))


def test_date_range_reaches_the_ends_of_the_calendar() -> None:
    assert date_range("0001")[0] == MIN_MICROS
    assert date_range("9999-12-31")[1] == MAX_MICROS


@pytest.mark.parametrize("value", ["", "20", "2020-13", "2020-00", "2021-02-29",
                                   "2020-04-31", "2020-01-01T24:00:00Z", "2020-01-01T10",
                                   "2020-01-01T10:00:00+15:00", "0000", "2020-1-1",
                                   "yesterday", "2020-01-01 10:00:00"])
def test_date_range_rejects_what_is_not_a_fhir_date(value: str) -> None:
    with pytest.raises(ValueError):
        date_range(value)


# --- the official examples ----------------------------------------------------------------

def _resources(item: Any) -> Iterator[dict[str, Any]]:
    if isinstance(item, dict) and item.get("resourceType") in RESOURCE_TYPES:
        yield item
        for entry in item.get("entry") or () if item["resourceType"] == "Bundle" else ():
            if isinstance(entry, dict):
                yield from _resources(entry.get("resource"))


@pytest.mark.slow
def test_every_official_example_indexes_into_well_formed_rows() -> None:
    value = os.environ.get("MOR_FHIR_EXAMPLES_DIR")
    if not value:
        pytest.fail("MOR_FHIR_EXAMPLES_DIR is not set; run the suite with scripts/test")
    count = 0
    for path in sorted(Path(value).glob("*.json")):
        document = json.loads(path.read_bytes())
        for resource in _resources(document):
            count += 1
            for row in index_rows(resource):
                assert list(row.columns) == OWN_COLUMNS[row.table], (path.name, row)
                columns = row.columns
                if row.table == "reference":
                    assert columns["target_id"] is None or len(columns["target_id"]) <= 64
                    assert columns["target_type"] in RESOURCE_TYPES | {None}
                if row.table == "date":
                    assert columns["low"] <= columns["high"], (path.name, row)
                if row.table == "string":
                    assert columns["value_norm"] and len(columns["value_norm"]) <= 200
    assert count > 5000
