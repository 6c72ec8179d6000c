"""The authorisation matrix: every kind of caller against every kind of request, on
resources in and out of their reach. Each cell states the exact answer: the status and,
for a 200 search, exactly which resources come back.

Data: health centres hc-1 and hc-2; patient a (of hc-1) with observation oa, who shares
her record with the partner city "vientiane"; patient b (of hc-2) with observation ob; a
nurse whose PractitionerRole is at hc-1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey
from starlette.applications import Starlette

from mor.auth.clients import Clients
from mor.auth.roles import Role
from mor.auth.tokens import Tokens
from mor.db.schema import account
from tests.auth.people import person_token

BASE = "https://mor.test/fhir"
OA = {"resourceType": "Observation", "id": "oa", "status": "final", "code": {"text": "weight"},
      "subject": {"reference": "Patient/a"}}
SEED = [
    {"resourceType": "Organization", "id": "hc-1"},
    {"resourceType": "Organization", "id": "hc-2"},
    {"resourceType": "Patient", "id": "a",
     "managingOrganization": {"reference": "Organization/hc-1"}},
    {"resourceType": "Patient", "id": "b",
     "managingOrganization": {"reference": "Organization/hc-2"}},
    OA,
    {**OA, "id": "ob", "subject": {"reference": "Patient/b"}},
    {"resourceType": "Organization", "id": "vientiane", "name": "Vientiane Capital"},
    {"resourceType": "Consent", "id": "ca", "status": "active",
     "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                           "code": "patient-privacy"}]},
     "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
     "patient": {"reference": "Patient/a"},
     "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                "code": "OPTIN"}]},
     "provision": {"type": "permit", "actor": [{
         "role": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                        "v3-ParticipationType", "code": "IRCP"}]},
         "reference": {"reference": "Organization/vientiane"}}]}},
    {"resourceType": "PractitionerRole", "id": "n1-hc-1", "active": True,
     "practitioner": {"reference": "Practitioner/n1"},
     "organization": {"reference": "Organization/hc-1"}},
]

# The requests, in the order they run: reads first, so the writes change nothing a read
# of the same caller expects.
REQUESTS: dict[str, tuple[str, str, Any]] = {
    "read": ("GET", "/Observation/oa", None),
    "vread": ("GET", "/Observation/oa/_history/1", None),
    "search+include": ("GET", "/Observation?_include=Observation:subject", None),
    "search+revinclude": ("GET", "/Patient?_revinclude=Observation:subject", None),
    "history": ("GET", "/Observation/_history", None),
    "everything": ("GET", "/Patient/a/$everything", None),
    "export": ("GET", "/$export", None),
    "create": ("POST", "/Observation", {**OA, "id": None}),
    "update": ("PUT", "/Observation/oa", {**OA, "status": "amended"}),
    "delete": ("DELETE", "/Observation/ob", None),
}

A_RECORD = {"Observation/oa", "Patient/a"}
B_RECORD = {"Observation/ob", "Patient/b"}
A_EVERYTHING = {"Patient/a", "Observation/oa", "Organization/hc-1", "Consent/ca",
                "Organization/vientiane"}

# (status, resources of a 200 Bundle) for each caller and request. Every cell is filled.
Cell = tuple[int, set[str] | None]
EXPECTED: dict[str, dict[str, Cell]] = {
    "anonymous": {name: (401, None) for name in REQUESTS},
    "patient a": {
        "read": (200, None), "vread": (200, None), "search+include": (200, A_RECORD),
        "search+revinclude": (200, A_RECORD), "history": (200, {"Observation/oa"}),
        "everything": (200, A_EVERYTHING), "export": (403, None), "create": (201, None),
        "update": (403, None), "delete": (403, None)},
    "patient b": {
        "read": (404, None), "vread": (404, None), "search+include": (200, B_RECORD),
        "search+revinclude": (200, B_RECORD), "history": (200, {"Observation/ob"}),
        "everything": (404, None), "export": (403, None), "create": (403, None),
        "update": (403, None), "delete": (403, None)},
    "unverified patient a": {
        "read": (404, None), "vread": (404, None), "search+include": (200, set()),
        "search+revinclude": (200, set()), "history": (200, set()),
        "everything": (404, None), "export": (403, None), "create": (403, None),
        "update": (403, None), "delete": (403, None)},
    "doctor hc-1": {
        "read": (200, None), "vread": (200, None), "search+include": (200, A_RECORD),
        "search+revinclude": (200, A_RECORD), "history": (200, {"Observation/oa"}),
        "everything": (200, A_EVERYTHING), "export": (403, None), "create": (201, None),
        "update": (200, None), "delete": (403, None)},
    "doctor hc-2": {
        "read": (404, None), "vread": (404, None), "search+include": (200, B_RECORD),
        "search+revinclude": (200, B_RECORD), "history": (200, {"Observation/ob"}),
        "everything": (404, None), "export": (403, None), "create": (403, None),
        "update": (403, None), "delete": (200, None)},
    "pharmacist hc-1": {
        "read": (200, None), "vread": (200, None), "search+include": (200, A_RECORD),
        "search+revinclude": (200, A_RECORD), "history": (200, {"Observation/oa"}),
        "everything": (200, A_EVERYTHING), "export": (403, None), "create": (201, None),
        "update": (200, None), "delete": (403, None)},
    "nurse rostered at hc-1": {
        "read": (200, None), "vread": (200, None), "search+include": (200, A_RECORD),
        "search+revinclude": (200, A_RECORD), "history": (200, {"Observation/oa"}),
        "everything": (200, A_EVERYTHING), "export": (403, None), "create": (201, None),
        "update": (200, None), "delete": (403, None)},
    "partner city shared with by a": {
        "read": (200, None), "vread": (200, None), "search+include": (200, A_RECORD),
        "search+revinclude": (200, A_RECORD), "history": (200, {"Observation/oa"}),
        "everything": (200, A_EVERYTHING), "export": (403, None), "create": (403, None),
        "update": (403, None), "delete": (403, None)},
    "city admin": {
        "read": (404, None), "vread": (404, None), "search+include": (200, set()),
        "search+revinclude": (200, set()), "history": (200, set()),
        "everything": (404, None), "export": (403, None), "create": (403, None),
        "update": (403, None), "delete": (403, None)},
    "app patient/*.rs launched for a": {
        "read": (200, None), "vread": (200, None), "search+include": (200, A_RECORD),
        "search+revinclude": (200, A_RECORD), "history": (200, {"Observation/oa"}),
        "everything": (200, A_EVERYTHING), "export": (403, None), "create": (403, None),
        "update": (403, None), "delete": (403, None)},
    "app user/*.rs of doctor hc-1": {
        "read": (200, None), "vread": (200, None), "search+include": (200, A_RECORD),
        "search+revinclude": (200, A_RECORD), "history": (200, {"Observation/oa"}),
        "everything": (200, A_EVERYTHING), "export": (403, None), "create": (403, None),
        "update": (403, None), "delete": (403, None)},
    "app user/Patient.rs of doctor hc-1": {
        "read": (403, None), "vread": (403, None), "search+include": (403, None),
        "search+revinclude": (200, {"Patient/a"}), "history": (403, None),
        "everything": (200, {"Patient/a"}), "export": (403, None), "create": (403, None),
        "update": (403, None), "delete": (403, None)},
    "service system/*.rs": {
        "read": (200, None), "vread": (200, None),
        "search+include": (200, A_RECORD | B_RECORD),
        "search+revinclude": (200, A_RECORD | B_RECORD),
        "history": (200, {"Observation/oa", "Observation/ob"}),
        "everything": (200, A_EVERYTHING), "export": (202, None), "create": (403, None),
        "update": (403, None), "delete": (403, None)},
    "service system/*.cruds": {
        "read": (200, None), "vread": (200, None),
        "search+include": (200, A_RECORD | B_RECORD),
        "search+revinclude": (200, A_RECORD | B_RECORD),
        "history": (200, {"Observation/oa", "Observation/ob"}),
        "everything": (200, A_EVERYTHING), "export": (202, None), "create": (201, None),
        "update": (200, None), "delete": (200, None)},
}


async def _person(engine: Any, role: Role, fhir_user: str, organizations: tuple[str, ...] = (),
                  *, scope: str = "user/*.cruds", patient: str | None = None,
                  verified: bool = True) -> str:
    return await person_token(engine, f"{role.value}-{fhir_user}-{scope}-{verified}".lower(),
                              role, fhir_user, organizations, verified=verified, scope=scope,
                              patient=patient)


async def _service(engine: Any, scope: str, partner: str | None = None) -> str:
    app = await Clients(engine).add(
        "a service", scope=scope, partner_organization=partner,
        jwks={"keys": [ECKey.generate_key("P-384").as_dict(private=False)]})
    answer = await Tokens(engine).issue(client_id=app.client.client_id, account_id=None,
                                        scope=scope)
    return str(answer["access_token"])


CALLERS: dict[str, Callable[[Any], Any]] = {
    "anonymous": lambda engine: _none(),
    "patient a": lambda engine: _person(engine, Role.PATIENT, "Patient/a"),
    "patient b": lambda engine: _person(engine, Role.PATIENT, "Patient/b"),
    "unverified patient a": lambda engine: _person(engine, Role.PATIENT, "Patient/a",
                                                   verified=False),
    "doctor hc-1": lambda engine: _person(engine, Role.DOCTOR, "Practitioner/d1", ("hc-1",)),
    "doctor hc-2": lambda engine: _person(engine, Role.DOCTOR, "Practitioner/d2", ("hc-2",)),
    "pharmacist hc-1": lambda engine: _person(engine, Role.PHARMACIST, "Practitioner/p1",
                                              ("hc-1",)),
    "nurse rostered at hc-1": lambda engine: _person(engine, Role.NURSE, "Practitioner/n1"),
    "partner city shared with by a": lambda engine: _service(engine, "system/*.cruds",
                                                             partner="vientiane"),
    "city admin": lambda engine: _person(engine, Role.CITY_ADMIN, "Practitioner/admin"),
    "app patient/*.rs launched for a": lambda engine: _person(
        engine, Role.PATIENT, "Patient/a", scope="launch/patient patient/*.rs", patient="a"),
    "app user/*.rs of doctor hc-1": lambda engine: _person(
        engine, Role.DOCTOR, "Practitioner/d1", ("hc-1",), scope="user/*.rs"),
    "app user/Patient.rs of doctor hc-1": lambda engine: _person(
        engine, Role.DOCTOR, "Practitioner/d1", ("hc-1",), scope="user/Patient.rs"),
    "service system/*.rs": lambda engine: _service(engine, "system/*.rs"),
    "service system/*.cruds": lambda engine: _service(engine, "system/*.cruds"),
}


async def _none() -> None:
    return None


def test_every_cell_is_stated() -> None:
    assert set(EXPECTED) == set(CALLERS)
    for caller, row in EXPECTED.items():
        assert set(row) == set(REQUESTS), caller


@pytest.fixture
async def http(app: Starlette, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    for resource in SEED:
        response = await client.put(f"/{resource['resourceType']}/{resource['id']}",
                                    json=resource)
        assert response.status_code == 201, response.text
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url=BASE) as http:
        yield http


@pytest.mark.parametrize("caller", list(CALLERS))
async def test_the_matrix(app: Starlette, http: httpx.AsyncClient, caller: str) -> None:
    engine = app.state.store.engine
    async with engine.begin() as conn:
        await conn.execute(account.delete())
    token = await CALLERS[caller](engine)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answers: dict[str, Cell] = {}
    for name, (method, url, body) in REQUESTS.items():
        extra = {"Prefer": "respond-async"} if name == "export" else {}
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if v is not None}
        response = await http.request(method, url, json=body, headers={**headers, **extra})
        found = None
        if response.status_code == 200 and response.json().get("resourceType") == "Bundle":
            found = {f"{e['resource']['resourceType']}/{e['resource']['id']}"
                     for e in response.json().get("entry", [])
                     if e["resource"]["resourceType"] != "OperationOutcome"}
        answers[name] = (response.status_code, found)
        if response.status_code >= 400:
            assert response.json()["resourceType"] == "OperationOutcome"
    assert answers == EXPECTED[caller]


async def test_a_refused_write_leaves_nothing(app: Starlette, http: httpx.AsyncClient) -> None:
    engine = app.state.store.engine
    token = await _person(engine, Role.DOCTOR, "Practitioner/d2", ("hc-2",))
    response = await http.put("/Observation/oa", json={**OA, "status": "amended"},
                              headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    service = await _service(engine, "system/*.rs")
    stored = (await http.get("/Observation/oa",
                             headers={"Authorization": f"Bearer {service}"})).json()
    assert stored["status"] == "final" and stored["meta"]["versionId"] == "1"

