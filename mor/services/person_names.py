"""A person's name as a page shows it, from a FHIR ``HumanName`` list (Patient,
Practitioner, RelatedPerson): the official one if marked, else the first; its ``text``
if given, else its parts."""

from __future__ import annotations

from typing import Any


def display_name(person: dict[str, Any], *, with_prefix: bool = False) -> str:
    names = [n for n in person.get("name") or () if isinstance(n, dict)]
    ordered = sorted(names, key=lambda n: n.get("use") != "official")
    for name in ordered:
        parts = [*(name.get("prefix", []) if with_prefix else []), *name.get("given", []),
                 name.get("family", "")]
        text = str(name.get("text") or " ".join(parts)).strip()
        if text:
            return text
    return ""
