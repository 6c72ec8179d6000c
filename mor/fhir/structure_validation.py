"""Checking a resource against the R4 structure, as the FHIR JSON format defines it.

The rules come from the official R4 StructureDefinitions, compiled by
``scripts/generate_r4_structure.py`` into ``data/r4_structure.json``: which
properties each type has, their types and cardinality, and the regular
expression of each primitive type. See http://hl7.org/fhir/R4/json.html.
Invariants (FHIRPath constraints) and terminology bindings are not checked.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

_DATA = Path(__file__).parent / "data" / "r4_structure.json"

# The JSON type each primitive must have; all others are JSON strings.
_BOOLEAN = frozenset({"boolean"})
_INTEGER = frozenset({"integer", "positiveInt", "unsignedInt"})
_DECIMAL = frozenset({"decimal"})
_MAX_ISSUES = 50


@dataclass(frozen=True, slots=True)
class StructureIssue:
    path: str
    message: str


@dataclass(frozen=True, slots=True)
class _Property:
    types: tuple[str, ...]
    min: int
    repeats: bool
    choice: str | None


@dataclass(frozen=True, slots=True)
class _Model:
    resources: frozenset[str]
    primitives: dict[str, re.Pattern[str] | None]
    types: dict[str, dict[str, _Property]]
    required_choices: dict[str, tuple[str, ...]]


@cache
def _model() -> _Model:
    raw = json.loads(_DATA.read_bytes())
    types: dict[str, dict[str, _Property]] = {}
    required_choices: dict[str, tuple[str, ...]] = {}
    for type_name, properties in raw["types"].items():
        compiled = {}
        for name, spec in properties.items():
            if name == "":
                required_choices[type_name] = tuple(spec)
                continue
            compiled[name] = _Property(tuple(spec[0]), int(spec[1]), spec[2] != "1",
                                       spec[3] if len(spec) > 3 else None)
        types[type_name] = compiled
    # ASCII mode: the spec's \\s means XML-Schema whitespace (space, tab, CR, LF), while
    # Python's Unicode \\s would also refuse no-break spaces in real-world text.
    primitives = {name: (re.compile(pattern, re.ASCII) if pattern else None)
                  for name, pattern in raw["primitives"].items()}
    return _Model(frozenset(raw["resources"]), primitives, types, required_choices)


def validate_structure(resource: Any) -> list[StructureIssue]:
    """Every structural problem of a resource, or an empty list if it is valid R4."""
    issues: list[StructureIssue] = []
    _check_resource(resource, None, issues)
    return issues[:_MAX_ISSUES]


def _check_resource(value: Any, path: str | None, issues: list[StructureIssue]) -> None:
    model = _model()
    where = path or "resource"
    if not isinstance(value, dict):
        issues.append(StructureIssue(where, "expected a resource (a JSON object)"))
        return
    resource_type = value.get("resourceType")
    if not isinstance(resource_type, str) or resource_type not in model.resources:
        issues.append(StructureIssue(
            where, f"'{resource_type}' is not an R4 resource type" if resource_type
            else "missing 'resourceType'"))
        return
    _check_object(value, resource_type, path or resource_type, issues, is_resource=True)


def _check_object(
    value: dict[str, Any], type_name: str, path: str, issues: list[StructureIssue],
    *, is_resource: bool = False,
) -> None:
    model = _model()
    properties = model.types.get(type_name, {})
    if not value:
        issues.append(StructureIssue(path, "must not be an empty object"))
        return
    choices_seen: dict[str, str] = {}
    for key, item in value.items():
        if is_resource and key == "resourceType":
            continue
        if key.startswith("_"):
            _check_primitive_companion(key, item, properties, path, issues)
            continue
        prop = properties.get(key)
        if prop is None:
            issues.append(StructureIssue(f"{path}.{key}", _unknown(key, properties)))
            continue
        if prop.choice is not None:
            other = choices_seen.get(prop.choice)
            if other is not None:
                issues.append(StructureIssue(
                    f"{path}.{key}", f"only one of {prop.choice}[x] may be present, but "
                    f"{other} is there too"))
            choices_seen[prop.choice] = key
        _check_property(item, prop, f"{path}.{key}", issues, companion=f"_{key}" in value)
    for key, prop in properties.items():
        if prop.min > 0 and key not in value and f"_{key}" not in value:
            issues.append(StructureIssue(path, f"missing required element '{key}'"))
    for stem in model.required_choices.get(type_name, ()):
        if stem not in choices_seen:
            issues.append(StructureIssue(path, f"missing required element '{stem}[x]'"))


def _check_property(
    item: Any, prop: _Property, path: str, issues: list[StructureIssue], *, companion: bool
) -> None:
    if prop.repeats:
        if not isinstance(item, list):
            issues.append(StructureIssue(path, "expected an array (this element repeats)"))
            return
        if not item:
            issues.append(StructureIssue(path, "must not be an empty array"))
            return
        for index, element in enumerate(item):
            if element is None and companion:
                continue  # primitive arrays use null where only the _companion has data
            _check_value(element, prop.types, f"{path}[{index}]", issues)
        return
    if isinstance(item, list):
        issues.append(StructureIssue(path, "expected a single value, not an array"))
        return
    _check_value(item, prop.types, path, issues)


def _check_value(
    item: Any, types: tuple[str, ...], path: str, issues: list[StructureIssue]
) -> None:
    model = _model()
    type_name = types[0]
    if type_name == "Resource" or type_name in model.resources:
        _check_resource(item, path, issues)
    elif type_name in model.primitives:
        _check_primitive(item, type_name, path, issues)
    elif not isinstance(item, dict):
        issues.append(StructureIssue(path, f"expected an object ({type_name}), got "
                                           f"{_json_kind(item)}"))
    else:
        _check_object(item, type_name, path, issues)


def _check_primitive(item: Any, type_name: str, path: str, issues: list[StructureIssue]) -> None:
    if type_name in _BOOLEAN:
        if not isinstance(item, bool):
            issues.append(StructureIssue(path, f"expected true or false, got {_json_kind(item)}"))
        return
    if type_name in _INTEGER:
        if not isinstance(item, int) or isinstance(item, bool):
            issues.append(StructureIssue(path, f"expected a whole number ({type_name}), got "
                                               f"{_json_kind(item)}"))
        elif (type_name == "positiveInt" and item < 1) or (
            type_name == "unsignedInt" and item < 0
        ):
            issues.append(StructureIssue(path, f"{item} is not a valid {type_name}"))
        return
    if type_name in _DECIMAL:
        if not isinstance(item, int | float) or isinstance(item, bool):
            issues.append(StructureIssue(path, f"expected a number, got {_json_kind(item)}"))
        return
    if not isinstance(item, str):
        issues.append(StructureIssue(path, f"expected a string ({type_name}), got "
                                           f"{_json_kind(item)}"))
        return
    if item == "" or (not item.strip() and type_name != "xhtml"):
        issues.append(StructureIssue(path, "must not be empty"))
        return
    pattern = _model().primitives.get(type_name)
    if pattern is not None and not pattern.fullmatch(item):
        issues.append(StructureIssue(path, f"{item[:80]!r} is not a valid {type_name}"
                                           f"{_FORMAT_HINTS.get(type_name, '')}"))


def _check_primitive_companion(
    key: str, item: Any, properties: dict[str, _Property], path: str,
    issues: list[StructureIssue],
) -> None:
    """The '_name' object that carries a primitive's id and extensions."""
    prop = properties.get(key[1:])
    where = f"{path}.{key}"
    if prop is None or prop.types[0] not in _model().primitives:
        issues.append(StructureIssue(where, f"'{key}' can only accompany a primitive element, "
                                            f"and '{key[1:]}' is not one here"))
        return
    items = item if isinstance(item, list) else [item]
    if prop.repeats != isinstance(item, list):
        issues.append(StructureIssue(where, "must be an array exactly when the element repeats"))
        return
    for element in items:
        if element is None and prop.repeats:
            continue
        if not isinstance(element, dict):
            issues.append(StructureIssue(where, "expected an object with id and/or extension"))
            continue
        _check_object(element, "_primitive", where, issues)


def _unknown(key: str, properties: dict[str, _Property]) -> str:
    close = difflib.get_close_matches(key, list(properties), n=1, cutoff=0.75)
    lowered = {name.lower(): name for name in properties}
    suggestion = lowered.get(key.lower()) or (close[0] if close else None)
    if suggestion:
        return f"unknown element; did you mean '{suggestion}'?"
    return "unknown element"


def _json_kind(item: Any) -> str:
    if isinstance(item, bool):
        return "true/false"
    if isinstance(item, int | float):
        return "a number"
    if isinstance(item, str):
        return "a string"
    if isinstance(item, list):
        return "an array"
    if item is None:
        return "null"
    return "an object"


_FORMAT_HINTS = {
    "date": " (use YYYY, YYYY-MM or YYYY-MM-DD)",
    "dateTime": " (use YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz)",
    "instant": " (use YYYY-MM-DDThh:mm:ss.sss+zz:zz)",
    "id": " (1 to 64 letters, digits, '-' or '.')",
    "code": " (no leading, trailing or double spaces)",
}
