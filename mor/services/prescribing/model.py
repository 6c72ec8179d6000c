"""What one formulary entry holds, and the drug classes that follow from an ATC code.

The classes are what the allergy and duplicate-therapy checks compare. Most follow from
the WHO ATC hierarchy (every code under ``J01C`` is a penicillin), so an ATC code on a
medicine from outside the formulary still gets its classes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

ATC_SYSTEM: Final = "http://www.whocc.no/atc"
SNOMED_SYSTEM: Final = "http://snomed.info/sct"
UCUM_SYSTEM: Final = "http://unitsofmeasure.org"

LANGUAGES: Final = ("en", "th", "lo")


@dataclass(frozen=True, slots=True)
class Names:
    en: str
    th: str
    lo: str

    def in_language(self, language: str) -> str:
        return {"th": self.th, "lo": self.lo}.get(language, self.en)

    def all(self) -> tuple[str, str, str]:
        return (self.en, self.th, self.lo)


@dataclass(frozen=True, slots=True)
class Amount:
    """A quantity in UCUM: ``unit`` is the UCUM code (``mg``, ``ug``, ``mL``, ``[iU]``,
    ``{tablet}`` for a count of tablets)."""

    value: float
    unit: str


@dataclass(frozen=True, slots=True)
class Ingredient:
    name: str  # English
    atc: str | None  # single-ingredient products share their ATC code with the substance
    strength: Amount | None  # per ``Entry.per``; None where the label gives no single figure


@dataclass(frozen=True, slots=True)
class UsualDose:
    """The usual adult dose: ``amount`` of ``unit`` (a key of DOSE_UNITS), ``per_day``
    times a day for ``days`` days (None: long-term), or only when needed."""

    amount: float | None  # None: applied thinly, no countable dose
    unit: str
    per_day: int
    days: int | None
    as_needed: bool = False


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    atc: str
    names: Names
    form: str  # a key of DOSE_FORMS
    route: str  # a key of ROUTES
    per: Amount  # what the strengths are per: 1 {tablet}, 5 mL, 1 g
    ingredients: tuple[Ingredient, ...]
    dose: UsualDose
    extra_classes: frozenset[str] = field(default_factory=frozenset)

    @property
    def classes(self) -> frozenset[str]:
        """Its drug classes: those of its ATC codes, and any named in the formulary."""
        codes = {self.atc, *(i.atc for i in self.ingredients if i.atc)}
        return frozenset().union(self.extra_classes, *(classes_of_atc(c) for c in codes))

    @property
    def ingredient_codes(self) -> frozenset[str]:
        """The ATC codes of what it is made of (its own, for a single-ingredient product)."""
        codes = {i.atc for i in self.ingredients if i.atc}
        return frozenset(codes or {self.atc})


# SNOMED CT dose forms, all in the R4 example value set ``medication-form-codes``.
DOSE_FORMS: Final[dict[str, tuple[str, str]]] = {
    "tablet": ("385055001", "Tablet"),
    "chewable-tablet": ("66076007", "Chewable tablet"),
    "capsule": ("385049006", "Capsule"),
    "oral-solution": ("385023001", "Oral solution"),
    "oral-suspension": ("385024007", "Oral suspension"),
    "powder-oral-solution": ("385026009", "Powder for oral solution"),
    "powder-oral-suspension": ("385027000", "Powder for oral suspension"),
    "pressurised-inhalation": ("385203008", "Pressurised inhalation"),
    "cream": ("385099005", "Cream"),
    "lotion": ("17519006", "Lotion"),
    "injection-solution": ("385219001", "Injection solution"),
    "injection-suspension": ("385220007", "Injection suspension"),
}

# SNOMED CT routes, all in the R4 example value set ``route-codes``.
ROUTES: Final[dict[str, tuple[str, str]]] = {
    "oral": ("26643006", "Oral route"),
    "inhalation": ("447694001", "Respiratory tract route"),
    "cutaneous": ("448598008", "Cutaneous route"),
    "subcutaneous": ("34206005", "Subcutaneous route"),
}

# Dose units: the UCUM code of a doseQuantity, and the word for one in each language.
DOSE_UNITS: Final[dict[str, tuple[str, Names]]] = {
    "tablet": ("{tablet}", Names("tablet", "เม็ด", "ເມັດ")),
    "capsule": ("{capsule}", Names("capsule", "แคปซูล", "ແຄບຊູນ")),
    "mL": ("mL", Names("mL", "มล.", "ມລ.")),
    "puff": ("{puff}", Names("puff", "พัฟ", "ພັຟ")),
    "unit": ("[iU]", Names("units", "ยูนิต", "ຢູນິດ")),
    "sachet": ("{sachet}", Names("sachet", "ซอง", "ຊອງ")),
    "application": ("{application}", Names("application", "ครั้ง", "ເທື່ອ")),
}

# ATC groups (levels 3 to 5) and the classes every code under them belongs to.
_ATC_CLASSES: Final[dict[str, frozenset[str]]] = {
    "J01C": frozenset({"penicillin", "beta-lactam"}),
    "J01DB": frozenset({"cephalosporin", "beta-lactam"}),
    "J01DC": frozenset({"cephalosporin", "beta-lactam"}),
    "J01DD": frozenset({"cephalosporin", "beta-lactam"}),
    "J01DE": frozenset({"cephalosporin", "beta-lactam"}),
    "J01EC": frozenset({"sulfonamide"}),
    "J01EE": frozenset({"sulfonamide"}),
    "J01FA": frozenset({"macrolide"}),
    "J01MA": frozenset({"fluoroquinolone"}),
    "J01AA": frozenset({"tetracycline"}),
    "J01XD": frozenset({"nitroimidazole"}),
    "P01AB": frozenset({"nitroimidazole"}),
    "J04AB": frozenset({"rifamycin"}),
    "M01A": frozenset({"nsaid"}),
    "B01AC06": frozenset({"salicylate", "antiplatelet"}),
    "N02BA": frozenset({"salicylate"}),
    "B01AC": frozenset({"antiplatelet"}),
    "B01AA": frozenset({"vitamin-k-antagonist"}),
    "C10AA": frozenset({"statin"}),
    "C09A": frozenset({"ace-inhibitor", "renin-angiotensin"}),
    "C09B": frozenset({"ace-inhibitor", "renin-angiotensin"}),
    "C09C": frozenset({"arb", "renin-angiotensin"}),
    "C09D": frozenset({"arb", "renin-angiotensin"}),
    "C07A": frozenset({"beta-blocker"}),
    "C08C": frozenset({"calcium-channel-blocker"}),
    "C03A": frozenset({"thiazide"}),
    "A10A": frozenset({"insulin"}),
    "A10BB": frozenset({"sulfonylurea"}),
    "A02BC": frozenset({"ppi"}),
    "A02A": frozenset({"antacid"}),
    "N06AB": frozenset({"ssri", "serotonergic"}),
    "N06AA": frozenset({"tricyclic", "serotonergic"}),
    "N02AX02": frozenset({"opioid", "serotonergic"}),
    "N02A": frozenset({"opioid"}),
    "N05BA": frozenset({"benzodiazepine"}),
    "R06A": frozenset({"antihistamine"}),
    "H02AB": frozenset({"corticosteroid"}),
    "G03AA": frozenset({"combined-oral-contraceptive"}),
    "B03A": frozenset({"iron"}),
    "A12AA": frozenset({"calcium"}),
}


def classes_of_atc(code: str) -> frozenset[str]:
    """The classes of an ATC code (of any level), from every group it falls under."""
    return frozenset().union(*(classes for group, classes in _ATC_CLASSES.items()
                               if code.startswith(group)))
