"""The codes and extensions mor's scheduling writes into FHIR resources.

Where FHIR or HL7 terminology has a code, it is used; the kinds of health-centre service
(the list Bangkok's health centres offer) and the slot length and capacity of a service
have none, so they live under mor's own canonical base, defined once here.
"""

from __future__ import annotations

from typing import Final

from mor.messages import N_

MOR_FHIR: Final = "https://mor.health/fhir"
SERVICE_KINDS_SYSTEM: Final = f"{MOR_FHIR}/CodeSystem/health-centre-service"
SLOT_MINUTES_URL: Final = f"{MOR_FHIR}/StructureDefinition/slot-minutes"
SLOT_CAPACITY_URL: Final = f"{MOR_FHIR}/StructureDefinition/slot-capacity"
# The standard extension carrying a text in another language (FHIR R4 core).
TRANSLATION_URL: Final = "http://hl7.org/fhir/StructureDefinition/translation"
UCUM: Final = "http://unitsofmeasure.org"

# A health centre: a primary care clinic (HL7 v3 ServiceDeliveryLocationRoleType).
CENTRE_LOCATION_TYPE: Final = ("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "PC")
CENTRE_ORGANIZATION_TYPE: Final = (
    "http://terminology.hl7.org/CodeSystem/organization-type", "prov")

# The services a health centre offers, in the order a patient is shown them.
SERVICE_KINDS: Final = {
    "general-practice": N_("General practice"),
    "hypertension": N_("Chronic disease follow-up: hypertension"),
    "diabetes": N_("Chronic disease follow-up: diabetes"),
    "mental-health": N_("Mental health"),
    "skin": N_("Skin"),
    "tuberculosis": N_("Tuberculosis follow-up"),
    "home-care": N_("Home care for bedridden patients"),
}

DAYS_OF_WEEK: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
