"""Who is asking, as the FHIR engine sees it: what they may see and what they may do.

The engine knows nothing of accounts, tokens or roles; the access layer
(:mod:`mor.auth`) turns those into a :class:`Caller`. Every request carries one:
the store limits every read and write to ``caller.visibility``, and each interaction
asks ``caller.check`` first, inside Bundles too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, Protocol

from mor.fhir.visibility import EVERYTHING, Visibility


class Interaction(StrEnum):
    READ = "read"  # read and vread
    SEARCH = "search"  # type, system and compartment search, $everything
    HISTORY = "history"
    CREATE = "create"
    UPDATE = "update"  # update and patch
    DELETE = "delete"
    EXPORT = "export"  # bulk data $export
    IMPORT = "import"  # bulk data $import: creates and updates resources of any type


@dataclass(slots=True)
class Access:
    """One request as an audit record tells it."""

    method: str
    path: str  # relative to the FHIR base
    query: str
    status: int = 200
    # The resources shown or changed, by store key.
    resources: dict[int, str] = field(default_factory=dict)
    # Whose records were touched: the patients the resources belong to, and for deleted
    # resources those they belonged to before.
    patients: set[str] = field(default_factory=set)
    failure: str | None = None


class Caller(Protocol):
    @property
    def visibility(self) -> Visibility: ...

    def check(self, interaction: Interaction, resource_type: str | None) -> None:
        """Raise Forbidden (or Unauthorized) unless the interaction is allowed.

        ``resource_type`` is None for an interaction across every type (a system
        search or history)."""
        ...

    def audit_event(self, access: Access) -> dict[str, Any] | None:
        """The audit record of a request (an AuditEvent), or None when none is kept."""
        ...


class _Unrestricted:
    """mor itself: imports, re-indexing and the export worker, started by the operator."""

    @property
    def visibility(self) -> Visibility:
        return EVERYTHING

    def check(self, interaction: Interaction, resource_type: str | None) -> None:
        return None

    def audit_event(self, access: Access) -> dict[str, Any] | None:
        return None  # the operator's own work is logged by the command that does it


UNRESTRICTED: Final[Caller] = _Unrestricted()
