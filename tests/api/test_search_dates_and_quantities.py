"""Dates, numbers, quantities and composites, from the rules and examples of the R4
search page (http://hl7.org/fhir/R4/search.html#prefix)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.searching import LOINC, UCUM, all_pages, coding, ids, matches, put, search


def _observation(id_: str, **fields: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": id_, "status": "final",
            "code": coding(LOINC, "8310-5"), **fields}


async def _dated(client: httpx.AsyncClient) -> None:
    await put(client,
              _observation("instant", effectiveDateTime="2013-01-14T10:00:00Z"),
              _observation("day", effectiveDateTime="2013-01-14"),
              _observation("month", effectiveDateTime="2013-01"),
              _observation("later", effectiveDateTime="2013-01-15T00:00:00Z"),
              _observation("period", effectivePeriod={"start": "2013-01-10",
                                                      "end": "2013-01-20"}),
              _observation("ongoing", effectivePeriod={"start": "2013-01-10"}))


async def test_eq_means_the_search_range_contains_the_value(client: httpx.AsyncClient) -> None:
    await _dated(client)
    assert await ids(client, "/Observation", {"date": "2013-01-14"}) == {"instant", "day"}
    # The month contains all but the period still going on.
    assert await ids(client, "/Observation", {"date": "2013-01"}) == {
        "instant", "day", "month", "later", "period"}
    assert await ids(client, "/Observation", {"date": "2013-01-14T10:00:00Z"}) == {"instant"}
    # Time zones: 17:00 in Bangkok is 10:00 UTC.
    assert await ids(client, "/Observation", {"date": "2013-01-14T17:00:00+07:00"}) == {
        "instant"}


async def test_gt_lt_ge_le_compare_the_ranges_above_and_below(
    client: httpx.AsyncClient,
) -> None:
    await _dated(client)
    # gt: the value's range reaches above the search range.
    assert await ids(client, "/Observation", {"date": "gt2013-01-14"}) == {
        "later", "period", "ongoing", "month"}
    assert await ids(client, "/Observation", {"date": "lt2013-01-14"}) == {
        "period", "ongoing", "month"}
    assert await ids(client, "/Observation", {"date": "ge2013-01-15"}) == {
        "later", "period", "ongoing", "month"}
    # Periods starting at midnight of the 10th neither reach below it nor fit in it.
    assert await ids(client, "/Observation", {"date": "le2013-01-10"}) == {"month"}


async def test_sa_eb_ne_and_an_open_period(client: httpx.AsyncClient) -> None:
    await _dated(client)
    assert await ids(client, "/Observation", {"date": "sa2013-01-14"}) == {"later"}
    assert await ids(client, "/Observation", {"date": "eb2013-01-15"}) == {"instant", "day"}
    assert await ids(client, "/Observation", {"date": "ne2013-01-14"}) == {
        "month", "later", "period", "ongoing"}
    # A period without an end is still going on: it overlaps any later date.
    assert await ids(client, "/Observation", {"date": "gt2030"}) == {"ongoing"}


async def test_two_dates_make_a_range(client: httpx.AsyncClient) -> None:
    await _dated(client)
    found = await ids(client, "/Observation", [("date", "ge2013-01-14"), ("date", "le2013-01-14")])
    assert found == {"instant", "day", "period", "ongoing", "month"}


async def test_ap_is_approximately(client: httpx.AsyncClient) -> None:
    await _dated(client)
    assert "later" in await ids(client, "/Observation", {"date": "ap2013-01-14"})
    assert await ids(client, "/Observation", {"date": "ap2012-06-01"}) == set()


async def test_number_precision_and_prefixes(client: httpx.AsyncClient) -> None:
    await put(client, *[{"resourceType": "RiskAssessment", "id": name, "status": "final",
                         "subject": {"reference": "Patient/p"},
                         "prediction": [{"probabilityDecimal": value}]}
                        for name, value in (("low", 0.0094), ("edge", 0.0104), ("high", 0.8))])
    # 0.01 stands for [0.005, 0.015): both small values are "0.01" at that precision.
    assert await ids(client, "/RiskAssessment", {"probability": "0.01"}) == {"low", "edge"}
    assert await ids(client, "/RiskAssessment", {"probability": "0.010"}) == {"edge"}
    assert await ids(client, "/RiskAssessment", {"probability": "gt0.5"}) == {"high"}
    assert await ids(client, "/RiskAssessment", {"probability": "le0.0104"}) == {"low", "edge"}


async def test_quantity_with_and_without_units(client: httpx.AsyncClient) -> None:
    glucose = {"value": 126, "unit": "mg/dL", "system": UCUM, "code": "mg/dL"}
    await put(client,
              _observation("fasting", code=coding(LOINC, "1558-6"), valueQuantity=glucose),
              _observation("weight", code=coding(LOINC, "29463-7"),
                           valueQuantity={"value": 72.5, "unit": "kg", "system": UCUM,
                                          "code": "kg"}))
    assert await ids(client, "/Observation", {"value-quantity": "126"}) == {"fasting"}
    assert await ids(client, "/Observation", {"value-quantity": f"gt100|{UCUM}|mg/dL"}) == {
        "fasting"}
    assert await ids(client, "/Observation", {"value-quantity": f"gt100|{UCUM}|kg"}) == set()
    assert await ids(client, "/Observation", {"value-quantity": "72.5||kg"}) == {"weight"}
    assert await ids(client, "/Observation", {"value-quantity": "lt80"}) == {"weight"}


def _measured(id_: str, value: float, code: str, system: str | None = UCUM) -> dict[str, Any]:
    quantity = {"value": value, "unit": code, "code": code}
    if system is not None:
        quantity["system"] = system
    return _observation(id_, valueQuantity=quantity)


async def test_a_ucum_unit_finds_the_same_amount_in_another_unit(
    client: httpx.AsyncClient,
) -> None:
    await put(client, _measured("micrograms", 5400, "ug"), _measured("milligrams", 5.4, "mg"),
              _measured("kilograms", 72.5, "kg"))
    assert await ids(client, "/Observation", {"value-quantity": f"5.4|{UCUM}|mg"}) == {
        "micrograms", "milligrams"}
    # Without a system the code is still read as UCUM.
    assert await ids(client, "/Observation", {"value-quantity": "5400||ug"}) == {
        "micrograms", "milligrams"}
    assert await ids(client, "/Observation", {"value-quantity": f"72500|{UCUM}|g"}) == {
        "kilograms"}
    assert await ids(client, "/Observation", {"value-quantity": f"gt1|{UCUM}|g"}) == {
        "kilograms"}
    assert await ids(client, "/Observation", {"value-quantity": f"ne5.4|{UCUM}|mg"}) == {
        "kilograms"}
    # Another system's "mg" is not UCUM's.
    assert await ids(client, "/Observation",
                     {"value-quantity": "5.4|http://example.org/units|mg"}) == set()


async def test_concentrations_compare_across_units(client: httpx.AsyncClient) -> None:
    await put(client, _measured("grams-per-litre", 1.2, "g/L"),
              _measured("milligrams-per-decilitre", 90, "mg/dL"),
              _measured("millimoles", 6.5, "mmol/L"))
    # 1.2 g/L is 120 mg/dL; mmol/L is an amount of substance, not a mass.
    assert await ids(client, "/Observation", {"value-quantity": f"gt100|{UCUM}|mg/dL"}) == {
        "grams-per-litre"}
    assert await ids(client, "/Observation", {"value-quantity": f"le1|{UCUM}|g/L"}) == {
        "milligrams-per-decilitre"}
    assert await ids(client, "/Observation", {"value-quantity": f"sa0.5|{UCUM}|g/L"}) == {
        "grams-per-litre", "milligrams-per-decilitre"}
    assert await ids(client, "/Observation", {"value-quantity": f"6500|{UCUM}|umol/L"}) == {
        "millimoles"}


async def test_quantities_sort_by_amount_whatever_their_unit(
    client: httpx.AsyncClient,
) -> None:
    await put(client, _measured("two-g-per-l", 2, "g/L"),
              _measured("hundred-mg-per-dl", 100, "mg/dL"),  # 1 g/L
              _measured("one-and-a-half-g-per-l", 1.5, "g/L"))
    found = await search(client, "/Observation", {"_sort": "value-quantity"})
    assert matches(found) == ["hundred-mg-per-dl", "one-and-a-half-g-per-l", "two-g-per-l"]
    found = await search(client, "/Observation", {"_sort": "-value-quantity"})
    assert matches(found) == ["two-g-per-l", "one-and-a-half-g-per-l", "hundred-mg-per-dl"]


async def test_eq_keeps_the_precision_written_in_the_unit_searched_for(
    client: httpx.AsyncClient,
) -> None:
    await put(client, _measured("just-inside", 5440, "ug"), _measured("outside", 5460, "ug"))
    # 5.4 mg stands for [5.35, 5.45) mg, which is [5350, 5450) ug.
    assert await ids(client, "/Observation", {"value-quantity": f"5.4|{UCUM}|mg"}) == {
        "just-inside"}
    assert await ids(client, "/Observation", {"value-quantity": f"5.40|{UCUM}|mg"}) == set()
    assert await ids(client, "/Observation", {"value-quantity": f"5|{UCUM}|mg"}) == {
        "just-inside", "outside"}
    # ap: within 10% of the value written.
    assert await ids(client, "/Observation", {"value-quantity": f"ap5|{UCUM}|mg"}) == {
        "just-inside", "outside"}
    assert await ids(client, "/Observation", {"value-quantity": f"ap4.95|{UCUM}|mg"}) == {
        "just-inside"}


async def test_celsius_and_fahrenheit_compare(client: httpx.AsyncClient) -> None:
    await put(client, _measured("normal", 37, "Cel"), _measured("fever", 38.5, "Cel"),
              _measured("fahrenheit", 98.6, "[degF]"))
    assert await ids(client, "/Observation", {"value-quantity": f"98.6|{UCUM}|[degF]"}) == {
        "normal", "fahrenheit"}
    assert await ids(client, "/Observation", {"value-quantity": f"gt100|{UCUM}|[degF]"}) == {
        "fever"}
    assert await ids(client, "/Observation", {"value-quantity": f"lt37.5|{UCUM}|Cel"}) == {
        "normal", "fahrenheit"}


async def test_units_that_do_not_convert_match_as_written(client: httpx.AsyncClient) -> None:
    await put(client, _measured("vitamin-d", 400, "[IU]"), _measured("score", 7, "{score}"),
              _measured("local", 5.4, "mg", system="http://example.org/units"))
    assert await ids(client, "/Observation", {"value-quantity": f"400|{UCUM}|[IU]"}) == {
        "vitamin-d"}
    assert await ids(client, "/Observation", {"value-quantity": "gt300||[IU]"}) == {
        "vitamin-d"}
    assert await ids(client, "/Observation", {"value-quantity": f"7|{UCUM}|{{score}}"}) == {
        "score"}
    assert await ids(client, "/Observation", {"value-quantity": "5.4||mg"}) == {"local"}
    assert await ids(client, "/Observation",
                     {"value-quantity": "5.4|http://example.org/units|mg"}) == {"local"}
    assert await ids(client, "/Observation", {"value-quantity": f"5400|{UCUM}|ug"}) == set()


def _blood_pressure(id_: str, systolic: float, diastolic: float) -> dict[str, Any]:
    def component(code: str, value: float) -> dict[str, Any]:
        return {"code": coding(LOINC, code),
                "valueQuantity": {"value": value, "unit": "mmHg", "system": UCUM,
                                  "code": "mm[Hg]"}}
    return _observation(id_, code=coding(LOINC, "85354-9"),
                        component=[component("8480-6", systolic),
                                   component("8462-4", diastolic)])


async def test_composite_matches_within_one_component(client: httpx.AsyncClient) -> None:
    # "high" has a high systolic; "crossed" has a high number, but in its diastolic.
    await put(client, _blood_pressure("high", 182, 95), _blood_pressure("crossed", 120, 150),
              _observation("glucose", code=coding(LOINC, "1558-6"),
                           valueQuantity={"value": 182, "system": UCUM, "code": "mg/dL"}))
    systolic_high = f"{LOINC}|8480-6$gt140"
    assert await ids(client, "/Observation",
                     {"component-code-value-quantity": systolic_high}) == {"high"}
    assert await ids(client, "/Observation",
                     {"combo-code-value-quantity": systolic_high}) == {"high"}
    # combo- also looks at the observation's own code and value.
    assert await ids(client, "/Observation",
                     {"combo-code-value-quantity": f"{LOINC}|1558-6$182"}) == {"glucose"}
    assert await ids(client, "/Observation",
                     {"code-value-quantity": f"{LOINC}|1558-6$gt200"}) == set()
    either = f"{LOINC}|8462-4$gt140,{LOINC}|8480-6$gt180"
    assert await ids(client, "/Observation",
                     {"component-code-value-quantity": either}) == {"high", "crossed"}


async def test_composite_compares_its_quantity_across_units(client: httpx.AsyncClient) -> None:
    await put(client, _blood_pressure("high", 182, 95), _blood_pressure("normal", 118, 76))
    # 18 kPa is 135 mm[Hg].
    systolic_above = f"{LOINC}|8480-6$gt18|{UCUM}|kPa"
    assert await ids(client, "/Observation",
                     {"component-code-value-quantity": systolic_above}) == {"high"}
    assert await ids(client, "/Observation",
                     {"component-code-value-quantity": f"{LOINC}|8462-4$lt11||kPa"}) == {
        "normal"}


async def test_composite_needs_every_component(client: httpx.AsyncClient) -> None:
    response = await client.get("/Observation",
                                params={"component-code-value-quantity": "8480-6"})
    assert response.status_code == 400
    assert "joined by '$'" in response.text


def _encounter(id_: str, start: str, end: str | None = None) -> dict[str, Any]:
    period = {"start": start} | ({"end": end} if end else {})
    return {"resourceType": "Encounter", "id": id_, "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                      "code": "AMB"}, "period": period}


async def _visits(client: httpx.AsyncClient) -> None:
    # Encounter.period holds one value per encounter, so bounds on "date" are tested on
    # that one value together.
    await put(client,
              _encounter("late-evening", "2013-01-13T23:00:00Z", "2013-01-13T23:30:00Z"),
              _encounter("morning", "2013-01-14T09:00:00Z", "2013-01-14T10:00:00Z"),
              _encounter("afternoon", "2013-01-14T14:00:00Z", "2013-01-14T15:00:00Z"),
              _encounter("stay", "2013-01-10", "2013-01-20"),
              _encounter("ongoing", "2013-01-10"),
              _encounter("next-day", "2013-01-15T08:00:00Z", "2013-01-15T08:20:00Z"))


async def test_bounds_on_a_date_holding_one_value_find_what_each_bound_finds(
    client: httpx.AsyncClient,
) -> None:
    await _visits(client)
    pairs = [("ge2013-01-14", "lt2013-01-15"), ("gt2013-01-13", "le2013-01-14"),
             ("ge2013-01-14T09:30:00Z", "le2013-01-14T14:30:00Z"), ("ge2013-01-11", "lt2013"),
             ("eq2013-01", "lt2013-01-14"), ("sa2013-01-13", "eb2013-01-15T09:00:00Z")]
    for first, second in pairs:
        each = (await ids(client, "/Encounter", {"date": first})
                & await ids(client, "/Encounter", {"date": second}))
        both = await ids(client, "/Encounter", [("date", first), ("date", second)])
        assert both == each, (first, second)
    assert await ids(client, "/Encounter", [("date", "ge2013-01-14"),
                                            ("date", "lt2013-01-15")]) == {
        "morning", "afternoon", "stay", "ongoing"}


async def test_a_range_of_one_date_sorted_by_it_pages_in_order(
    client: httpx.AsyncClient,
) -> None:
    await _visits(client)
    bounds = [("date", "ge2013-01-13"), ("date", "lt2013-01-16"), ("_count", "2")]
    for sort, expected in [
        ("date", ["stay", "ongoing", "late-evening", "morning", "afternoon", "next-day"]),
        # Newest first goes by the end: the ongoing one has none, so ends last of all.
        ("-date", ["ongoing", "stay", "next-day", "afternoon", "morning", "late-evening"]),
    ]:
        pages = await all_pages(client, "/Encounter", [*bounds, ("_sort", sort)])
        assert [i for page in pages for i in matches(page)] == expected, sort
        # A condition on the resource's own columns (_id) reads the same matches.
        limited = await all_pages(client, "/Encounter", [
            *bounds, ("_sort", sort), ("_id", ",".join(expected[1:]))])
        assert [i for page in limited for i in matches(page)] == expected[1:], sort


async def test_bounds_on_a_date_with_several_values_may_each_meet_another(
    client: httpx.AsyncClient,
) -> None:
    # A Timing holds several dates: "after 1 March" and "before February" are each met by
    # one of its events, and each parameter is a separate condition (search.html#combining).
    await put(client, _observation("course", effectiveTiming={
        "event": ["2013-01-05T08:00:00Z", "2013-03-05T08:00:00Z"]}))
    assert await ids(client, "/Observation", [("date", "ge2013-03-01"),
                                              ("date", "le2013-01-31")]) == {"course"}
