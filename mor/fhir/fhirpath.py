"""A small FHIRPath evaluator for the official search-parameter expressions.

Only the FHIRPath that the R4 SearchParameters use is supported: paths, ``|``,
``as``/``as()``/``ofType()``, ``is``/``is()``, ``where()``, ``resolve()`` (only
to test the type of what a Reference points at), ``extension(url)``,
``hasExtension(url)``, ``exists()``, ``empty()``, ``not()``, ``first()``,
``last()``, constant indexers, ``=``/``!=``, ``and``/``or``/``xor``/``implies``,
string/boolean/number literals, ``$this`` and ``%resource``. Anything else is
rejected when the expression is compiled, never while a resource is indexed.

An expression is compiled once per context type into Python closures. Compiling
knows the FHIR type of every element (from ``data/element_types.json``), so it
can expand a choice element (``Observation.value`` to ``valueQuantity``,
``valueString`` ...), reject paths that do not exist, and tag every result with
its FHIR type: evaluation returns ``(type, json_value)`` pairs such as
``("Quantity", {...})`` or ``("dateTime", "2020-01")``. Backbone elements are
typed by their path, e.g. ``"Patient.contact"``.

Deliberate simplifications: ``|`` does not remove duplicates (index rows are
de-duplicated later, far more cheaply), extensions on primitive values
(``_birthDate``) are not visible, and a collection of several items used as a
boolean counts as empty rather than raising.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Final

import orjson

from mor.fhir.resource_types import RESOURCE_TYPES

Node = tuple[str, Any]
"""One value found by an expression: its FHIR type and its JSON value."""

_Eval = Callable[[list[Node], Node], list[Node]]
"""A compiled sub-expression: (focus collection, root resource node) -> result."""


class FhirPathError(ValueError):
    """The expression is malformed or uses FHIRPath this evaluator does not support."""


# --- The FHIR type model --------------------------------------------------------------------

_MODEL = orjson.loads((Path(__file__).parent / "data" / "element_types.json").read_bytes())
_BASES: Final[dict[str, str]] = _MODEL["bases"]
_ELEMENTS: Final[dict[str, dict[str, list[str]]]] = _MODEL["elements"]
_PRIMITIVES: Final = frozenset(name for name in _BASES
                               if name[0].islower() and "." not in name)
# FHIRPath system type names, as written in expressions such as value.as(DateTime).
_SYSTEM_TYPES: Final = {"String": "string", "Boolean": "boolean", "Integer": "integer",
                        "Decimal": "decimal", "Date": "date", "DateTime": "dateTime",
                        "Time": "time"}
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_STRUCTURE_DEFINITION = "http://hl7.org/fhir/StructureDefinition/"


def is_known_type(type_name: str) -> bool:
    return type_name in _ELEMENTS or type_name in _BASES or type_name in RESOURCE_TYPES


@cache
def is_type(type_name: str, target: str) -> bool:
    """Whether a value of ``type_name`` is a ``target`` (the same type or a subtype)."""
    current: str | None = type_name
    while current is not None:
        if current == target:
            return True
        current = _BASES.get(current)
    return False


def _choice_suffix(type_name: str) -> str:
    return type_name[0].upper() + type_name[1:]


@cache
def element(type_name: str, name: str) -> tuple[tuple[str, str], ...] | None:
    """The (JSON key, FHIR type) pairs element ``name`` of ``type_name`` may appear as.

    A choice element ``value[x]`` gives one pair per allowed type (``valueQuantity``,
    ``valueString`` ...). None if the type has no such element.
    """
    current: str | None = type_name
    while current is not None:
        own = _ELEMENTS.get(current)
        if own is not None:
            types = own.get(name)
            if types is not None:
                return tuple((name, t) for t in types)
            types = own.get(name + "[x]")
            if types is not None:
                return tuple((name + _choice_suffix(t), t) for t in types)
        current = _BASES.get(current)
    return None


@cache
def _choice_keys(type_name: str, name: str) -> dict[str, str]:
    return dict(element(type_name, name) or ())


def choice_value(value: dict[str, Any], type_name: str, name: str) -> Node | None:
    """The typed value of choice element ``name`` (e.g. an Extension's ``value[x]``)."""
    keys = _choice_keys(type_name, name)
    for key, item in value.items():
        found = keys.get(key)
        if found is not None and item is not None:
            return found, item
    return None


def reference_parts(reference: str) -> tuple[str, str] | None:
    """The (type, id) a literal reference names, ignoring any base URL or version.

    ``Patient/1``, ``Patient/1/_history/2`` and ``http://x.org/fhir/Patient/1`` all
    give ``("Patient", "1")``; anything else gives None.
    """
    parts = reference.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-2] in RESOURCE_TYPES and _ID.fullmatch(parts[-1]):
        return parts[-2], parts[-1]
    return None


