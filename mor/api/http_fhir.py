"""FHIR over HTTP: turns each HTTP request into a FhirRequest and renders the answer.

What belongs here is what the FHIR HTTP specification says about HTTP itself:
content types and ``_format``, ``Prefer``, ``If-Match`` and ``If-None-Exist``
headers, ETag/Location/Last-Modified headers, body size limits, ``_pretty``.
What a request means is decided by :mod:`mor.fhir.interactions`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response

from mor.api import http_break_glass, http_bulk_export, http_bulk_import, http_terminology
from mor.api.http_break_glass import is_break_glass_path
from mor.api.http_bulk_export import is_export_path
from mor.api.http_bulk_import import is_import_path
from mor.api.http_terminology import is_expand_path
from mor.auth.break_glass import BreakGlass
from mor.fhir.errors import (
    BadRequest,
    FhirError,
    Issue,
    NotAcceptable,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from mor.fhir.interactions import dispatch
from mor.fhir.outcome import operation_outcome, outcome_for_error
from mor.fhir.permissions import Access, Caller
from mor.fhir.requests import PREFER_RETURN, FhirRequest, FhirResponse
from mor.fhir.store import Store
from mor.services.bulk_export import BulkExport
from mor.services.bulk_import import BulkImport

log = logging.getLogger("mor.api")

# Who sent an HTTP request: raises Unauthorized when their credentials are not good.
Authenticator = Callable[[Request], Awaitable[Caller]]

FHIR_JSON = "application/fhir+json"
_JSON_TYPES = ("application/fhir+json", "application/json", "json", "application/json+fhir")
_XML_TYPES = ("application/fhir+xml", "application/xml", "xml", "text/xml",
              "application/xml+fhir")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class FhirEndpoint:
    """The ASGI handler mounted at the FHIR base."""

    def __init__(self, store: Store, *, max_body_bytes: int, base_url: str | None,
                 authenticate: Authenticator, export: BulkExport | None = None,
                 break_glass: BreakGlass | None = None,
                 importer: BulkImport | None = None) -> None:
        self.store = store
        self.importer = importer
        self.break_glass = break_glass
        self.authenticate = authenticate
        self.export = export
        self.max_body_bytes = max_body_bytes
        self.base_url = base_url

    async def handle(self, request: Request) -> Response:
        pretty = request.query_params.get("_pretty") == "true"
        try:
            _check_acceptable(request)
            fhir_request = await self._fhir_request(request)
            if self.export is not None and is_export_path(fhir_request.path):
                return await self._audited_bulk(fhir_request, http_bulk_export.answer(
                    self.export, fhir_request, request.headers.get("prefer", ""),
                    str(request.url)))
            if self.importer is not None and is_import_path(fhir_request.path):
                return await self._audited_bulk(fhir_request, http_bulk_import.answer(
                    self.importer, fhir_request, request.headers.get("prefer", ""),
                    str(request.url)))
            if self.break_glass is not None and is_break_glass_path(fhir_request.path):
                fhir_response = await http_break_glass.answer(self.store, self.break_glass,
                                                              fhir_request)
            elif is_expand_path(fhir_request.path):
                fhir_response = http_terminology.answer(fhir_request)
            else:
                fhir_response = await dispatch(self.store, fhir_request)
            return _render(fhir_response, fhir_request, pretty=pretty)
        except FhirError as error:
            # RFC 6750: a 401 says how to authenticate.
            headers = {"WWW-Authenticate": 'Bearer realm="mor"'} if error.status == 401 else None
            return _json_response(error.status, outcome_for_error(error), headers,
                                  pretty=pretty)
        except Exception:
            # Never a stack trace to the client; the log has it for the operator.
            log.exception("Unexpected error answering %s %s", request.method, request.url.path)
            outcome = operation_outcome([Issue(
                "mor failed to answer this request because of an internal error; nothing was "
                "changed. The server log has the details; please report it.",
                code="exception", severity="fatal")])
            return _json_response(500, outcome, pretty=pretty)

    async def _audited_bulk(self, fhir_request: FhirRequest,
                            answering: Awaitable[Response]) -> Response:
        """A bulk export or import request, with its AuditEvent (refused ones too): these
        move whole populations' records, so each kick-off, poll, download and cancel is
        on the record."""
        access = Access(fhir_request.method, fhir_request.path,
                        urlencode(list(fhir_request.params)))
        try:
            response = await answering
            access.status = response.status_code
            return response
        except FhirError as error:
            access.status, access.failure = error.status, str(error)
            raise
        except Exception:
            access.status, access.failure = 500, "internal error"
            raise
        finally:
            event = fhir_request.caller.audit_event(access)
            if event is not None:
                await self.store.append(event)

    async def _fhir_request(self, request: Request) -> FhirRequest:
        base_url = self.base_url or str(request.base_url).rstrip("/") + "/fhir"
        # Before the body is read: a stranger's upload is refused unread.
        caller = await self.authenticate(request)
        path = request.path_params.get("path", "")
        params = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True)]
        body: Any = None
        method = request.method
        if method in ("POST", "PUT", "PATCH"):
            raw = await self._read_body(request)
            body = _parse_body(request, method, path, raw)
        prefer = _parse_prefer(request.headers.get("prefer", ""))
        return FhirRequest(
            method=method,
            path=path.strip("/"),
            caller=caller,
            params=params,
            body=body,
            if_match=request.headers.get("if-match"),
            if_none_exist=request.headers.get("if-none-exist"),
            prefer_return=prefer.get("return", "representation"),
            prefer_strict=prefer.get("handling") == "strict",
            base_url=base_url,
        )

    async def _read_body(self, request: Request) -> bytes:
        limit = self.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        return b"".join(chunks)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than this server accepts ({limit:,} bytes); split it "
        "into smaller Bundles, or ask the operator to raise MOR_MAX_BODY_BYTES")


def _parse_body(request: Request, method: str, path: str, raw: bytes) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if method == "POST" and path.rsplit("/", 1)[-1].startswith("$") and not raw.strip():
        return None  # an operation called by POST without parameters
    if method == "POST" and path.rstrip("/").endswith("_search"):
        if content_type != "application/x-www-form-urlencoded":
            raise UnsupportedMediaType(
                "POST _search takes the parameters as application/x-www-form-urlencoded")
        return parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    if method == "PATCH":
        if content_type not in ("application/json-patch+json", *_JSON_TYPES):
            raise UnsupportedMediaType(
                f"PATCH takes a JSON Patch (Content-Type: application/json-patch+json), not "
                f"{content_type or 'a body without Content-Type'}")
    elif content_type in _XML_TYPES:
        raise UnsupportedMediaType("mor speaks FHIR JSON only; send application/fhir+json")
    elif content_type not in _JSON_TYPES:
        raise UnsupportedMediaType(
            f"Send the resource as application/fhir+json, not "
            f"{content_type or 'a body without Content-Type'}")
    if not raw.strip():
        raise BadRequest(f"{method} needs a body: the resource as FHIR JSON")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"The body is not valid JSON: {error}; nothing was written") from None


def _parse_prefer(header: str) -> dict[str, str]:
    prefer: dict[str, str] = {}
    for part in header.split(","):
        for item in part.split(";"):
            name, _, value = item.strip().partition("=")
            if name:
                prefer[name.strip().lower()] = value.strip().strip('"')
    if prefer.get("return") not in (None, *PREFER_RETURN):
        raise BadRequest(f"Prefer: return={prefer['return']} is not one of "
                         f"{', '.join(PREFER_RETURN)}")
    return prefer


def _check_acceptable(request: Request) -> None:
    wanted = request.query_params.get("_format")
    if wanted is not None:
        if wanted.lower() in _XML_TYPES:
            raise NotAcceptable("mor answers in FHIR JSON only; use _format=json")
        if wanted.lower() not in _JSON_TYPES:
            raise NotAcceptable(f"_format={wanted} is not supported; use _format=json")
        return
    accept = request.headers.get("accept", "")
    if not accept:
        return
    types = [item.split(";")[0].strip().lower() for item in accept.split(",")]
    if any(t in _JSON_TYPES or t in ("*/*", "application/*", "text/html") for t in types):
        return
    raise NotAcceptable(f"mor answers in application/fhir+json, which Accept: {accept} refuses")


def _render(response: FhirResponse, request: FhirRequest, *, pretty: bool) -> Response:
    headers: dict[str, str] = dict(response.headers)
    stored = response.stored
    if stored is not None:
        headers["ETag"] = stored.etag
        headers["Last-Modified"] = _http_date(stored.last_updated)
        versioned = f"{request.base_url}/{stored.reference}/_history/{stored.version_id}"
        headers["Content-Location"] = versioned
    if response.location:
        headers["Location"] = response.location
    is_write = request.method in _WRITE_METHODS and response.body is None
    if is_write and request.prefer_return == "minimal":
        return Response(status_code=response.status, headers=headers)
    if is_write and request.prefer_return == "OperationOutcome" and response.outcome:
        return _json_response(response.status, response.outcome, headers, pretty=pretty)
    if response.body is not None:
        return _json_response(response.status, response.body, headers, pretty=pretty)
    if stored is not None and stored.json is not None:
        content = (orjson.dumps(orjson.loads(stored.json), option=orjson.OPT_INDENT_2)
                   if pretty else stored.json.encode())
        if request.method == "HEAD":
            content = b""
        return Response(content, response.status, headers, media_type=_MEDIA_TYPE)
    if response.outcome is not None:
        return _json_response(response.status, response.outcome, headers, pretty=pretty)
    return Response(status_code=response.status, headers=headers)


_MEDIA_TYPE = f"{FHIR_JSON}; charset=utf-8"


def _json_response(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None, *, pretty: bool
) -> Response:
    option = orjson.OPT_INDENT_2 if pretty else 0
    return Response(orjson.dumps(body, option=option), status, headers, media_type=_MEDIA_TYPE)


def _http_date(micros: int) -> str:
    from mor.fhir.timestamps import http_date_from_micros

    return http_date_from_micros(micros)
