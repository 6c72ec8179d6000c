"""Checking a resource against the FHIR R4 structure, as the JSON format defines it.

The rules come from the official R4 (4.0.1) StructureDefinitions, compiled by
``scripts/generate_structure_definitions.py`` into ``data/r4_structure.json``:
which properties each type has, their types and cardinality, and the regular
expression of each primitive type. The JSON rules (arrays, ``_name``
companions, nulls, empty values) are those of http://hl7.org/fhir/R4/json.html.

Invariants (FHIRPath constraints) and terminology bindings are not checked.
Duplicate JSON property names cannot be seen here: the parser has already
kept only the last one.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["StructureIssue", "TopLevelElement", "top_level_elements", "validate_structure"]

_DATA = Path(__file__).parent / "data" / "r4_structure.json"

# A list of every problem helps a person fix a resource in one go, but a hostile or
# badly broken body could yield one per value; past this many the rest are counted.
_MAX_ISSUES = 100
# Real resources nest a few dozen levels at most; the limit keeps recursion far from
# Python's own limit whatever the body holds.
_MAX_DEPTH = 120
# FHIR integer is a 32-bit signed number (http://hl7.org/fhir/R4/datatypes.html).
_INT_MIN = -(2**31)
_INT_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class StructureIssue:
    path: str
    message: str


# Each checker returns None for a valid value, else what is wrong with it.
_Checker = Callable[[Any], str | None]


@dataclass(slots=True)
class _Element:
    name: str  # the JSON property name, e.g. 'deceasedBoolean'
    type_name: str
    repeats: bool
    max: int | None  # None when unbounded
    min: int
    choice: str | None  # 'deceased[x]' for each variant of a choice
    attribute: bool  # Element.id, Extension.url: no '_name' companion
    check: _Checker | None  # set for primitives
    complex: _Type | None  # set for datatypes and backbone elements; neither: a Resource
    summary: bool = False  # returned by _summary=true


@dataclass(slots=True)
class _Type:
    name: str
    is_resource: bool
    elements: dict[str, _Element]
    # (label, keys any of which satisfies it), e.g. ('value[x]', ('valueString', ...))
    required: tuple[tuple[str, tuple[str, ...]], ...]
    choices: dict[str, tuple[str, ...]]  # 'value[x]' -> its JSON names


@dataclass(frozen=True, slots=True)
class _Model:
    resources: dict[str, _Type]
    element: _Type  # the content of a '_name' companion: id and extension


def validate_structure(resource: dict[str, Any]) -> list[StructureIssue]:
    """Every structural problem of a resource, or an empty list if it is valid R4."""
    issues: list[StructureIssue] = []
    _check_resource(resource, "", issues, 0)
    if len(issues) > _MAX_ISSUES:
        extra = len(issues) - _MAX_ISSUES
        where = issues[0].path.split(".", 1)[0].split("[", 1)[0]
        issues = issues[:_MAX_ISSUES]
        issues.append(StructureIssue(where, f"{extra} more problems not listed; fix the ones "
                                            "above and validate again"))
    return issues


# -- walking a resource ------------------------------------------------------------------

def _check_resource(value: Any, path: str, issues: list[StructureIssue], depth: int) -> None:
    resources = _model().resources
    where = path or "resource"
    if type(value) is not dict:
        issues.append(StructureIssue(
            where, f"expected a resource (a JSON object), got {_describe(value)}"))
        return
    resource_type = value.get("resourceType")
    spec = resources.get(resource_type) if type(resource_type) is str else None
    if spec is None:
        issues.append(StructureIssue(where, _resource_type_problem(resource_type, resources)))
        return
    _check_object(value, spec, path or spec.name, issues, depth)


def _check_object(
    obj: dict[str, Any], spec: _Type, path: str, issues: list[StructureIssue], depth: int
) -> None:
    if depth > _MAX_DEPTH:
        issues.append(StructureIssue(path, f"nested more than {_MAX_DEPTH} levels deep"))
        return
    if not obj:
        issues.append(StructureIssue(
            path, "must not be an empty object; leave the element out instead"))
        return
    elements = spec.elements
    seen_choices: dict[str, str] | None = None
    for key, value in obj.items():
        element = elements.get(key)
        if element is None:
            if key.startswith("_"):
                element = _check_companion(obj, key, value, spec, path, issues, depth)
            elif not (key == "resourceType" and spec.is_resource):
                issues.append(StructureIssue(f"{path}.{key}", _unknown(key, spec)))
            if element is None or element.choice is None:
                continue
        if element.choice is not None:
            if seen_choices is None:
                seen_choices = {}
            other = seen_choices.setdefault(element.choice, element.name)
            if other != element.name:
                issues.append(StructureIssue(
                    f"{path}.{key}", f"only one of {element.choice} may be present, but "
                                     f"'{other}' is there too; keep one of them"))
            if key.startswith("_"):
                continue  # the companion's own checks are done
        if value is None:
            issues.append(StructureIssue(
                f"{path}.{key}", "null is not allowed here; leave the element out instead"))
        elif element.repeats:
            _check_array(obj, key, value, element, path, issues, depth)
        elif type(value) is list:
            issues.append(StructureIssue(
                f"{path}.{key}", "expected a single value, not an array (this element "
                                 "cannot repeat)"))
        elif element.check is not None:
            problem = element.check(value)
            if problem is not None:
                issues.append(StructureIssue(f"{path}.{key}", problem))
        else:
            _check_child(value, element, f"{path}.{key}", issues, depth)
    for label, keys in spec.required:
        for key in keys:
            if key in obj:
                break
        else:
            issues.append(StructureIssue(path, f"missing required element '{label}'"))


def _check_array(
    obj: dict[str, Any], key: str, value: Any, element: _Element, path: str,
    issues: list[StructureIssue], depth: int,
) -> None:
    if type(value) is not list:
        issues.append(StructureIssue(
            f"{path}.{key}", f"expected an array, because this element can repeat; got "
                             f"{_describe(value)} (wrap it in [ ])"))
        return
    if not value:
        issues.append(StructureIssue(
            f"{path}.{key}", "must not be an empty array; leave the element out instead"))
        return
    count = len(value)
    if element.max is not None and count > element.max:
        issues.append(StructureIssue(
            f"{path}.{key}", f"has {count} items, but at most {element.max} are allowed"))
    elif count < element.min:
        issues.append(StructureIssue(
            f"{path}.{key}", f"has {count} items, but at least {element.min} are required"))
    check = element.check
    if check is not None:
        companions = obj.get("_" + key)
        for index, item in enumerate(value):
            if item is None:
                # Where '_name' is null too, its own check reports the pair.
                if not _has_item(companions, index) and not _is_null_at(companions, index):
                    issues.append(StructureIssue(
                        f"{path}.{key}[{index}]",
                        f"null is only allowed where '_{key}' has an id or extension at "
                        "the same position"))
                continue
            problem = check(item)
            if problem is not None:
                issues.append(StructureIssue(f"{path}.{key}[{index}]", problem))
        return
    for index, item in enumerate(value):
        _check_child(item, element, f"{path}.{key}[{index}]", issues, depth)


def _check_child(
    value: Any, element: _Element, path: str, issues: list[StructureIssue], depth: int
) -> None:
    """A datatype, backbone element or resource value (not a primitive)."""
    complex_type = element.complex
    if complex_type is not None:
        if type(value) is dict:
            _check_object(value, complex_type, path, issues, depth + 1)
        else:
            issues.append(StructureIssue(path, f"expected an object ({_a(element.type_name)}), "
                                               f"got {_describe(value)}"))
    else:
        _check_resource(value, path, issues, depth + 1)


def _check_companion(
    obj: dict[str, Any], key: str, value: Any, spec: _Type, path: str,
    issues: list[StructureIssue], depth: int,
) -> _Element | None:
    """The '_name' property that carries a primitive's id and extensions.

    Returns the element it accompanies, so a choice variant given only through its
    companion still counts as present.
    """
    name = key[1:]
    element = spec.elements.get(name)
    if element is None:
        issues.append(StructureIssue(f"{path}.{key}", _unknown(key, spec)))
        return None
    if element.check is None:
        issues.append(StructureIssue(
            f"{path}.{key}", f"'{key}' is only allowed next to a primitive element, and "
                             f"'{name}' is {_a(element.type_name)}; put its extensions "
                             f"inside '{name}'"))
        return None
    if element.attribute:
        issues.append(StructureIssue(
            f"{path}.{key}", f"'{name}' cannot have an id or extensions, so '{key}' is not "
                             "allowed"))
        return None
    element_type = _model().element
    where = f"{path}.{name}"
    if not element.repeats:
        if type(value) is dict:
            _check_companion_item(value, key, element_type, where, issues, depth)
        else:
            issues.append(StructureIssue(where, _companion_shape(key, name, value)))
        return element
    if type(value) is not list:
        issues.append(StructureIssue(
            where, f"'{key}' must be an array, because '{name}' can repeat; got "
                   f"{_describe(value)}"))
        return element
    values = obj.get(name)
    if type(values) is list and len(values) != len(value):
        issues.append(StructureIssue(
            where, f"'{name}' has {len(values)} items but '{key}' has {len(value)}; they "
                   "must line up, with null where one side has nothing"))
    for index, item in enumerate(value):
        if item is None:
            if _is_null_at(values, index):
                issues.append(StructureIssue(
                    f"{where}[{index}]", f"'{key}' and '{name}' are both null at position "
                                         f"{index}; remove that position from both"))
            elif not _has_item(values, index):
                issues.append(StructureIssue(
                    f"{where}[{index}]", f"null is only allowed where '{name}' has a value "
                                         "at the same position"))
        elif type(item) is dict:
            _check_companion_item(item, key, element_type, f"{where}[{index}]", issues, depth)
        else:
            issues.append(StructureIssue(f"{where}[{index}]", _companion_shape(key, name, item)))
    return element


def _check_companion_item(
    item: dict[str, Any], key: str, element_type: _Type, path: str,
    issues: list[StructureIssue], depth: int,
) -> None:
    if not item:
        issues.append(StructureIssue(
            path, f"'{key}' must not be an empty object; give an id or extension, or leave "
                  "it out"))
        return
    _check_object(item, element_type, path, issues, depth + 1)


def _has_item(items: Any, index: int) -> bool:
    return type(items) is list and index < len(items) and items[index] is not None


def _is_null_at(items: Any, index: int) -> bool:
    return type(items) is list and index < len(items) and items[index] is None


def _companion_shape(key: str, name: str, value: Any) -> str:
    return (f"'{key}' must be an object holding the id and/or extension of '{name}', got "
            f"{_describe(value)}")


# -- messages ----------------------------------------------------------------------------

def _unknown(key: str, spec: _Type) -> str:
    base = key.lstrip("_")
    prefix = key[: len(key) - len(base)]
    stem = base.removesuffix("[x]") + "[x]"
    if stem in spec.choices:
        options = " or ".join(f"'{prefix}{name}'" for name in spec.choices[stem][:4])
        more = ", ..." if len(spec.choices[stem]) > 4 else ""
        return (f"unknown element; {stem} is a choice, so the name must carry the type, "
                f"e.g. {options}{more}")
    if key == "resourceType":
        return "unknown element; 'resourceType' only belongs at the top of a resource"
    suggestion = _closest(base, spec)
    if suggestion is not None:
        return f"unknown element; did you mean '{prefix}{suggestion}'?"
    return f"unknown element; {_a(spec.name)} has no element '{base}'"


def _closest(name: str, spec: _Type) -> str | None:
    lowered = name.lower()
    for candidate in spec.elements:
        if candidate.lower() == lowered:
            return candidate
    close = difflib.get_close_matches(name, list(spec.elements), n=1, cutoff=0.75)
    return close[0] if close else None


def _resource_type_problem(resource_type: Any, resources: dict[str, _Type]) -> str:
    if resource_type is None:
        return ("missing 'resourceType'; a resource must name its type, e.g. "
                "\"resourceType\": \"Patient\"")
    if type(resource_type) is not str:
        return f"'resourceType' must be a string, got {_describe(resource_type)}"
    close = [name for name in resources if name.lower() == resource_type.lower()]
    close = close or difflib.get_close_matches(resource_type, list(resources), n=1,
                                               cutoff=0.75)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"'{resource_type}' is not an R4 resource type{hint}"


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if type(value) is bool:
        return "true/false"
    if type(value) is int or type(value) is float:
        return "a number"
    if type(value) is str:
        return "an empty string" if not value else "a string"
    if type(value) is list:
        return "an array"
    return "an object"


def _a(type_name: str) -> str:
    # 'uri', 'url' and 'uuid' are spelled out ("a you-are-eye"), the rest are words.
    vowel = type_name[:1].lower() in "aeiou" and not type_name.startswith(("ur", "uu"))
    return f"{'an' if vowel else 'a'} {type_name}"


def _quote(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


_FORMAT_HINTS = {
    "date": "use YYYY, YYYY-MM or YYYY-MM-DD",
    "dateTime": "use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz; a time "
                "needs a time zone",
    "instant": "use YYYY-MM-DDThh:mm:ss+zz:zz or YYYY-MM-DDThh:mm:ssZ, with seconds and "
               "a time zone",
    "time": "use hh:mm:ss",
    "id": "1 to 64 letters, digits, '-' or '.'",
    "code": "no leading, trailing or repeated whitespace",
    "oid": "use urn:oid: followed by the dotted numbers",
    "uuid": "use urn:uuid: followed by a lowercase UUID",
    "uri": "no whitespace",
    "url": "no whitespace",
    "canonical": "no whitespace",
    "base64Binary": "base64 text: A-Z, a-z, 0-9, '+', '/' and '=' in groups of four",
    "string": "no vertical tab or form feed characters",
    "markdown": "no vertical tab or form feed characters",
}


# -- primitive checkers ------------------------------------------------------------------

def _string_checker(type_name: str, regex: str | None) -> _Checker:
    matches = _matcher(type_name, regex)
    expected = f"expected a string ({_a(type_name)}), got "
    hint = _FORMAT_HINTS.get(type_name)
    suffix = f" ({hint})" if hint else ""

    def check(value: Any) -> str | None:
        if type(value) is not str:
            return expected + _describe(value)
        if not value:
            return "must not be an empty string; leave the element out instead"
        if matches is not None and not matches(value):
            return f"{_quote(value)} is not a valid {type_name}{suffix}"
        return None

    return check


_BASE64_CHARACTERS = re.compile(r"[0-9a-zA-Z+/=]+")
_WHITESPACE = re.compile(r"\s+", re.ASCII)


def _matcher(type_name: str, regex: str | None) -> Callable[[str], object] | None:
    """A test, truthy on success, equivalent to the spec's regex for the type."""
    if not regex:
        return None
    # ASCII mode, as in the reference (Java) validator: Python's Unicode \s would also
    # refuse no-break spaces, common in real text. ASCII \s adds vertical tab and form
    # feed to XML Schema's space, tab, CR and LF, but XML cannot carry those two at all.
    fullmatch = re.compile(regex, re.ASCII).fullmatch
    return _base64 if type_name == "base64Binary" else fullmatch