def reference_target_type(reference: dict[str, Any], resource: Any) -> str | None:
    """The resource type a Reference points at, from its literal reference or its type."""
    literal = reference.get("reference")
    if isinstance(literal, str):
        if literal.startswith("#"):
            return _contained_type(literal[1:], resource)
        parts = reference_parts(literal)
        if parts is not None:
            return parts[0]
    declared = reference.get("type")
    if isinstance(declared, str):
        declared = declared.removeprefix(_STRUCTURE_DEFINITION)
        if declared in RESOURCE_TYPES:
            return declared
    return None


def _contained_type(local_id: str, resource: Any) -> str | None:
    if not isinstance(resource, dict):
        return None
    if not local_id:
        found = resource.get("resourceType")
        return found if isinstance(found, str) else None
    for contained in resource.get("contained") or ():
        if isinstance(contained, dict) and contained.get("id") == local_id:
            found = contained.get("resourceType")
            return found if isinstance(found, str) else None
    return None


# --- Lexing and parsing ---------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*|`[^`]+`)
  | (?P<var>[%$](?:[A-Za-z_][A-Za-z0-9_]*|`[^`]+`|'[^']*'))
  | (?P<op><=|>=|!=|!~|[.()\[\],|=~<>+\-*/&{}])
""", re.VERBOSE)
_ESCAPES = {"'": "'", '"': '"', "`": "`", "\\": "\\", "/": "/", "f": "\f", "n": "\n",
            "r": "\r", "t": "\t"}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str


def _tokenize(expression: str) -> list[_Token]:
    tokens = []
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            raise FhirPathError(f"Unexpected {expression[position]!r} at {position} in "
                                f"{expression!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(_Token(kind, match.group()))
    return tokens


def split_union(expression: str) -> list[str]:
    """Split at the ``|`` operators outside parentheses and strings, e.g. for per-type parts."""
    parts: list[str] = []
    depth = 0
    start = 0
    for match in _TOKEN.finditer(expression):
        text = match.group()
        if match.lastgroup != "op":
            continue
        if text in "([{":
            depth += 1
        elif text in ")]}":
            depth -= 1
        elif text == "|" and depth == 0:
            parts.append(expression[start:match.start()].strip())
            start = match.end()
    parts.append(expression[start:].strip())
    return parts


def root_identifier(expression: str) -> str | None:
    """The first identifier, e.g. ``Observation`` in ``(Observation.value as Quantity)``."""
    for token in _tokenize(expression):
        if token.kind == "ident":
            return token.text
        if token.text != "(":
            return None
    return None


# AST nodes are tuples: (kind, ...). Kinds: literal, var, member, call, dot, index, binary,
# typeop. Tuples keep the parser short; only the compiler reads them.
_Ast = tuple[Any, ...]


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expression = expression
        self.tokens = _tokenize(expression)
        self.position = 0

    def parse(self) -> _Ast:
        node = self.binary(0)
        if self.position != len(self.tokens):
            raise self.fail(f"unexpected {self.tokens[self.position].text!r}")
        return node

    def fail(self, message: str) -> FhirPathError:
        return FhirPathError(f"{message} in {self.expression!r}")

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise self.fail("unexpected end")
        self.position += 1
        return token

    def expect(self, text: str) -> None:
        token = self.next()
        if token.text != text:
            raise self.fail(f"expected {text!r} but found {token.text!r}")

    # Binary operators from loosest to tightest, as the FHIRPath grammar orders them.
    _LEVELS: Final = (
        ("implies",), ("or", "xor"), ("and",), ("in", "contains"), ("=", "~", "!=", "!~"),
        ("<", ">", "<=", ">="), ("|",), ("is", "as"), ("+", "-", "&"),
        ("*", "/", "div", "mod"),
    )

    def binary(self, level: int) -> _Ast:
        if level == len(self._LEVELS):
            return self.postfix()
        node = self.binary(level + 1)
        operators = self._LEVELS[level]
        while (token := self.peek()) is not None and token.text in operators \
                and token.kind in ("op", "ident"):
            self.position += 1
            if token.text in ("is", "as"):
                node = ("typeop", token.text, node, self.type_specifier())
            else:
                node = ("binary", token.text, node, self.binary(level + 1))
        return node

    def type_specifier(self) -> str:
        name = self.identifier()
        while (token := self.peek()) is not None and token.text == ".":
            self.position += 1
            name = self.identifier()  # FHIR.Quantity and System.String name the same types
        return _SYSTEM_TYPES.get(name, name)

    def identifier(self) -> str:
        token = self.next()
        if token.kind != "ident":
            raise self.fail(f"expected a name but found {token.text!r}")
        return token.text.strip("`")

    def postfix(self) -> _Ast:
        node = self.term()
        while (token := self.peek()) is not None and token.text in (".", "["):
            self.position += 1
            if token.text == ".":
                node = ("dot", node, self.invocation())
            else:
                node = ("index", node, self.binary(0))
                self.expect("]")
        return node

    def invocation(self) -> _Ast:
        name = self.identifier()
        token = self.peek()
        if token is None or token.text != "(":
            return ("member", name)
        self.position += 1
        arguments: list[_Ast] = []
        if (closing := self.peek()) is not None and closing.text == ")":
            self.position += 1
            return ("call", name, arguments)
        while True:
            arguments.append(self.binary(0))
            token = self.next()
            if token.text == ")":
                return ("call", name, arguments)
            if token.text != ",":
                raise self.fail(f"expected ',' or ')' but found {token.text!r}")

    def term(self) -> _Ast:
        token = self.peek()
        if token is None:
            raise self.fail("unexpected end")
        if token.text == "(":
            self.position += 1
            node = self.binary(0)
            self.expect(")")
            return node
        if token.kind == "string":
            self.position += 1
            return ("literal", "string", _unescape(token.text[1:-1]))
        if token.kind == "number":
            self.position += 1
            if "." in token.text:
                return ("literal", "decimal", float(token.text))
            return ("literal", "integer", int(token.text))
        if token.kind == "var":
            self.position += 1
            return ("var", token.text.replace("`", "").replace("'", ""))
        if token.kind == "ident" and token.text in ("true", "false"):
            self.position += 1
            return ("literal", "boolean", token.text == "true")
        if token.kind == "ident":
            return self.invocation()
        raise self.fail(f"unexpected {token.text!r}")


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return re.sub(r"\\(u[0-9a-fA-F]{4}|.)",
                  lambda m: chr(int(m.group(1)[1:], 16)) if len(m.group(1)) == 5
                  else _ESCAPES.get(m.group(1), m.group(1)), text)


# --- Compiling ------------------------------------------------------------------------------

_Compiled = tuple[_Eval, frozenset[str]]
"""A compiled sub-expression and the FHIR types its results can have."""


def _truth(collection: Sequence[Node]) -> bool | None:
    """FHIRPath singleton evaluation of a collection as a boolean (None = empty)."""
    if len(collection) != 1:
        return None
    value = collection[0][1]
    return value if isinstance(value, bool) else True


def _boolean(value: bool | None) -> list[Node]:
    return [] if value is None else [("boolean", value)]


def _values_equal(left: Any, right: Any) -> bool:
    # bool is an int in Python; in FHIRPath true never equals 1.
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return bool(left == right)


class _Compiler:
    def __init__(self, expression: str, resource_type: str) -> None:
        self.expression = expression
        self.resource_type = resource_type

    def fail(self, message: str) -> FhirPathError:
        return FhirPathError(f"{message} in {self.expression!r}")

    def compile(self, node: _Ast, types: frozenset[str], at_start: bool) -> _Compiled:
        kind = node[0]
        if kind == "literal":
            literal: list[Node] = [(node[1], node[2])]
            return (lambda focus, root: literal), frozenset({node[1]})
        if kind == "var":
            return self.variable(node[1], types)
        if kind == "member":
            if _is_type_filter(node, at_start):
                return self.type_filter(node[1], types)
            return self.navigate(node[1], types)
        if kind == "call":
            return self.function(node[1], node[2], types)
        if kind == "dot":
            left, left_types = self.compile(node[1], types, at_start)
            right, right_types = self.compile(node[2], left_types, False)
            return (lambda focus, root: right(left(focus, root), root)), right_types
        if kind == "index":
            return self.indexer(node[1], node[2], types, at_start)
        if kind == "typeop":
            operand, operand_types = self.compile(node[2], types, at_start)
            return self.type_operation(node[1], node[3], operand, operand_types)
        if kind == "binary":
            return self.binary(node[1], node[2], node[3], types, at_start)
        raise self.fail(f"unsupported construct {kind}")

    def variable(self, name: str, types: frozenset[str]) -> _Compiled:
        if name == "$this":
            return (lambda focus, root: focus), types
        if name in ("%resource", "%rootResource", "%context"):
            # Search expressions run with the resource as their context, so all three agree.
            return (lambda focus, root: [root]), frozenset({self.resource_type})
        raise self.fail(f"the variable {name} is not supported")

    def type_filter(self, name: str, types: frozenset[str]) -> _Compiled:
        matching = frozenset(t for t in types if is_type(t, name))
        if not matching:
            raise self.fail(f"{name} does not apply to {sorted(types)}")
        return (lambda focus, root: [n for n in focus if is_type(n[0], name)]), matching

    def navigate(self, name: str, types: frozenset[str]) -> _Compiled:
        table: dict[str, tuple[tuple[str, str, bool], ...]] = {}
        for type_name in types:
            found = element(type_name, name)
            if found is not None:
                table[type_name] = tuple((key, t, t == "Resource") for key, t in found)
        if not table:
            raise self.fail(f"no element {name!r} on {sorted(types)}")
        result_types = frozenset(t for pairs in table.values() for _, t, _ in pairs)

        def run(focus: list[Node], root: Node) -> list[Node]:
            result: list[Node] = []
            for type_name, value in focus:
                if not isinstance(value, dict):
                    continue
                pairs = table.get(type_name)
                if pairs is None:
                    # A contained or inline resource, typed only "Resource" when compiled.
                    found = element(type_name, name) or ()
                    pairs = table[type_name] = tuple((k, t, t == "Resource") for k, t in found)
                for key, item_type, is_resource in pairs:
                    item = value.get(key)
                    if item is None:
                        continue
                    for entry in item if isinstance(item, list) else (item,):
                        if entry is None:
                            continue
                        if is_resource and isinstance(entry, dict):
                            found_type = entry.get("resourceType")
                            result.append((found_type if found_type in RESOURCE_TYPES
                                           else "Resource", entry))
                        else:
                            result.append((item_type, entry))
            return result

        return run, result_types

    def indexer(self, target: _Ast, index: _Ast, types: frozenset[str],
                at_start: bool) -> _Compiled:
        if index[0] != "literal" or index[1] != "integer":
            raise self.fail("only constant integer indexes are supported")
        position: int = index[2]
        operand, operand_types = self.compile(target, types, at_start)
        return (lambda focus, root: operand(focus, root)[position:position + 1]), operand_types

    def type_operation(self, operator: str, type_name: str, operand: _Eval,
                       operand_types: frozenset[str]) -> _Compiled:
        if not is_known_type(type_name):
            raise self.fail(f"unknown type {type_name!r}")
        if operator == "is":
            def test(focus: list[Node], root: Node) -> list[Node]:
                values = operand(focus, root)
                return _boolean(is_type(values[0][0], type_name) if len(values) == 1 else None)
            return test, frozenset({"boolean"})
        matching = frozenset(t for t in operand_types if is_type(t, type_name))
        # "Resource" is what resolve() and %resource are typed as before evaluation.
        if not matching and "Resource" not in operand_types:
            raise self.fail(f"{sorted(operand_types)} is never a {type_name}")

        def cast(focus: list[Node], root: Node) -> list[Node]:
            return [n for n in operand(focus, root) if is_type(n[0], type_name)]

        return cast, matching or frozenset({type_name})

    def binary(self, operator: str, left_ast: _Ast, right_ast: _Ast, types: frozenset[str],
               at_start: bool) -> _Compiled:
        left, left_types = self.compile(left_ast, types, at_start)
        right, right_types = self.compile(right_ast, types, at_start)
        if operator == "|":
            return (lambda focus, root: left(focus, root) + right(focus, root)), \
                left_types | right_types
        if operator in ("=", "!="):
            negate = operator == "!="

            def equal(focus: list[Node], root: Node) -> list[Node]:
                a, b = left(focus, root), right(focus, root)
                if not a or not b:
                    return []
                same = len(a) == len(b) and all(
                    _values_equal(x[1], y[1]) for x, y in zip(a, b, strict=True))
                return [("boolean", same != negate)]

            return equal, frozenset({"boolean"})
        logic = _LOGIC.get(operator)
        if logic is None:
            raise self.fail(f"the operator {operator!r} is not supported")
        return (lambda focus, root: _boolean(logic(_truth(left(focus, root)),
                                                   _truth(right(focus, root))))), \
            frozenset({"boolean"})

    def function(self, name: str, arguments: list[_Ast], types: frozenset[str]) -> _Compiled:
        if name in ("as", "ofType", "is"):
            argument = arguments[0] if len(arguments) == 1 else None
            if argument is None or argument[0] not in ("member", "dot"):
                raise self.fail(f"{name}() takes one type name")
            type_name = argument[2][1] if argument[0] == "dot" else argument[1]
            operator = "is" if name == "is" else "as"
            return self.type_operation(operator, _SYSTEM_TYPES.get(type_name, type_name),
                                       lambda focus, root: focus, types)
        if name == "where" and len(arguments) == 1:
            criteria, _ = self.compile(arguments[0], types, True)
            return (lambda focus, root: [n for n in focus if _truth(criteria([n], root))]), types
        if name in ("exists", "empty") and len(arguments) <= 1:
            return self.existence(name == "exists", arguments, types)
        if name == "not" and not arguments:
            return (lambda focus, root: _boolean(_negate(_truth(focus)))), frozenset({"boolean"})
        if name == "first" and not arguments:
            return (lambda focus, root: focus[:1]), types
        if name == "last" and not arguments:
            return (lambda focus, root: focus[-1:]), types
        if name == "resolve" and not arguments:
            return _resolve, frozenset({"Resource"})
        if name in ("extension", "hasExtension") and len(arguments) == 1:
            url_ast = arguments[0]
            if url_ast[0] != "literal" or url_ast[1] != "string":
                raise self.fail(f"{name}() needs a constant URL")
            return _extension(url_ast[2]) if name == "extension" else \
                _has_extension(url_ast[2])
        raise self.fail(f"the function {name}() with {len(arguments)} argument(s) is not "
                        "supported")

    def existence(self, exists: bool, arguments: list[_Ast], types: frozenset[str]
                  ) -> _Compiled:
        criteria = self.compile(arguments[0], types, True)[0] if arguments else None

        def run(focus: list[Node], root: Node) -> list[Node]:
            if criteria is None:
                found = bool(focus)
            else:
                found = any(_truth(criteria([n], root)) for n in focus)
            return [("boolean", found == exists)]

        return run, frozenset({"boolean"})


def _negate(value: bool | None) -> bool | None:
    return None if value is None else not value


def _and(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is False:
        return False
    return True if a and b else None


def _or(a: bool | None, b: bool | None) -> bool | None:
    if a or b:
        return True
    return False if a is False and b is False else None


def _xor(a: bool | None, b: bool | None) -> bool | None:
    return None if a is None or b is None else a != b


def _implies(a: bool | None, b: bool | None) -> bool | None:
    if a is False or b is True:
        return True
    return False if a is True and b is False else None


_LOGIC: Final[dict[str, Callable[[bool | None, bool | None], bool | None]]] = {
    "and": _and, "or": _or, "xor": _xor, "implies": _implies}


def _resolve(focus: list[Node], root: Node) -> list[Node]:
    # Nothing is fetched: only the target's type is known, which is all ``resolve() is X``
    # needs. The value is None, so any navigation past resolve() finds nothing.
    result: list[Node] = []
    for type_name, value in focus:
        if type_name == "Reference" and isinstance(value, dict):
            target = reference_target_type(value, root[1])
            if target is not None:
                result.append((target, None))
    return result


def _extension(url: str) -> _Compiled:
    def run(focus: list[Node], root: Node) -> list[Node]:
        result: list[Node] = []
        for _, value in focus:
            if isinstance(value, dict):
                for extension in value.get("extension") or ():
                    if isinstance(extension, dict) and extension.get("url") == url:
                        result.append(("Extension", extension))
        return result

    return run, frozenset({"Extension"})


def _has_extension(url: str) -> _Compiled:
    find = _extension(url)[0]

    def run(focus: list[Node], root: Node) -> list[Node]:
        return [("boolean", bool(find(focus, root)))] if focus else []

    return run, frozenset({"boolean"})


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """A FHIRPath expression compiled for one context type; call it on a JSON value."""

    expression: str
    context_type: str
    result_types: frozenset[str]
    _run: _Eval
    # The context value's JSON keys of which at least one must be present for the
    # expression to find anything; None when that cannot be told from the expression.
    # Indexing skips most of a resource's parameters by this test alone.
    root_keys: frozenset[str] | None = None

    def __call__(self, value: Any, resource: Any = None) -> list[Node]:
        """Evaluate on ``value`` (of the context type); ``resource`` is ``%resource``,
        by default ``value`` itself."""
        node: Node = (self.context_type, value)
        root = node if resource is None else (
            resource.get("resourceType", "Resource") if isinstance(resource, dict)
            else "Resource", resource)
        return self._run([node], root)


# Bounded so that expressions from outside the registry (custom SearchParameters one day)
# cannot grow it without limit; the R4 registry needs about 2,000 entries.
@lru_cache(maxsize=8192)
def compile_expression(expression: str, context_type: str,
                       resource_type: str | None = None) -> CompiledExpression:
    """Compile ``expression`` for values of ``context_type`` (a resource or data type).

    ``resource_type`` is the type of ``%resource`` when the context is not the resource
    itself (a composite parameter's component); by default the context type.
    Raises FhirPathError if the expression is malformed, uses unsupported FHIRPath, or
    names an element the type does not have.
    """
    if not is_known_type(context_type):
        raise FhirPathError(f"unknown context type {context_type!r}")
    ast = _Parser(expression).parse()
    compiler = _Compiler(expression, resource_type or context_type)
    run, types = compiler.compile(ast, frozenset({context_type}), True)
    return CompiledExpression(expression, context_type, types, run,
                              _root_keys(ast, context_type, True))


def _is_type_filter(node: _Ast, at_start: bool) -> bool:
    """A type name opening an expression (``Observation`` in ``Observation.code``)."""
    return (node[0] == "member" and at_start and node[1][0].isupper()
            and is_known_type(node[1]))


# Functions whose result is empty when their input is.
_EMPTY_STAYS_EMPTY: Final = frozenset({"where", "as", "ofType", "first", "last", "resolve",
                                       "extension"})


def _root_keys(node: _Ast, context_type: str, at_start: bool) -> frozenset[str] | None:
    """The keys of the context value an expression's first navigation reads (see
    ``CompiledExpression.root_keys``); None for anything not plainly a path."""
    kind = node[0]
    if kind == "member":
        if _is_type_filter(node, at_start):
            return None  # the type filter itself reads no key
        found = element(context_type, node[1])
        return frozenset(key for key, _ in found) if found else None
    if kind == "call" and node[1] == "extension":
        return frozenset({"extension"})
    if kind == "dot":
        left, right = node[1], node[2]
        if right[0] == "call" and right[1] not in _EMPTY_STAYS_EMPTY:
            return None  # exists(), empty(), not() ... answer even for a missing element
        if _is_type_filter(left, at_start) and is_type(context_type, left[1]):
            return _root_keys(right, context_type, False)
        return _root_keys(left, context_type, at_start)
    if kind == "index" or (kind == "typeop" and node[1] == "as"):
        return _root_keys(node[1] if kind == "index" else node[2], context_type, at_start)
    if kind == "binary" and node[1] == "|":
        left_keys = _root_keys(node[2], context_type, at_start)
        right_keys = _root_keys(node[3], context_type, at_start)
        return None if left_keys is None or right_keys is None else left_keys | right_keys
    return None
