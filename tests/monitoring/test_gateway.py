"""A device gateway (a clinic's blood-pressure kiosk, a vendor's cloud for home meters)
sends readings as a SMART backend service: it gets a token with a signed assertion,
posts a batch of Observations as conditional creates, resends it after a timeout without
duplicating anything, and mor's watcher raises the alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.monitoring.alerts import ALERT_CODE, reading_ids, rule_of
from mor.services.monitoring.codes import READING_ID_SYSTEM
from mor.services.monitoring.plans import enrol
from mor.services.monitoring.readings import Reading, observation_of, reading_of
from mor.services.monitoring.watcher import watch_once
from mor.services.scheduling.lookup import find
from tests.auth.test_smart_backend_services import BASE, bearer, fetch_token, register
from tests.video.conftest import Centre

NOW = datetime.now(UTC).replace(microsecond=0)


def batch(patient_id: str, readings: list[tuple[str, Reading]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": observation, "request": {
            "method": "POST", "url": "Observation",
            "ifNoneExist": f"identifier={READING_ID_SYSTEM}|{reading.key}"}}
        for observation, reading in ((_as_sent(kind, patient_id, r), r)
                                     for kind, r in readings)]}


def _as_sent(unit: str, patient_id: str, reading: Reading) -> dict[str, Any]:
    observation = observation_of(reading, patient_id, None)
    if unit == "mmol/L":  # a meter set to mmol/L, as outside Thailand
        observation["valueQuantity"] = {"value": round(reading.values["glucose"] / 18.016, 1),
                                        "unit": "mmol/L", "system": "http://unitsofmeasure.org",
                                        "code": "mmol/L"}
    return observation


@pytest.fixture
async def gateway(app: Starlette, client: httpx.AsyncClient) -> httpx.AsyncClient:
    service = await register(app, "system/Observation.crs")
    token = await fetch_token(app, service, "system/Observation.crs")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"{BASE}/fhir",
                             headers=bearer(token))


async def test_a_gateway_s_batch_sent_twice_is_stored_once_and_alerts_once(
        store: Store, centre: Centre, gateway: httpx.AsyncClient) -> None:
    booked = await centre.booking(store)
    patient_id = booked.patient.id
    await enrol(store, booked.patient.caller, patient_id, ["diabetes"],
                now=NOW - timedelta(days=1))
    await watch_once(store, now=NOW)
    readings = [
        ("mm[Hg]", Reading("bp", NOW - timedelta(hours=2), {"systolic": 182, "diastolic": 96},
                           key="urn:uuid:7d3f4a0e-0c1b-4f55-9d43-5b2f0a7e9c01")),
        ("mmol/L", Reading("glucose", NOW - timedelta(hours=1), {"glucose": 50}, "fasting",
                           key="urn:uuid:7d3f4a0e-0c1b-4f55-9d43-5b2f0a7e9c02")),
    ]
    async with gateway:
        first = await gateway.post("", json=batch(patient_id, readings))
        again = await gateway.post("", json=batch(patient_id, readings))
        refused = await gateway.delete(
            f"/Observation/{first.json()['entry'][0]['response']['location'].split('/')[-3]}")
    assert [e["response"]["status"] for e in first.json()["entry"]] == ["201 Created"] * 2
    assert [e["response"]["status"][:3] for e in again.json()["entry"]] == ["200", "200"]
    assert refused.status_code == 403
    assert refused.json()["resourceType"] == "OperationOutcome"

    assert await watch_once(store, now=NOW) == 1
    async with store.reading(EVERYTHING) as tx:
        stored = await find(tx, "Observation", [("patient", f"Patient/{patient_id}")])
        alerts = await find(tx, "Task", [("code", ALERT_CODE),
                                         ("patient", f"Patient/{patient_id}")])
    assert len(stored) == 2
    sugar = next(r for o in stored if (r := reading_of(o)) and r.kind == "glucose")
    assert sugar.values["glucose"] == 50  # 2.8 mmol/L, as mg/dL
    assert sorted(rule_of(t) or "" for t in alerts) == ["bp-urgent", "glucose-urgent"]
    assert all(len(reading_ids(t)) == 1 for t in alerts)
