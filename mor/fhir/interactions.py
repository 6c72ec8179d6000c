"""The FHIR RESTful interactions: what each request means, answered from the store.

:func:`dispatch` answers one request in its own database transaction;
:func:`execute` answers it inside a transaction the caller holds, which is how
transaction Bundles make all their entries succeed or fail together.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import jsonpatch
import orjson

from mor.fhir.access_records import record_apart, record_with_write
from mor.fhir.errors import (
    BadRequest,
    FhirError,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    NotSupported,
    PreconditionFailed,
    UnprocessableEntity,
)
from mor.fhir.indexing import date_range
from mor.fhir.outcome import informational
from mor.fhir.permissions import Access, Interaction
from mor.fhir.requests import FhirRequest, FhirResponse
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.search import compile_search
from mor.fhir.search.compartments import compartment_types
from mor.fhir.search.execution import narrowed
from mor.fhir.searchset import (
    compartment_search,
    everything,
    page_link,
    system_search,
    type_search,
)
from mor.fhir.store import Store, StoredResource, Transaction
from mor.fhir.timestamps import instant_from_micros
from mor.fhir.validation import check_id, check_resource_type, require_resource

READ_METHODS = frozenset({"GET", "HEAD"})
MAX_HISTORY_COUNT = 1000


async def dispatch(store: Store, request: FhirRequest) -> FhirResponse:
    """Answer one request in a transaction of its own."""
    if request.method == "POST" and request.path == "":
        from mor.fhir.bundles import process_bundle

        return await process_bundle(store, request)
    if request.path == "metadata":
        from mor.fhir.capability import capability_statement

        _only(request, "GET", "HEAD")
        return FhirResponse(200, body=capability_statement(request.base_url))
    visibility = request.caller.visibility
    access = Access(request.method, request.path, urlencode(request.params))
    caller = request.caller
    try:
        if request.method in READ_METHODS or _is_search_post(request):
            async with store.reading(visibility) as tx:
                try:
                    response = await execute(tx, request)
                finally:
                    access.resources = tx.touched
            access.status = response.status
            # Nothing read leaves mor before its audit record is stored.
            await record_apart(store, caller, access)
            return response
        async with store.writing(visibility) as tx:
            response = await execute(tx, request)
            access.status = response.status
            await record_with_write(tx, caller, access)
            return response
    except FhirError as error:
        access.status = error.status
        access.failure = error.diagnostics
        await record_apart(store, caller, access)
        raise


async def execute(tx: Transaction, request: FhirRequest) -> FhirResponse:
    """Answer a request inside the caller's transaction."""
    segments = [s for s in request.path.split("/") if s] if request.path else []
    method = request.method
    check = request.caller.check
    if not segments:
        if method in READ_METHODS:
            check(Interaction.SEARCH, None)
            return await system_search(tx, request)
        raise MethodNotAllowed(f"{method} is not allowed on the FHIR base; POST a Bundle")
    if segments == ["_search"]:
        _only(request, "POST")
        check(Interaction.SEARCH, None)
        return await system_search(tx, request)
    if len(segments) == 3 and segments[0] == "Patient" and segments[2] == "$everything":
        _only(request, "GET", "HEAD", "POST")
        check_id(segments[1])
        check(Interaction.SEARCH, "Patient")
        return await everything(tx, request, segments[1])
    operation = next((s for s in segments if s.startswith("$")), None)
    if operation is not None:
        raise NotSupported(
            f"The operation {operation} is not supported by this server; "
            "GET /metadata lists what is")
    if segments == ["_history"]:
        _only(request, "GET", "HEAD")
        check(Interaction.HISTORY, None)
        return await _history(tx, request, None, None)
    resource_type = segments[0]
    check_resource_type(resource_type)
    rest = segments[1:]
    if not rest:
        return await _type_level(tx, request, resource_type)
    if rest == ["_search"]:
        _only(request, "POST")
        check(Interaction.SEARCH, resource_type)
        return await type_search(tx, request, resource_type)
    if rest == ["_history"]:
        _only(request, "GET", "HEAD")
        check(Interaction.HISTORY, resource_type)
        return await _history(tx, request, resource_type, None)
    resource_id = rest[0]
    check_id(resource_id)
    if len(rest) == 1:
        return await _instance_level(tx, request, resource_type, resource_id)
    if rest[1] == "_history" and len(rest) == 2:
        _only(request, "GET", "HEAD")
        check(Interaction.HISTORY, resource_type)
        return await _history(tx, request, resource_type, resource_id)
    if len(rest) == 2 and resource_type in compartment_types() and (
            rest[1] in RESOURCE_TYPES or rest[1] == "*"):
        _only(request, "GET", "HEAD")
        check(Interaction.SEARCH, None if rest[1] == "*" else rest[1])
        return await compartment_search(tx, request, resource_type, resource_id, rest[1])
    if rest[1] == "_history" and len(rest) == 3:
        _only(request, "GET", "HEAD")
        check(Interaction.READ, resource_type)
        version = _version_number(rest[2])
        stored = await tx.read_version(resource_type, resource_id, version)
        return FhirResponse(200, stored=stored)
    raise BadRequest(f"'{request.path}' is not a FHIR URL mor understands")


