"""One search parameter and its value as a SQL condition on a resource.

Each parameter becomes an ``EXISTS`` sub-query on the index table of its type,
correlated with the resource by its key. The values of one parameter separated
by commas are ORed. Chained parameters (``subject:Patient.name=x``) follow the
reference to the target resource and test the rest of the chain there; reverse
chains (``_has:Observation:patient:code=x``) look for resources that refer back.
Composite parameters match components indexed from the same part of the
resource (the same ``grp``), so "systolic above 140" matches a systolic value,
not any value in a panel that also has a systolic code.

Every sub-query uses fresh table aliases, so nested ones never correlate with
the wrong table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import (
    ColumnElement,
    FromClause,
    and_,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    tuple_,
)

from mor.db.schema import INDEX_TABLES, resource
from mor.fhir import ucum
from mor.fhir.errors import BadRequest
from mor.fhir.indexing import UNSUPPORTED_EXPRESSIONS, normalize_string, text_words
from mor.fhir.resource_types import RESOURCE_TYPES
from mor.fhir.search.single_values import holds_one_date
from mor.fhir.search.values import (
    date_value,
    number_range,
    prefix,
    range_comparison,
    split_unescaped,
    split_values,
    value_comparison,
)
from mor.fhir.search_parameters import SearchParameter, parameter_by_url, parameters_for

# Chains longer than this are refused: each link is a join, and real questions need few.
MAX_CHAIN_LINKS = 4


class Unsupported(Exception):
    """A parameter mor cannot apply; lenient handling ignores it with this reason."""


@dataclass(frozen=True, slots=True)
class ValueSetCodes:
    """What a stored ValueSet contains, for :in and :not-in."""

    codes: frozenset[tuple[str | None, str]] = frozenset()
    # Systems included whole (compose.include with a system and no concepts).
    systems: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Context:
    # ValueSets named by :in / :not-in values, resolved from the store beforehand.
    value_sets: Mapping[str, ValueSetCodes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Scope:
    """The resources a condition is about: a table (or alias) and their possible types."""

    table: FromClause
    types: tuple[str, ...]
    # All types: no type condition is needed (a system-wide search).
    any_type: bool = False


def condition(scope: Scope, name: str, value: str, context: Context,
              depth: int = 0) -> ColumnElement[bool]:
    """The condition ``name=value`` puts on resources in ``scope``.

    Raises Unsupported for a parameter or modifier mor does not know, BadRequest for a
    value that cannot be right.
    """
    if depth > MAX_CHAIN_LINKS:
        raise BadRequest(f"'{name}' chains more than {MAX_CHAIN_LINKS} references; "
                         "split the question into several searches")
    if name.startswith("_has:"):
        return _reverse_chain(scope, name, value, context, depth)
    head, dot, tail = name.partition(".")
    code, _, modifier = head.partition(":")
    if dot:
        return _chain(scope, code, modifier, tail, value, context, depth)
    if code == "_id":
        return _id_condition(scope, modifier, value)
    if code == "_lastUpdated":
        return _last_updated(scope, modifier, value)
    if code in ("_text", "_content"):
        return _words(scope, code, modifier, value)
    definition = common_definition(scope, code)
    if definition.type == "composite":
        return _composite(scope, definition, modifier, value)
    return _simple(scope, definition, modifier, value, context)


def common_definition(scope: Scope, code: str) -> SearchParameter:
    """The definition of ``code`` shared by every type in scope."""
    types = scope.types
    definitions = [parameters_for(t).get(code) for t in types]
    found = definitions[0] if definitions else None
    if found is None or any(d is None or d.type != found.type for d in definitions):
        where = types[0] if len(types) == 1 else "every type searched"
        raise Unsupported(f"'{code}' is not a search parameter of {where}")
    if found.url in UNSUPPORTED_EXPRESSIONS:
        raise Unsupported(UNSUPPORTED_EXPRESSIONS[found.url])
    if found.type == "special":
        raise Unsupported(f"'{code}' is a special parameter mor does not implement")
    return found


def type_condition(table: FromClause | FromClause, scope: Scope) -> ColumnElement[bool]:
    if scope.any_type:
        return true()
    column = table.c.resource_type
    return column == scope.types[0] if len(scope.types) == 1 else column.in_(scope.types)


def in_index(scope: Scope, table: FromClause, param: str,
             condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Resources in ``scope`` with a row of ``param`` in the index ``table`` where
    ``condition`` holds."""
    # "pk IN (uncorrelated sub-query)" rather than a correlated EXISTS: SQLite runs a
    # correlated EXISTS once per resource of the type (seconds on a large table), but
    # looks an IN list up once; PostgreSQL plans both as the same semi-join.
    return scope.table.c.pk.in_(select(table.c.resource_pk).where(
        type_condition(table, scope),
        table.c.param == param,
        condition,
    ))


