"""Batch and transaction Bundles (http://hl7.org/fhir/R4/http.html#transaction).

A transaction runs every entry in one database transaction: all succeed or
nothing is written. Entries run in the order the specification prescribes
(DELETE, then POST, then PUT and PATCH, then GET and HEAD), whatever their
order in the Bundle, and the response lists them in the request's order.
Before anything runs, every new resource gets its id, so that references to a
``fullUrl`` (``urn:uuid:...`` or absolute) and conditional references
(``Patient?identifier=...``) can be rewritten to ``Type/id``.

A batch runs each entry on its own: one failing entry gets an error response
in its slot and the others still happen.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson

from mor.fhir.access_records import record_apart, record_with_write
from mor.fhir.errors import BadRequest, FhirError, Issue, PreconditionFailed
from mor.fhir.outcome import outcome_for_error
from mor.fhir.permissions import Access, Interaction
from mor.fhir.requests import FhirRequest, FhirResponse
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.search import compile_search
from mor.fhir.search.execution import narrowed
from mor.fhir.store import NewResource, Store, Transaction, new_id, prepare_new
from mor.fhir.validation import require_resource

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}
_REASONS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
            404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 410: "Gone",
            412: "Precondition Failed", 422: "Unprocessable Entity"}


@dataclass(slots=True)
class _Entry:
    index: int
    full_url: str | None
    request: FhirRequest


async def process_bundle(store: Store, request: FhirRequest) -> FhirResponse:
    bundle = request.body
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BadRequest("POST to the FHIR base takes a Bundle of type 'batch' or 'transaction'")
    bundle_type = bundle.get("type")
    if bundle_type not in ("batch", "transaction"):
        raise BadRequest(
            f"A Bundle of type {bundle_type!r} cannot be processed; POST a 'batch' or "
            "'transaction' Bundle to the base, or POST this one to /Bundle to store it"
        )
    entries = _parse_entries(bundle, request)
    if bundle_type == "transaction":
        access = Access("POST", "", "")
        try:
            async with store.writing(request.caller.visibility) as tx:
                responses = await _run_transaction(tx, entries, request)
                await record_with_write(tx, request.caller, access)
        except FhirError as error:
            access.status, access.failure = error.status, error.diagnostics
            await record_apart(store, request.caller, access)
            raise
        kind = "transaction-response"
    else:
        responses = [await _run_batch_entry(store, entry) for entry in entries]
        kind = "batch-response"
    return FhirResponse(200, body={
        "resourceType": "Bundle",
        "type": kind,
        "entry": [response_entry(response, entry.request.prefer_return)
                  for entry, response in zip(entries, responses, strict=True)],
    })


def _parse_entries(bundle: dict[str, Any], outer: FhirRequest) -> list[_Entry]:
    raw_entries = bundle.get("entry") or []
    if not isinstance(raw_entries, list):
        raise BadRequest("Bundle.entry must be a list")
    entries = []
    for index, raw in enumerate(raw_entries):
        where = f"Bundle.entry[{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("request"), dict):
            raise BadRequest(f"{where} has no 'request'; each entry needs request.method and "
                             "request.url")
        req = raw["request"]
        method = str(req.get("method", "")).upper()
        url = req.get("url")
        if method not in _ORDER or not isinstance(url, str) or not url:
            raise BadRequest(f"{where}.request needs a method (GET, POST, PUT, PATCH, DELETE, "
                             "HEAD) and a url")
        request = FhirRequest.from_url(
            method, _relative_url(url), body=_entry_body(raw, method),
            if_match=req.get("ifMatch"), if_none_exist=req.get("ifNoneExist"),
            prefer_return=outer.prefer_return, prefer_strict=outer.prefer_strict,
            base_url=outer.base_url, caller=outer.caller,
        )
        if request.path == "" and method == "POST":
            raise BadRequest(f"{where}: a Bundle entry cannot POST another batch or transaction")
        full_url = raw.get("fullUrl") if isinstance(raw.get("fullUrl"), str) else None
        entries.append(_Entry(index, full_url, request))
    return entries


def _entry_body(raw: dict[str, Any], method: str) -> Any:
    if method == "PATCH" and isinstance(raw.get("resource"), dict):
        binary = raw["resource"]
        if binary.get("resourceType") == "Binary" and "data" in binary:
            return orjson.loads(base64.b64decode(binary["data"]))
    return raw.get("resource")


def _relative_url(url: str) -> str:
    """Reduce an absolute request URL to Type/id... by finding its resource type segment."""
    parts = urlsplit(url)
    if not (parts.scheme or parts.netloc):
        return url
    segments = parts.path.split("/")
    for position in range(len(segments) - 1, -1, -1):
        if segments[position] in RESOURCE_TYPES:
            relative = "/".join(segments[position:])
            return f"{relative}?{parts.query}" if parts.query else relative
    raise BadRequest(f"Request URL {url!r} names no FHIR resource type; use e.g. 'Patient/123'")


async def _run_transaction(
    tx: Transaction, entries: list[_Entry], outer: FhirRequest
) -> list[FhirResponse]:
    from mor.fhir.interactions import execute

    _check_no_duplicates(entries)
    identities = await _assign_identities(tx, entries)
    replacements = dict(identities)
    for entry in entries:
        body = entry.request.body
        if isinstance(body, dict):
            await _collect_conditional_references(tx, body, entry, replacements)
    responses: dict[int, FhirResponse] = {}
    ordered = sorted(entries, key=lambda e: (_ORDER[e.request.method], e.index))
    for entry in ordered:
        if isinstance(entry.request.body, dict):
            entry.request.body = _rewrite(entry.request.body, replacements)
    creates = [e for e in ordered if _is_plain_create(e)]
    for entry in ordered:
        if creates and entry is creates[0]:
            responses.update(await _run_creates(tx, creates, identities))
        if _is_plain_create(entry):
            continue
        try:
            responses[entry.index] = await execute(tx, entry.request)
        except FhirError as error:
            if entry.request.method in ("GET", "HEAD"):
                # A read changes nothing, so its failure is reported in its slot
                # instead of undoing the writes.
                responses[entry.index] = FhirResponse(error.status,
                                                      outcome=outcome_for_error(error))
                continue
            raise _entry_error(entry, error) from None
    return [responses[entry.index] for entry in entries]


def _is_plain_create(entry: _Entry) -> bool:
    request = entry.request
    return request.method == "POST" and "/" not in request.path and isinstance(request.body,
                                                                                dict)


async def _run_creates(
    tx: Transaction, creates: list[_Entry], identities: dict[str, str]
) -> dict[int, FhirResponse]:
    """All the transaction's creates, inserted together: a statement per table, not per entry."""
    responses: dict[int, FhirResponse] = {}
    new: list[tuple[_Entry, NewResource]] = []
    for entry in creates:
        request = entry.request
        try:
            request.caller.check(Interaction.CREATE, request.path)
            if request.if_none_exist:
                existing = await tx.read_many(await _pks(tx, request.path,
                                                         request.if_none_exist))
                if existing:
                    responses[entry.index] = FhirResponse(
                        200, stored=existing[0],
                        location=f"{request.base_url}/{existing[0].reference}")
                    continue
            body = require_resource(request.body, request.path)
            assigned = identities.get(entry.full_url or "")
            resource_id = assigned.split("/", 1)[1] if assigned else None
            new.append((entry, prepare_new(body, resource_id)))
        except FhirError as error:
            raise _entry_error(entry, error) from None
    stored = await tx.insert_new([item for _, item in new])
    for (entry, _), version in zip(new, stored, strict=True):
        responses[entry.index] = FhirResponse(201, stored=version, location=(
            f"{entry.request.base_url}/{version.reference}/_history/{version.version_id}"))
    return responses


