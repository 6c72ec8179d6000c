"""The documents drawn from plain values, without a store: every label is said in Thai,
Lao and English, Thai dates are in the Buddhist Era, a missing font is named with the
Debian package that brings it, and the label fits the pharmacy's label roll."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mor.services.documents import FontMissing, fonts, label_pdf, prescription_pdf
from mor.services.documents.model import (
    Centre,
    Clinician,
    DispensingLabel,
    Medicine,
    PatientDetails,
    Prescription,
)
from mor.services.documents.texts import LABELS, VITAL_SIGN_NAMES, document_date
from tests.documents.pdf_text import page_count, pdf_text, readable

CENTRE = Centre("ສູນສຸຂະພາບ ສີສັດຕະນາກ", "Vientiane", "021 000 000")
PATIENT = PatientDetails("ນາງ ບົວໄລ", "LA-0001", date(1980, 5, 1), ("Penicillin",))
MEDICINE = Medicine("ພາຣາເຊຕາມອນ", "Paracetamol", "500 mg",
                    "ເທື່ອລະ 1 ເມັດ ມື້ລະ 4 ເທື່ອ", "12 ເມັດ")


def test_every_label_is_said_in_thai_and_lao() -> None:
    assert set(LABELS["th"]) == set(LABELS["lo"])
    assert all(LABELS[language][key].strip() for language in ("th", "lo")
               for key in LABELS[language])
    assert all(set(names) == {"en", "th", "lo"} for names in VITAL_SIGN_NAMES.values())


def test_thai_dates_count_the_buddhist_era_and_the_others_the_common_era() -> None:
    day = date(2026, 12, 3)
    assert document_date(day, "th") == "3 ธันวาคม 2569"
    assert document_date(day, "en") == "3 December 2026"
    assert document_date(day, "lo").endswith(" 2026")


def test_a_lao_prescription_is_drawn_in_the_lao_font_with_a_thai_name_in_it() -> None:
    # A Thai name on a Lao paper: the Thai font stands in for the characters Lao lacks.
    patient = PatientDetails("สมศรี ใจดี", "", None, ())
    data = prescription_pdf(Prescription("lo", CENTRE, patient, Clinician("ທ່ານໝໍ ສົມພອນ",
                                                                          "LA-123"),
                                         date(2026, 12, 3), (MEDICINE,)))
    text = pdf_text(data)
    for shown in ("ໃບສັ່ງຢາ", MEDICINE.name, MEDICINE.dose, "สมศรี ใจดี", "LA-123",
                  "ບໍ່ມີປະຫວັດການແພ້"):
        assert readable(shown) in text, shown
    assert b"Phetsarath" in data
    assert any(thai in data for thai in (b"Garuda", b"Loma", b"Sarabun"))


def test_the_same_prescription_gives_the_same_bytes() -> None:
    prescription = Prescription("lo", CENTRE, PATIENT, Clinician("ທ່ານໝໍ ສົມພອນ"),
                                date(2026, 12, 3), (MEDICINE,))
    assert prescription_pdf(prescription) == prescription_pdf(prescription)


def test_the_label_is_one_small_page() -> None:
    data = label_pdf(DispensingLabel("lo", CENTRE, PATIENT.name, MEDICINE, "ທ່ານໝໍ ສົມພອນ",
                                     date(2026, 12, 3)))
    assert page_count(data) == 1
    assert readable(MEDICINE.dose) in pdf_text(data)


def test_a_missing_font_names_the_debian_package(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setattr(fonts, "LAO_CANDIDATES", ((tmp_path / "none.ttf",) * 2,))
    fonts.lao_face.cache_clear()
    try:
        with pytest.raises(FontMissing, match="fonts-lao"):
            fonts.lao_face()
    finally:
        fonts.lao_face.cache_clear()
