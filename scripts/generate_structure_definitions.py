"""Compile the official FHIR R4 StructureDefinitions into mor/fhir/data/r4_structure.json.

:mod:`mor.fhir.structure_validation` checks every resource written against that
file. Regenerate it, from the repository root, with::

    .venv/bin/python scripts/generate_structure_definitions.py /tmp/fhirpkg/package

where the argument is the unpacked npm package ``hl7.fhir.r4.examples`` 4.0.1
(``scripts/install --test`` also unpacks it under
``tests/fhir-packages/node_modules/hl7.fhir.r4.examples``).

The output describes every concrete R4 resource type, every complex datatype
(with the backbone elements of both as types of their own, named by path, e.g.
``Patient.contact``) and every primitive type:

- ``types[T].elements[name]``: ``min``, ``max`` (a number or ``"*"``) and either
  ``type`` (a primitive, a datatype, ``Resource`` or a backbone path) or, for a
  choice element ``name[x]``, ``choices`` mapping each JSON name
  (``valueQuantity``) to its type. ``backbone`` marks inline children,
  ``contentReference`` a reuse of another element's children (e.g.
  ``Questionnaire.item.item`` -> ``#Questionnaire.item``), ``attribute`` an
  element that XML carries as an attribute and so has no ``_name`` companion.
  ``summary`` marks the elements ``_summary=true`` returns.
- ``primitives[T]``: the JSON type that carries the value and the spec's regex.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_PACKAGE = Path("/tmp/fhirpkg/package")
OUT = Path(__file__).resolve().parent.parent / "mor" / "fhir" / "data" / "r4_structure.json"
FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"
SYSTEM_PREFIX = "http://hl7.org/fhirpath/System."

# From http://hl7.org/fhir/R4/json.html. The StructureDefinitions cannot tell us this:
# they give positiveInt and unsignedInt the FHIRPath type System.String.
JSON_TYPES = {
    "boolean": "boolean",
    "integer": "integer",
    "positiveInt": "integer",
    "unsignedInt": "integer",
    "decimal": "number",
}
INLINE_TYPES = ("BackboneElement", "Element")


def load_definitions(package: Path) -> dict[str, dict[str, Any]]:
    """The definitions of resources and datatypes, and the profiles on them, by URL."""
    definitions: dict[str, dict[str, Any]] = {}
    for path in sorted(package.glob("StructureDefinition-*.json")):
        definition = json.loads(path.read_bytes())
        if definition.get("kind") in ("resource", "complex-type", "primitive-type"):
            definitions[definition["url"]] = definition
    return definitions


def _base_type_names(definitions: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Type code -> the type it is validated as.

    SimpleQuantity and MoneyQuantity are constraints on Quantity; in JSON they are
    Quantity objects and their extra rules are invariants, which we do not check.
    """
    datatypes = {d["type"] for d in definitions.values()
                 if d["kind"] == "complex-type" and d.get("derivation") != "constraint"}
    return {d["id"]: d["type"] for d in definitions.values()
            if d["kind"] == "complex-type" and d.get("derivation") == "constraint"
            and d["type"] in datatypes - {"Extension"}}


def _type_code(element_type: dict[str, Any], base_names: dict[str, str]) -> str:
    code = str(element_type["code"])
    if code.startswith(SYSTEM_PREFIX):
        for extension in element_type.get("extension", []):
            if extension.get("url") == FHIR_TYPE_EXTENSION:
                return str(extension["valueUrl"])
        raise ValueError(f"FHIRPath system type without a FHIR type: {element_type}")
    return base_names.get(code, code)


def _max(value: str) -> int | str:
    return value if value == "*" else int(value)


def _regex(definition: dict[str, Any]) -> str | None:
    name = definition["type"]
    for element in definition["snapshot"]["element"]:
        if element["path"] != f"{name}.value":
            continue
        for element_type in element.get("type", []):
            for extension in element_type.get("extension", []):
                if extension.get("url") == REGEX_EXTENSION:
                    return str(extension["valueString"])
    return None


