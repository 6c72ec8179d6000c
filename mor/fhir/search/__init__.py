"""FHIR search: compiling a search to SQL over the index tables, and running it.

See :mod:`.compiler` for the request, :mod:`.conditions` for each parameter,
:mod:`.sorting` for order and paging, :mod:`.includes` for ``_include`` and
``_revinclude``, :mod:`.shaping` for ``_summary`` and ``_elements``,
:mod:`.compartments` for compartment search and :mod:`.execution` for running a
compiled search against the store.
"""

from __future__ import annotations

from mor.fhir.indexing import UNSUPPORTED_EXPRESSIONS
from mor.fhir.search.compiler import DEFAULT_COUNT, MAX_COUNT, CompiledSearch, compile_search
from mor.fhir.search.conditions import SEARCHABLE_TYPES, Context, ValueSetCodes
from mor.fhir.search_parameters import SearchParameter, parameters_for


def supported_parameters(resource_type: str) -> list[SearchParameter]:
    """The search parameters of a type that mor can answer, for the CapabilityStatement."""
    return [p for p in parameters_for(resource_type).values()
            if p.type in SEARCHABLE_TYPES and p.url not in UNSUPPORTED_EXPRESSIONS]


__all__ = ["DEFAULT_COUNT", "MAX_COUNT", "CompiledSearch", "Context", "ValueSetCodes",
           "compile_search", "supported_parameters"]
