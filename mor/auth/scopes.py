"""SMART on FHIR scopes (App Launch 2.x, with the 1.0 forms still accepted).

``patient/Observation.rs`` lets an app read and search Observations of the patient in
context; ``user/*.cruds`` lets it do anything its user may; ``system/*.rs`` lets a
backend service read everything. 1.0's ``.read``, ``.write`` and ``.*`` mean ``rs``,
``cud`` and ``cruds``. A scope never widens what the user's role allows: it narrows it.

Scopes with search restrictions (``patient/Observation.rs?category=vital-signs``) are
not granted: mor cannot yet hold a token to them, and granting them wider would leak.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from mor.fhir.permissions import Interaction
from mor.fhir.resource_types import RESOURCE_TYPES

CONTEXTS: Final = ("patient", "user", "system")
# Scopes that are not about resources, which mor understands.
OTHER_SCOPES: Final = frozenset({"openid", "fhirUser", "profile", "launch", "launch/patient",
                                 "offline_access", "online_access"})
_LETTERS: Final = "cruds"
_V1: Final = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE: Final = re.compile(r"(patient|user|system)/(\*|[A-Z][A-Za-z]+)\.(\*|read|write|[cruds]+)")

LETTER_OF: Final = {
    Interaction.CREATE: "c",
    Interaction.READ: "r",
    Interaction.UPDATE: "u",
    Interaction.DELETE: "d",
    Interaction.SEARCH: "s",
    Interaction.HISTORY: "s",
    Interaction.EXPORT: "r",
    # Principal.check also asks for "u" (an import updates resources it finds).
    Interaction.IMPORT: "c",
}


@dataclass(frozen=True, slots=True)
class ResourceScope:
    context: str
    resource_type: str  # or "*"
    letters: frozenset[str]

    def __str__(self) -> str:
        return f"{self.context}/{self.resource_type}." + "".join(
            letter for letter in _LETTERS if letter in self.letters)


def parse_resource_scope(text: str) -> ResourceScope | None:
    """The resource scope a scope string names; None if it names none (``openid`` ...)."""
    match = _SCOPE.fullmatch(text)
    if match is None:
        return None
    context, resource_type, permission = match.groups()
    if resource_type != "*" and resource_type not in RESOURCE_TYPES:
        return None
    letters = _V1.get(permission, permission)
    if list(letters) != sorted(letters, key=_LETTERS.index) or len(set(letters)) != len(letters):
        return None  # v2 letters come once each, in the order c r u d s
    return ResourceScope(context, resource_type, frozenset(letters))


@dataclass(frozen=True, slots=True)
class Scopes:
    """A granted scope string, parsed."""

    resource_scopes: tuple[ResourceScope, ...]
    other: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> Scopes:
        resource_scopes: list[ResourceScope] = []
        other: set[str] = set()
        for item in text.split():
            parsed = parse_resource_scope(item)
            if parsed is not None:
                resource_scopes.append(parsed)
            elif item in OTHER_SCOPES:
                other.add(item)
        return cls(tuple(resource_scopes), frozenset(other))

    def __str__(self) -> str:
        return " ".join([*sorted(self.other), *(str(s) for s in self.resource_scopes)])

    def contexts(self) -> set[str]:
        return {s.context for s in self.resource_scopes}

    def permits(self, interaction: Interaction, resource_type: str | None) -> bool:
        """Whether some scope allows the interaction on the type (every type when None)."""
        letter = LETTER_OF[interaction]
        return any(letter in s.letters and (s.resource_type == "*" or s.resource_type ==
                                            resource_type)
                   for s in self.resource_scopes)

    def readable_types(self) -> frozenset[str] | None:
        """Types some scope lets be read or searched; None when every type."""
        readable = [s for s in self.resource_scopes if s.letters & {"r", "s"}]
        if any(s.resource_type == "*" for s in readable):
            return None
        return frozenset(s.resource_type for s in readable)

    def narrowed_to(self, allowed: Scopes) -> Scopes:
        """The part of these scopes that ``allowed`` covers: what a client asking for them
        may be given (``system/*.cruds`` asked, ``system/*.rs`` allowed: ``system/*.rs``)."""
        kept: list[ResourceScope] = []
        for asked in self.resource_scopes:
            for limit in allowed.resource_scopes:
                if limit.context != asked.context:
                    continue
                if limit.resource_type not in ("*", asked.resource_type) and (
                        asked.resource_type != "*"):
                    continue
                resource_type = (asked.resource_type if limit.resource_type == "*"
                                 else limit.resource_type)
                letters = asked.letters & limit.letters
                if letters:
                    kept.append(ResourceScope(asked.context, resource_type, letters))
        return Scopes(tuple(dict.fromkeys(kept)), self.other & allowed.other)