# -- type level ---------------------------------------------------------------


async def _type_level(tx: Transaction, request: FhirRequest, resource_type: str) -> FhirResponse:
    method = request.method
    check = request.caller.check
    if method in READ_METHODS:
        check(Interaction.SEARCH, resource_type)
        return await type_search(tx, request, resource_type)
    if method == "POST":
        check(Interaction.CREATE, resource_type)
        resource_data = require_resource(request.body, resource_type)
        if request.if_none_exist:
            existing = await _conditional_match(tx, resource_type, request.if_none_exist,
                                                "If-None-Exist")
            if existing is not None:
                return _write_response(request, 200, existing)
        stored = await tx.create(resource_data)
        return _write_response(request, 201, stored)
    if method in ("PUT", "DELETE", "PATCH"):
        check(Interaction.DELETE if method == "DELETE" else Interaction.UPDATE, resource_type)
        criteria = urlencode(request.params)
        if not request.params:
            raise BadRequest(
                f"{method} on /{resource_type} needs search criteria (a conditional "
                f"{method.lower()}) or an id in the URL: /{resource_type}/[id]"
            )
        existing = await _conditional_match(tx, resource_type, criteria, f"Conditional {method}")
        if method == "DELETE":
            if existing is None:
                return FhirResponse(200, outcome=informational(
                    f"No {resource_type} matched {criteria}; nothing was deleted"))
            return await _delete(tx, request, resource_type, existing.id)
        if method == "PATCH":
            if existing is None:
                raise NotFound(f"No {resource_type} matched {criteria}; nothing was patched")
            return await _patch(tx, request, resource_type, existing.id)
        return await _conditional_update(tx, request, resource_type, existing)
    raise MethodNotAllowed(f"{method} is not allowed on /{resource_type}")


async def _conditional_update(
    tx: Transaction, request: FhirRequest, resource_type: str, existing: StoredResource | None
) -> FhirResponse:
    """PUT /Type?criteria: create if nothing matched, else update the one match."""
    resource_data = require_resource(request.body, resource_type)
    body_id = resource_data.get("id")
    if existing is None:
        request.caller.check(Interaction.CREATE, resource_type)
        if isinstance(body_id, str) and body_id:
            stored, _ = await tx.update(resource_type, body_id, resource_data)
        else:
            stored = await tx.create(resource_data)
        return _write_response(request, 201, stored)
    if body_id is not None and body_id != existing.id:
        raise BadRequest(
            f"The criteria matched {resource_type}/{existing.id} but the body's id is "
            f"{body_id!r}; remove the id or make it match"
        )
    stored, created = await tx.update(resource_type, existing.id, resource_data,
                                      if_match=request.if_match_version())
    return _write_response(request, 201 if created else 200, stored)


