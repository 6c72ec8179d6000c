"""The search-parameter registry, the resource-type list and the generated data behind them."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from mor.fhir.fhirpath import FhirPathError, compile_expression, root_identifier, split_union
from mor.fhir.indexing import UNINDEXED_TYPES, UNSUPPORTED_EXPRESSIONS, WORD_PARAMETERS
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.search.single_values import holds_one_date
from mor.fhir.search_parameters import ALL_PARAMETERS, expression_for, parameters_for

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "mor" / "fhir" / "data"


def test_resource_types_are_the_146_concrete_r4_types() -> None:
    assert len(RESOURCE_TYPES) == 146
    assert {"Patient", "Observation", "Bundle", "Parameters", "Binary"} <= RESOURCE_TYPES
    assert not {"Resource", "DomainResource", "vitalsigns"} & RESOURCE_TYPES


def test_every_expression_compiles_for_every_type_it_applies_to() -> None:
    failures = []
    for resource_type in sorted(RESOURCE_TYPES):
        for parameter in parameters_for(resource_type).values():
            if parameter.url in UNSUPPORTED_EXPRESSIONS or parameter.code in WORD_PARAMETERS:
                continue
            if parameter.expression is None:
                failures.append(f"{parameter.url}: no expression and not listed as unsupported")
                continue
            try:
                compile_expression(parameter.expression, resource_type)
            except FhirPathError as error:
                failures.append(f"{resource_type} {parameter.code}: {error}")
    assert failures == []


def test_composite_components_compile_against_the_composite_values() -> None:
    compiled = 0
    for resource_type in sorted(RESOURCE_TYPES):
        for parameter in parameters_for(resource_type).values():
            if parameter.type != "composite" or parameter.expression is None:
                continue
            base = compile_expression(parameter.expression, resource_type)
            for component in parameter.components:
                for context_type in base.result_types:
                    compile_expression(component.expression, context_type, resource_type)
                    compiled += 1
    assert compiled > 100


def test_unsupported_list_names_only_parameters_that_exist_and_cannot_be_evaluated() -> None:
    by_url = {p.url: p for p in ALL_PARAMETERS}
    for url, reason in UNSUPPORTED_EXPRESSIONS.items():
        assert url in by_url, url
        assert reason
        assert by_url[url].expression is None
    assert set(UNINDEXED_TYPES) == {"special"}


def test_shared_expressions_are_split_per_resource_type() -> None:
    condition_patient = parameters_for("Condition")["patient"]
    assert condition_patient.url == "http://hl7.org/fhir/SearchParameter/clinical-patient"
    assert condition_patient.expression == "Condition.subject.where(resolve() is Patient)"
    assert parameters_for("AllergyIntolerance")["patient"].expression == \
        "AllergyIntolerance.patient"
    assert parameters_for("Observation")["value-quantity"].expression == \
        "(Observation.value as Quantity) | (Observation.value as SampledData)"


def test_relative_expressions_apply_to_every_base() -> None:
    assert parameters_for("InsurancePlan")["name"].expression == "name | alias"


def test_every_kept_part_is_rooted_at_the_type_or_a_generic_base() -> None:
    for resource_type in sorted(RESOURCE_TYPES):
        for parameter in parameters_for(resource_type).values():
            for part in split_union(parameter.expression or ""):
                root = root_identifier(part) if part else None
                if root is not None and root[0].isupper():
                    assert root in (resource_type, "Resource", "DomainResource"), (
                        resource_type, parameter.code, part)


def test_resource_and_domain_resource_parameters_apply_where_they_should() -> None:
    patient = parameters_for("Patient")
    assert {"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source",
            "_text"} <= set(patient)
    bundle = parameters_for("Bundle")
    assert "_id" in bundle
    assert "_text" not in bundle  # Bundle is a Resource but not a DomainResource


def test_type_specific_parameters_do_not_leak_to_other_types() -> None:
    assert "birthdate" in parameters_for("Patient")
    assert "birthdate" not in parameters_for("Observation")
    assert "patient" not in parameters_for("Patient")


def test_the_spec_s_illustrative_parameters_are_left_out() -> None:
    assert "part-agree" not in parameters_for("Patient")
    assert parameters_for("Condition")["subject"].url == \
        "http://hl7.org/fhir/SearchParameter/Condition-subject"
    assert parameters_for("Patient")["_id"].url == \
        "http://hl7.org/fhir/SearchParameter/Resource-id"


def test_unknown_types_have_no_parameters() -> None:
    assert dict(parameters_for("NotAType")) == {}


def test_expression_for_keeps_an_unsplittable_expression_whole() -> None:
    parameter = parameters_for("Patient")["name"]
    assert expression_for(parameter, "Patient") == parameter.expression


def test_reference_parameters_carry_their_targets() -> None:
    assert parameters_for("Observation")["subject"].target
    assert set(parameters_for("Condition")["patient"].target) == {"Patient", "Group"}


def test_registry_data_is_sorted_one_parameter_per_line() -> None:
    lines = (DATA / "search_parameters.json").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[" and lines[-1] == "]"
    assert len(lines) - 2 == len(ALL_PARAMETERS)
    assert [p.url for p in ALL_PARAMETERS] == sorted(p.url for p in ALL_PARAMETERS)


def _examples_dir() -> Path | None:
    value = os.environ.get("MOR_FHIR_EXAMPLES_DIR")
    return Path(value) if value else None


def test_generated_data_matches_the_official_package(tmp_path: Path) -> None:
    package = _examples_dir()
    if package is None:
        pytest.fail("MOR_FHIR_EXAMPLES_DIR is not set; run the suite with scripts/test")
    spec = importlib.util.spec_from_file_location(
        "generate_search_parameters", REPO / "scripts" / "generate_search_parameters.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert generator.main([str(package), "--out", str(tmp_path)]) == 0
    for name in ("search_parameters.json", "resource_types.json", "element_types.json"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name


@pytest.mark.parametrize(("resource_type", "code", "one"), [
    ("Slot", "start", True), ("Encounter", "date", True), ("Patient", "birthdate", True),
    # onset[x] cast to two of its types is still one element.
    ("Condition", "onset-date", True), ("Procedure", "date", True),
    # effective[x] may be a Timing, indexed as one date per event.
    ("Observation", "date", False),
    ("MedicationRequest", "date", False),  # dosageInstruction repeats
    ("Goal", "target-date", False),  # target repeats
])
def test_date_parameters_holding_one_value_per_resource_are_known(
    resource_type: str, code: str, one: bool,
) -> None:
    definition = parameters_for(resource_type)[code]
    assert holds_one_date([definition], (resource_type,)) is one
