"""Turning a resource into search-index rows.

For each search parameter of the resource's type, the parameter's FHIRPath
expression finds the values; each value becomes rows of the index table for the
parameter's type (see :mod:`mor.db.schema`), following the FHIR search rules for
what a value of each FHIR type matches. A value whose type does not fit the
parameter's type, or that is malformed (a date that is not a date), is skipped:
indexing runs on every write and must never fail one.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any, Final, NamedTuple

from mor.fhir import ucum
from mor.fhir.fhirpath import (
    CompiledExpression,
    FhirPathError,
    Node,
    choice_value,
    compile_expression,
    reference_parts,
)
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.search_parameters import parameter_by_url, parameters_for


class IndexRow(NamedTuple):
    """One search-index row. A named tuple: a resource has dozens, and an import makes
    (and sends between processes) tens of millions."""

    table: str  # a key of mor.db.schema.INDEX_TABLES
    # The search parameter code; "<code>:identifier" for a reference's identifier,
    # "<code>:of-type" for an identifier's type, "<code>$<n>" for a composite's nth part.
    param: str
    columns: dict[str, Any]  # that table's own columns
    # Which value of a composite parameter the row belongs to; None otherwise.
    group: int | None = None


# Answered from the resource table itself.
SKIPPED_PARAMETERS: Final = frozenset({"_id", "_lastUpdated"})
# Defined without an expression: indexed as words of the narrative / of every text.
WORD_PARAMETERS: Final = frozenset({"_text", "_content"})
# Not indexed by word: mor writes an AuditEvent for every request, its words are codes
# and references that have search parameters of their own, and _content on them would
# double the cost of every audit record.
UNWORDED_TYPES: Final = frozenset({"AuditEvent"})

UNINDEXED_TYPES: Final = {
    "special": "special parameters (_filter, Location near) need their own search logic",
}

UNSUPPORTED_EXPRESSIONS: Final[dict[str, str]] = {
    "http://hl7.org/fhir/SearchParameter/Resource-query":
        "_query names a custom named query; it has no expression",
    "http://hl7.org/fhir/SearchParameter/filter":
        "_filter is a query language of its own; it has no expression",
    "http://hl7.org/fhir/SearchParameter/patient-extensions-Patient-age":
        "the definition has no expression (age is computed from birthDate)",
    "http://hl7.org/fhir/SearchParameter/patient-extensions-Patient-birthOrderBoolean":
        "the definition has no expression",
    "http://hl7.org/fhir/SearchParameter/codesystem-extensions-CodeSystem-author":
        "the definition has neither base nor expression",
    "http://hl7.org/fhir/SearchParameter/codesystem-extensions-CodeSystem-effective":
        "the definition has neither base nor expression",
    "http://hl7.org/fhir/SearchParameter/codesystem-extensions-CodeSystem-end":
        "the definition has neither base nor expression",
    "http://hl7.org/fhir/SearchParameter/codesystem-extensions-CodeSystem-keyword":
        "the definition has neither base nor expression",
    "http://hl7.org/fhir/SearchParameter/codesystem-extensions-CodeSystem-workflow":
        "the definition has neither base nor expression",
    "http://hl7.org/fhir/SearchParameter/valueset-extensions-ValueSet-author":
        "the definition has neither base nor expression",
    "http://hl7.org/fhir/SearchParameter/valueset-extensions-ValueSet-effective":
        "the definition has neither base nor expression",
    "http://hl7.org/fhir/SearchParameter/valueset-extensions-ValueSet-end":
        "the definition has neither base nor expression",
    "http://hl7.org/fhir/SearchParameter/valueset-extensions-ValueSet-keyword":
        "the definition has neither base nor expression",
    "http://hl7.org/fhir/SearchParameter/valueset-extensions-ValueSet-workflow":
        "the definition has neither base nor expression",
}
"""Search parameters (by URL) whose values mor does not index, and why."""


# --- Strings --------------------------------------------------------------------------------

NORMALIZED_MAX_LENGTH: Final = 200
_THAI_LAO = re.compile(r"[\u0e00-\u0eff]+")
# Only the generic combining diacritics (the accents of Latin, Greek and Cyrillic) are
# removed. Thai, Lao and other scripts' vowel and tone marks are combining characters too,
# but they are letters of the word: stripping them would make different words equal.
_DIACRITICS: Final = dict.fromkeys(
    [*range(0x0300, 0x0370), *range(0x1AB0, 0x1B00), *range(0x1DC0, 0x1E00),
     *range(0x20D0, 0x2100), *range(0xFE20, 0xFE30)])


def _fold_accents(text: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFKD", text)
                                 .translate(_DIACRITICS))


def normalize_string(value: str) -> str:
    """The form string search compares: case-folded, accents removed ("José" -> "jose").

    Thai and Lao runs are only put in NFC: NFKD would also rewrite them (SARA AM into
    NIKHAHIT + SARA AA, Lao HO NO into HO SUNG + NO), so they keep the shape users type.
    The result is cut to NORMALIZED_MAX_LENGTH characters to keep the index small; search
    values go through the same cut, so prefix matching still works on longer strings.
    """
    if value.isascii():
        return value.lower()[:NORMALIZED_MAX_LENGTH]
    pieces: list[str] = []
    position = 0
    for match in _THAI_LAO.finditer(value):
        pieces.append(_fold_accents(value[position:match.start()]))
        pieces.append(unicodedata.normalize("NFC", match.group()))
        position = match.end()
    pieces.append(_fold_accents(value[position:]))
    return "".join(pieces).casefold()[:NORMALIZED_MAX_LENGTH]


# --- Dates ----------------------------------------------------------------------------------

_DATE = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?")
MIN_MICROS: Final = -62_135_596_800_000_000  # 0001-01-01T00:00:00Z
MAX_MICROS: Final = 253_402_300_799_999_999  # 9999-12-31T23:59:59.999999Z
_DAYS_IN_MONTH: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's method)."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_in_month(year: int, month: int) -> int:
    return 29 if month == 2 and _is_leap(year) else _DAYS_IN_MONTH[month - 1]


def date_range(value: str) -> tuple[int, int]:
    """The instants a FHIR date, dateTime or instant covers, given its precision.

    Returns [low, high] in microseconds since 1970-01-01T00:00:00Z: "2020" covers the
    whole year, "2020-02-10" the whole day, "2020-02-10T10:00:00+07:00" that second.
    Values without a time zone are taken as UTC. Raises ValueError if it is not a date.
    """
    match = _DATE.fullmatch(value)
    if match is None:
        raise ValueError(f"{value!r} is not a FHIR date, dateTime or instant")
    year = int(match["year"])
    if year == 0:
        raise ValueError(f"{value!r}: there is no year 0")
    if match["month"] is None:
        low = _days_from_civil(year, 1, 1) * 86_400_000_000
        return low, _days_from_civil(year + 1, 1, 1) * 86_400_000_000 - 1
    month = int(match["month"])
    if not 1 <= month <= 12:
        raise ValueError(f"{value!r}: month out of range")
    if match["day"] is None:
        low = _days_from_civil(year, month, 1) * 86_400_000_000
        return low, low + _days_in_month(year, month) * 86_400_000_000 - 1
    day = int(match["day"])
    if not 1 <= day <= _days_in_month(year, month):
        raise ValueError(f"{value!r}: day out of range")
    start_of_day = _days_from_civil(year, month, day) * 86_400_000_000
    if match["hour"] is None:
        return start_of_day, start_of_day + 86_400_000_000 - 1
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"] or 0)
    if hour > 23 or minute > 59 or second > 60:
        raise ValueError(f"{value!r}: time out of range")
    # 60 is a leap second; counting it as 59 keeps the range inside the minute.
    second = min(second, 59)
    low = start_of_day + ((hour * 60 + minute) * 60 + second) * 1_000_000
    if match["second"] is None:
        width = 60_000_000
    elif match["fraction"] is None:
        width = 1_000_000
    else:
        digits = match["fraction"][:6]
        low += int(digits.ljust(6, "0"))
        width = 10 ** (6 - len(digits))
    zone = match["zone"]
    if zone and zone != "Z":
        if int(zone[1:3]) > 14 or int(zone[4:6]) > 59:
            raise ValueError(f"{value!r}: time zone out of range")
        offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * 60_000_000
        low += -offset if zone[0] == "+" else offset
    return low, low + width - 1


def period_range(period: Any) -> tuple[int, int] | None:
    """The instants a Period covers (open ends reach the ends of time); None for none.
    Raises ValueError if a bound is not a date."""
    if not isinstance(period, dict):
        return None
    start, end = period.get("start"), period.get("end")
    if start is None and end is None:
        return None
    low = date_range(start)[0] if isinstance(start, str) else MIN_MICROS
    high = date_range(end)[1] if isinstance(end, str) else MAX_MICROS
    return low, high


# --- Rows per parameter type ----------------------------------------------------------------

class _Rows:
    """Collects rows, dropping exact duplicates (the same value reached by two paths)."""

    __slots__ = ("group", "rows", "seen")

    def __init__(self) -> None:
        self.rows: list[IndexRow] = []
        self.seen: set[tuple[Any, ...]] = set()
        # Set while a composite parameter's components are indexed.
        self.group: int | None = None

    def add(self, table: str, param: str, columns: dict[str, Any]) -> None:
        key = (table, param, self.group, *columns.values())
        if key not in self.seen:
            self.seen.add(key)
            self.rows.append(IndexRow(table, param, columns, self.group))


_Handler = Callable[[_Rows, str, str, Any], None]

_STRING_TYPES: Final = frozenset({"string", "markdown", "code", "id", "uri", "url", "canonical",
                                  "oid", "uuid"})
_URI_TYPES: Final = frozenset({"uri", "url", "canonical", "oid", "uuid"})
_NUMBER_TYPES: Final = frozenset({"integer", "decimal", "positiveInt", "unsignedInt"})
_QUANTITY_TYPES: Final = frozenset({"Quantity", "Age", "Duration", "Distance", "Count",
                                    "SimpleQuantity", "MoneyQuantity"})
_DATE_TYPES: Final = frozenset({"date", "dateTime", "instant"})
_NAME_PARTS: Final = (("text", False), ("family", False), ("given", True), ("prefix", True),
                      ("suffix", True))
_ADDRESS_PARTS: Final = (("text", False), ("line", True), ("city", False),
                         ("district", False), ("state", False), ("postalCode", False),
                         ("country", False))
_ISO_4217: Final = "urn:iso:std:iso:4217"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _parts(value: dict[str, Any], names: tuple[tuple[str, bool], ...]) -> list[str]:
    found: list[str] = []
    for name, repeats in names:
        item = value.get(name)
        for text in (item if repeats and isinstance(item, list) else (item,)):
            if isinstance(text, str) and text:
                found.append(text)
    return found


def _index_string(rows: _Rows, param: str, type_name: str, value: Any) -> None:
    if type_name in _STRING_TYPES:
        texts = [value] if isinstance(value, str) and value else []
    elif type_name == "HumanName" and isinstance(value, dict):
        texts = _parts(value, _NAME_PARTS)
    elif type_name == "Address" and isinstance(value, dict):
        texts = _parts(value, _ADDRESS_PARTS)
    else:
        return
    for text in texts:
        rows.add("string", param, {"value_norm": normalize_string(text), "value_exact": text})


def _token_row(rows: _Rows, param: str, system: Any, code: Any, text: Any) -> None:
    system, code, text = _text(system), _text(code), _text(text)
    if system or code or text:
        rows.add("token", param, {"system": system, "code": code, "text": text})


def _index_identifier(rows: _Rows, param: str, value: Any) -> None:
    if not isinstance(value, dict):
        return
    kind = value.get("type")
    _token_row(rows, param, value.get("system"), value.get("value"),
               kind.get("text") if isinstance(kind, dict) else None)
    if isinstance(kind, dict) and _text(value.get("value")):
        # For :of-type: the identifier's type coding, with the identifier value as text.
        for coding in kind.get("coding") or ():
            if isinstance(coding, dict) and _text(coding.get("code")):
                rows.add("token", f"{param}:of-type",
                         {"system": _text(coding.get("system")), "code": coding["code"],
                          "text": value["value"]})


def _index_token(rows: _Rows, param: str, type_name: str, value: Any) -> None:
    if type_name == "CodeableConcept" and isinstance(value, dict):
        concept_text = value.get("text")
        for coding in value.get("coding") or ():
            if isinstance(coding, dict):
                _token_row(rows, param, coding.get("system"), coding.get("code"),
                           coding.get("display") or concept_text)
        if _text(concept_text):
            _token_row(rows, param, None, None, concept_text)
    elif type_name == "Coding" and isinstance(value, dict):
        _token_row(rows, param, value.get("system"), value.get("code"), value.get("display"))
    elif type_name == "Identifier":
        _index_identifier(rows, param, value)
    elif type_name == "ContactPoint" and isinstance(value, dict):
        _token_row(rows, param, None, value.get("value"), None)
    elif type_name == "boolean" and isinstance(value, bool):
        _token_row(rows, param, None, "true" if value else "false", None)
    elif type_name in _STRING_TYPES and isinstance(value, str):
        _token_row(rows, param, None, value, None)


def _reference_row(rows: _Rows, param: str, target_type: str | None, target_id: str | None,
                   url: str | None) -> None:
    rows.add("reference", param,
             {"target_type": target_type, "target_id": target_id, "target_url": url})


def _index_literal_reference(rows: _Rows, param: str, reference: str) -> None:
    if not reference or reference.startswith("#"):
        return  # contained resources are not separately searchable
    parts = reference_parts(reference)
    if ":" in reference.split("/", 1)[0]:  # http://..., urn:uuid:..., urn:oid:...
        target_type, target_id = parts if parts else (None, None)
        _reference_row(rows, param, target_type, target_id, reference)
    elif parts is not None:
        _reference_row(rows, param, parts[0], parts[1], None)
    else:
        _reference_row(rows, param, None, None, reference)


def _index_reference(rows: _Rows, param: str, type_name: str, value: Any) -> None:
    if type_name == "Reference" and isinstance(value, dict):
        literal = value.get("reference")
        if isinstance(literal, str):
            _index_literal_reference(rows, param, literal)
        identifier = value.get("identifier")
        if identifier is not None:
            _index_identifier(rows, f"{param}:identifier", identifier)
    elif type_name == "canonical" and isinstance(value, str) and value:
        url = value.split("|", 1)[0]
        parts = None if ":" in url else reference_parts(url)
        if parts is not None:
            _reference_row(rows, param, parts[0], parts[1], None)
        else:
            _reference_row(rows, param, None, None, url)
    elif type_name in _URI_TYPES and isinstance(value, str) and value:
        _reference_row(rows, param, None, None, value)
    elif type_name in RESOURCE_TYPES and isinstance(value, dict):
        # An inline resource (Bundle.entry[0].resource for Bundle's composition/message).
        resource_id = value.get("id")
        if isinstance(resource_id, str) and reference_parts(f"{type_name}/{resource_id}"):
            _reference_row(rows, param, type_name, resource_id, None)


def _date_row(rows: _Rows, param: str, span: tuple[int, int] | None) -> None:
    if span is not None:
        rows.add("date", param, {"low": span[0], "high": span[1]})


def _index_date(rows: _Rows, param: str, type_name: str, value: Any) -> None:
    try:
        if type_name in _DATE_TYPES and isinstance(value, str):
            _date_row(rows, param, date_range(value))
        elif type_name == "Period":
            _date_row(rows, param, period_range(value))
        elif type_name == "Timing" and isinstance(value, dict):
            for event in value.get("event") or ():
                if isinstance(event, str):
                    _date_row(rows, param, date_range(event))
            repeat = value.get("repeat")
            if isinstance(repeat, dict):
                _date_row(rows, param, period_range(repeat.get("boundsPeriod")))
    except ValueError:
        return  # a malformed date is not indexed; a valid event before it already is


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and \
        math.isfinite(value)


def _index_number(rows: _Rows, param: str, type_name: str, value: Any) -> None:
    if type_name in _NUMBER_TYPES and _is_number(value):
        rows.add("number", param, {"value": float(value)})


def _quantity_row(rows: _Rows, param: str, value: Any, system: Any, code: Any,
                  unit: Any) -> None:
    if not _is_number(value):
        return
    system, code, number = _text(system), _text(code), float(value)
    canonical = ucum.conversion(code) if code and system == ucum.SYSTEM else None
    rows.add("quantity", param, {
        "value": number, "system": system, "code": code, "unit": _text(unit),
        "canonical_value": None if canonical is None else canonical(number),
        "canonical_code": None if canonical is None else canonical.code})


def _index_quantity(rows: _Rows, param: str, type_name: str, value: Any) -> None:
    if not isinstance(value, dict):
        return
    if type_name in _QUANTITY_TYPES:
        _quantity_row(rows, param, value.get("value"), value.get("system"), value.get("code"),
                      value.get("unit"))
    elif type_name == "Money":
        currency = value.get("currency")
        _quantity_row(rows, param, value.get("value"), _ISO_4217, currency, currency)
    elif type_name == "Range":
        for bound in (value.get("low"), value.get("high")):
            if isinstance(bound, dict):
                _index_quantity(rows, param, "Quantity", bound)


def _index_uri(rows: _Rows, param: str, type_name: str, value: Any) -> None:
    if type_name in _URI_TYPES and isinstance(value, str) and value:
        rows.add("uri", param, {"value": value})


_HANDLERS: Final[dict[str, _Handler]] = {
    "string": _index_string,
    "token": _index_token,
    "reference": _index_reference,
    "date": _index_date,
    "number": _index_number,
    "quantity": _index_quantity,
    "uri": _index_uri,
}


# --- Words, for _text and _content ----------------------------------------------------------

MAX_WORDS: Final = 300
_TAG = re.compile(r"<[^>]*>")
# Property names whose values are identifiers or machine text, not words a person searches.
_NOT_WORDS: Final = frozenset({"reference", "system", "url", "id", "div", "versionId",
                               "lastUpdated", "profile", "resourceType", "fullUrl", "data",
                               "contentType", "language", "status"})


def text_words(text: str) -> list[str]:
    """The distinct words of a text, normalised as string search compares them.

    A word is a run of letters, marks and digits; Thai and Lao, written without spaces
    between words, come out as whole phrases, which a search matches from their start.
    """
    if len(text) <= _CACHED_TEXT_LENGTH:
        return list(_short_text_words(text))
    return _words(_long_normalized(text))


# Codings' display texts repeat across resources by the thousand: worth remembering.
_CACHED_TEXT_LENGTH: Final = 200


@lru_cache(maxsize=32768)
def _short_text_words(text: str) -> tuple[str, ...]:
    return tuple(_words(normalize_string(text)))


def _words(normalized: str) -> list[str]:
    return list(dict.fromkeys(_word_pattern().findall(normalized)))


@cache
def _word_pattern() -> re.Pattern[str]:
    """Runs of Unicode letters, marks and digits. Python's ``\\w`` (less ``_``) has the
    letters and digits but not the marks, among them the vowel and tone marks of Thai and
    Lao; those of the Basic Multilingual Plane are added (the others are a few historic
    scripts' and musical notation's)."""
    marks: list[tuple[int, int]] = []
    for code in range(0x10000):
        if unicodedata.category(chr(code))[0] == "M":
            if marks and marks[-1][1] == code - 1:
                marks[-1] = (marks[-1][0], code)
            else:
                marks.append((code, code))
    members = "".join(f"{re.escape(chr(low))}-{re.escape(chr(high))}" for low, high in marks)
    return re.compile(f"(?:[^\\W_]|[{members}])+")


def _long_normalized(text: str) -> str:
    # normalize_string cuts at NORMALIZED_MAX_LENGTH; a narrative must be read whole.
    return "".join(normalize_string(text[i:i + NORMALIZED_MAX_LENGTH])
                   for i in range(0, len(text), NORMALIZED_MAX_LENGTH))


def _add_words(rows: _Rows, param: str, texts: list[str]) -> None:
    count = 0
    for text in texts:
        for word in text_words(text):
            if count >= MAX_WORDS:
                return
            rows.add("string", param, {"value_norm": word[:NORMALIZED_MAX_LENGTH],
                                       "value_exact": word})
            count += 1


def _narrative_text(resource: dict[str, Any]) -> list[str]:
    narrative = resource.get("text")
    div = narrative.get("div") if isinstance(narrative, dict) else None
    return [html.unescape(_TAG.sub(" ", div))] if isinstance(div, str) else []


def _string_values(value: Any, found: list[str], key: str = "") -> None:
    if isinstance(value, str):
        if key not in _NOT_WORDS and any(c.isalpha() for c in value):
            found.append(value)
    elif isinstance(value, dict):
        for name, item in value.items():
            if name not in _NOT_WORDS:
                _string_values(item, found, name)
    elif isinstance(value, list):
        for item in value:
            _string_values(item, found, key)


# --- Putting it together --------------------------------------------------------------------

_Step = tuple[str, CompiledExpression, _Handler | None]


@cache
def _plan(resource_type: str) -> tuple[_Step, ...]:
    steps: list[_Step] = []
    for code, parameter in parameters_for(resource_type).items():
        if parameter.type == "composite":
            handler = None
        else:
            found = _HANDLERS.get(parameter.type)
            if found is None:
                continue
            handler = found
        if (code in SKIPPED_PARAMETERS or parameter.expression is None
                or parameter.url in UNSUPPORTED_EXPRESSIONS):
            continue
        try:
            compiled = compile_expression(parameter.expression, resource_type)
        except FhirPathError:
            continue  # tests/fhir/test_search_parameter_registry.py keeps this from happening
        steps.append((code, compiled, handler))
    return tuple(steps)


@cache
def _components(resource_type: str, code: str
                ) -> tuple[tuple[str, _Handler], ...] | None:
    """A composite parameter's component expressions and their handlers."""
    parameter = parameters_for(resource_type)[code]
    parts = []
    for component in parameter.components:
        definition = parameter_by_url(component.definition)
        handler = _HANDLERS.get(definition.type) if definition else None
        if handler is None:
            return None
        parts.append((component.expression, handler))
    return tuple(parts)


