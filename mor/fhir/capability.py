"""The CapabilityStatement: what this server does, and nothing it does not."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import mor
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.search import supported_parameters

_TYPE_INTERACTIONS = ["read", "vread", "update", "patch", "delete", "history-instance",
                      "history-type", "create", "search-type"]


def capability_statement(base_url: str) -> dict[str, Any]:
    return _build(base_url)


@lru_cache(maxsize=8)
def _build(base_url: str) -> dict[str, Any]:
    resources = []
    for resource_type in sorted(RESOURCE_TYPES):
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
            "searchParam": [
                {"name": p.code, "definition": p.url, "type": p.type}
                for p in supported_parameters(resource_type)
            ],
        })
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
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"},
                            {"code": "history-system"}],
        }],
    }
