"""The warnings shown before a medicine is prescribed or dispensed: the patient's
recorded allergies, duplicate therapy and well-known interactions.

Pure functions over plain data (FHIR resources as dicts, formulary entries), with no
store access, so the doctor's screen and the pharmacist's queue run the same checks on
what they have already read.

Severity:
- ``high``: do not give it without a deliberate decision (a known allergy, the same
  medicine twice, an interaction references say to avoid);
- ``moderate``: may be given with care (a possible cross-reaction, two medicines of one
  group, an interaction that needs monitoring or a dose change);
- ``low``: worth knowing (take them apart)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mor.messages import N_
from mor.services.prescribing.allergies import AllergyTo, allergy_to, is_current
from mor.services.prescribing.formulary import FORMULARY_SYSTEM, Formulary
from mor.services.prescribing.interactions import INTERACTIONS, Interaction
from mor.services.prescribing.model import ATC_SYSTEM, Entry, Names, classes_of_atc

SEVERITIES: Final = ("high", "moderate", "low")

ALLERGY_INGREDIENT: Final = N_("{medicine}: the patient is allergic to it ({allergy})")
ALLERGY_CLASS: Final = N_("{medicine}: the patient is allergic to medicines of this group "
                          "({allergy})")
ALLERGY_CROSS: Final = N_("{medicine}: may cross-react with the patient's allergy "
                          "({allergy})")
DUPLICATE_INGREDIENT: Final = N_("{medicine}: the patient already takes the same medicine "
                                 "({other})")
DUPLICATE_CLASS: Final = N_("{medicine}: the patient already takes a medicine of the same "
                            "group ({other})")

# Allergy to one class, medicine of another: the cross-reactions worth a warning.
CROSS_REACTIONS: Final[tuple[tuple[str, str, str], ...]] = (
    ("penicillin", "cephalosporin", "moderate"),  # about 1-2 % in penicillin-allergic people
    ("cephalosporin", "penicillin", "moderate"),
    ("nsaid", "salicylate", "high"),  # NSAID-exacerbated disease reacts to COX-1 inhibitors
    ("salicylate", "nsaid", "high"),
)

# Groups where two medicines at once is a known duplicate. Aspirin with clopidogrel is
# not one: dual antiplatelet therapy is prescribed on purpose.
DUPLICATE_GROUPS: Final = frozenset({
    "nsaid", "statin", "renin-angiotensin", "ssri", "ppi", "sulfonylurea", "benzodiazepine",
    "beta-blocker", "calcium-channel-blocker", "thiazide", "antihistamine", "penicillin",
    "cephalosporin", "macrolide", "fluoroquinolone", "tetracycline", "vitamin-k-antagonist"})

_ACTIVE_REQUEST: Final = frozenset({"active", "on-hold"})


@dataclass(frozen=True, slots=True)
class Medicine:
    """A medicine the checks compare: a formulary entry, or one coded outside it."""

    key: str  # the formulary id, else its ATC code or text
    names: Names
    codes: frozenset[str]  # ATC codes of the product and its ingredients
    ingredients: frozenset[str]
    classes: frozenset[str]

    @classmethod
    def of(cls, entry: Entry) -> Medicine:
        return cls(entry.id, entry.names, frozenset({entry.atc}) | entry.ingredient_codes,
                   entry.ingredient_codes, entry.classes)

    @property
    def tags(self) -> frozenset[str]:
        return self.codes | self.classes


@dataclass(frozen=True, slots=True)
class PrescribingWarning:
    """One warning: ``message`` is a msgid whose ``{name}`` fields are ``params``, each
    a text in the three languages, so the web layer shows it in the reader's."""

    kind: str  # "allergy", "duplicate" or "interaction"
    severity: str  # see the module's docstring
    medicines: tuple[str, ...]  # the Medicine keys involved, the one prescribed first
    message: str
    params: tuple[tuple[str, Names], ...]
    allergy: str | None = None  # the AllergyIntolerance id, if it has one

    def parameters(self, language: str) -> dict[str, str]:
        return {name: names.in_language(language) for name, names in self.params}


def check(prescribing: Entry | Medicine, *, allergies: Sequence[Mapping[str, Any]] = (),
          current: Sequence[Mapping[str, Any] | Entry] = (), formulary: Formulary,
          medications: Mapping[str, Mapping[str, Any]] | None = None) -> list[PrescribingWarning]:
    """Every warning about prescribing ``prescribing`` to a patient with ``allergies``
    (AllergyIntolerance resources) who takes ``current`` (MedicationRequests, of which
    only active and on-hold ones count, or formulary entries), most severe first.

    ``medications`` maps references (``Medication/id``) to the Medication resources
    requests point to; contained Medications and formulary identifiers need none."""
    medicine = prescribing if isinstance(prescribing, Medicine) else Medicine.of(prescribing)
    taken = _distinct(m for item in current
                      for m in [_medicine(item, formulary, medications or {})] if m)
    names = _names_index(formulary)
    found: list[PrescribingWarning] = []
    for allergy in allergies:
        if is_current(allergy):
            warning = _allergy_warning(medicine, allergy, allergy_to(allergy, names))
            if warning:
                found.append(warning)
    for other in taken:
        found.extend(w for w in (_duplicate(medicine, other), _interaction(medicine, other))
                     if w)
    return sorted(found, key=lambda w: SEVERITIES.index(w.severity))


