"""Health centres: each an ``Organization`` (the unit staff work for and patients are
registered with) and its ``Location`` (the place: district, address, position, opening
hours), kept together. Names and districts may be given in several languages."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from typing import Any

from mor.fhir.permissions import Caller
from mor.fhir.store import Store, new_id
from mor.fhir.visibility import EVERYTHING
from mor.services.fhir_calls import transaction
from mor.services.scheduling.codes import (
    CENTRE_LOCATION_TYPE,
    CENTRE_ORGANIZATION_TYPE,
    DAYS_OF_WEEK,
)
from mor.services.scheduling.lookup import find, reference_id
from mor.services.scheduling.texts import in_language, texts_of, with_translations


@dataclass(frozen=True, slots=True)
class OpeningHours:
    days: tuple[str, ...]  # of DAYS_OF_WEEK
    opens: time
    closes: time


@dataclass(frozen=True, slots=True)
class CentreDetails:
    """What an administrator enters for a health centre."""

    names: Mapping[str, str]  # by language
    districts: Mapping[str, str]
    address: str
    city: str
    country: str  # ISO 3166 alpha-2
    language: str  # the city's own language, that of the resource's main texts
    phone: str = ""
    latitude: float | None = None
    longitude: float | None = None
    hours: tuple[OpeningHours, ...] = ()


@dataclass(frozen=True, slots=True)
class Centre:
    id: str  # the Organization's
    location_id: str
    details: CentreDetails
    active: bool = True
    distance_km: float | None = field(default=None, compare=False)

    def name(self, language: str) -> str:
        return in_language(self.details.names, language, self.details.language)

    def district(self, language: str) -> str:
        return in_language(self.details.districts, language, self.details.language)


class CentreNotFound(LookupError):
    pass


async def all_centres(store: Store, *, include_inactive: bool = False) -> list[Centre]:
    """Every health centre of the city, by name in its own language."""
    params = [("type", "|".join(CENTRE_LOCATION_TYPE))]
    if not include_inactive:
        params.append(("status", "active"))
    async with store.reading(EVERYTHING) as tx:
        locations = await find(tx, "Location", params)
    centres = [c for c in map(_centre, locations) if c is not None]
    return sorted(centres, key=lambda c: c.name(c.details.language))


async def get_centre(store: Store, centre_id: str) -> Centre:
    async with store.reading(EVERYTHING) as tx:
        locations = await find(tx, "Location", [
            ("organization", f"Organization/{centre_id}"),
            ("type", "|".join(CENTRE_LOCATION_TYPE))], limit=1)
    centre = _centre(locations[0]) if locations else None
    if centre is None:
        raise CentreNotFound(centre_id)
    return centre


async def home_centre(store: Store, patient_id: str) -> Centre | None:
    """The health centre a patient is registered with (``Patient.managingOrganization``,
    set at their first booking), if any: where they join a same-day video queue."""
    async with store.reading(EVERYTHING) as tx:
        found = await find(tx, "Patient", [("_id", patient_id)], limit=1)
    organization = reference_id(found[0].get("managingOrganization"), "Organization") \
        if found else None
    if organization is None:
        return None
    try:
        return await get_centre(store, organization)
    except CentreNotFound:
        return None  # registered with an organization that is no health centre here


async def save_centre(store: Store, caller: Caller, details: CentreDetails,
                      centre: Centre | None = None, *, active: bool = True) -> Centre:
    """Add a health centre, or change one: its Organization and Location in one
    transaction, as ``caller`` (a health-centre or city administrator)."""
    organization_id = centre.id if centre else new_id()
    location_id = centre.location_id if centre else new_id()
    await transaction(store, caller, [
        (f"Organization/{organization_id}", _organization(details, active)),
        (f"Location/{location_id}", _location(details, organization_id, active)),
    ])
    return Centre(organization_id, location_id, details, active)


def nearest_first(centres: list[Centre], latitude: float, longitude: float) -> list[Centre]:
    """The centres by distance from a point, each with its distance."""
    measured = [Centre(c.id, c.location_id, c.details, c.active,
                       _distance_km(latitude, longitude, c.details.latitude,
                                    c.details.longitude))
                for c in centres]
    return sorted(measured, key=lambda c: math.inf if c.distance_km is None
                  else c.distance_km)


def districts(centres: list[Centre], language: str) -> list[str]:
    return sorted({c.district(language) for c in centres if c.district(language)})


def _organization(details: CentreDetails, active: bool) -> dict[str, Any]:
    system, code = CENTRE_ORGANIZATION_TYPE
    organization: dict[str, Any] = {
        "resourceType": "Organization", "language": details.language, "active": active,
        "type": [{"coding": [{"system": system, "code": code,
                              "display": "Healthcare Provider"}]}],
    }
    with_translations(organization, "name", details.names, details.language)
    if details.phone:
        organization["telecom"] = [{"system": "phone", "value": details.phone}]
    return organization


def _location(details: CentreDetails, organization_id: str, active: bool) -> dict[str, Any]:
    system, code = CENTRE_LOCATION_TYPE
    address: dict[str, Any] = {"use": "work", "type": "physical", "city": details.city,
                               "country": details.country}
    if details.address:
        address["line"] = [details.address]
    with_translations(address, "district", details.districts, details.language)
    location: dict[str, Any] = {
        "resourceType": "Location", "language": details.language,
        "status": "active" if active else "inactive", "mode": "instance",
        "type": [{"coding": [{"system": system, "code": code,
                              "display": "primary care clinic"}]}],
        "address": address,
        "managingOrganization": {"reference": f"Organization/{organization_id}"},
    }
    with_translations(location, "name", details.names, details.language)
    if details.phone:
        location["telecom"] = [{"system": "phone", "value": details.phone}]
    if details.latitude is not None and details.longitude is not None:
        location["position"] = {"latitude": details.latitude, "longitude": details.longitude}
    if details.hours:
        location["hoursOfOperation"] = [
            {"daysOfWeek": list(h.days), "openingTime": h.opens.isoformat("seconds"),
             "closingTime": h.closes.isoformat("seconds")} for h in details.hours]
    return location


def _centre(location: dict[str, Any]) -> Centre | None:
    organization_id = reference_id(location.get("managingOrganization"), "Organization")
    if organization_id is None:
        return None
    language = location.get("language") or "en"
    address = location.get("address") or {}
    position = location.get("position") or {}
    phones = [t.get("value", "") for t in location.get("telecom") or ()
              if t.get("system") == "phone"]
    details = CentreDetails(
        names=texts_of(location, "name", language),
        districts=texts_of(address, "district", language),
        address=", ".join(address.get("line") or ()), city=address.get("city", ""),
        country=address.get("country", ""), language=language,
        phone=phones[0] if phones else "",
        latitude=position.get("latitude"), longitude=position.get("longitude"),
        hours=tuple(OpeningHours(tuple(d for d in DAYS_OF_WEEK if d in h.get("daysOfWeek", ())),
                                 time.fromisoformat(h["openingTime"]),
                                 time.fromisoformat(h["closingTime"]))
                    for h in location.get("hoursOfOperation") or ()
                    if h.get("openingTime") and h.get("closingTime")))
    return Centre(organization_id, location["id"], details,
                  active=location.get("status", "active") == "active")


def _distance_km(lat: float, lon: float, other_lat: float | None,
                 other_lon: float | None) -> float | None:
    if other_lat is None or other_lon is None:
        return None
    # Haversine: exact enough for "which centre is nearest" within a city.
    p1, p2 = math.radians(lat), math.radians(other_lat)
    dp, dl = p2 - p1, math.radians(other_lon - lon)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))
