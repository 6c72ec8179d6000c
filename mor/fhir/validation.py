"""Checking that a resource is one mor may store.

Structure is checked against the official R4 StructureDefinitions (see
:mod:`mor.fhir.structure_validation`); this module adds the rules a server
applies on top: the resource type must be the one the URL names, the id must
be a valid FHIR id and agree with the URL.
"""

from __future__ import annotations

import re
from typing import Any

from mor.fhir.errors import BadRequest, InvalidResource, Issue, UnknownResourceType
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.structure_validation import validate_structure

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")


def check_resource_type(resource_type: str) -> None:
    if resource_type not in RESOURCE_TYPES:
        raise UnknownResourceType(
            f"'{resource_type}' is not a FHIR R4 resource type; check the spelling and "
            "capitalisation (for example 'Patient', 'Observation')"
        )


def check_id(resource_id: str) -> None:
    if not ID_PATTERN.match(resource_id):
        raise BadRequest(
            f"'{resource_id}' is not a valid FHIR id: use 1 to 64 letters, digits, '-' or '.'"
        )


def require_resource(body: Any, expected_type: str | None) -> dict[str, Any]:
    """Check a parsed request body is a resource, of the expected type if one is given."""
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object holding one FHIR resource")
    resource_type = body.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        raise InvalidResource(
            "The resource has no 'resourceType'; add it, e.g. \"resourceType\": \"Patient\""
        )
    check_resource_type(resource_type)
    if expected_type is not None and resource_type != expected_type:
        raise BadRequest(
            f"The body is a {resource_type} but the URL is for {expected_type}; "
            f"send it to /{resource_type} instead"
        )
    return body


def validate_resource(resource: dict[str, Any]) -> None:
    """Raise InvalidResource listing every structural problem, or return if there is none."""
    problems = validate_structure(resource)
    if problems:
        issues = [Issue(f"{p.path}: {p.message}", code="structure", expression=p.path)
                  for p in problems]
        count = len(issues)
        summary = issues[0].diagnostics if count == 1 else (
            f"The {resource.get('resourceType')} has {count} problems; the first: "
            f"{issues[0].diagnostics}"
        )
        raise InvalidResource(summary, issues=issues)
