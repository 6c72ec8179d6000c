"""A formulary entry's usual adult dose as an R4 ``Dosage``, with its text in Thai, Lao
or English as a medicine label says it."""

from __future__ import annotations

from typing import Any

from mor.services.prescribing.model import (
    DOSE_UNITS,
    ROUTES,
    SNOMED_SYSTEM,
    UCUM_SYSTEM,
    Entry,
    UsualDose,
)


def usual_dosage(entry: Entry, language: str) -> dict[str, Any]:
    """The usual adult dose of ``entry``, its ``text`` in ``language`` (th, lo or en)."""
    dose = entry.dose
    route_code, route_display = ROUTES[entry.route]
    repeat: dict[str, Any] = {"frequency": dose.per_day, "period": 1, "periodUnit": "d"}
    if dose.days is not None:
        repeat["boundsDuration"] = {"value": dose.days, "unit": "day", "system": UCUM_SYSTEM,
                                    "code": "d"}
    dosage: dict[str, Any] = {
        "text": dosage_text(dose, language),
        "timing": {"repeat": repeat},
        "route": {"coding": [{"system": SNOMED_SYSTEM, "code": route_code,
                              "display": route_display}]},
    }
    if dose.as_needed:
        dosage["asNeededBoolean"] = True
    if dose.amount is not None:
        code, words = DOSE_UNITS[dose.unit]
        dosage["doseAndRate"] = [{"doseQuantity": {
            "value": dose.amount, "unit": words.en, "system": UCUM_SYSTEM, "code": code}}]
    return dosage


def dosage_text(dose: UsualDose, language: str) -> str:
    amount = _number(dose.amount) if dose.amount is not None else None
    unit = DOSE_UNITS[dose.unit][1].in_language(language)
    if language == "th":
        how = f"ครั้งละ {amount} {unit}" if amount else "ทาบางๆ"
        often = f"วันละ {dose.per_day} ครั้ง"
        parts = [how, f"เมื่อมีอาการ ไม่เกิน{often}" if dose.as_needed else often]
        if dose.days is not None:
            parts.append(f"นาน {dose.days} วัน")
    elif language == "lo":
        how = f"ເທື່ອລະ {amount} {unit}" if amount else "ທາບາງໆ"
        often = f"ມື້ລະ {dose.per_day} ເທື່ອ"
        parts = [how, f"ເວລາມີອາການ ບໍ່ເກີນ{often}" if dose.as_needed else often]
        if dose.days is not None:
            parts.append(f"ເປັນເວລາ {dose.days} ມື້")
    else:
        plural = "" if dose.amount == 1 or unit.endswith("s") or unit == "mL" else "s"
        how = f"{amount} {unit}{plural}" if amount else "Apply thinly"
        often = f"{_times(dose.per_day)} a day"
        parts = [how, f"when needed, up to {often}" if dose.as_needed else often]
        if dose.days is not None:
            parts.append(f"for {dose.days} day{'s' if dose.days != 1 else ''}")
    return " ".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _times(count: int) -> str:
    return {1: "once", 2: "twice"}.get(count, f"{count} times")
