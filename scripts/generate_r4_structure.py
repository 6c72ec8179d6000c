"""Compile the official R4 StructureDefinitions into mor/fhir/data/r4_structure.json.

The validator in :mod:`mor.fhir.structure_validation` reads that file. Regenerate
with::

    .venv/bin/python scripts/generate_r4_structure.py \
        tests/fhir-packages/node_modules/hl7.fhir.r4.examples

The output lists, for every R4 resource type, complex datatype and backbone
element, each JSON property with its FHIR type, minimum and maximum
cardinality, and, for every primitive type, the regular expression its values
must match.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "mor" / "fhir" / "data" / "r4_structure.json"
FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"
SYSTEM_TYPES = {"http://hl7.org/fhirpath/System.String": "string"}


def _definitions(package: Path) -> list[dict[str, Any]]:
    found = []
    for path in sorted(package.glob("StructureDefinition-*.json")):
        definition = json.loads(path.read_bytes())
        if definition.get("derivation") == "specialization" and definition.get("kind") in (
            "resource", "complex-type", "primitive-type"
        ):
            found.append(definition)
    return found


def _type_code(element_type: dict[str, Any]) -> str:
    for extension in element_type.get("extension", []):
        if extension.get("url") == FHIR_TYPE_EXTENSION:
            return str(extension["valueUrl"])
    code = str(element_type["code"])
    return SYSTEM_TYPES.get(code, code)


def compile_package(package: Path) -> dict[str, Any]:
    types: dict[str, dict[str, list[Any]]] = {}
    primitives: dict[str, str | None] = {}
    resources: list[str] = []
    for definition in _definitions(package):
        name = definition["type"]
        kind = definition["kind"]
        if kind == "primitive-type":
            primitives[name] = None
            for element in definition["snapshot"]["element"]:
                if element["path"] == f"{name}.value":
                    for extension in element["type"][0].get("extension", []):
                        if extension.get("url") == REGEX_EXTENSION:
                            primitives[name] = extension["valueString"]
            continue
        if kind == "resource" and not definition.get("abstract"):
            resources.append(name)
        for element in definition["snapshot"]["element"][1:]:
            path = element["path"]
            owner, _, prop = path.rpartition(".")
            if "contentReference" in element:
                codes = [element["contentReference"].lstrip("#")]
            elif path.endswith(".id") and owner == name and kind == "resource":
                codes = ["id"]
            else:
                codes = [_type_code(t) for t in element.get("type", [])]
                if codes in (["BackboneElement"], ["Element"]) and prop not in ("extension",):
                    codes = [path]
            entry = [codes, element["min"], element["max"]]
            properties = types.setdefault(owner, {})
            if prop.endswith("[x]"):
                stem = prop[:-3]
                for code in codes:
                    properties[stem + code[0].upper() + code[1:]] = [[code], 0, "1", stem]
                if element["min"] > 0:
                    properties.setdefault("", []).append(stem)
            else:
                properties[prop] = entry
    # The '_name' companion of a primitive carries only an id and extensions.
    types["_primitive"] = {"id": [["string"], 0, "1"], "extension": [["Extension"], 0, "*"]}
    return {"resources": sorted(resources), "primitives": primitives, "types": types}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    data = compile_package(args.package)
    args.out.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True,
                                   ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