async def _conditional_match(
    tx: Transaction, resource_type: str, criteria: str, what: str
) -> StoredResource | None:
    """The one resource matching conditional criteria, None if none, 412 if several."""
    query = criteria.split("?", 1)[-1]
    params = parse_qsl(query, keep_blank_values=True)
    if not params:
        raise BadRequest(f"{what} has no search criteria: give e.g. identifier=system|value")
    compiled = compile_search(resource_type, params, strict=True, extra=tx.limits())
    await tx.lock_criteria(resource_type, urlencode(sorted(params)))
    pks = await tx.find((await narrowed(tx, compiled)).query, limit=2)
    if len(pks) > 1:
        raise PreconditionFailed(
            f"{what} {query!r} matched more than one {resource_type}; make the criteria "
            "specific enough to match a single resource (e.g. an identifier)"
        )
    if not pks:
        return None
    return (await tx.read_many(pks))[0]


# -- instance level -----------------------------------------------------------


async def _instance_level(
    tx: Transaction, request: FhirRequest, resource_type: str, resource_id: str
) -> FhirResponse:
    method = request.method
    check = request.caller.check
    if method in READ_METHODS:
        check(Interaction.READ, resource_type)
        return FhirResponse(200, stored=await tx.read(resource_type, resource_id))
    if method == "PUT":
        await _check_put(tx, request, resource_type, resource_id)
    elif method == "PATCH":
        check(Interaction.UPDATE, resource_type)
    elif method == "DELETE":
        check(Interaction.DELETE, resource_type)
    if method == "PUT":
        resource_data = require_resource(request.body, resource_type)
        body_id = resource_data.get("id")
        if body_id is None:
            raise BadRequest(
                f"The {resource_type} in the body has no id; PUT needs the id of the URL "
                f"in the body too (\"id\": \"{resource_id}\")"
            )
        if body_id != resource_id:
            raise BadRequest(
                f"The body's id {body_id!r} differs from the URL's id {resource_id!r}; "
                "make them the same"
            )
        stored, created = await tx.update(resource_type, resource_id, resource_data,
                                          if_match=request.if_match_version())
        if created:
            # An update that creates is a create; refused, it rolls back with the transaction.
            check(Interaction.CREATE, resource_type)
        return _write_response(request, 201 if created else 200, stored)
    if method == "DELETE":
        return await _delete(tx, request, resource_type, resource_id)
    if method == "PATCH":
        return await _patch(tx, request, resource_type, resource_id)
    raise MethodNotAllowed(f"{method} is not allowed on /{resource_type}/{resource_id}")


async def _check_put(tx: Transaction, request: FhirRequest, resource_type: str,
                     resource_id: str) -> None:
    """A PUT is an update, or a create when no such resource exists yet."""
    try:
        request.caller.check(Interaction.UPDATE, resource_type)
    except Forbidden:
        if await tx.existing([(resource_type, resource_id)]):
            raise
        request.caller.check(Interaction.CREATE, resource_type)


async def _delete(
    tx: Transaction, request: FhirRequest, resource_type: str, resource_id: str
) -> FhirResponse:
    stored = await tx.delete(resource_type, resource_id, if_match=request.if_match_version())
    if stored is None:
        return FhirResponse(200, outcome=informational(
            f"{resource_type}/{resource_id} did not exist or was already deleted"))
    return FhirResponse(200, stored=stored, outcome=informational(
        f"{resource_type}/{resource_id} deleted; version {stored.version_id} records the deletion"))


async def _patch(
    tx: Transaction, request: FhirRequest, resource_type: str, resource_id: str
) -> FhirResponse:
    operations = request.body
    if isinstance(operations, dict) and operations.get("resourceType") == "Parameters":
        raise UnprocessableEntity(
            "FHIRPath Patch (a Parameters body) is not supported; send a JSON Patch "
            "(Content-Type: application/json-patch+json)"
        )
    if not isinstance(operations, list):
        raise BadRequest("A JSON Patch body must be a JSON array of operations (RFC 6902)")
    current = await tx.read(resource_type, resource_id)
    try:
        patched = jsonpatch.JsonPatch(operations).apply(current.resource())
    except jsonpatch.JsonPatchTestFailed as error:
        raise UnprocessableEntity(f"A JSON Patch 'test' operation failed: {error}") from None
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError,
            KeyError, ValueError) as error:
        raise BadRequest(f"The JSON Patch cannot be applied to "
                         f"{resource_type}/{resource_id}: {error}") from None
    if not isinstance(patched, dict) or patched.get("resourceType") != resource_type or (
        patched.get("id") != resource_id
    ):
        raise BadRequest("A JSON Patch must not change the resource's resourceType or id")
    stored, _ = await tx.update(resource_type, resource_id, patched,
                                if_match=request.if_match_version(), method="PATCH")
    return _write_response(request, 200, stored)


