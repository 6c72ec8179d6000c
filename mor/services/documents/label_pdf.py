"""The label the pharmacist sticks on a medicine: small (80 x 50 mm, the usual
pharmacy label roll), and in the patient's language, since the patient reads it at
home."""

from __future__ import annotations

from typing import Final

from mor.services.documents.model import DispensingLabel
from mor.services.documents.pages import Page
from mor.services.documents.texts import document_date, label

LABEL_SIZE: Final = (80.0, 50.0)  # mm, width and height


def label_pdf(dispensing: DispensingLabel) -> bytes:
    language = dispensing.language
    medicine = dispensing.medicine
    page = Page(language, label("Medicine label", language), made=dispensing.day,
                size=LABEL_SIZE, margin=4)
    page.paragraph(dispensing.centre.name, size=7, bold=True)
    page.paragraph(f"{dispensing.patient_name}    {document_date(dispensing.day, language)}",
                   size=7)
    page.rule()
    named = " ".join(part for part in (medicine.name, medicine.strength) if part)
    page.paragraph(named, size=10, bold=True)
    if medicine.generic and medicine.generic != medicine.name:
        page.paragraph(medicine.generic, size=7)
    page.paragraph(medicine.dose, size=10)
    page.paragraph(f"{label('Quantity', language)} {medicine.quantity}", size=7)
    page.paragraph(f"{label('Prescribed by', language)} {dispensing.prescriber}", size=7)
    page.paragraph(label("Keep out of reach of children", language), size=7, bold=True)
    return page.output()