def _base64(value: str) -> bool:
    """The spec's base64Binary regex, ``(\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+``, fifty times faster.

    The regex repeats a group per four characters: ~150 ms per MB of attachment. It
    says that whitespace may only fall between groups of four, so it matches exactly
    when every run of non-whitespace is base64 characters, a multiple of four of them.
    """
    if _BASE64_CHARACTERS.fullmatch(value) is not None:
        return len(value) % 4 == 0
    runs = _WHITESPACE.split(value.strip(" \t\n\r\f\v"))
    return (all(len(run) % 4 == 0 for run in runs)
            and _BASE64_CHARACTERS.fullmatch("".join(runs)) is not None)


def _boolean_checker(type_name: str) -> _Checker:
    def check(value: Any) -> str | None:
        if type(value) is bool:
            return None
        return f"expected true or false (a boolean), got {_describe(value)}"

    return check


def _integer_checker(type_name: str) -> _Checker:
    lowest = {"positiveInt": 1, "unsignedInt": 0}.get(type_name, _INT_MIN)
    expected = f"expected a whole number ({_a(type_name)}), got "

    def check(value: Any) -> str | None:
        if type(value) is not int:
            if type(value) is float:
                return f"{expected}{value!r}"
            return expected + _describe(value)
        if value < lowest:
            return f"{value} is not a valid {type_name} (the smallest allowed is {lowest})"
        if value > _INT_MAX:
            return f"{value} is too large for {_a(type_name)} (at most {_INT_MAX})"
        return None

    return check


