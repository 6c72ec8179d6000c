"""mor driven by fhirpy, a FHIR client library written by others."""

from __future__ import annotations

import httpx
import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import OperationOutcome, ResourceNotFound

from tests.conftest import auth_headers


async def test_fhirpy_create_read_update_search_delete(
    client: httpx.AsyncClient, live_server: str
) -> None:
    fhir = AsyncFHIRClient(live_server, extra_headers={"Accept": "application/fhir+json"},
                           authorization=auth_headers(client)["Authorization"])
    patient = fhir.resource(
        "Patient",
        identifier=[{"system": "https://vientiane.example/la-id", "value": "VTE-001"}],
        name=[{"family": "ພົມມະຈັນ", "given": ["ສົມສັກ"]}],
        birthDate="1975-06-01",
    )
    await patient.save()
    assert patient.id
    assert patient["meta"]["versionId"] == "1"

    found = await fhir.resources("Patient").search(
        identifier="https://vientiane.example/la-id|VTE-001").fetch()
    assert [p.id for p in found] == [patient.id]

    patient["gender"] = "male"
    await patient.save()
    fetched = await fhir.reference("Patient", patient.id).to_resource()
    assert fetched["gender"] == "male"
    assert fetched["meta"]["versionId"] == "2"
    assert fetched["name"][0]["family"] == "ພົມມະຈັນ"

    await fetched.delete()
    with pytest.raises((ResourceNotFound, OperationOutcome)):
        await fhir.reference("Patient", patient.id).to_resource()


async def test_fhirpy_sees_validation_errors_as_operation_outcome(
    client: httpx.AsyncClient, live_server: str
) -> None:
    fhir = AsyncFHIRClient(live_server, authorization=auth_headers(client)["Authorization"])
    observation = fhir.resource("Observation", code={"text": "glucose"})
    with pytest.raises(OperationOutcome) as raised:
        await observation.save()
    assert "status" in str(raised.value)
