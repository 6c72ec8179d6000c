"""``GET [base]/ValueSet/$expand``: search-as-you-type over ICD-10, the FHIR way.

http://hl7.org/fhir/R4/valueset-operation-expand.html: a client names the value set
(``url``: the ICD-10 code system, or its implicit value set ``...icd-10?fhir_vs``),
the text typed so far (``filter``), how many codes it wants (``count``) and the
language to show them in (``displayLanguage``: th, lo or en). The answer is a
ValueSet whose ``expansion.contains`` lists the matching codes, best first.

Routed here, in the API layer, because the FHIR engine does not call services.
It holds no patient data: any signed-in caller whose token may read ValueSet may
expand it, and no AuditEvent is kept.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from mor.fhir.errors import BadRequest, MethodNotAllowed, NotSupported
from mor.fhir.permissions import Interaction
from mor.fhir.requests import FhirRequest, FhirResponse
from mor.fhir.timestamps import instant_from_micros, now_micros
from mor.services.terminology import ICD10_SYSTEM, ICD10_VERSION, search

EXPAND_PATH: Final = "ValueSet/$expand"
DEFAULT_COUNT: Final = 20
MAX_COUNT: Final = 100
_VALUE_SET_URLS: Final = frozenset({ICD10_SYSTEM, f"{ICD10_SYSTEM}?fhir_vs"})
_LANGUAGES: Final = ("en", "th", "lo")
_PARAMETERS: Final = frozenset({"url", "filter", "count", "displayLanguage",
                                "_format", "_pretty"})


def is_expand_path(path: str) -> bool:
    return path == EXPAND_PATH


def answer(request: FhirRequest) -> FhirResponse:
    request.caller.check(Interaction.READ, "ValueSet")
    if request.method not in ("GET", "HEAD"):
        raise MethodNotAllowed("Call ValueSet/$expand with GET and query parameters, e.g. "
                               f"?url={ICD10_SYSTEM}&filter=diab")
    params = _parameters(request.params)
    url = params.get("url")
    if url is None:
        raise BadRequest(f"ValueSet/$expand needs 'url': the value set to expand; this "
                         f"server expands ICD-10 ({ICD10_SYSTEM})")
    if url not in _VALUE_SET_URLS:
        raise NotSupported(f"This server expands only ICD-10 ({ICD10_SYSTEM}), not {url}")
    text = params.get("filter", "").strip()
    if not text:
        raise BadRequest("ValueSet/$expand needs 'filter': the text typed so far (a code "
                         "such as E11.9 or words of the diagnosis); ICD-10 has too many "
                         "codes to list them all")
    count = _count(params.get("count"))
    language = params.get("displayLanguage", "en").split("-", 1)[0].lower()
    if language not in _LANGUAGES:
        raise BadRequest(f"displayLanguage={params['displayLanguage']} is not one of "
                         f"{', '.join(_LANGUAGES)}")
    contains = []
    for diagnosis in search(text, language, count):
        entry: dict[str, Any] = {"system": ICD10_SYSTEM, "version": ICD10_VERSION,
                                 "code": diagnosis.code, "display": diagnosis.name(language)}
        if entry["display"] != diagnosis.english:
            entry["designation"] = [{"language": "en", "value": diagnosis.english}]
        contains.append(entry)
    return FhirResponse(200, body={
        "resourceType": "ValueSet",
        "url": f"{ICD10_SYSTEM}?fhir_vs",
        "status": "active",
        "expansion": {
            "identifier": f"urn:uuid:{uuid.uuid4()}",
            "timestamp": instant_from_micros(now_micros()),
            "parameter": [
                {"name": "filter", "valueString": text},
                {"name": "count", "valueInteger": count},
                {"name": "displayLanguage", "valueCode": language},
                {"name": "used-codesystem", "valueUri": f"{ICD10_SYSTEM}|{ICD10_VERSION}"},
            ],
            "contains": contains,
        },
    })


def _parameters(pairs: list[tuple[str, str]]) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in pairs:
        if name not in _PARAMETERS:
            raise BadRequest(f"ValueSet/$expand takes {', '.join(sorted(_PARAMETERS))}, "
                             f"not '{name}'")
        if name in params:
            raise BadRequest(f"ValueSet/$expand takes '{name}' once")
        params[name] = value
    return params


def _count(value: str | None) -> int:
    if value is None:
        return DEFAULT_COUNT
    if not value.isdigit() or not 1 <= int(value) <= MAX_COUNT:
        raise BadRequest(f"count={value} is not a whole number from 1 to {MAX_COUNT}")
    return int(value)
