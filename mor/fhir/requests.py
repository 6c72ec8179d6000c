"""A FHIR RESTful request and response, independent of any web server.

The HTTP API builds a :class:`FhirRequest` from each HTTP request; Bundle
processing builds one from each ``Bundle.entry.request``. Both are then
answered by :func:`mor.fhir.interactions.dispatch`, so a transaction entry
behaves exactly like the same request sent on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from mor.fhir.errors import BadRequest
from mor.fhir.permissions import Caller
from mor.fhir.store import StoredResource

PREFER_RETURN = ("minimal", "representation", "OperationOutcome")


@dataclass(slots=True)
class FhirRequest:
    method: str
    # Path relative to the FHIR base, without leading slash: "Patient/123/_history/2".
    path: str
    # Who asks; the store shows and changes only what they may.
    caller: Caller
    params: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None
    if_match: str | None = None
    if_none_exist: str | None = None
    prefer_return: str = "representation"
    prefer_strict: bool = False
    base_url: str = ""

    @classmethod
    def from_url(cls, method: str, url: str, **kwargs: Any) -> FhirRequest:
        """Build from a URL relative to the base ('Patient?name=x'), as in a Bundle entry."""
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:
            base = kwargs.get("base_url", "")
            if base and url.startswith(base + "/"):
                parts = urlsplit(url[len(base) + 1:])
            else:
                raise BadRequest(
                    f"Request URL {url!r} is absolute and not on this server; use a URL "
                    "relative to the FHIR base, e.g. 'Patient/123'"
                )
        params = parse_qsl(parts.query, keep_blank_values=True)
        return cls(method=method.upper(), path=parts.path.strip("/"), params=params, **kwargs)

    def if_match_version(self) -> int | None:
        """The version named by If-Match (W/"3" or "3"), or None if absent."""
        if self.if_match is None:
            return None
        tag = self.if_match.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tag = tag.strip('"')
        if not tag.isdigit():
            raise BadRequest(
                f"If-Match {self.if_match!r} is not a version tag: send the ETag you read, "
                'e.g. W/"3"'
            )
        return int(tag)


@dataclass(slots=True)
class FhirResponse:
    status: int
    # A resource built for the response (Bundle, OperationOutcome, CapabilityStatement ...).
    body: dict[str, Any] | None = None
    # A stored version, returned as stored without re-serialising it.
    stored: StoredResource | None = None
    location: str | None = None
    # Whether the resource (rather than nothing) should be sent; see Prefer: return.
    outcome: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str | None:
        return self.stored.etag if self.stored is not None else None