def _write_response(request: FhirRequest, status: int, stored: StoredResource) -> FhirResponse:
    location = f"{request.base_url}/{stored.reference}/_history/{stored.version_id}"
    response = FhirResponse(status, stored=stored, location=location)
    if request.prefer_return == "OperationOutcome":
        verb = {201: "created", 200: "updated"}.get(status, "stored")
        response.outcome = informational(
            f"{stored.reference} {verb}; it is now at version {stored.version_id}")
    return response


# -- search and history -------------------------------------------------------


async def _history(
    tx: Transaction, request: FhirRequest, resource_type: str | None, resource_id: str | None
) -> FhirResponse:
    since: int | None = None
    count = 50
    cursor: str | None = None
    applied: list[tuple[str, str]] = []
    for name, value in request.params:
        if name == "_since":
            try:
                since = date_range(value)[0]
            except ValueError:
                raise BadRequest(f"_since {value!r} is not a FHIR instant, e.g. "
                                 "2026-11-23T09:00:00Z") from None
            applied.append((name, value))
        elif name == "_count":
            if not value.isdigit() or int(value) < 1:
                raise BadRequest(f"_count must be a whole number above 0, not {value!r}")
            count = min(int(value), MAX_HISTORY_COUNT)
            applied.append((name, value))
        elif name == "_cursor":
            cursor = value
        elif name in ("_format", "_pretty"):
            continue
        else:
            raise BadRequest(f"History does not support the parameter '{name}'; use _since "
                             "and _count")
    if resource_id is not None and resource_type is not None:
        history_page = await tx.history(resource_type=resource_type, resource_id=resource_id,
                                        since=since, count=count, cursor=cursor)
        if not history_page.versions and cursor is None and since is None:
            await tx.read(resource_type, resource_id)
    else:
        history_page = await tx.history(resource_type=resource_type, since=since, count=count,
                                        cursor=cursor)
    path = "/".join(p for p in (resource_type, resource_id, "_history") if p)
    base = f"{request.base_url}/{path}"
    links = [{"relation": "self", "url": page_link(base, applied, cursor)}]
    if history_page.next_cursor:
        links.append({"relation": "next",
                      "url": page_link(base, applied, history_page.next_cursor)})
    entries = [_history_entry(request.base_url, version) for version in history_page.versions]
    return FhirResponse(200, body={"resourceType": "Bundle", "type": "history", "link": links,
                                   "entry": entries})


def _history_entry(base_url: str, version: StoredResource) -> dict[str, Any]:
    entry: dict[str, Any] = {"fullUrl": f"{base_url}/{version.reference}"}
    if version.json is not None:
        entry["resource"] = orjson.loads(version.json)
    if version.deleted:
        request = {"method": "DELETE", "url": version.reference}
        status = "204 No Content"
    elif version.version_id == 1 and version.method == "POST":
        request = {"method": "POST", "url": version.resource_type}
        status = "201 Created"
    else:
        request = {"method": version.method, "url": version.reference}
        status = "201 Created" if version.version_id == 1 else "200 OK"
    entry["request"] = request
    entry["response"] = {"status": status, "etag": version.etag,
                         "lastModified": instant_from_micros(version.last_updated)}
    return entry


# -- helpers ------------------------------------------------------------------


def _only(request: FhirRequest, *methods: str) -> None:
    if request.method not in methods:
        raise MethodNotAllowed(
            f"{request.method} is not allowed on /{request.path}; use {' or '.join(methods)}")


def _is_search_post(request: FhirRequest) -> bool:
    return request.method == "POST" and (
        request.path == "_search" or request.path.endswith(("/_search", "/$everything")))


def _version_number(raw: str) -> int:
    if not raw.isdigit():
        raise BadRequest(f"'{raw}' is not a version number; versions are 1, 2, 3 ...")
    return int(raw)