@cache
def _component_expression(expression: str, context_type: str,
                          resource_type: str) -> CompiledExpression | None:
    try:
        return compile_expression(expression, context_type, resource_type)
    except FhirPathError:
        return None


def _index_composite(rows: _Rows, resource: dict[str, Any], resource_type: str, code: str,
                     values: list[Node]) -> None:
    components = _components(resource_type, code)
    if components is None:
        return
    for group, node in enumerate(values):
        rows.group = group
        try:
            for position, (expression, handler) in enumerate(components):
                compiled = _component_expression(expression, node[0], resource_type)
                if compiled is None:
                    break
                for found in compiled(node[1], resource):
                    value = _unwrap_extension(found)
                    if value is not None:
                        handler(rows, f"{code}${position}", value[0], value[1])
        finally:
            rows.group = None


def _unwrap_extension(node: Node) -> Node | None:
    # Parameters defined on an extension search the extension's value.
    if node[0] == "Extension" and isinstance(node[1], dict):
        return choice_value(node[1], "Extension", "value")
    return node


def index_rows(resource: dict[str, Any]) -> list[IndexRow]:
    """The search-index rows for a resource; empty for anything that is not one."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or resource_type not in RESOURCE_TYPES:
        return []
    rows = _Rows()
    present = resource.keys()
    for code, compiled, handler in _plan(resource_type):
        if compiled.root_keys is not None and present.isdisjoint(compiled.root_keys):
            continue
        try:
            values = compiled(resource)
            if handler is None:
                _index_composite(rows, resource, resource_type, code, values)
                continue
            for node in values:
                found = _unwrap_extension(node)
                if found is not None:
                    handler(rows, code, found[0], found[1])
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError):
            # Only a resource that breaks its own structure gets here (a list where an
            # object belongs); its other parameters are still indexed.
            continue
    if resource_type in UNWORDED_TYPES:
        return rows.rows
    _add_words(rows, "_text", _narrative_text(resource))
    contents = _narrative_text(resource)
    _string_values(resource, contents)
    _add_words(rows, "_content", contents)
    return rows.rows


# The reference parameter whose Patient targets idx_patient_date pairs with dates.
PATIENT_PARAMETER: Final = "patient"


def patient_date_rows(rows: list[IndexRow]) -> list[IndexRow]:
    """Each of a resource's dates (not a composite's parts) once for each Patient its
    ``patient`` parameter names: the rows of ``idx_patient_date``."""
    patients = sorted({row.columns["target_id"] for row in rows
                       if row.table == "reference" and row.param == PATIENT_PARAMETER
                       and row.columns["target_type"] == "Patient"
                       and row.columns["target_id"] is not None})
    if not patients:
        return []
    return [IndexRow("patient_date", row.param, {"patient_id": patient,
                                                 "low": row.columns["low"],
                                                 "high": row.columns["high"]})
            for row in rows if row.table == "date" and row.group is None
            for patient in patients]
