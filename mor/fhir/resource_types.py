"""The 146 concrete FHIR R4 resource types.

Generated from the official StructureDefinitions by
``scripts/generate_search_parameters.py`` into ``data/resource_types.json``.
"""

from __future__ import annotations

from pathlib import Path

import orjson

_DATA = Path(__file__).parent / "data" / "resource_types.json"

RESOURCE_TYPES: frozenset[str] = frozenset(orjson.loads(_DATA.read_bytes()))
