"""What a recorded allergy is an allergy to: ATC codes (a substance or a whole group) and
drug classes, read from the AllergyIntolerance's codes, or from its text when no code
is one mor knows.

The SNOMED CT codes are those of the R4 value set ``allergyintolerance-code`` (the
"... allergy" disorders and the substances), except 764146007 and 373270004, the
current penicillin substance concepts, which newer records use."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from mor.services.prescribing.model import ATC_SYSTEM, SNOMED_SYSTEM, classes_of_atc

# The classes an allergy may be to. Beta-lactam is one only when recorded as such: an
# amoxicillin allergy is a penicillin allergy, and only cross-reacts with cephalosporins.
ALLERGY_CLASSES: Final = frozenset({
    "penicillin", "cephalosporin", "beta-lactam", "sulfonamide", "nsaid", "salicylate",
    "macrolide", "fluoroquinolone", "tetracycline", "nitroimidazole", "opioid"})

_CLASS: Final = "class:"

SNOMED_ALLERGIES: Final[dict[str, str]] = {
    "91936005": "class:penicillin",  # Penicillin allergy
    "6369005": "class:penicillin",  # Penicillin -class of antibiotic-
    "764146007": "class:penicillin",  # Penicillin (substance)
    "373270004": "class:penicillin",  # Substance with penicillin structure ...
    "294499007": "class:penicillin",  # Benzylpenicillin allergy
    "78507004": "class:penicillin",  # Benzylpenicillin
    "294497009": "class:penicillin",  # Phenoxymethylpenicillin allergy
    "39359008": "class:penicillin",  # Penicillin V
    "294505008": "J01CA04",  # Amoxicillin allergy
    "294523000": "J01CA04",  # Amoxicillin + clavulanate potassium allergy
    "372687004": "J01CA04",  # Amoxicillin (substance)
    "27658006": "J01CA04",  # Amoxicillin
    "294504007": "J01CA",  # Broad spectrum penicillins allergy
    "73763003": "J01CA",  # Extended spectrum penicillin
    "294500003": "J01CF",  # Penicillinase-resistant penicillins allergy
    "68892006": "J01CF",  # Penicillinase-resistant penicillin
    "294532003": "class:cephalosporin",  # Cephalosporin allergy
    "51779009": "class:cephalosporin",  # Cephalosporin -class of antibiotic-
    "294533008": "J01DB",  # First generation cephalosporin allergy
    "294535001": "J01DB01",  # Cefalexin allergy
    "54887004": "J01DB01",  # Cefalexin
    "91939003": "class:sulfonamide",  # Sulfonamide allergy
    "59255006": "class:sulfonamide",  # Sulfonamide
    "70047000": "J01EC01",  # Sulfamethoxazole
    "294477004": "J01EA01",  # Trimethoprim allergy
    "32792001": "J01EA01",  # Trimethoprim
    "293610009": "class:nsaid",  # Non-steroidal anti-inflammatory drug allergy
    "16403005": "class:nsaid",  # Non-steroidal anti-inflammatory agent
    "293586001": "class:salicylate",  # Aspirin allergy
    "293585002": "class:salicylate",  # Salicylate allergy
    "7947003": "class:salicylate",  # Acetylsalicylic acid
    "293619005": "M01AE01",  # Ibuprofen allergy
    "38268001": "M01AE01",  # Propionic acid-ibuprofen
    "293613006": "M01AB05",  # Diclofenac allergy
    "7034005": "M01AB05",  # Diclofenac
    "293625009": "M01AE02",  # Naproxen allergy
    "11847009": "M01AE02",  # Naproxen
    "91933002": "class:macrolide",  # Macrolide allergy
    "294483001": "class:fluoroquinolone",  # 4-quinolones allergy
    "37084008": "class:fluoroquinolone",  # 4-quinolones
    "7577004": "J01MA02",  # Ciprofloxacin
    "66261008": "class:tetracycline",  # Tetracycline
    "294567003": "class:nitroimidazole",  # Metronidazole allergy
    "1222004": "class:nitroimidazole",  # Metronidazole
    "293587005": "class:opioid",  # Opioid analgesic allergy
}

# Names of the classes as an allergy is written down, in English, Thai and Lao.
CLASS_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "penicillin": ("penicillin", "penicillins", "penicillin g", "penicillin v",
                   "benzylpenicillin", "phenoxymethylpenicillin", "เพนิซิลลิน", "เพนนิซิลลิน",
                   "ເພນີຊີລລິນ", "ເປນີຊີລີນ"),
    "cephalosporin": ("cephalosporin", "cephalosporins", "เซฟาโลสปอริน", "ເຊຟາໂລສະປໍຣິນ"),
    "beta-lactam": ("beta-lactam", "beta lactam", "beta-lactams", "เบตาแลคแตม",
                    "ເບຕາແລັກແຕມ"),
    "sulfonamide": ("sulfonamide", "sulfonamides", "sulphonamide", "sulphonamides", "sulfa",
                    "sulpha", "ซัลฟา", "ซัลโฟนาไมด์", "ຊັລຟາ", "ຊູນຟາ"),
    "nsaid": ("nsaid", "nsaids", "non-steroidal anti-inflammatory", "เอ็นเสด", "ເອັນເສດ"),
    "salicylate": ("aspirin", "salicylate", "salicylates", "แอสไพริน", "ແອັດສະໄພຣິນ"),
    "macrolide": ("macrolide", "macrolides", "แมคโครไลด์", "ແມັກໂຄຣໄລດ໌"),
    "fluoroquinolone": ("fluoroquinolone", "fluoroquinolones", "quinolone", "quinolones",
                        "ฟลูออโรควิโนโลน", "ຟລູອໍໂຣຄິໂນໂລນ"),
    "tetracycline": ("tetracycline", "tetracyclines", "เตตราไซคลิน", "ເຕຕຣາໄຊຄລິນ"),
}

# Words around the substance in free text: "allergy to penicillin", "แพ้ยาเพนิซิลลิน".
_FILLER: Final = re.compile(r"\b(?:allerg(?:y|ic)|to|drugs?|class|group)\b|แพ้|ยา|ແພ້|ຢາ"
                            r"|[.,;:()\[\]]")


@dataclass(frozen=True, slots=True)
class AllergyTo:
    """What one allergy is to: ATC codes (a code covers every code under it) and classes."""

    text: str  # as recorded, for the warning
    atc: frozenset[str]
    classes: frozenset[str]


def is_current(allergy: Mapping[str, Any]) -> bool:
    """An allergy that still counts: not refuted or entered in error, not resolved or
    inactive. An unconfirmed allergy counts: a suspicion is worth a warning."""
    verification = _codes(allergy.get("verificationStatus"))
    clinical = _codes(allergy.get("clinicalStatus"))
    categories = allergy.get("category") or ["medication"]
    return (not verification & {"refuted", "entered-in-error"}
            and not clinical & {"inactive", "resolved"}
            and "medication" in categories)


def allergy_to(allergy: Mapping[str, Any], names: Mapping[str, frozenset[str]]
               ) -> AllergyTo:
    """What ``allergy`` is to; ``names`` maps medicine names (folded, any language) to
    their ATC codes, for allergies written in words."""
    code = allergy.get("code") or {}
    codings = code.get("coding") or []
    targets: set[str] = set()
    for coding in codings:
        if coding.get("system") == ATC_SYSTEM and coding.get("code"):
            targets.add(str(coding["code"]))
        elif coding.get("system") == SNOMED_SYSTEM:
            targets.update(t for t in [SNOMED_ALLERGIES.get(str(coding.get("code")))] if t)
    texts = [code.get("text"), *(c.get("display") for c in codings)]
    shown = next((t for t in texts if t), "")
    if not targets:
        for text in texts:
            if text:
                targets.update(_targets_of_text(text, names))
    atc = frozenset(t for t in targets if not t.startswith(_CLASS))
    classes = {t.removeprefix(_CLASS) for t in targets if t.startswith(_CLASS)}
    for one in atc:
        classes.update(classes_of_atc(one) & (ALLERGY_CLASSES - {"beta-lactam"}))
    return AllergyTo(shown, atc, frozenset(classes))


def _targets_of_text(text: str, names: Mapping[str, frozenset[str]]) -> set[str]:
    wanted = " ".join(_FILLER.sub(" ", text.casefold()).split())
    if not wanted:
        return set()
    found = {f"{_CLASS}{name}" for name, spellings in CLASS_NAMES.items()
             if wanted in spellings}
    for name, codes in names.items():
        if name == wanted or name.startswith((f"{wanted} ", f"{wanted}/")):
            found.update(codes)
    return found


def _codes(concept: Any) -> set[str]:
    codings: Iterable[Any] = (concept or {}).get("coding") or () \
        if isinstance(concept, dict) else ()
    return {str(c.get("code")) for c in codings if isinstance(c, dict)}