def _entry_error(entry: _Entry, error: FhirError) -> FhirError:
    """The same error, saying which entry failed and that nothing was written."""
    request = entry.request
    prefix = f"Bundle.entry[{entry.index}] ({request.method} {request.path or '/'})"
    return type(error)(
        f"{prefix}: {error.diagnostics}. The transaction was rolled back; nothing was written",
        issues=[Issue(f"{prefix}: {issue.diagnostics}", code=issue.code,
                      severity=issue.severity, expression=issue.expression)
                for issue in error.issues],
    )


async def _pks(tx: Transaction, resource_type: str, criteria: str | None) -> list[int]:
    if not criteria:
        return []
    params = parse_qsl(criteria.split("?", 1)[-1], keep_blank_values=True)
    compiled = compile_search(resource_type, params, strict=True, extra=tx.limits())
    return await tx.find((await narrowed(tx, compiled)).query, limit=2)


async def _assign_identities(tx: Transaction, entries: list[_Entry]) -> dict[str, str]:
    """fullUrl -> Type/id for every entry that creates or names a resource."""
    identities: dict[str, str] = {}
    for entry in entries:
        request = entry.request
        if entry.full_url is None or not isinstance(request.body, dict):
            continue
        resource_type = request.path.split("/")[0]
        if request.method == "POST":
            pks = await _pks(tx, resource_type, request.if_none_exist)
            if len(pks) > 1:
                raise PreconditionFailed(
                    f"Bundle.entry[{entry.index}]: ifNoneExist {request.if_none_exist!r} "
                    f"matched more than one {resource_type}; make it specific")
            existing = await tx.read_many(pks)
            identities[entry.full_url] = (existing[0].reference if existing
                                          else f"{resource_type}/{new_id()}")
        elif request.method == "PUT":
            if "/" in request.path:
                identities[entry.full_url] = request.path
            elif request.params:
                pks = await _pks(tx, resource_type, urlencode(request.params))
                if len(pks) == 1:
                    identities[entry.full_url] = (await tx.read_many(pks))[0].reference
                elif not pks:
                    new_reference = f"{resource_type}/{request.body.get('id') or new_id()}"
                    identities[entry.full_url] = new_reference
                    request.body = {**request.body, "id": new_reference.split("/")[1]}
    return {url: ref for url, ref in identities.items() if url != ref}


