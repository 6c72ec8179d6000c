"""A patient's resources in a date range (``patient=...&date=ge...``), the search the
nurse's worklist and every trend chart runs: the same answer however mor reads it, for
resources about several patients, after changes, and on a database upgraded from before
mor indexed dates by patient."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mor.config import Settings
from mor.db.engine import create_engine
from mor.db.migrate import downgrade, upgrade
from mor.db.schema import idx_patient_date
from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from tests.api.searching import (
    LOINC,
    PREFIXES,
    coding,
    date_matches,
    dates,
    day_range,
    ids,
    ids_on_every_page,
    matches,
    put,
    search,
)

TAG_SYSTEM = "http://mor.example/test-run"
PATIENTS = 3
_run = itertools.count()


@dataclass(frozen=True)
class Record:
    """A Provenance: what it is about (patients by number, or an Observation) and when
    the activity took place. Its ``patient`` parameter names every Patient target."""

    targets: tuple[int | None, ...]  # None: an Observation, not a patient
    occurred: str | None


records = st.lists(st.builds(
    Record, st.lists(st.none() | st.integers(0, PATIENTS - 1), min_size=1, max_size=2,
                     unique=True).map(tuple), st.none() | dates), max_size=8)
# The patients asked about, each written as Patient/<id> or as the bare id.
patient_forms = st.lists(st.tuples(st.integers(0, PATIENTS - 1), st.booleans()),
                         min_size=1, max_size=PATIENTS, unique_by=lambda p: p[0])
when_values = st.lists(st.tuples(st.sampled_from(PREFIXES), dates).map("".join),
                       max_size=2)
searches = st.tuples(st.sampled_from(["patient", "patient:Patient"]), patient_forms,
                     when_values, st.sampled_from([None, "when", "-when"]),
                     st.integers(1, 4))


def _provenance(record: Record, index: int, tag: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Provenance", "id": f"{tag}-{index}",
        "meta": {"tag": [{"system": TAG_SYSTEM, "code": tag}]},
        "target": [{"reference": f"Patient/{tag}-p{t}" if t is not None
                    else f"Observation/{tag}-o"} for t in record.targets],
        "recorded": "2026-12-07T09:00:00+07:00",
        "agent": [{"who": {"reference": "Practitioner/nurse"}}]}
    if record.occurred is not None:
        resource["occurredDateTime"] = record.occurred
    return resource


def _expected(population: list[Record], patients: set[int], when: list[str],
              sort: str | None) -> list[int]:
    found = [i for i, r in enumerate(population)
             if patients & {t for t in r.targets if t is not None}
             and all(date_matches(r.occurred, value) for value in when)]
    if sort is None:
        return found
    descending = sort.startswith("-")

    def value_of(i: int) -> int:
        low, high = day_range(str(population[i].occurred))
        return high if descending else low

    present = sorted((i for i in found if population[i].occurred is not None),
                     key=value_of, reverse=descending)  # stable: ties keep creation order
    return present + [i for i in found if population[i].occurred is None]


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(population=records, search=searches)
def test_patient_and_date_searches_agree_with_an_in_memory_evaluation(
    live_server: str, live_headers: dict[str, str], population: list[Record],
    search: tuple[str, list[tuple[int, bool]], list[str], str | None, int],
) -> None:
    name, forms, when, sort, count = search
    tag = f"pd{next(_run)}"
    with httpx.Client(base_url=live_server, timeout=30, headers=live_headers) as client:
        for index, record in enumerate(population):
            # One at a time, so creation order (the default order) is the list's.
            response = client.put(f"/Provenance/{tag}-{index}",
                                  json=_provenance(record, index, tag))
            assert response.status_code == 201, response.text
        patients = ",".join(f"Patient/{tag}-p{i}" if typed else f"{tag}-p{i}"
                            for i, typed in forms)
        params = [(name, patients), *(("when", value) for value in when),
                  ("_tag", f"{TAG_SYSTEM}|{tag}"), ("_count", str(count))]
        if sort:
            params.append(("_sort", sort))
        found = ids_on_every_page(client, "/Provenance", params)
    expected = [f"{tag}-{i}" for i in _expected(population, {i for i, _ in forms}, when,
                                                sort)]
    assert found == expected


def _reading(id_: str, patient: str, taken: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": id_, "status": "final",
            "code": coding(LOINC, "29463-7"), "subject": {"reference": f"Patient/{patient}"},
            "effectiveDateTime": taken,
            "valueQuantity": {"value": 62, "unit": "kg", "system": "http://unitsofmeasure.org",
                              "code": "kg"}}


async def test_a_reading_moved_to_another_day_or_patient_or_deleted_is_found_where_it_is_now(
        client: httpx.AsyncClient) -> None:
    await put(client, _reading("w1", "somchai", "2026-11-30T08:00:00+07:00"),
              _reading("w2", "somchai", "2026-12-05T08:00:00+07:00"),
              _reading("w3", "malee", "2026-12-05T08:00:00+07:00"))
    fortnight = {"date": "ge2026-11-23"}
    assert await ids(client, "/Observation", {"patient": "Patient/somchai", **fortnight}
                     ) == {"w1", "w2"}
    # Entered on the wrong day, then corrected to a month before.
    await put(client, _reading("w1", "somchai", "2026-10-30T08:00:00+07:00"))
    assert await ids(client, "/Observation", {"patient": "Patient/somchai", **fortnight}
                     ) == {"w2"}
    # Entered under the wrong patient, then corrected.
    await put(client, _reading("w3", "somchai", "2026-12-05T08:00:00+07:00"))
    assert await ids(client, "/Observation", {"patient": "Patient/malee", **fortnight}
                     ) == set()
    assert await ids(client, "/Observation", {"patient": "somchai", **fortnight}
                     ) == {"w2", "w3"}
    response = await client.delete("/Observation/w2")
    assert response.status_code in (200, 204), response.text
    assert await ids(client, "/Observation", {"patient": "Patient/somchai", **fortnight}
                     ) == {"w3"}


async def test_an_appointment_of_two_patients_both_asked_for_is_listed_once(
        client: httpx.AsyncClient) -> None:
    def appointment(id_: str, start: str, *patients: str) -> dict[str, Any]:
        return {"resourceType": "Appointment", "id": id_, "status": "booked",
                "start": start, "end": start.replace("T09", "T10"),
                "participant": [{"actor": {"reference": f"Patient/{p}"},
                                 "status": "accepted"} for p in patients]}

    await put(client, appointment("family", "2026-12-08T09:00:00+07:00", "mother", "son"),
              appointment("mother-alone", "2026-12-09T09:00:00+07:00", "mother"),
              appointment("neighbour", "2026-12-08T09:00:00+07:00", "neighbour"))
    bundle = await search(client, "/Appointment", [
        ("patient", "Patient/mother,Patient/son"), ("date", "ge2026-12-08"),
        ("date", "lt2026-12-10"), ("_sort", "-date")])
    assert matches(bundle) == ["mother-alone", "family"]
    bundle = await search(client, "/Appointment", [
        ("patient", "Patient/son"), ("date", "ge2026-12-08"), ("date", "lt2026-12-10"),
        ("_sort", "date")])
    assert matches(bundle) == ["family"]


async def test_a_patient_named_by_absolute_url_is_still_found(
        client: httpx.AsyncClient) -> None:
    reading = _reading("w1", "somchai", "2026-12-05T08:00:00+07:00")
    reading["subject"] = {"reference": "https://bangkok.mor.example/fhir/Patient/somchai"}
    await put(client, reading)
    for patient in ("Patient/somchai", "https://bangkok.mor.example/fhir/Patient/somchai"):
        assert await ids(client, "/Observation", {"patient": patient,
                                                  "date": "ge2026-12-01"}) == {"w1"}
    assert await ids(client, "/Observation", {"patient": "Patient/somchai",
                                              "date": "lt2026-12-01"}) == set()


def test_upgrading_pairs_the_dates_already_stored_with_their_patients(
        tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url)
    asyncio.run(_write_history(url))
    as_written = asyncio.run(_pairs(url))
    assert ("Observation", "date", "somchai") in {row[1:4] for row in as_written}
    assert ("Appointment", "date", "son") in {row[1:4] for row in as_written}
    downgrade(url, "0013")  # a database of the version before the pairs
    upgrade(url)
    assert asyncio.run(_pairs(url)) == as_written


async def _write_history(url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    try:
        async with Store(engine).writing(EVERYTHING) as tx:
            await tx.create(_reading("w1", "somchai", "2026-12-05T08:00:00+07:00"))
            await tx.create({"resourceType": "Encounter", "status": "finished",
                             "class": {"code": "VR"}, "subject": {"reference": "Patient/malee"},
                             "period": {"start": "2026-12-01T09:00:00+07:00",
                                        "end": "2026-12-01T09:20:00+07:00"}})
            await tx.create({"resourceType": "Appointment", "status": "booked",
                             "start": "2026-12-08T09:00:00+07:00",
                             "end": "2026-12-08T09:30:00+07:00",
                             "participant": [{"actor": {"reference": f"Patient/{p}"},
                                              "status": "accepted"}
                                             for p in ("mother", "son")]})
            # About nobody: no pairs.
            await tx.create({"resourceType": "Slot", "status": "free",
                             "schedule": {"reference": "Schedule/s"},
                             "start": "2026-12-08T09:00:00+07:00",
                             "end": "2026-12-08T09:30:00+07:00"})
    finally:
        await engine.dispose()


async def _pairs(url: str) -> list[tuple[Any, ...]]:
    engine = create_engine(Settings(database_url=url))
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(
                idx_patient_date.c.resource_pk, idx_patient_date.c.resource_type,
                idx_patient_date.c.param, idx_patient_date.c.patient_id,
                idx_patient_date.c.low, idx_patient_date.c.high))
            return sorted(tuple(row) for row in rows)
    finally:
        await engine.dispose()
