"""The roles an account can have, and what each is for."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Role(StrEnum):
    DOCTOR = "doctor"
    NURSE = "nurse"
    PHARMACIST = "pharmacist"
    # Runs one or more health centres: services, rosters, slots; no clinical records.
    CENTRE_ADMIN = "centre-admin"
    # Runs mor for the city: accounts, health centres, registered apps; no clinical records.
    CITY_ADMIN = "city-admin"
    PATIENT = "patient"


# Staff who care for patients and so read and write their records.
CLINICAL_ROLES: Final = frozenset({Role.DOCTOR, Role.NURSE, Role.PHARMACIST})
STAFF_ROLES: Final = CLINICAL_ROLES | {Role.CENTRE_ADMIN, Role.CITY_ADMIN}
# The FHIR resource type an account of each role is linked to.
FHIR_USER_TYPES: Final = {role: "Practitioner" for role in STAFF_ROLES} | {
    Role.PATIENT: "Patient"}


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a role; the roles are "
                         f"{', '.join(r.value for r in Role)}") from None
