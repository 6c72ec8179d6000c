"""The errors the FHIR engine raises; each one becomes an OperationOutcome.

Every error carries the HTTP status a REST client should see, the FHIR issue
type (http://hl7.org/fhir/issue-type) and a sentence telling a person what went
wrong and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Issue:
    diagnostics: str
    code: str = "invalid"
    severity: str = "error"
    expression: str | None = None


class FhirError(Exception):
    status: int = 400
    code: str = "processing"

    def __init__(self, diagnostics: str, *, issues: list[Issue] | None = None) -> None:
        super().__init__(diagnostics)
        self.diagnostics = diagnostics
        self.issues = issues or [Issue(diagnostics, code=self.code)]


class BadRequest(FhirError):
    """The request itself is malformed: bad JSON, bad parameters, wrong id."""

    status = 400
    code = "invalid"


class InvalidResource(BadRequest):
    """The resource does not conform to the FHIR R4 structure."""

    code = "structure"


class Unauthorized(FhirError):
    """No credentials, or credentials mor does not accept (expired, revoked, unknown)."""

    status = 401
    code = "login"


class Forbidden(FhirError):
    """Who is asking is known, and may not do this."""

    status = 403
    code = "forbidden"


class UnknownResourceType(FhirError):
    status = 404
    code = "not-supported"


class NotFound(FhirError):
    status = 404
    code = "not-found"


class Gone(FhirError):
    """The resource existed but its current version is a deletion."""

    status = 410
    code = "deleted"


class MethodNotAllowed(FhirError):
    status = 405
    code = "not-supported"


class NotAcceptable(FhirError):
    status = 406
    code = "not-supported"


class NotSupported(FhirError):
    """A valid FHIR request for something this server does not do (e.g. an operation)."""

    status = 400
    code = "not-supported"


class Conflict(FhirError):
    status = 409
    code = "conflict"


class PreconditionFailed(FhirError):
    """If-Match named a stale version, or a conditional request matched several resources."""

    status = 412
    code = "conflict"


class PayloadTooLarge(FhirError):
    status = 413
    code = "too-costly"


class UnsupportedMediaType(FhirError):
    status = 415
    code = "not-supported"


class UnprocessableEntity(FhirError):
    """Well-formed, but breaks a rule of the server (e.g. a reference that resolves to nothing)."""

    status = 422
    code = "processing"