# -- the resource's own columns -------------------------------------------------------------

def _id_condition(scope: Scope, modifier: str, value: str) -> ColumnElement[bool]:
    column = scope.table.c.id
    if modifier == "missing":
        return false() if _boolean("_id:missing", value) else true()
    if modifier == "not":
        return column.not_in(split_values(value))
    if modifier:
        raise Unsupported(f"_id does not take the modifier ':{modifier}'")
    return column.in_(split_values(value))


def _last_updated(scope: Scope, modifier: str, value: str) -> ColumnElement[bool]:
    if modifier == "missing":
        return false() if _boolean("_lastUpdated:missing", value) else true()
    if modifier:
        raise Unsupported(f"_lastUpdated does not take the modifier ':{modifier}'")
    column = scope.table.c.last_updated
    clauses = []
    for item in split_values(value):
        comparator, raw = prefix(item)
        low, high = date_value("_lastUpdated", raw)
        clauses.append(range_comparison(comparator, column, column, low, high))
    return or_(*clauses)


def _words(scope: Scope, code: str, modifier: str, value: str) -> ColumnElement[bool]:
    """_text (the narrative) and _content (every text in the resource): each word of the
    value must begin a word of the resource; commas separate alternatives."""
    if modifier:
        raise Unsupported(f"{code} does not take the modifier ':{modifier}'")
    alternatives = []
    for item in split_values(value):
        words = text_words(item)
        if not words:
            raise BadRequest(f"{code} needs at least one word to look for")
        tables = [INDEX_TABLES["string"].alias() for _ in words]
        alternatives.append(and_(*[
            in_index(scope, table, code, starts_with(table.c.value_norm, word))
            for table, word in zip(tables, words, strict=True)]))
    return or_(*alternatives)


