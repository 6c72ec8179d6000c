"""The hospitals a health centre refers patients to: Organizations of the city's
directory typed as hospitals (HL7 v3 RoleCode ``HOSP``), as the demo and a city's
administrator add them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from mor.fhir.store import Store
from mor.fhir.visibility import EVERYTHING
from mor.services.scheduling.lookup import find
from mor.services.scheduling.texts import in_language, texts_of, with_translations

HOSPITAL_TYPE: Final = ("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "HOSP")


@dataclass(frozen=True, slots=True)
class Hospital:
    id: str
    name: str  # in the language asked for


async def hospitals(store: Store, language: str) -> list[Hospital]:
    """The city's hospitals, by name. The directory is public: no one's record is read."""
    async with store.reading(EVERYTHING) as tx:
        found = await find(tx, "Organization", [("type", "|".join(HOSPITAL_TYPE)),
                                                ("active:not", "false")])
    listed = []
    for organization in found:
        own = organization.get("language") or "en"
        names = texts_of(organization, "name", own)
        listed.append(Hospital(organization["id"], in_language(names, language, own)))
    return sorted(listed, key=lambda h: h.name)


def hospital_resource(names: Mapping[str, str], language: str, city: str) -> dict[str, Any]:
    """A hospital of the directory, named in each language given (``language`` first)."""
    system, code = HOSPITAL_TYPE
    resource: dict[str, Any] = {
        "resourceType": "Organization", "language": language, "active": True,
        "type": [{"coding": [{"system": system, "code": code, "display": "Hospital"}]}],
        "address": [{"use": "work", "type": "physical", "city": city}],
    }
    with_translations(resource, "name", names, language)
    return resource