def _allergy_warning(medicine: Medicine, allergy: Mapping[str, Any], to: AllergyTo
                     ) -> PrescribingWarning | None:
    if any(code.startswith(atc) for code in medicine.codes for atc in to.atc):
        severity, message = "high", ALLERGY_INGREDIENT
    elif to.classes & medicine.classes:
        severity, message = "high", ALLERGY_CLASS
    else:
        crossed = [s for one, other, s in CROSS_REACTIONS
                   if one in to.classes and other in medicine.classes]
        if not crossed:
            return None
        severity, message = min(crossed, key=SEVERITIES.index), ALLERGY_CROSS
    text = to.text or "?"
    return PrescribingWarning("allergy", severity, (medicine.key,), message,
                   (("medicine", medicine.names), ("allergy", Names(text, text, text))),
                   allergy.get("id"))


def _duplicate(medicine: Medicine, other: Medicine) -> PrescribingWarning | None:
    if medicine.ingredients & other.ingredients:
        severity, message = "high", DUPLICATE_INGREDIENT
    elif medicine.classes & other.classes & DUPLICATE_GROUPS:
        severity, message = "moderate", DUPLICATE_CLASS
    else:
        return None
    return PrescribingWarning("duplicate", severity, (medicine.key, other.key), message,
                   (("medicine", medicine.names), ("other", other.names)))


def _interaction(medicine: Medicine, other: Medicine) -> PrescribingWarning | None:
    rules = [rule for rule in INTERACTIONS if _applies(rule, medicine, other)]
    if not rules:
        return None
    rule = min(rules, key=lambda r: SEVERITIES.index(r.severity))
    return PrescribingWarning("interaction", rule.severity, (medicine.key, other.key), rule.message,
                   (("medicine", medicine.names), ("other", other.names)))


def _applies(rule: Interaction, one: Medicine, other: Medicine) -> bool:
    return ((rule.one in one.tags and rule.other in other.tags)
            or (rule.other in one.tags and rule.one in other.tags))


# -- what the patient takes ----------------------------------------------------------------

def _distinct(medicines: Iterable[Medicine]) -> list[Medicine]:
    """Each medicine once, though two requests name it: each pair is reported once."""
    seen: dict[str, Medicine] = {}
    for medicine in medicines:
        seen.setdefault(medicine.key, medicine)
    return list(seen.values())


def _medicine(item: Mapping[str, Any] | Entry, formulary: Formulary,
              medications: Mapping[str, Mapping[str, Any]]) -> Medicine | None:
    if isinstance(item, Entry):
        return Medicine.of(item)
    if item.get("resourceType") != "MedicationRequest" \
            or item.get("status") not in _ACTIVE_REQUEST:
        return None
    concept = item.get("medicationCodeableConcept")
    if concept:
        return _coded(concept, [], formulary)
    reference = str((item.get("medicationReference") or {}).get("reference") or "")
    medication = medications.get(reference)
    if medication is None and reference.startswith("#"):
        medication = next((c for c in item.get("contained") or ()
                           if c.get("id") == reference[1:]), None)
    if medication is None:
        return None
    for identifier in medication.get("identifier") or ():
        if identifier.get("system") == FORMULARY_SYSTEM:
            entry = formulary.get(str(identifier.get("value")))
            if entry:
                return Medicine.of(entry)
    ingredients = [i.get("itemCodeableConcept") or {} for i in medication.get("ingredient")
                   or ()]
    return _coded(medication.get("code") or {}, ingredients, formulary)


def _coded(concept: Mapping[str, Any], ingredients: Sequence[Mapping[str, Any]],
           formulary: Formulary) -> Medicine | None:
    codes = frozenset(_atc_codes(concept))
    parts = frozenset(code for i in ingredients for code in _atc_codes(i))
    for code in sorted(codes):
        entries = [e for e in formulary.all() if e.atc == code]
        if entries:
            return Medicine.of(entries[0])
    if not codes | parts:
        return None  # text alone names no code to compare; left to the pharmacist
    text = str(concept.get("text") or next(iter(sorted(codes | parts))))
    every = codes | parts
    return Medicine(f"atc:{'+'.join(sorted(every))}", Names(text, text, text), every,
                    parts or codes, frozenset().union(*(classes_of_atc(c) for c in every)))


def _atc_codes(concept: Mapping[str, Any]) -> list[str]:
    return [str(c["code"]) for c in concept.get("coding") or ()
            if c.get("system") == ATC_SYSTEM and c.get("code")]


def _names_index(formulary: Formulary) -> dict[str, frozenset[str]]:
    """Every name of a medicine or ingredient, folded, and the ATC codes it stands for."""
    index: dict[str, set[str]] = {}
    for entry in formulary.all():
        for name in entry.names.all():
            index.setdefault(name.casefold(), set()).update(entry.ingredient_codes)
        for ingredient in entry.ingredients:
            if ingredient.atc:
                index.setdefault(ingredient.name.casefold(), set()).add(ingredient.atc)
    return {name: frozenset(codes) for name, codes in index.items()}