def starts_with(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """``column LIKE 'prefix%'`` with the pattern as one value: both databases use an
    index for that, but not for SQLAlchemy's ``startswith`` (``LIKE :value || '%'``).
    Case-sensitive on both (SQLite's ``case_sensitive_like`` is on)."""
    escaped = prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return column.like(escaped + "%", escape="/")


# -- parameters indexed in the index tables ----------------------------------------------

def _simple(scope: Scope, definition: SearchParameter, modifier: str, value: str,
            context: Context) -> ColumnElement[bool]:
    code, param_type = definition.code, definition.type
    table_key, param_name = param_type, code
    if modifier == "identifier" and param_type == "reference":
        table_key, param_name = "token", f"{code}:identifier"
    elif modifier == "of-type" and param_type == "token":
        param_name = f"{code}:of-type"
    table = INDEX_TABLES[table_key].alias()
    if modifier == "missing":
        present = in_index(scope, table, param_name, true())
        return not_(present) if _boolean(f"{code}:missing", value) else present
    if param_type == "token" and modifier in ("not", "not-in"):
        # These match resources with no such code at all, not just ones with another.
        positive = "in" if modifier == "not-in" else ""
        clauses = [_token_value(table, positive, part, definition, context)
                   for part in split_values(value)]
        return not_(in_index(scope, table, param_name, or_(*clauses)))
    if param_type == "reference" and modifier in RESOURCE_TYPES:
        if definition.target and modifier not in definition.target:
            raise BadRequest(f"'{code}' cannot refer to a {modifier}; it refers to "
                             f"{', '.join(definition.target)}")
        clauses = [_reference(table, f"{modifier}/{part.rsplit('/', 1)[-1]}", definition)
                   for part in split_values(value)]
        return in_index(scope, table, param_name, or_(*clauses))
    if param_type == "token":
        clauses = [_token_value(table, modifier, part, definition, context)
                   for part in split_values(value)]
        return in_index(scope, table, param_name, or_(*clauses))
    if param_type == "reference" and not modifier:
        return in_index(scope, table, param_name,
                       _references(table, split_values(value), definition))
    builder = _BUILDERS.get((table_key, modifier))
    if builder is None:
        raise Unsupported(f"the modifier ':{modifier}' is not supported on '{code}'")
    clauses = [builder(table, part, definition) for part in split_values(value)]
    return in_index(scope, table, param_name, or_(*clauses))


def _references(table: FromClause, values: list[str], definition: SearchParameter
                ) -> ColumnElement[bool]:
    """Any of several references; those to one type as one ``IN`` list, which the index
    on ``target_id`` answers with a lookup per id (an OR of twenty pairs read the
    whole table on PostgreSQL)."""
    by_type: dict[str, list[str]] = {}
    bare: list[str] = []  # ids without a type, where the parameter may name several
    others = []
    for value in values:
        segments = value.split("/")
        local = not value.startswith(("http://", "https://", "urn:"))
        if local and len(segments) == 2 and segments[0] and segments[1]:
            by_type.setdefault(segments[0], []).append(segments[1])
        elif local and len(segments) == 1 and value and len(definition.target) == 1:
            by_type.setdefault(definition.target[0], []).append(value)
        elif local and len(segments) == 1 and value:
            bare.append(value)
        else:
            others.append(_reference(table, value, definition))
    grouped = [and_(table.c.target_type == kind, table.c.target_id.in_(ids))
               for kind, ids in by_type.items()]
    if bare:
        grouped.append(table.c.target_id.in_(bare))
    return or_(*grouped, *others)


def _boolean(name: str, value: str) -> bool:
    if value not in ("true", "false"):
        raise BadRequest(f"'{name}' takes true or false, not {value!r}")
    return value == "true"


def _string_default(table: FromClause, value: str, _: SearchParameter) -> ColumnElement[bool]:
    return starts_with(table.c.value_norm, normalize_string(value))


def _string_exact(table: FromClause, value: str, _: SearchParameter) -> ColumnElement[bool]:
    return table.c.value_exact == value


def _string_contains(table: FromClause, value: str, _: SearchParameter) -> ColumnElement[bool]:
    return table.c.value_norm.contains(normalize_string(value), autoescape=True)


def _token_value(table: FromClause, modifier: str, value: str, definition: SearchParameter,
                 context: Context) -> ColumnElement[bool]:
    if modifier in ("", "not"):
        return _token(table, value)
    if modifier == "text":
        return starts_with(func.lower(table.c.text), value.lower())
    if modifier == "in":
        return _in_value_set(table, value, context)
    if modifier == "of-type":
        parts = split_unescaped(value, "|")
        if len(parts) != 3 or not all(parts):
            raise BadRequest(f"'{definition.code}:of-type' takes type-system|type-code|value, "
                             f"e.g. http://terminology.hl7.org/CodeSystem/v2-0203|MR|12345; "
                             f"not {value!r}")
        return and_(table.c.system == parts[0], table.c.code == parts[1],
                    table.c.text == parts[2])
    raise Unsupported(f"the modifier ':{modifier}' is not supported on '{definition.code}'")


def _token(table: FromClause, value: str) -> ColumnElement[bool]:
    parts = split_unescaped(value, "|")
    if len(parts) == 1:
        return table.c.code == parts[0]
    if len(parts) != 2:
        raise BadRequest(f"Token {value!r} has more than one '|': use system|code")
    system, code = parts
    if system == "":
        return and_(table.c.system.is_(None), table.c.code == code)
    if code == "":
        return table.c.system == system
    return and_(table.c.system == system, table.c.code == code)


def _in_value_set(table: FromClause, url: str, context: Context) -> ColumnElement[bool]:
    value_set = context.value_sets.get(url)
    if value_set is None:
        raise BadRequest(f"No ValueSet with url {url!r} is stored on this server; store it "
                         "first to search with :in or :not-in")
    clauses: list[ColumnElement[bool]] = []
    by_system: dict[str | None, list[str]] = {}
    for system, code in value_set.codes:
        by_system.setdefault(system, []).append(code)
    for system, codes in sorted(by_system.items(), key=lambda item: item[0] or ""):
        system_match = table.c.system.is_(None) if system is None else table.c.system == system
        clauses.append(and_(system_match, table.c.code.in_(sorted(codes))))
    if value_set.systems:
        clauses.append(table.c.system.in_(sorted(value_set.systems)))
    return or_(false(), *clauses)


def _reference(table: FromClause, value: str, definition: SearchParameter) -> ColumnElement[bool]:
    if value.startswith(("http://", "https://", "urn:")):
        return table.c.target_url == value.split("|", 1)[0]
    segments = value.split("/")
    if len(segments) >= 2 and segments[-2]:
        return and_(table.c.target_type == segments[-2], table.c.target_id == segments[-1])
    if len(definition.target) == 1:
        return and_(table.c.target_type == definition.target[0], table.c.target_id == value)
    return table.c.target_id == value


def date_clause(table: FromClause, value: str, definition: SearchParameter
                ) -> ColumnElement[bool]:
    """One date value (with its prefix) compared with the ``low``/``high`` of ``table``."""
    comparator, raw = prefix(value)
    low, high = date_value(definition.code, raw)
    return range_comparison(comparator, table.c.low, table.c.high, low, high)


@dataclass(frozen=True, slots=True)
class DateBounds:
    """Bounds on a date parameter that holds one value per resource, tested on its one
    index row: ``rows`` (an alias of the date index) where ``where`` holds."""

    code: str
    rows: FromClause
    where: ColumnElement[bool]
    condition: ColumnElement[bool]  # the same as a condition on the resource


def one_date_in_bounds(scope: Scope, code: str, values: list[str]) -> DateBounds | None:
    """``code=ge...&code=lt...`` as one condition on one index row, when the parameter
    holds at most one date per resource (see :mod:`.single_values`); None otherwise,
    for the values to be separate conditions."""
    if len(values) < 2 or any(len(split_values(v)) != 1 for v in values):
        return None
    try:
        definition = common_definition(scope, code)
    except Unsupported:
        return None
    if scope.any_type or not holds_one_date(
            [parameters_for(t)[code] for t in scope.types], scope.types):
        return None
    table = INDEX_TABLES["date"].alias()
    bounds = and_(*(date_clause(table, value, definition) for value in values))
    where = and_(type_condition(table, scope), table.c.param == code, bounds)
    return DateBounds(code, table, where, in_index(scope, table, code, bounds))


def _number(table: FromClause, value: str, definition: SearchParameter) -> ColumnElement[bool]:
    comparator, raw = prefix(value)
    low, high = number_range(definition.code, raw)
    return value_comparison(comparator, table.c.value, low, high, float(raw))


def _quantity(table: FromClause, value: str, definition: SearchParameter) -> ColumnElement[bool]:
    parts = split_unescaped(value, "|")
    comparator, raw = prefix(parts[0])
    low, high = number_range(definition.code, raw)
    number = float(raw)
    condition = value_comparison(comparator, table.c.value, low, high, number)
    if len(parts) == 3:
        system, code = parts[1], parts[2]
        if system:
            condition = and_(condition, table.c.system == system, table.c.code == code)
        elif code:
            condition = and_(condition, or_(table.c.code == code, table.c.unit == code))
        # A UCUM unit also finds the same amount stored in another unit of its kind
        # (5.4 mg finds 5400 ug); the comparison above still finds what is not converted.
        conversion = ucum.conversion(code) if system in ("", ucum.SYSTEM) else None
        if conversion is not None:
            condition = or_(condition, and_(
                table.c.canonical_code == conversion.code,
                value_comparison(comparator, table.c.canonical_value, low, high, number,
                                 conversion)))
    elif len(parts) != 1:
        raise BadRequest(f"Quantity {value!r} must be number or number|system|code")
    return condition


def _uri(table: FromClause, value: str, _: SearchParameter) -> ColumnElement[bool]:
    return table.c.value == value


def _uri_below(table: FromClause, value: str, _: SearchParameter) -> ColumnElement[bool]:
    return starts_with(table.c.value, value)


def _uri_above(table: FromClause, value: str, _: SearchParameter) -> ColumnElement[bool]:
    # The stored URI is a prefix of the one searched for (a parent of it).
    return literal(value).startswith(table.c.value)


_Builder = Callable[[FromClause, str, SearchParameter], ColumnElement[bool]]
_BUILDERS: dict[tuple[str, str], _Builder] = {
    ("string", ""): _string_default,
    ("string", "exact"): _string_exact,
    ("string", "contains"): _string_contains,
    ("token", "identifier"): lambda table, value, _: _token(table, value),
    ("reference", ""): _reference,
    ("date", ""): date_clause,
    ("number", ""): _number,
    ("quantity", ""): _quantity,
    ("uri", ""): _uri,
    ("uri", "below"): _uri_below,
    ("uri", "above"): _uri_above,
}
SEARCHABLE_TYPES = frozenset({"string", "token", "reference", "date", "number", "quantity",
                              "uri", "composite"})


# -- composite parameters ------------------------------------------------------------------

def composite_components(definition: SearchParameter) -> list[SearchParameter]:
    components = []
    for component in definition.components:
        found = parameter_by_url(component.definition)
        if found is None or found.type not in INDEX_TABLES:
            raise Unsupported(f"'{definition.code}' has a component mor cannot index")
        components.append(found)
    return components


def _composite(scope: Scope, definition: SearchParameter, modifier: str,
               value: str) -> ColumnElement[bool]:
    components = composite_components(definition)
    code = definition.code
    if modifier == "missing":
        table = INDEX_TABLES[components[0].type].alias()
        present = in_index(scope, table, f"{code}$0", true())
        return not_(present) if _boolean(f"{code}:missing", value) else present
    if modifier:
        raise Unsupported(f"the modifier ':{modifier}' is not supported on '{code}'")
    alternatives = []
    for item in split_values(value):
        parts = split_unescaped(item, "$")
        if len(parts) != len(components):
            example = "$".join(f"[{c.code}]" for c in components)
            raise BadRequest(f"'{code}' takes {len(components)} values joined by '$' "
                             f"({example}), not {item!r}")
        tables = [INDEX_TABLES[c.type].alias() for c in components]
        first = tables[0]
        clauses: list[ColumnElement[bool]] = [type_condition(first, scope)]
        for index, (table, component, part) in enumerate(zip(tables, components, parts,
                                                              strict=True)):
            clauses.append(table.c.param == f"{code}${index}")
            if index:
                clauses += [table.c.resource_pk == first.c.resource_pk,
                            table.c.grp == first.c.grp]
            clauses.append(_component_value(table, component, part))
        alternatives.append(scope.table.c.pk.in_(select(first.c.resource_pk).where(*clauses)))
    return or_(*alternatives)


def _component_value(table: FromClause, component: SearchParameter, value: str
                     ) -> ColumnElement[bool]:
    if component.type == "token":
        return _token(table, value)
    builder = _BUILDERS[(component.type, "")]
    return builder(table, value, component)


# -- chains -------------------------------------------------------------------------------

def _chain(scope: Scope, code: str, type_modifier: str, rest: str, value: str,
           context: Context, depth: int) -> ColumnElement[bool]:
    definition = common_definition(scope, code)
    if definition.type != "reference":
        raise BadRequest(f"'{code}' is a {definition.type} parameter; only references can be "
                         "chained with '.'")
    if type_modifier:
        if type_modifier not in RESOURCE_TYPES:
            raise BadRequest(f"'{code}:{type_modifier}': {type_modifier} is not a resource "
                             "type")
        candidates: tuple[str, ...] = (type_modifier,)
    else:
        candidates = definition.target or tuple(RESOURCE_TYPES)
    chained_code = rest.partition(".")[0].partition(":")[0]
    targets = tuple(t for t in candidates
                    if chained_code in ("_id", "_lastUpdated", "_has")
                    or chained_code in parameters_for(t))
    if not targets:
        raise Unsupported(f"'{chained_code}' is not a search parameter of "
                          f"{' or '.join(candidates)}, which '{code}' refers to")
    reference = INDEX_TABLES["reference"].alias()
    target = resource.alias()
    inner = Scope(target, targets)
    return scope.table.c.pk.in_(select(reference.c.resource_pk).where(
        type_condition(reference, scope),
        reference.c.param == code,
        reference.c.target_type.in_(targets) if len(targets) > 1
        else reference.c.target_type == targets[0],
        target.c.resource_type == reference.c.target_type,
        target.c.id == reference.c.target_id,
        target.c.deleted == false(),
        condition(inner, rest, value, context, depth + 1),
    ))


def _reverse_chain(scope: Scope, name: str, value: str, context: Context,
                   depth: int) -> ColumnElement[bool]:
    parts = name.split(":", 3)
    if len(parts) != 4 or not all(parts):
        raise BadRequest(f"'{name}' is not a reverse chain; write "
                         "_has:[type]:[reference parameter]:[parameter], e.g. "
                         "_has:Observation:patient:code=1234-5")
    _, source_type, reference_code, rest = parts
    if source_type not in RESOURCE_TYPES:
        raise BadRequest(f"'{name}': {source_type} is not a resource type")
    definition = parameters_for(source_type).get(reference_code)
    if definition is None or definition.type != "reference":
        raise BadRequest(f"'{name}': '{reference_code}' is not a reference parameter of "
                         f"{source_type}")
    reference = INDEX_TABLES["reference"].alias()
    source = resource.alias()
    inner = Scope(source, (source_type,))
    referred = select(reference.c.target_type, reference.c.target_id).where(
        reference.c.resource_type == source_type,
        reference.c.param == reference_code,
        source.c.pk == reference.c.resource_pk,
        source.c.deleted == false(),
        condition(inner, rest, value, context, depth + 1),
    )
    return tuple_(scope.table.c.resource_type, scope.table.c.id).in_(referred)


def select_type_condition(scope: Scope) -> ColumnElement[bool]:
    """The type and not-deleted conditions every search starts from."""
    return and_(type_condition(scope.table, scope), scope.table.c.deleted == false())


__all__ = ["Context", "DateBounds", "Scope", "Unsupported", "ValueSetCodes",
           "common_definition", "condition", "date_clause", "in_index",
           "select_type_condition", "type_condition"]
