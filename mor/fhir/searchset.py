"""Search results as a FHIR ``searchset`` Bundle: type, system and compartment search,
and ``Patient/[id]/$everything``."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement

from mor.db.schema import resource
from mor.fhir.errors import BadRequest, Issue
from mor.fhir.outcome import operation_outcome
from mor.fhir.requests import FhirRequest, FhirResponse
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.search import Context, compile_search
from mor.fhir.search.compartments import in_compartment, members
from mor.fhir.search.conditions import Scope
from mor.fhir.search.execution import SearchPage, run_search
from mor.fhir.search.includes import Include
from mor.fhir.search.shaping import shape
from mor.fhir.search.value_sets import resolve_value_sets
from mor.fhir.search.values import date_value
from mor.fhir.store import StoredResource, Transaction

# In a patient's compartment, but the trail of who looked at the record rather than the
# record: it grows with every read (of $everything too), so $everything and
# Patient/[id]/* leave it out unless _type (or the URL) names it.
RECORD_KEEPING_TYPES = frozenset({"AuditEvent"})


def search_params(request: FhirRequest) -> list[tuple[str, str]]:
    """The query parameters, and for ``POST _search`` the form-encoded body too."""
    params = list(request.params)
    if request.method == "POST" and isinstance(request.body, list):
        params.extend(request.body)
    return params


async def type_search(tx: Transaction, request: FhirRequest, resource_type: str) -> FhirResponse:
    return await _search(tx, request, resource_type, resource_type, search_params(request))


async def system_search(tx: Transaction, request: FhirRequest) -> FhirResponse:
    """A search across types: those listed in ``_type``, else every type."""
    params = search_params(request)
    types: list[str] = []
    for name, value in params:
        if name == "_type":
            for item in value.split(","):
                if item not in RESOURCE_TYPES:
                    raise BadRequest(f"_type: '{item}' is not a FHIR R4 resource type")
                types.append(item)
    rest = [(n, v) for n, v in params if n != "_type"]
    fixed = [("_type", ",".join(dict.fromkeys(types)))] if types else []
    return await _search(tx, request, tuple(dict.fromkeys(types)) or None, "", rest,
                         fixed=fixed)


async def compartment_search(tx: Transaction, request: FhirRequest, compartment: str,
                             owner_id: str, resource_type: str) -> FhirResponse:
    """``Patient/123/Observation?...``: a search among one patient's resources."""
    linked = members(compartment)
    types: tuple[str, ...]
    if resource_type == "*":
        types = (*(t for t in linked if t not in RECORD_KEEPING_TYPES), compartment)
    elif resource_type in linked or resource_type == compartment:
        types = (resource_type,)
    else:
        raise BadRequest(f"{resource_type} resources are never in a {compartment}'s "
                         f"compartment; the types that are: {', '.join(linked)}")
    scope = Scope(resource, types)
    path = f"{compartment}/{owner_id}/{resource_type}"
    return await _search(tx, request, types, path, search_params(request),
                         extra=[in_compartment(scope, compartment, owner_id)])


async def everything(tx: Transaction, request: FhirRequest, patient_id: str) -> FhirResponse:
    """``Patient/[id]/$everything``: the patient, everything in their compartment, and the
    resources those refer to that belong to nobody (practitioners, organisations,
    medications ...), a page at a time."""
    await tx.read("Patient", patient_id)  # 404 or 410 when there is no such patient
    linked = members("Patient")
    types: tuple[str, ...] = ("Patient", *(t for t in linked if t not in RECORD_KEEPING_TYPES))
    params: list[tuple[str, str]] = []
    fixed: list[tuple[str, str]] = []
    extra: list[ColumnElement[bool]] = []
    for name, value in search_params(request):
        if name == "_type":
            asked = value.split(",")
            unknown = [t for t in asked if t not in linked and t != "Patient"]
            if unknown:
                raise BadRequest(f"_type: {', '.join(unknown)} never belong to a patient's "
                                 "record; use types of the Patient compartment")
            types = tuple(t for t in ("Patient", *linked) if t in asked)
            fixed.append((name, value))
        elif name == "_since":
            extra.append(resource.c.last_updated >= date_value("_since", value)[0])
            fixed.append((name, value))
        elif name in ("_count", "_cursor", "_format", "_pretty", "_summary", "_elements"):
            params.append((name, value))
        else:
            raise BadRequest(f"$everything takes _since, _type and _count, not '{name}'")
    scope = Scope(resource, types)
    return await _search(
        tx, request, types, f"Patient/{patient_id}/$everything", params, fixed=fixed,
        extra=[in_compartment(scope, "Patient", patient_id), *extra],
        includes=[Include(False, False, None, None, None)],
        skip_included_types={"Patient", *linked})


async def _search(
    tx: Transaction, request: FhirRequest, types: str | tuple[str, ...] | None, path: str,
    params: Sequence[tuple[str, str]], *, fixed: Sequence[tuple[str, str]] = (),
    extra: Sequence[ColumnElement[bool]] = (), includes: Sequence[Include] = (),
    skip_included_types: Collection[str] = (),
) -> FhirResponse:
    context = Context(value_sets=await resolve_value_sets(tx, params))
    compiled = compile_search(types, params, strict=request.prefer_strict, context=context,
                              extra=extra, access=tx.limits)
    compiled.includes.extend(includes)
    page = await run_search(tx, compiled, skip_included_types=skip_included_types)
    base = f"{request.base_url}/{path}" if path else request.base_url
    applied = [*fixed, *compiled.applied]
    cursor = next((v for n, v in params if n == "_cursor"), None)
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if page.total is not None:
        bundle["total"] = page.total
    links = [{"relation": "self", "url": page_link(base, applied, cursor)}]
    if page.next_cursor is not None:
        links.append({"relation": "next", "url": page_link(base, applied, page.next_cursor)})
    bundle["link"] = links
    if not compiled.summary_count:
        bundle["entry"] = _entries(request.base_url, page, compiled.summary, compiled.elements,
                                   compiled.ignored)
    elif compiled.ignored:
        bundle["entry"] = _entries(request.base_url, page, None, None, compiled.ignored)
    return FhirResponse(200, body=bundle)


def _entries(base_url: str, page: SearchPage, summary: str | None,
             elements: frozenset[str] | None,
             ignored: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    entries = [_entry(base_url, stored, "match", summary, elements) for stored in page.matches]
    entries += [_entry(base_url, stored, "include", summary, elements)
                for stored in page.included]
    issues = [Issue(f"Ignored search parameter '{name}': {reason}", code="not-supported",
                    severity="warning") for name, reason in ignored]
    issues += [Issue(warning, code="too-costly", severity="warning")
               for warning in page.warnings]
    if issues:
        entries.append({"resource": operation_outcome(issues), "search": {"mode": "outcome"}})
    return entries


def _entry(base_url: str, stored: StoredResource, mode: str, summary: str | None,
           elements: frozenset[str] | None) -> dict[str, Any]:
    return {"fullUrl": f"{base_url}/{stored.reference}",
            "resource": shape(stored.resource(), summary, elements),
            "search": {"mode": mode}}


def page_link(base: str, applied: Sequence[tuple[str, str]], cursor: str | None = None) -> str:
    params = list(applied)
    if cursor is not None:
        params.append(("_cursor", cursor))
    return f"{base}?{urlencode(params)}" if params else base
