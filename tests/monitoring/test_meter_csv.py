"""Meter exports read as readings: an Omron-style blood-pressure file, glucose meters'
files in mg/dL and mmol/L, day-first, ISO and Buddhist Era dates, times in the city's
zone; the lines not understood, each with its number and why; and the same file
imported twice, stored once (on SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.meter_csv import (
    MAX_BYTES,
    BadFile,
    parse_meter_csv,
)
from mor.services.monitoring.plans import enrol
from mor.services.monitoring.readings import record
from mor.services.scheduling.lookup import find
from tests.video.conftest import Centre

BANGKOK = ZoneInfo("Asia/Bangkok")

OMRON = b"""\xef\xbb\xbfOmron Connect,Export
Date,Time,Systolic (mmHg),Diastolic (mmHg),Pulse (bpm),Irregular heartbeat,Notes
30/11/2026,07:15,132,84,72,,
30/11/2026,7:30 PM,185,115,90,Yes,dizzy
2026-12-01,06:55,128,82,,,
01/12/2026,07:00,abc,80,70,,
02/12/2026,,130,80,70,,
02/12/2026,07:00,80,120,70,,

"""

ACCU_CHEK = b"""Date/Time;Value;Unit;Meal marker
2026-11-30T07:00:00+07:00;5,6;mmol/L;Before meal
30.11.2026 12:30;180;mg/dL;After meal
01/12/2569 06:45;95;mg/dL;
01/12/2026 21:00;HI;mg/dL;
01/12/2026 21:05;12;mmol/X;
31/02/2026 08:00;100;mg/dL;fasting
"""

GLUCOSE_MMOL_HEADER = b"""date,time,glucose (mmol/L),meal
2026-12-02,07:00,7.0,fasting
"""


def test_an_omron_export_gives_blood_pressure_readings_in_the_city_zone() -> None:
    parsed = parse_meter_csv(OMRON, patient_id="p1", zone=BANGKOK, file_name="omron.csv")
    assert parsed.kind == "bp"
    assert [(r.taken.isoformat(), dict(r.values)) for r in parsed.readings] == [
        ("2026-11-30T07:15:00+07:00", {"systolic": 132, "diastolic": 84, "pulse": 72}),
        ("2026-11-30T19:30:00+07:00", {"systolic": 185, "diastolic": 115, "pulse": 90}),
        ("2026-12-01T06:55:00+07:00", {"systolic": 128, "diastolic": 82}),  # no pulse
    ]
    assert {r.source for r in parsed.readings} == {"omron.csv"}
    # Numbered as an editor shows them: the preamble and the header line count.
    assert [(r.line, r.reason, dict(r.params)) for r in parsed.rejected] == [
        (6, "{value} is not a number", {"value": "abc"}),
        (7, "The line has no time", {}),
        (8, "The upper number (systolic) is bigger than the lower one (diastolic); "
            "check the order", {}),
    ]


def test_a_glucose_export_converts_mmol_and_reads_the_meal_marker() -> None:
    parsed = parse_meter_csv(ACCU_CHEK, patient_id="p1", zone=BANGKOK)
    assert parsed.kind == "glucose"
    assert [(r.taken.isoformat(), r.values["glucose"], r.context)
            for r in parsed.readings] == [
        ("2026-11-30T07:00:00+07:00", 101, "fasting"),  # 5.6 mmol/L, a decimal comma
        ("2026-11-30T12:30:00+07:00", 180, "after-meal"),
        ("2026-12-01T06:45:00+07:00", 95, "random"),  # 2569 in the Buddhist Era
    ]
    assert [(r.line, r.params) for r in parsed.rejected] == [
        (5, {"value": "HI"}), (6, {"unit": "mmol/X"}), (7, {"value": "31/02/2026"})]
    assert "out of its range" in parsed.rejected[0].reason
    assert "not a date" in parsed.rejected[2].reason

    header_unit = parse_meter_csv(GLUCOSE_MMOL_HEADER, patient_id="p1", zone=BANGKOK)
    assert [r.values["glucose"] for r in header_unit.readings] == [126]


def test_the_same_line_gets_the_same_key_and_another_patient_another() -> None:
    first = parse_meter_csv(OMRON, patient_id="p1", zone=BANGKOK, file_name="a.csv")
    again = parse_meter_csv(OMRON, patient_id="p1", zone=BANGKOK, file_name="b.csv")
    other = parse_meter_csv(OMRON, patient_id="p2", zone=BANGKOK)
    keys = [r.key for r in first.readings]
    assert keys == [r.key for r in again.readings]  # renamed file, same readings
    assert not set(keys) & {r.key for r in other.readings}
    assert len(set(keys)) == 3
    assert all(k.startswith("urn:sha256:") for k in keys)


def test_files_that_are_no_meter_export_or_too_big_are_refused() -> None:
    with pytest.raises(BadFile, match="not a blood pressure or blood sugar export"):
        parse_meter_csv(b"name,address\nSomsak,Bangkok\n", patient_id="p1", zone=BANGKOK)
    with pytest.raises(BadFile, match="bigger than a meter's export"):
        parse_meter_csv(b"Date,Systolic,Diastolic\n" + b"x" * MAX_BYTES, patient_id="p1",
                        zone=BANGKOK)


async def test_importing_the_same_export_twice_stores_each_reading_once(
        store: Store, centre: Centre) -> None:
    booked = await centre.booking(store)
    patient = booked.patient
    now = datetime.now(BANGKOK)
    plan = await enrol(store, patient.caller, patient.id, ["hypertension"], now=now)
    day = (now - timedelta(days=1)).strftime("%d/%m/%Y")
    export = (f"Date,Time,Systolic,Diastolic,Pulse\n{day},07:00,130,80,70\n"
              f"{day},19:00,135,85,72\n").encode()
    added = []
    for _ in range(2):
        parsed = parse_meter_csv(export, patient_id=patient.id, zone=BANGKOK)
        added.append([(await record(store, patient.caller, patient.id, r, plan.id)).new
                      for r in parsed.readings])
    assert added == [[True, True], [False, False]]
    async with store.reading(EVERYTHING) as tx:
        stored = await find(tx, "Observation", [("patient", f"Patient/{patient.id}")])
    assert len(stored) == 2
    assert {o["basedOn"][0]["reference"] for o in stored} == {f"CarePlan/{plan.id}"}
