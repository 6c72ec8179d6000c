"""Who is asking, as the FHIR engine sees it: what they may see and what they may do.

The engine knows nothing of accounts, tokens or roles; the access layer
(:mod:`mor.auth`) turns those into a :class:`Caller`. Every request carries one:
the store limits every read and write to ``caller.visibility``, and each interaction
asks ``caller.check`` first, inside Bundles too.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, Protocol

from mor.fhir.visibility import EVERYTHING, Visibility


class Interaction(StrEnum):
    READ = "read"  # read and vread
    SEARCH = "search"  # type, system and compartment search, $everything
    HISTORY = "history"
    CREATE = "create"
    UPDATE = "update"  # update and patch
    DELETE = "delete"
    EXPORT = "export"  # bulk data $export


class Caller(Protocol):
    @property
    def visibility(self) -> Visibility: ...

    def check(self, interaction: Interaction, resource_type: str | None) -> None:
        """Raise Forbidden (or Unauthorized) unless the interaction is allowed.

        ``resource_type`` is None for an interaction across every type (a system
        search or history)."""
        ...


class _Unrestricted:
    """mor itself: imports, re-indexing and the export worker, started by the operator."""

    @property
    def visibility(self) -> Visibility:
        return EVERYTHING

    def check(self, interaction: Interaction, resource_type: str | None) -> None:
        return None


UNRESTRICTED: Final[Caller] = _Unrestricted()
