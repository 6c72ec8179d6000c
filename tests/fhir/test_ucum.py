"""UCUM codes reduced to base units (mor.fhir.ucum), the ground of quantity search
across units."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mor.fhir.ucum import Conversion, conversion


def converted(value: float, code: str) -> tuple[float, str]:
    found = conversion(code)
    assert found is not None, code
    return found(value), found.code


@pytest.mark.parametrize(("one", "other"), [
    ((5.4, "mg"), (5400, "ug")),
    ((100, "mg/dL"), (1, "g/L")),
    ((72.5, "kg"), (72500, "g")),
    ((1, "[lb_av]"), (453.59237, "g")),
    ((1, "[in_i]"), (2.54, "cm")),
    ((1, "L"), (1000, "mL")),
    ((7.5, "10*3/uL"), (7.5, "10*9/L")),
    ((140, "meq/L"), (140, "mmol/L")),
    ((1, "mm[Hg]"), (133.322, "Pa")),
    ((90, "min"), (1.5, "h")),
    ((2, "wk"), (14, "d")),
    ((12, "mo"), (1, "a")),
    ((72, "{beats}/min"), (72, "/min")),
    ((72, "/min"), (1.2, "Hz")),
    ((50, "%"), (0.5, "1")),
    ((37, "Cel"), (98.6, "[degF]")),
    ((37, "Cel"), (310.15, "K")),
    ((1, "U/L"), (1, "umol/min/L")),
    ((2, "mg/kg/d"), (2, "mg/(kg.d)")),
    ((30, "mL/min/{1.73_m2}"), (30, "mL/min")),
])
def test_the_same_amount_in_two_units_is_the_same_number_in_base_units(
    one: tuple[float, str], other: tuple[float, str],
) -> None:
    assert converted(*one) == converted(*other)


@pytest.mark.parametrize(("code", "base"), [
    ("mg", "g"), ("mg/dL", "g.m-3"), ("mmol/L", "m-3.mol"), ("kg/m2", "g.m-2"),
    ("/min", "s-1"), ("%", "1"), ("10*9/L", "m-3"), ("mm[Hg]", "g.m-1.s-2"),
    ("Cel", "K"), ("[degF]", "K"), ("cm", "m"),
])
def test_base_units_name_the_kind_of_quantity(code: str, base: str) -> None:
    assert converted(1, code)[1] == base


def test_mass_and_amount_of_substance_are_different_kinds() -> None:
    assert converted(1, "mg/dL")[1] != converted(1, "mmol/L")[1]


@pytest.mark.parametrize("code", [
    "[IU]", "[IU]/L", "[arb'U]", "{score}", "/{HPF}", "[pH]",  # arbitrary, annotations, log
    "Cel/h", "mCel", "k[in_i]",  # temperatures in a product, prefixes on non-metric units
    "mmHg", "foo", "", "mg/", "(mg", "[in_i", "mg{total", "m1000", "0.mg", "/0",  # not UCUM
])
def test_units_that_do_not_convert(code: str) -> None:
    assert conversion(code) is None


def test_conversions_are_exact_for_decimal_values() -> None:
    assert converted(5.4, "mg") == (0.0054, "g")
    assert converted(0.1, "mg") == (0.0001, "g")
    assert converted(98.6, "[degF]") == (310.15, "K")


@given(st.text(alphabet="mgLdu10*3/.()[]{}_iKCel%+-a2", max_size=24),
       st.floats(allow_nan=False))
def test_any_code_and_value_converts_or_is_refused_without_an_error(code: str,
                                                                    value: float) -> None:
    found = conversion(code)
    if found is not None:
        assert isinstance(found, Conversion)
        found(value)
