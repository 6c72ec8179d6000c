"""``_summary`` and ``_elements``: returning part of each resource.

Applied to a resource's own (top-level) elements, as the spec defines them:
``_summary=true`` keeps the elements the R4 definitions mark as summary,
``text`` keeps the narrative, ``data`` drops it, and ``_elements`` keeps the
elements named. ``id``, ``meta`` and mandatory elements always stay, and a
resource that lost anything carries the ``SUBSETTED`` tag, so nobody mistakes
it for the whole record and writes it back.
"""

from __future__ import annotations

from typing import Any

from mor.fhir.errors import BadRequest
from mor.fhir.structure_validation import top_level_elements

SUMMARY_MODES = ("true", "false", "text", "data", "count")
SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
             "code": "SUBSETTED", "display": "Resource encoded in summary mode"}
_ALWAYS = frozenset({"resourceType", "id", "meta"})


def parse_summary(value: str) -> str:
    if value not in SUMMARY_MODES:
        raise BadRequest(f"_summary={value!r}: use one of {', '.join(SUMMARY_MODES)}")
    return value


def parse_elements(value: str) -> frozenset[str]:
    names = set()
    for item in value.split(","):
        item = item.strip()
        # R4 allows the type in front (Patient.name); the name is what counts here.
        name = item.rsplit(".", 1)[-1]
        if not name:
            raise BadRequest(f"_elements={value!r} has an empty name; write e.g. "
                             "_elements=name,birthDate")
        names.add(name)
    return frozenset(names)


def shape(resource: dict[str, Any], summary: str | None,
          elements: frozenset[str] | None) -> dict[str, Any]:
    """The resource as the client asked to see it; the same object when whole."""
    if summary in (None, "false", "count") and elements is None:
        return resource
    known = top_level_elements(str(resource.get("resourceType")))
    kept: dict[str, Any] = {}
    for key, value in resource.items():
        name = key.removeprefix("_")
        element = known.get(name)
        if key in _ALWAYS or (element is not None and element.mandatory):
            keep = True
        elif summary == "true":
            keep = element is not None and element.summary
        elif summary == "text":
            keep = name == "text"
        elif summary == "data":
            keep = name != "text"
        else:
            keep = True
        if keep and elements is not None and key not in _ALWAYS and not (
                element is not None and element.mandatory):
            keep = name in elements or (element is not None and element.stem in elements)
        if keep:
            kept[key] = value
    if len(kept) == len(resource):
        return resource
    meta = dict(kept.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    kept["meta"] = meta
    return kept
