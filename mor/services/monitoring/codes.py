"""The codes home monitoring writes: LOINC for what was measured, UCUM for its units,
ICD-10 for what a plan is for, and mor's own code system for what FHIR leaves to each
system (the kinds of alert, the meal context of a glucose reading)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mor.messages import N_
from mor.services.scheduling.codes import MOR_FHIR, UCUM

LOINC: Final = "http://loinc.org"
ICD_10: Final = "http://hl7.org/fhir/sid/icd-10"
MONITORING: Final = f"{MOR_FHIR}/CodeSystem/home-monitoring"
THRESHOLD_URL: Final = f"{MOR_FHIR}/StructureDefinition/alert-threshold"
# A reading's own identifier (the phone's, the meter export's, the gateway's): a URN.
READING_ID_SYSTEM: Final = "urn:ietf:rfc:3986"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
# HL7 v2 table 0916 (relevant clinical information): fasting, not fasting.
FASTING_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v2-0916"

PLAN_CATEGORY: Final = "home-monitoring"
ALERT_TASK: Final = "monitoring-alert"
ALERT_FLAG: Final = "monitoring-alert"
MEAL_CONTEXT: Final = "meal-context"

BLOOD_PRESSURE: Final = "85354-9"
SYSTOLIC: Final = "8480-6"
DIASTOLIC: Final = "8462-4"
HEART_RATE: Final = "8867-4"
GLUCOSE: Final = "2339-0"
WEIGHT: Final = "29463-7"

MM_HG: Final = "mm[Hg]"
PER_MINUTE: Final = "/min"
MG_DL: Final = "mg/dL"
KG: Final = "kg"


@dataclass(frozen=True, slots=True)
class ReadingKind:
    key: str  # bp, glucose, weight: how pages and forms name it
    loinc: str
    display: str
    category: str  # of observation-category
    name: str  # msgid


BP: Final = ReadingKind("bp", BLOOD_PRESSURE, "Blood pressure panel with all children optional",
                        "vital-signs", N_("Blood pressure"))
GLUCOSE_KIND: Final = ReadingKind("glucose", GLUCOSE, "Glucose [Mass/volume] in Blood",
                                  "laboratory", N_("Blood sugar"))
WEIGHT_KIND: Final = ReadingKind("weight", WEIGHT, "Body weight", "vital-signs",
                                 N_("Weight"))
READING_KINDS: Final = {kind.key: kind for kind in (BP, GLUCOSE_KIND, WEIGHT_KIND)}
KIND_BY_LOINC: Final = {kind.loinc: kind for kind in READING_KINDS.values()}

# What a plan is for, by ICD-10 code, and what it asks the patient to measure.
PROGRAMMES: Final = {
    "hypertension": ("I10", "Essential (primary) hypertension", ("bp", "weight")),
    "diabetes": ("E11", "Type 2 diabetes mellitus", ("glucose", "bp", "weight")),
}
PROGRAMME_NAMES: Final = {"hypertension": N_("High blood pressure"),
                          "diabetes": N_("Diabetes")}

MEAL_CONTEXTS: Final = {"fasting": N_("Fasting"), "after-meal": N_("After a meal"),
                        "random": N_("Any time")}

# The alert rules, most urgent first: the worklist's order.
RULES: Final = {
    "bp-urgent": N_("Blood pressure dangerously high"),
    "bp-low": N_("Blood pressure dangerously low"),
    "glucose-urgent": N_("Blood sugar dangerously high or low"),
    "bp-high": N_("Blood pressure out of range"),
    "glucose-out-of-range": N_("Blood sugar out of range"),
    "bp-worsening": N_("Blood pressure worsening"),
    "glucose-worsening": N_("Blood sugar worsening"),
    "bp-missing": N_("No blood pressure readings"),
    "glucose-missing": N_("No blood sugar readings"),
}
URGENT_RULES: Final = frozenset({"bp-urgent", "bp-low", "glucose-urgent"})
RULE_RANK: Final = {rule: rank for rank, rule in enumerate(RULES)}


def kind_of_rule(rule: str) -> str:
    """The kind of reading a rule watches: bp or glucose."""
    return "glucose" if rule.startswith("glucose") else "bp"


def coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    return {"system": system, "code": code, **({"display": display} if display else {})}


def quantity(value: float, unit: str) -> dict[str, object]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}