def _decimal_checker(type_name: str) -> _Checker:
    def check(value: Any) -> str | None:
        kind = type(value)
        if kind is int:
            return None
        if kind is float:
            return None if math.isfinite(value) else "must be a finite number"
        return f"expected a number (a decimal), got {_describe(value)}"

    return check


_CHECKER_FACTORIES: dict[str, Callable[[str], _Checker]] = {
    "boolean": _boolean_checker,
    "integer": _integer_checker,
    "number": _decimal_checker,
}


@dataclass(frozen=True, slots=True)
class TopLevelElement:
    """What ``_summary`` and ``_elements`` need to know of a resource's own element."""

    name: str  # the JSON property name, e.g. 'valueQuantity'
    stem: str  # the element's name without its type, e.g. 'value'
    summary: bool
    mandatory: bool


@cache
def top_level_elements(resource_type: str) -> dict[str, TopLevelElement]:
    """A resource type's elements by JSON property name; empty for an unknown type."""
    found = _model().resources.get(resource_type)
    if found is None:
        return {}
    return {name: TopLevelElement(name, (element.choice or name).removesuffix("[x]"),
                                  element.summary, element.min > 0)
            for name, element in found.elements.items()}


# -- loading the compiled definitions ----------------------------------------------------

@cache
def _model() -> _Model:
    raw = json.loads(_DATA.read_bytes())
    checkers: dict[str, _Checker] = {}
    for name, primitive in raw["primitives"].items():
        factory = _CHECKER_FACTORIES.get(primitive["json"])
        checkers[name] = (factory(name) if factory is not None
                          else _string_checker(name, primitive["regex"]))
    types = {name: _Type(name, spec["kind"] == "resource", {}, (), {})
             for name, spec in raw["types"].items()}
    for name, spec in raw["types"].items():
        _link(types[name], spec["elements"], types, checkers)
    resources = {name: types[name] for name in raw["resources"]}
    return _Model(resources, types["Element"])


