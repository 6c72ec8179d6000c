"""Generate mor's FHIR R4 data files from the official definitions package.

Regenerate with (the package is the npm package hl7.fhir.r4.examples 4.0.1, unpacked):

    .venv/bin/python scripts/generate_search_parameters.py /tmp/fhirpkg/package

Writes four files into ``mor/fhir/data/`` (or the directory given with ``--out``):

- ``search_parameters.json``: every SearchParameter, trimmed to the fields search
  and indexing use, one per line, sorted by URL.
- ``resource_types.json``: the 146 concrete R4 resource types.
- ``compartments.json``: for each compartment (Patient, Encounter, RelatedPerson,
  Practitioner, Device), the search parameters that link each resource type to it.
- ``element_types.json``: for each resource and complex type, its elements and
  their types, so FHIRPath can navigate choice types (``value[x]``) and know the
  FHIR type of what it finds. Backbone elements are named by their path (e.g.
  ``Patient.contact``) and listed like types. Elements a type inherits unchanged
  from its base (``Patient.id`` from Resource) are left out; ``bases`` gives the
  chain to look them up.

Output is deterministic, so a regenerated file only differs when the package does.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

DEFAULT_PACKAGE = Path("/tmp/fhirpkg/package")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "mor" / "fhir" / "data"

# The spec's illustrative SearchParameters reuse real codes (an "_id" on Resource, a
# "subject" on Condition) with different definitions, so they would shadow the real ones.
EXCLUDED_IDS = frozenset({"example", "example-reference", "example-extension"})

_FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
_SYSTEM_PREFIX = "http://hl7.org/fhirpath/System."
_STRUCTURE_PREFIX = "http://hl7.org/fhir/StructureDefinition/"


def load_json_files(package: Path, prefix: str) -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8"))
            for path in sorted(package.glob(f"{prefix}-*.json"))]


def search_parameters(package: Path) -> list[dict[str, Any]]:
    result = []
    for source in load_json_files(package, "SearchParameter"):
        if source.get("resourceType") != "SearchParameter" or source["id"] in EXCLUDED_IDS:
            continue
        entry: dict[str, Any] = {
            "url": source["url"],
            "code": source["code"],
            "base": source.get("base", []),
            "type": source["type"],
            "expression": source.get("expression"),
            "target": source.get("target", []),
            "multipleOr": source.get("multipleOr"),
            "multipleAnd": source.get("multipleAnd"),
            "comparator": source.get("comparator", []),
            "modifier": source.get("modifier", []),
            "chain": source.get("chain", []),
            "component": [{"definition": c["definition"], "expression": c["expression"]}
                          for c in source.get("component", [])],
        }
        result.append({k: v for k, v in entry.items() if v not in (None, [], "")})
    result.sort(key=lambda p: str(p["url"]))
    return result


def _is_core_definition(sd: dict[str, Any]) -> bool:
    # Profiles (derivation "constraint") narrow a type but add no elements of their own;
    # Resource and Element are the roots and have no derivation at all.
    return sd.get("derivation", "specialization") == "specialization" and sd["kind"] in (
        "resource", "complex-type", "primitive-type")


def resource_types(definitions: Iterable[dict[str, Any]]) -> list[str]:
    return sorted(sd["type"] for sd in definitions
                  if sd["kind"] == "resource" and not sd["abstract"]
                  and sd.get("derivation") == "specialization")


def _type_code(type_entry: dict[str, Any]) -> str:
    code = str(type_entry["code"])
    for extension in type_entry.get("extension", []):
        if extension.get("url") == _FHIR_TYPE_EXTENSION:
            return str(extension["valueUrl"])
    if code.startswith(_SYSTEM_PREFIX):
        name = code[len(_SYSTEM_PREFIX):]
        return name[0].lower() + name[1:]
    return code


def element_types(definitions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    bases: dict[str, str] = {}
    elements: dict[str, dict[str, list[str]]] = {}
    for sd in definitions:
        type_name = sd["type"]
        base = sd.get("baseDefinition")
        if base:
            bases[type_name] = base.removeprefix(_STRUCTURE_PREFIX)
        if sd["kind"] == "primitive-type":
            continue
        snapshot = sd["snapshot"]["element"]
        paths = {e["path"] for e in snapshot}
        elements.setdefault(type_name, {})
        for element in snapshot[1:]:
            path: str = element["path"]
            owner, _, name = path.rpartition(".")
            if "contentReference" in element:
                types = [element["contentReference"].lstrip("#")]
            else:
                types = [_type_code(t) for t in element.get("type", [])]
            if types in (["BackboneElement"], ["Element"]) and any(
                    p.startswith(path + ".") for p in paths):
                bases[path] = types[0]
                elements.setdefault(path, {})
                types = [path]
            elements.setdefault(owner, {})[name] = types
    return {"bases": dict(sorted(bases.items())), "elements": _without_inherited(elements, bases)}


def _without_inherited(elements: dict[str, dict[str, list[str]]], bases: dict[str, str]
                       ) -> dict[str, dict[str, list[str]]]:
    def inherited(type_name: str, name: str) -> list[str] | None:
        base = bases.get(type_name)
        while base is not None:
            if name in elements.get(base, {}):
                return elements[base][name]
            base = bases.get(base)
        return None

    trimmed = {}
    for type_name in sorted(elements):
        own = {name: types for name, types in elements[type_name].items()
               if inherited(type_name, name) != types}
        trimmed[type_name] = dict(sorted(own.items()))
    return trimmed


def compartments(package: Path) -> dict[str, dict[str, list[str]]]:
    """For each compartment (Patient, Encounter, ...), the search parameters that put a
    resource of each type in it; types that are never in it are left out."""
    found: dict[str, dict[str, list[str]]] = {}
    for definition in load_json_files(package, "CompartmentDefinition"):
        if not definition.get("url", "").startswith("http://hl7.org/fhir/CompartmentDefinition/"):
            continue
        if definition.get("id") == "example":
            continue  # an illustration, not one of the five R4 compartments
        members = {item["code"]: list(item["param"]) for item in definition.get("resource", [])
                   if item.get("param")}
        found[definition["code"]] = dict(sorted(members.items()))
    return dict(sorted(found.items()))


def _write_lines(path: Path, items: list[str], opening: str, closing: str) -> None:
    path.write_text(opening + "\n" + ",\n".join(items) + "\n" + closing + "\n", encoding="utf-8")


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def write_all(package: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    definitions = [sd for sd in load_json_files(package, "StructureDefinition")
                   if sd.get("resourceType") == "StructureDefinition" and _is_core_definition(sd)]
    _write_lines(out / "search_parameters.json",
                 [_compact(p) for p in search_parameters(package)], "[", "]")
    _write_lines(out / "resource_types.json",
                 [_compact(t) for t in resource_types(definitions)], "[", "]")
    (out / "compartments.json").write_text(
        "{\n" + ",\n".join(f"{_compact(code)}:{_compact(members)}"
                           for code, members in compartments(package).items()) + "\n}\n",
        encoding="utf-8")
    types = element_types(definitions)
    lines = [f"{_compact(name)}:{_compact(own)}" for name, own in types["elements"].items()]
    (out / "element_types.json").write_text(
        '{"bases":' + _compact(types["bases"]) + ',\n"elements":{\n' + ",\n".join(lines)
        + "\n}}\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("package", nargs="?", type=Path, default=DEFAULT_PACKAGE,
                        help="the unpacked package directory (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where to write the data files (default: mor/fhir/data)")
    args = parser.parse_args(argv)
    if not any(args.package.glob("SearchParameter-*.json")):
        print(f"No SearchParameter-*.json files in {args.package}", file=sys.stderr)
        return 1
    write_all(args.package, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
