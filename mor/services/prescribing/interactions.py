"""The interactions mor warns about: a small curated table of well-known pairs, not a
drug-interaction database. Each side is a drug class (see model.classes_of_atc) or an
ATC code; each pair is in the BNF (Appendix 1 / interactions), Stockley's Drug
Interactions and the WHO Model Formulary 2008, with the severity they give it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from mor.messages import N_


@dataclass(frozen=True, slots=True)
class Interaction:
    one: str  # a class name or an ATC code
    other: str
    severity: str
    message: str  # msgid, with {medicine} and {other}


_BLEEDING: Final = N_("{medicine} with {other}: higher risk of bleeding")
_INR_UP: Final = N_("{medicine} with {other}: the effect of warfarin rises (check the INR)")
_INR_DOWN: Final = N_("{medicine} with {other}: rifampicin makes warfarin much less "
                      "effective (check the INR)")
_MYOPATHY: Final = N_("{medicine} with {other}: risk of muscle damage (myopathy); do not "
                      "give together")
_MYOPATHY_DOSE: Final = N_("{medicine} with {other}: risk of muscle damage (myopathy); "
                           "keep the statin dose low")
_KIDNEY: Final = N_("{medicine} with {other}: risk to the kidneys and a weaker effect on "
                    "blood pressure")
_CONTRACEPTION: Final = N_("{medicine} with {other}: the contraceptive pill may fail; use "
                           "another method")
_SEROTONIN: Final = N_("{medicine} with {other}: risk of serotonin syndrome and seizures")
_CLOPIDOGREL: Final = N_("{medicine} with {other}: omeprazole weakens the effect of "
                         "clopidogrel")
_COLCHICINE: Final = N_("{medicine} with {other}: risk of colchicine poisoning")
_ABSORPTION: Final = N_("{medicine} with {other}: less of the antibiotic is absorbed; take "
                        "them at least 2 hours apart")
_THYROXINE: Final = N_("{medicine} with {other}: less levothyroxine is absorbed; take them "
                       "at least 4 hours apart")
_SEDATION: Final = N_("{medicine} with {other}: stronger drowsiness and slower breathing")

WARFARIN: Final = "B01AA03"
SIMVASTATIN: Final = "C10AA01"
ATORVASTATIN: Final = "C10AA05"
CLARITHROMYCIN: Final = "J01FA09"
OMEPRAZOLE: Final = "A02BC01"
CLOPIDOGREL: Final = "B01AC04"
COLCHICINE: Final = "M04AC01"
LEVOTHYROXINE: Final = "H03AA01"
TRAMADOL: Final = "N02AX02"

INTERACTIONS: Final[tuple[Interaction, ...]] = (
    Interaction(WARFARIN, "nsaid", "high", _BLEEDING),
    Interaction(WARFARIN, "antiplatelet", "high", _BLEEDING),
    Interaction(WARFARIN, "P01AB01", "high", _INR_UP),  # metronidazole
    Interaction(WARFARIN, "sulfonamide", "high", _INR_UP),  # co-trimoxazole
    Interaction(WARFARIN, "fluoroquinolone", "moderate", _INR_UP),
    Interaction(WARFARIN, CLARITHROMYCIN, "moderate", _INR_UP),
    Interaction(WARFARIN, "rifamycin", "high", _INR_DOWN),
    Interaction(SIMVASTATIN, CLARITHROMYCIN, "high", _MYOPATHY),
    Interaction(ATORVASTATIN, CLARITHROMYCIN, "moderate", _MYOPATHY_DOSE),
    Interaction("renin-angiotensin", "nsaid", "moderate", _KIDNEY),
    Interaction("rifamycin", "combined-oral-contraceptive", "high", _CONTRACEPTION),
    Interaction("ssri", TRAMADOL, "high", _SEROTONIN),
    Interaction("tricyclic", TRAMADOL, "moderate", _SEROTONIN),
    Interaction("ssri", "tricyclic", "moderate", _SEROTONIN),
    Interaction("ssri", "nsaid", "moderate", _BLEEDING),
    Interaction("ssri", "antiplatelet", "moderate", _BLEEDING),
    Interaction(CLOPIDOGREL, OMEPRAZOLE, "moderate", _CLOPIDOGREL),
    Interaction(COLCHICINE, CLARITHROMYCIN, "high", _COLCHICINE),
    Interaction("fluoroquinolone", "antacid", "moderate", _ABSORPTION),
    Interaction("fluoroquinolone", "iron", "moderate", _ABSORPTION),
    Interaction("fluoroquinolone", "calcium", "moderate", _ABSORPTION),
    Interaction("tetracycline", "antacid", "moderate", _ABSORPTION),
    Interaction("tetracycline", "iron", "moderate", _ABSORPTION),
    Interaction("tetracycline", "calcium", "moderate", _ABSORPTION),
    Interaction(LEVOTHYROXINE, "iron", "low", _THYROXINE),
    Interaction(LEVOTHYROXINE, "calcium", "low", _THYROXINE),
    Interaction("benzodiazepine", "opioid", "moderate", _SEDATION),
)
