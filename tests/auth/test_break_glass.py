"""Breaking the glass: a doctor of another health centre reaches a patient in an
emergency, with a reason, for an hour; the opening and every access under it are
AuditEvents marked BTG with the reason, which the patient sees."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import update
from starlette.applications import Starlette

from mor.auth.roles import Role
from mor.db.schema import account, break_glass
from tests.auth.people import bearer, person_token

BASE = "https://mor.test/fhir"
REASON = "Unconscious after a road accident; brought to our centre, allergies unknown"


def _parameters(reason: str) -> dict[str, object]:
    return {"resourceType": "Parameters",
            "parameter": [{"name": "reason", "valueString": reason}]}


async def _token(app: Starlette, username: str, role: Role, fhir_user: str,
                 organizations: tuple[str, ...] = ()) -> dict[str, str]:
    return bearer(await person_token(app.state.store.engine, username, role, fhir_user,
                                     organizations))


@pytest.fixture
async def http(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    async with app.state.store.engine.begin() as conn:
        await conn.execute(account.delete())
        await conn.execute(break_glass.delete())
    for resource in ({"resourceType": "Patient", "id": "p",
                      "managingOrganization": {"reference": "Organization/hc-1"}},
                     {"resourceType": "AllergyIntolerance", "id": "a", "patient": {
                         "reference": "Patient/p"}, "code": {"text": "penicillin"}}):
        await client.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=BASE) as http:
        yield http


async def test_a_doctor_breaks_the_glass_and_it_is_loud(
    app: Starlette, http: httpx.AsyncClient, client: httpx.AsyncClient,
) -> None:
    doctor = await _token(app, "dr.other", Role.DOCTOR, "Practitioner/other", ("hc-2",))
    assert (await http.get("/AllergyIntolerance?patient=Patient/p",
                           headers=doctor)).json().get("entry", []) == []
    too_short = await http.post("/Patient/p/$break-glass", json=_parameters("urgent"),
                                headers=doctor)
    assert too_short.status_code == 400
    opened = await http.post("/Patient/p/$break-glass", json=_parameters(REASON),
                             headers=doctor)
    assert opened.status_code == 200, opened.text
    assert opened.json()["parameter"][0]["name"] == "expires"
    found = (await http.get("/AllergyIntolerance?patient=Patient/p", headers=doctor)).json()
    assert [e["resource"]["id"] for e in found["entry"]] == ["a"]
    events = (await client.get("/AuditEvent", params={"entity": "Patient/p",
                                                      "_sort": "date"})).json()["entry"]
    marked = [e["resource"] for e in events if e["resource"].get("purposeOfEvent")]
    assert len(marked) == 2  # the opening, and the search under it
    assert all(e["purposeOfEvent"][0]["coding"][0]["code"] == "BTG" for e in marked)
    assert all(e["purposeOfEvent"][0]["text"] == REASON for e in marked)
    # An hour later, it is over.
    async with app.state.store.engine.begin() as conn:
        await conn.execute(update(break_glass).values(expires=0))
    assert (await http.get("/AllergyIntolerance?patient=Patient/p",
                           headers=doctor)).json().get("entry", []) == []


async def test_only_clinicians_break_the_glass(app: Starlette, http: httpx.AsyncClient) -> None:
    admin = await _token(app, "admin", Role.CITY_ADMIN, "Practitioner/admin")
    patient = await _token(app, "0899999999", Role.PATIENT, "Patient/someone")
    for headers in (admin, patient):
        response = await http.post("/Patient/p/$break-glass", json=_parameters(REASON),
                                   headers=headers)
        assert response.status_code == 403
    anonymous = await http.post("/Patient/p/$break-glass", json=_parameters(REASON))
    assert anonymous.status_code == 401
    doctor = await _token(app, "dr.other", Role.DOCTOR, "Practitioner/other", ("hc-2",))
    missing = await http.post("/Patient/nobody/$break-glass", json=_parameters(REASON),
                              headers=doctor)
    assert missing.status_code == 404
