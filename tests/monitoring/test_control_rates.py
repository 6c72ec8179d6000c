"""Blood-pressure control rates of a health centre's hypertensive patients in a quarter, by
district (the WHO HEARTS indicator), on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.control_rates import (
    ControlRatesRefused,
    Counts,
    DistrictCounts,
    Quarter,
    control_rates,
)
from mor.services.monitoring.thresholds import Thresholds
from mor.services.scheduling.lookup import find
from tests.monitoring.followed import Q3, at, city_admin, followed
from tests.scheduling.centre import BANGKOK
from tests.video.conftest import Centre, centre_with_staff


async def test_the_last_reading_in_the_quarter_decides_and_everyone_followed_counts(
        store: Store, centre: Centre) -> None:
    # Bang Rak: high then at target (and high again after the quarter): at target.
    await followed(store, centre, "Bang Rak", [(at(8, 1), 150, 95), (at(9, 20), 130, 80),
                                               (at(10, 5), 170, 100)])
    # At target before the quarter, high in it: above target.
    await followed(store, centre, "Bang Rak", [(at(6, 1), 130, 80), (at(9, 25), 145, 85)])
    # At target by the city's 140/90, not by the plan's own 130/80.
    await followed(store, centre, "Bang Rak", [(at(9, 1), 135, 85)],
                   thresholds=Thresholds(target_systolic=130, target_diastolic=80))
    # Sathon: a reading only before the quarter: no reading, still in the denominator.
    await followed(store, centre, "Sathon", [(at(6, 30), 120, 80)])
    # The diastolic alone above target.
    await followed(store, centre, "Sathon", [(at(7, 2), 130, 92)])
    await followed(store, centre, "Sathon", [(at(9, 30, 23), 120, 70)])
    # No district in the address.
    await followed(store, centre, None, [(at(8, 8), 118, 76)])
    # Not counted: a plan for diabetes only; a plan started after the quarter.
    await followed(store, centre, "Sathon", [(at(8, 8), 120, 70)], programmes=("diabetes",))
    await followed(store, centre, "Sathon", [(at(10, 11), 120, 70)],
                   enrolled=at(10, 10))

    rates = await control_rates(store, centre.doctor.caller, centre.id, Q3, zone=BANGKOK,
                                language="en", city_language="th")
    assert rates.districts == [
        DistrictCounts("Bang Rak", Counts(followed=3, at_target=1, above_target=2,
                                          no_reading=0)),
        DistrictCounts("Sathon", Counts(followed=3, at_target=1, above_target=1,
                                        no_reading=1)),
        DistrictCounts(None, Counts(followed=1, at_target=1, above_target=0, no_reading=0))]
    assert rates.total == Counts(followed=7, at_target=3, above_target=3, no_reading=1)
    assert rates.total.control_rate == pytest.approx(3 / 7)


async def test_the_quarter_is_the_citys_local_quarter(store: Store, centre: Centre) -> None:
    # 1 October 00:30 in Bangkok is still 30 September in UTC: the fourth quarter's.
    await followed(store, centre, "Bang Rak", [(at(9, 29), 120, 70), (at(10, 1, 0), 150, 95)])
    rates = await control_rates(store, centre.nurse.caller, centre.id, Q3, zone=BANGKOK,
                                language="en", city_language="th")
    assert rates.total == Counts(followed=1, at_target=1)


async def test_only_the_centres_own_patients_count_and_the_city_sees_all(
        store: Store, centre: Centre) -> None:
    other = await centre_with_staff(store)
    await followed(store, centre, "Bang Rak", [(at(8, 1), 120, 70)])
    await followed(store, other, "Bang Rak", [(at(8, 1), 150, 95)])
    await followed(store, other, "Pathum Wan")

    mine = await control_rates(store, centre.doctor.caller, centre.id, Q3, zone=BANGKOK,
                               language="en", city_language="th")
    assert mine.districts == [DistrictCounts("Bang Rak", Counts(1, 1, 0, 0))]
    city = await control_rates(store, await city_admin(store), None, Q3, zone=BANGKOK,
                               language="en", city_language="th")
    assert city.districts == [DistrictCounts("Bang Rak", Counts(2, 1, 1, 0)),
                              DistrictCounts("Pathum Wan", Counts(1, 0, 0, 1))]


async def test_a_district_is_named_in_the_pages_language(store: Store, centre: Centre
                                                         ) -> None:
    caller_plan = await followed(store, centre, "บางรัก", [(at(8, 1), 120, 70)])
    async with store.writing(EVERYTHING) as tx:
        patient = (await tx.read("Patient", caller_plan.patient_id)).resource()
        patient["address"][0]["_district"] = {"extension": [{
            "url": "http://hl7.org/fhir/StructureDefinition/translation", "extension": [
                {"url": "lang", "valueCode": "en"},
                {"url": "content", "valueString": "Bang Rak"}]}]}
        await tx.update("Patient", caller_plan.patient_id, patient)
    english = await control_rates(store, centre.doctor.caller, centre.id, Q3,
                                  zone=BANGKOK, language="en", city_language="th")
    thai = await control_rates(store, centre.doctor.caller, centre.id, Q3, zone=BANGKOK,
                               language="th", city_language="th")
    assert [d.district for d in english.districts] == ["Bang Rak"]
    assert [d.district for d in thai.districts] == ["บางรัก"]


async def test_patients_and_other_centres_staff_may_not_see_it_and_showing_is_recorded(
        store: Store, centre: Centre) -> None:
    patient = await followed(store, centre, "Bang Rak", [(at(8, 1), 120, 70)])
    other = await centre_with_staff(store)
    for refused, centre_id in [(patient.caller, centre.id), (other.doctor.caller, centre.id),
                               (centre.doctor.caller, None)]:
        with pytest.raises(ControlRatesRefused):
            await control_rates(store, refused, centre_id, Q3, zone=BANGKOK, language="en",
                                city_language="th")

    await control_rates(store, centre.nurse.caller, centre.id, Q3, zone=BANGKOK,
                        language="en", city_language="th")
    async with store.reading(EVERYTHING) as tx:
        events = await find(tx, "AuditEvent", [
            ("agent", f"Practitioner/{centre.nurse.id}")])
    [event] = [e for e in events if any("query" in entity for entity in e["entity"])]
    [query] = event["entity"]
    assert f"performer=Organization%2F{centre.id}" in base64.b64decode(
        query["query"]).decode()
    assert query["detail"] == [{"type": "quarter", "valueString": "2026-Q3"}]
    assert "Patient/" not in str(event)  # counts only: no one's record shown


def test_a_quarter_is_read_and_written_as_2026_q4() -> None:
    assert Quarter.parse("2026-Q4") == Quarter(2026, 4)
    assert str(Quarter(2027, 1).previous()) == "2026-Q4"
    assert Quarter(2026, 4).end(BANGKOK) == datetime(2027, 1, 1, tzinfo=BANGKOK)
    with pytest.raises(ValueError):
        Quarter.parse("2026-Q5")
