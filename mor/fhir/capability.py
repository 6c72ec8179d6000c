"""The CapabilityStatement: what this server does, and nothing it does not."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import mor
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.search import supported_parameters
from mor.fhir.search.compartments import compartment_types

_TYPE_INTERACTIONS = ["read", "vread", "update", "patch", "delete", "history-instance",
                      "history-type", "create", "search-type"]


def capability_statement(base_url: str) -> dict[str, Any]:
    return _build(base_url)


@lru_cache(maxsize=8)
def _build(base_url: str) -> dict[str, Any]:
    resources = []
    for resource_type in sorted(RESOURCE_TYPES):
        parameters = supported_parameters(resource_type)
        references = [p for p in parameters if p.type == "reference"]
        resources.append({
            "type": resource_type,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
            "interaction": [{"code": code} for code in _TYPE_INTERACTIONS],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": True,
            "conditionalCreate": True,
            "conditionalRead": "not-supported",
            "conditionalUpdate": True,
            "conditionalDelete": "single",
            "searchInclude": ["*", *[f"{resource_type}:{p.code}" for p in references]],
            "searchRevInclude": ["*"],
            "searchParam": [
                {"name": p.code, "definition": p.url, "type": p.type}
                for p in parameters
            ],
        })
        if resource_type == "Patient":
            resources[-1]["operation"] = [{
                "name": "everything",
                "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]
        if resource_type == "ValueSet":
            # ICD-10 only (url=http://hl7.org/fhir/sid/icd-10), answered by mor.api.
            resources[-1]["operation"] = [{
                "name": "expand",
                "definition": "http://hl7.org/fhir/OperationDefinition/ValueSet-expand"}]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-23",
        "kind": "instance",
        "software": {"name": "mor", "version": mor.__version__},
        "implementation": {"description": "mor FHIR R4 server", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [{
            "mode": "server",
            "security": _security(base_url),
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"},
                            {"code": "history-system"}, {"code": "search-system"}],
            "compartment": [f"http://hl7.org/fhir/CompartmentDefinition/{code.lower()}"
                            if code != "RelatedPerson" else
                            "http://hl7.org/fhir/CompartmentDefinition/relatedPerson"
                            for code in compartment_types()],
        }],
    }


def _security(fhir_base: str) -> dict[str, Any]:
    """SMART on FHIR: where to get tokens (the oauth-uris extension of SMART App Launch)."""
    server = fhir_base.removesuffix("/fhir")
    return {
        "cors": False,
        "service": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
            "code": "SMART-on-FHIR"}]}],
        "description": "Every request but this one needs an OAuth 2.0 bearer token (SMART "
                       "App Launch 2); see .well-known/smart-configuration",
        "extension": [{
            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
            "extension": [
                {"url": "authorize", "valueUri": f"{server}/auth/authorize"},
                {"url": "token", "valueUri": f"{server}/auth/token"},
                {"url": "revoke", "valueUri": f"{server}/auth/revoke"},
                {"url": "introspect", "valueUri": f"{server}/auth/introspect"},
            ]}],
    }