async def _collect_conditional_references(
    tx: Transaction, body: Any, entry: _Entry, replacements: dict[str, str]
) -> None:
    """Resolve every 'Type?criteria' reference in a resource to the one resource it names."""
    if isinstance(body, dict):
        for key, value in body.items():
            if key == "reference" and isinstance(value, str) and "?" in value and (
                value not in replacements
            ):
                resource_type = value.split("?", 1)[0]
                if resource_type in RESOURCE_TYPES:
                    pks = await _pks(tx, resource_type, value)
                    if len(pks) != 1:
                        what = "no" if not pks else "more than one"
                        raise PreconditionFailed(
                            f"Bundle.entry[{entry.index}]: the conditional reference "
                            f"{value!r} matched {what} {resource_type}; it must match exactly "
                            "one. Nothing was written")
                    replacements[value] = (await tx.read_many(pks))[0].reference
            else:
                await _collect_conditional_references(tx, value, entry, replacements)
    elif isinstance(body, list):
        for item in body:
            await _collect_conditional_references(tx, item, entry, replacements)


def _rewrite(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        return replacements.get(value, value)
    if isinstance(value, dict):
        return {key: _rewrite(item, replacements) for key, item in value.items()}
    if isinstance(value, list):
        return [_rewrite(item, replacements) for item in value]
    return value


def _check_no_duplicates(entries: list[_Entry]) -> None:
    seen: dict[str, int] = {}
    for entry in entries:
        request = entry.request
        if request.method in ("PUT", "PATCH", "DELETE") and "/" in request.path and (
            not request.params
        ):
            key = "/".join(request.path.split("/")[:2])
            if key in seen:
                raise BadRequest(
                    f"Bundle.entry[{entry.index}] changes {key}, which Bundle.entry"
                    f"[{seen[key]}] also changes; a transaction may touch a resource only once")
            seen[key] = entry.index


async def _run_batch_entry(store: Store, entry: _Entry) -> FhirResponse:
    from mor.fhir.interactions import dispatch

    try:
        return await dispatch(store, entry.request)
    except FhirError as error:
        return FhirResponse(error.status, outcome=outcome_for_error(error))


def response_entry(response: FhirResponse, prefer_return: str) -> dict[str, Any]:
    """A Bundle response entry for one answered request."""
    reason = _REASONS.get(response.status, "")
    result: dict[str, Any] = {"status": f"{response.status} {reason}".strip()}
    if response.location:
        result["location"] = response.location
    stored = response.stored
    if stored is not None:
        result["etag"] = stored.etag
        result["lastModified"] = stored.last_updated_instant
    entry: dict[str, Any] = {}
    if stored is not None and not stored.deleted:
        entry["fullUrl"] = response.location.rsplit("/_history/", 1)[0] if (
            response.location) else stored.reference
        if prefer_return == "representation":
            entry["resource"] = stored.resource()
    elif response.body is not None:
        entry["resource"] = response.body
    if response.outcome is not None and (
        response.status >= 400 or prefer_return == "OperationOutcome"
    ):
        result["outcome"] = response.outcome
    entry["response"] = result
    return entry