def _compile_type(
    definition: dict[str, Any], base_names: dict[str, str], types: dict[str, Any]
) -> None:
    name = definition["type"]
    kind = definition["kind"]
    elements = definition["snapshot"]["element"]
    paths = {element["path"] for element in elements}
    types[name] = {"kind": kind, "elements": {}}
    for element in elements[1:]:
        path = element["path"]
        owner, _, prop = path.rpartition(".")
        spec: dict[str, Any] = {"min": element["min"], "max": _max(element["max"])}
        if element.get("isSummary"):
            spec["summary"] = True  # kept by _summary=true (search.html#summary)
        if "contentReference" in element:
            reference = element["contentReference"]
            spec["type"] = reference.lstrip("#")
            spec["contentReference"] = reference
        else:
            codes = [_type_code(t, base_names) for t in element.get("type", [])]
            system = any(t["code"].startswith(SYSTEM_PREFIX) for t in element.get("type", []))
            if prop.endswith("[x]"):
                stem = prop[:-3]
                spec["choices"] = {stem + code[0].upper() + code[1:]: code for code in codes}
            elif len(codes) != 1:
                raise ValueError(f"{path}: expected one type, got {codes}")
            elif codes[0] in INLINE_TYPES and any(p.startswith(path + ".") for p in paths):
                spec["type"] = path
                spec["backbone"] = True
                types[path] = {"kind": "backbone", "elements": {}}
            elif owner == name and prop == "id" and kind == "resource":
                # Resource.id is of type id (see resource.html); the snapshot only says
                # System.String because XML carries it as an attribute-like value.
                spec["type"] = "id"
            else:
                spec["type"] = codes[0]
                if system:
                    # Element.id and Extension.url are XML attributes: no extensions.
                    spec["attribute"] = True
        types[owner]["elements"][prop] = spec


def compile_package(package: Path) -> dict[str, Any]:
    definitions = load_definitions(package)
    base_names = _base_type_names(definitions)
    resources: list[str] = []
    primitives: dict[str, dict[str, Any]] = {}
    types: dict[str, Any] = {}
    for definition in sorted(definitions.values(), key=lambda d: str(d["type"])):
        if definition.get("derivation") == "constraint":
            continue
        kind = definition["kind"]
        if kind == "primitive-type":
            primitives[definition["type"]] = {
                "json": JSON_TYPES.get(definition["type"], "string"),
                "regex": _regex(definition),
            }
            continue
        if kind == "resource" and definition.get("abstract"):
            continue  # Resource and DomainResource are never instantiated
        if kind == "resource":
            resources.append(definition["type"])
        _compile_type(definition, base_names, types)
    _check_references(types, primitives, resources)
    return {
        "fhirVersion": "4.0.1",
        "resources": resources,
        "primitives": primitives,
        "types": types,
    }


def _check_references(
    types: dict[str, Any], primitives: dict[str, Any], resources: list[str]
) -> None:
    """Fail loudly rather than write a file the validator would misread."""
    known = set(types) | set(primitives) | {"Resource"}
    for type_name, spec in types.items():
        for prop, element in spec["elements"].items():
            targets = list(element.get("choices", {}).values()) or [element["type"]]
            for target in targets:
                if target not in known:
                    raise ValueError(f"{type_name}.{prop}: unknown type {target}")
    if len(resources) != 146:
        raise ValueError(f"expected the 146 R4 resource types, found {len(resources)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("package", type=Path, nargs="?", default=DEFAULT_PACKAGE,
                        help=f"unpacked hl7.fhir.r4.examples package (default {DEFAULT_PACKAGE})")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    data = compile_package(args.package)
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({len(text):,} bytes, {len(data['resources'])} resources, "
          f"{len(data['types'])} types, {len(data['primitives'])} primitives)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
