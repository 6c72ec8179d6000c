"""UCUM units reduced to base units, so that 5.4 mg and 5400 ug compare as equal.

A UCUM code (system ``http://unitsofmeasure.org``) such as ``mg/dL`` is read by the UCUM
grammar (prefixes, ``.`` and ``/``, exponents, ``10*3``, ``{annotations}``, parentheses)
and reduced to the base units g, m, s, K, mol, C, cd and rad: ``mg/dL`` is 10 g.m-3, so
a value in mg/dL times 10 is the same amount in ``g.m-3``. Unlike UCUM, which counts a
mole as 6.0221367e23 of something, mol stays a base unit here, so mmol/L never compares
with a count per litre.

Units with a fixed ratio to the base units convert, and so do ``Cel`` and ``[degF]`` on
their own (they have an offset too). Arbitrary units (``[IU]``, ``[arb'U]``), logarithmic
ones (``[pH]``, ``B``), units written only as annotations (``{score}``) and codes this
table does not know give None; such quantities are compared by their code as written.
Ratios are exact fractions and values are converted from the decimal they were written
as, so 5.4 mg and 5400 ug become the very same float.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Context, Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Final

SYSTEM: Final = "http://unitsofmeasure.org"

_BASES: Final = ("g", "m", "s", "K", "mol", "C", "cd", "rad")
_PREFIXES: Final = {
    "Q": 30, "R": 27, "Y": 24, "Z": 21, "E": 18, "P": 15, "T": 12, "G": 9, "M": 6, "k": 3,
    "h": 2, "da": 1, "d": -1, "c": -2, "m": -3, "u": -6, "n": -9, "p": -12, "f": -15,
    "a": -18, "z": -21, "y": -24, "r": -27, "q": -30,
}
# Each unit as UCUM defines it: code -> (magnitude, in terms of other units, takes prefixes).
_DEFINED: Final[dict[str, tuple[str, str, bool]]] = {
    # Dimensionless
    "10*": ("10", "1", False),
    "10^": ("10", "1", False),
    "[pi]": (repr(math.pi), "1", False),
    "%": ("1/100", "1", False),
    "[ppth]": ("1e-3", "1", False),
    "[ppm]": ("1e-6", "1", False),
    "[ppb]": ("1e-9", "1", False),
    "[pptr]": ("1e-12", "1", False),
    # SI
    "sr": ("1", "rad2", True),
    "Hz": ("1", "s-1", True),
    "N": ("1", "kg.m/s2", True),
    "Pa": ("1", "N/m2", True),
    "J": ("1", "N.m", True),
    "W": ("1", "J/s", True),
    "A": ("1", "C/s", True),
    "V": ("1", "J/C", True),
    "F": ("1", "C/V", True),
    "Ohm": ("1", "V/A", True),
    "S": ("1", "Ohm-1", True),
    "Wb": ("1", "V.s", True),
    "T": ("1", "Wb/m2", True),
    "H": ("1", "Wb/A", True),
    "lm": ("1", "cd.sr", True),
    "lx": ("1", "lm/m2", True),
    "Bq": ("1", "s-1", True),
    "Gy": ("1", "J/kg", True),
    "Sv": ("1", "J/kg", True),
    "deg": ("2", "[pi].rad/360", False),
    "gon": ("9/10", "deg", False),
    # Accepted with SI: volume, time, mass, pressure, energy, amount
    "l": ("1", "dm3", True),
    "L": ("1", "l", True),
    "ar": ("100", "m2", True),
    "min": ("60", "s", False),
    "h": ("60", "min", False),
    "d": ("24", "h", False),
    "wk": ("7", "d", False),
    "a_t": ("365.24219", "d", False),
    "a_j": ("365.25", "d", False),
    "a_g": ("365.2425", "d", False),
    "a": ("1", "a_j", False),
    "mo_s": ("29.53059", "d", False),
    "mo_j": ("1/12", "a_j", False),
    "mo_g": ("1/12", "a_g", False),
    "mo": ("1", "mo_j", False),
    "t": ("1e3", "kg", True),
    "u": ("1.6605402e-24", "g", True),
    "bar": ("1e5", "Pa", True),
    "atm": ("101325", "Pa", False),
    "m[Hg]": ("133.3220", "kPa", True),
    "m[H2O]": ("9.80665", "kPa", True),
    "[e]": ("1.60217733e-19", "C", True),
    "eV": ("1", "[e].V", True),
    "cal_th": ("4.184", "J", True),
    "cal": ("1", "cal_th", True),
    "[Cal]": ("1", "kcal_th", False),
    "erg": ("1", "dyn.cm", True),
    "dyn": ("1", "g.cm/s2", True),
    "P": ("1", "dyn.s/cm2", True),
    "St": ("1", "cm2/s", True),
    "eq": ("1", "mol", True),
    "osm": ("1", "mol", True),
    "kat": ("1", "mol/s", True),
    "U": ("1", "umol/min", True),
    "g%": ("1", "g/dl", True),
    "Ci": ("3.7e10", "Bq", True),
    "[degR]": ("5/9", "K", False),
    # International customary: length, mass, force, pressure
    "[in_i]": ("2.54", "cm", False),
    "[ft_i]": ("12", "[in_i]", False),
    "[yd_i]": ("3", "[ft_i]", False),
    "[mi_i]": ("5280", "[ft_i]", False),
    "[nmi_i]": ("1852", "m", False),
    "[sin_i]": ("1", "[in_i]2", False),
    "[sft_i]": ("1", "[ft_i]2", False),
    "[syd_i]": ("1", "[yd_i]2", False),
    "[cin_i]": ("1", "[in_i]3", False),
    "[cft_i]": ("1", "[ft_i]3", False),
    "[diop]": ("1", "/m", False),
    "Ao": ("0.1", "nm", False),
    "[gr]": ("64.79891", "mg", False),
    "[lb_av]": ("7000", "[gr]", False),
    "[oz_av]": ("1/16", "[lb_av]", False),
    "[stone_av]": ("14", "[lb_av]", False),
    "[g]": ("9.80665", "m/s2", True),
    "[lbf_av]": ("1", "[lb_av].[g]", False),
    "[psi]": ("1", "[lbf_av]/[in_i]2", False),
    "[in_i'Hg]": ("1", "m[Hg].[in_i]/m", False),
    "[in_i'H2O]": ("1", "m[H2O].[in_i]/m", False),
    # US and British volumes
    "[gal_us]": ("231", "[in_i]3", False),
    "[qt_us]": ("1/4", "[gal_us]", False),
    "[pt_us]": ("1/2", "[qt_us]", False),
    "[foz_us]": ("1/16", "[pt_us]", False),
    "[tbs_us]": ("1/2", "[foz_us]", False),
    "[tsp_us]": ("1/3", "[tbs_us]", False),
    "[cup_us]": ("16", "[tbs_us]", False),
    "[gal_br]": ("4.54609", "l", False),
    "[pt_br]": ("1/8", "[gal_br]", False),
    "[qt_br]": ("1/4", "[gal_br]", False),
    "[foz_br]": ("1/20", "[pt_br]", False),
    "[drp]": ("1/20", "ml", False),
}
_METRIC_BASES: Final = frozenset(_BASES)
# A simple unit and its exponent: "cm2", "10*3", "s-1"; no UCUM atom ends in a digit
# outside brackets.
_EXPONENT = re.compile(r"(.*?)([+-]?\d+)")
_MAX_CODE: Final = 200
_MAX_EXPONENT: Final = 99


# Wide enough that multiplying a value by a ratio is exact, so amounts that are equal
# (5.4 mg and 5400 ug) give the very same float.
_EXACT: Final = Context(prec=60)


@dataclass(frozen=True, slots=True)
class Conversion:
    """How a value in one UCUM unit becomes the same amount in base units:
    (value + shift) * numerator / denominator."""

    code: str  # the base units, e.g. "g.m-3"; "1" when dimensionless
    numerator: Decimal
    denominator: Decimal
    shift: Decimal = Decimal(0)  # Cel and [degF] start from another zero

    @classmethod
    def by(cls, code: str, factor: Fraction, shift: Fraction = Fraction(0)) -> Conversion:
        return cls(code, Decimal(factor.numerator).normalize(_EXACT),
                   Decimal(factor.denominator).normalize(_EXACT),
                   _EXACT.divide(Decimal(shift.numerator), Decimal(shift.denominator)))

    def __call__(self, value: float) -> float:
        # From the decimal the value was written as (repr gives it back), not its binary.
        shifted = _EXACT.add(Decimal(repr(value)), self.shift)
        return float(_EXACT.divide(_EXACT.multiply(shifted, self.numerator), self.denominator))


_TEMPERATURES: Final = {
    "Cel": Conversion.by("K", Fraction(1), Fraction("273.15")),
    "[degF]": Conversion.by("K", Fraction(5, 9), Fraction("459.67")),
}


@lru_cache(maxsize=4096)
def conversion(code: str) -> Conversion | None:
    """The conversion of a UCUM code to base units, or None if it does not convert."""
    if code in _TEMPERATURES:
        return _TEMPERATURES[code]
    if not code or len(code) > _MAX_CODE:
        return None
    parser = _Parser(code)
    try:
        unit = parser.main_term()
    except ValueError:
        return None
    if parser.atoms == 0 and parser.annotations:
        return None  # "{score}" says what was counted, not a unit
    dimension = ".".join(base if exponent == 1 else f"{base}{exponent}"
                         for base, exponent in zip(_BASES, unit.dimension, strict=True)
                         if exponent)
    return Conversion.by(dimension or "1", unit.factor)


@dataclass(frozen=True, slots=True)
class _Unit:
    factor: Fraction
    dimension: tuple[int, ...]

    def times(self, other: _Unit) -> _Unit:
        return _Unit(self.factor * other.factor,
                     tuple(a + b for a, b in zip(self.dimension, other.dimension, strict=True)))

    def power(self, exponent: int) -> _Unit:
        return _Unit(self.factor ** exponent, tuple(d * exponent for d in self.dimension))


_ONE: Final = _Unit(Fraction(1), (0,) * len(_BASES))


class _Parser:
    """The UCUM grammar: main term, terms joined by '.' and '/', and their components."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.at = 0
        self.atoms = 0
        self.annotations = 0

    def main_term(self) -> _Unit:
        unit = self._term().power(-1) if self._take("/") else self._term()
        if self.at != len(self.code):
            raise ValueError(f"unexpected {self.code[self.at]!r} in {self.code!r}")
        return unit

    def _term(self) -> _Unit:
        unit = self._component()
        while True:
            if self._take("."):
                unit = unit.times(self._component())
            elif self._take("/"):
                unit = unit.times(self._component().power(-1))
            else:
                return unit

    def _component(self) -> _Unit:
        if self._take("("):
            unit = self._term()
            if not self._take(")"):
                raise ValueError(f"unclosed '(' in {self.code!r}")
        else:
            symbol = self._symbol()
            if symbol.isdigit():
                if not int(symbol):
                    raise ValueError(f"a factor of 0 in {self.code!r}")
                unit = _Unit(Fraction(int(symbol)), _ONE.dimension)
            elif symbol:
                unit = _simple_unit(symbol)
                self.atoms += 1
            elif self._peek() == "{":
                unit = _ONE
            else:
                raise ValueError(f"a unit is missing in {self.code!r}")
        if self._take("{"):
            end = self.code.find("}", self.at)
            if end < 0:
                raise ValueError(f"unclosed '{{' in {self.code!r}")
            self.at = end + 1
            self.annotations += 1
        return unit

    def _symbol(self) -> str:
        """Characters up to the next operator, brackets taken whole: "mm[Hg]", "[in_i]2"."""
        start = self.at
        while self.at < len(self.code) and self.code[self.at] not in "./(){}":
            if self.code[self.at] == "[":
                end = self.code.find("]", self.at)
                if end < 0:
                    raise ValueError(f"unclosed '[' in {self.code!r}")
                self.at = end
            self.at += 1
        return self.code[start:self.at]

    def _peek(self) -> str:
        return self.code[self.at:self.at + 1]

    def _take(self, character: str) -> bool:
        if self._peek() == character:
            self.at += 1
            return True
        return False