def _link(
    target: _Type, elements: dict[str, Any], types: dict[str, _Type],
    checkers: dict[str, _Checker],
) -> None:
    required: list[tuple[str, tuple[str, ...]]] = []
    for prop, spec in elements.items():
        maximum = None if spec["max"] == "*" else int(spec["max"])
        repeats = maximum is None or maximum > 1
        variants = spec.get("choices") or {prop: spec["type"]}
        choice = prop if "choices" in spec else None
        for name, type_name in variants.items():
            target.elements[name] = _Element(
                name=name, type_name=type_name, repeats=repeats, max=maximum,
                min=spec["min"], choice=choice, attribute=bool(spec.get("attribute")),
                check=checkers.get(type_name), complex=types.get(type_name),
                summary=bool(spec.get("summary")),
            )
        if choice is not None:
            target.choices[choice] = tuple(variants)
        if spec["min"] > 0:
            # A primitive given only by its '_name' companion (e.g. a data-absent-reason
            # extension) is present, as the JSON format says.
            keys = tuple(key for name in variants for key in (name, "_" + name))
            required.append((prop, keys))
    target.required = tuple(required)


def single_value_types(resource_type: str, path: tuple[str, ...]) -> frozenset[str] | None:
    """The types the element at ``path`` (element names without ``[x]``, e.g.
    ``("onset",)``) can have, if it and each element above it hold at most one value;
    None if any of them repeats, or the path is not one of the resource's."""
    current = _model().resources.get(resource_type)
    found: list[_Element] = []
    for step in path:
        if current is None:
            return None
        variants = current.choices.get(f"{step}[x]")
        found = ([current.elements[name] for name in variants] if variants
                 else [current.elements[step]] if step in current.elements else [])
        if not found or any(element.repeats for element in found):
            return None
        current = found[0].complex if len(found) == 1 else None
    return frozenset(element.type_name for element in found) or None