def _simple_unit(symbol: str) -> _Unit:
    match = _EXPONENT.fullmatch(symbol)
    if match is None or not match.group(1):
        return _atom(symbol)
    exponent = int(match.group(2))
    if abs(exponent) > _MAX_EXPONENT:
        raise ValueError(f"exponent {exponent} is too large")
    return _atom(match.group(1)).power(exponent)


@lru_cache(maxsize=1024)
def _atom(symbol: str) -> _Unit:
    """A unit atom, perhaps with a prefix: "g", "mg", "mm[Hg]", "[lb_av]"."""
    if (unit := _unprefixed(symbol)) is not None:
        return unit
    for length in (2, 1):  # "da" is the one prefix of two letters
        scale, rest = _PREFIXES.get(symbol[:length]), symbol[length:]
        if scale is not None and rest and _is_metric(rest):
            unit = _unprefixed(rest)
            assert unit is not None
            return _Unit(unit.factor * Fraction(10) ** scale, unit.dimension)
    raise ValueError(f"{symbol!r} is not a UCUM unit mor can convert")


def _unprefixed(symbol: str) -> _Unit | None:
    if symbol in _METRIC_BASES:
        dimension = [0] * len(_BASES)
        dimension[_BASES.index(symbol)] = 1
        return _Unit(Fraction(1), tuple(dimension))
    if symbol in _DEFINED:
        magnitude, definition, _ = _DEFINED[symbol]
        unit = _ONE if definition == "1" else _Parser(definition).main_term()
        return _Unit(unit.factor * Fraction(magnitude), unit.dimension)
    return None


def _is_metric(symbol: str) -> bool:
    return symbol in _METRIC_BASES or (symbol in _DEFINED and _DEFINED[symbol][2])
